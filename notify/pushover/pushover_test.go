package pushover_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"pacer/notify"
	"pacer/notify/pushover"
)

const (
	appToken = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
	userKey  = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
)

var msg = notify.Message{
	Title: "Time for your stretches · 10 min",
	Body:  "Stretching, 10 minutes. Check in: https://pacer.example/c/tok",
	URL:   "https://pacer.example/c/tok",
}

// fakePushover implements POST /1/messages.json as documented at
// pushover.net/api: a form with token, user and message required; 200
// {"status":1,"request":…} on success; 4xx {"status":0,"errors":[…]} on
// invalid input; 429 over the monthly limit; 5xx on trouble.
type fakePushover struct {
	srv    *httptest.Server
	status int // when not 0, answer with it
	mu     sync.Mutex
	forms  []url.Values
}

func newFake(t *testing.T, status int) *fakePushover {
	f := &fakePushover{status: status}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Request-Id", "5042853c-402d-4a18-abcb-168734a801de")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakePushover) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/1/messages.json" {
		http.NotFound(w, r)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		reply(w, 400, map[string]any{"status": 0, "errors": []string{"unsupported content type " + ct}})
		return
	}
	if err := r.ParseForm(); err != nil {
		reply(w, 400, map[string]any{"status": 0, "errors": []string{"bad form"}})
		return
	}
	f.mu.Lock()
	f.forms = append(f.forms, r.PostForm)
	f.mu.Unlock()
	request := "5042853c-402d-4a18-abcb-168734a801de"
	switch {
	case f.status == 429:
		reply(w, 429, map[string]any{"status": 0, "errors": []string{"application has exceeded its monthly message limit"}, "request": request})
	case f.status >= 500:
		w.WriteHeader(f.status)
		fmt.Fprint(w, "<html>oops</html>")
	case r.PostForm.Get("token") != appToken:
		reply(w, 400, map[string]any{"token": "invalid", "errors": []string{"application token is invalid"}, "status": 0, "request": request})
	case r.PostForm.Get("user") != userKey:
		reply(w, 400, map[string]any{"user": "invalid", "errors": []string{"user identifier is not a valid user, group, or subscribed user key"}, "status": 0, "request": request})
	case r.PostForm.Get("message") == "":
		reply(w, 400, map[string]any{"message": "cannot be blank", "errors": []string{"message cannot be blank"}, "status": 0, "request": request})
	default:
		reply(w, 200, map[string]any{"status": 1, "request": request})
	}
}

func (f *fakePushover) got() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.forms...)
}

func settings(f *fakePushover) pushover.Settings {
	return pushover.Settings{AppToken: appToken, APIBase: f.srv.URL + "/1", HTTPClient: f.srv.Client(), Allow: loopback}
}

func TestSendsDocumentedForm(t *testing.T) {
	f := newFake(t, 0)
	n, err := pushover.New(settings(f), pushover.Config{Type: "pushover", UserKey: userKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	urgent := msg
	urgent.Urgent = true
	urgent.Title = strings.Repeat("é", 300)
	if err := n.Send(context.Background(), urgent); err != nil {
		t.Fatalf("Send urgent: %v", err)
	}
	forms := f.got()
	if len(forms) != 2 {
		t.Fatalf("server got %d requests, want 2", len(forms))
	}
	want := url.Values{
		"token": {appToken}, "user": {userKey}, "title": {msg.Title},
		"message": {msg.Body}, "url": {msg.URL}, "priority": {"0"},
	}
	if fmt.Sprint(forms[0]) != fmt.Sprint(want) {
		t.Errorf("form %v\nwant %v", forms[0], want)
	}
	if p := forms[1].Get("priority"); p != "1" {
		t.Errorf("urgent priority %q, want 1", p)
	}
	if n := len([]rune(forms[1].Get("title"))); n != 250 {
		t.Errorf("a 300-character title was sent with %d characters, want 250 (Pushover's limit)", n)
	}
}

func TestClassifiesErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		user      string
		temporary bool
		want      string
	}{
		{"unknown user", 0, "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", false, "user identifier is not a valid user"},
		{"monthly limit", 429, userKey, true, "HTTP 429"},
		{"server error", 500, userKey, true, "HTTP 500"},
		{"bad gateway", 502, userKey, true, "HTTP 502"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.status)
			n, err := pushover.New(settings(f), pushover.Config{UserKey: tc.user})
			if err != nil {
				t.Fatal(err)
			}
			err = n.Send(context.Background(), msg)
			e, ok := err.(*notify.Error)
			if !ok {
				t.Fatalf("error %T %v is not a *notify.Error", err, err)
			}
			if e.Channel != "pushover" || e.Temporary != tc.temporary || e.Gone {
				t.Errorf("error %q: %+v, want temporary %v", err, e, tc.temporary)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			for _, leak := range []string{appToken, tc.user, msg.Body} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q leaks %q", err, leak)
				}
			}
		})
	}
}

func TestInvalidAppTokenIsPermanent(t *testing.T) {
	f := newFake(t, 0)
	s := settings(f)
	s.AppToken = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	n, err := pushover.New(s, pushover.Config{UserKey: userKey})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Send(context.Background(), msg)
	if err == nil || notify.Temporary(err) || !strings.Contains(err.Error(), "application token is invalid") {
		t.Fatalf("Send: %v, want a permanent error saying the token is invalid", err)
	}
	if strings.Contains(err.Error(), s.AppToken) {
		t.Errorf("error %q leaks the token", err)
	}
}

func TestConfigErrors(t *testing.T) {
	good := pushover.Settings{AppToken: appToken}
	for _, tc := range []struct {
		name string
		s    pushover.Settings
		c    pushover.Config
		want string
	}{
		{"no token", pushover.Settings{}, pushover.Config{UserKey: userKey}, "app token"},
		{"short token", pushover.Settings{AppToken: "abc"}, pushover.Config{UserKey: userKey}, "app token"},
		{"http API", pushover.Settings{AppToken: appToken, APIBase: "http://api.pushover.net/1"}, pushover.Config{UserKey: userKey}, "https"},
		{"no user", good, pushover.Config{}, "user_key"},
		{"bad user", good, pushover.Config{UserKey: "user@example.org"}, "user_key"},
		{"wrong type", good, pushover.Config{Type: "telegram", UserKey: userKey}, "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := pushover.New(tc.s, tc.c); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	var c pushover.Config
	dec := json.NewDecoder(strings.NewReader(`{"type":"pushover","user_key":"` + userKey + `"}`))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.UserKey != userKey {
		t.Errorf("decode channel object: %+v %v", c, err)
	}
}

// loopback is notify.allow_private as an operator sets it for servers on
// this machine: the test servers listen on 127.0.0.1.
var loopback = func() notify.AllowList {
	a, err := notify.ParseAllowList("127.0.0.1")
	if err != nil {
		panic(err)
	}
	return a
}()

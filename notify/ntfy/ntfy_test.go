package ntfy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"pacer/notify"
	"pacer/notify/ntfy"
)

// fakeNtfy answers like ntfy's JSON publish endpoint (docs.ntfy.sh/publish,
// "Publish as JSON"): POST or PUT to the root URL, a JSON object whose only
// required field is topic; 200 with the stored message, or an error object
// {"code","http","error","link"}.
type fakeNtfy struct {
	srv   *httptest.Server
	token string // when set, publishing needs "Authorization: Bearer <token>"

	mu        sync.Mutex
	published []publishRequest
	next      []int // statuses to answer with before accepting again
}

type publishRequest struct {
	Method, Path, ContentType, Authorization string
	Body                                     jsonPublish
}

// jsonPublish holds the documented fields; unknown fields are rejected.
type jsonPublish struct {
	Topic    string   `json:"topic"`
	Message  string   `json:"message"`
	Title    string   `json:"title"`
	Tags     []string `json:"tags"`
	Priority int      `json:"priority"`
	Click    string   `json:"click"`
	Actions  []any    `json:"actions"`
	Attach   string   `json:"attach"`
	Markdown bool     `json:"markdown"`
	Icon     string   `json:"icon"`
	Filename string   `json:"filename"`
	Delay    string   `json:"delay"`
	Email    string   `json:"email"`
	Call     string   `json:"call"`
}

var topicRE = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// newFakeNtfy starts the server; it requires token when not empty and
// answers the first requests with the statuses in next.
func newFakeNtfy(t *testing.T, token string, next ...int) *fakeNtfy {
	f := &fakeNtfy{token: token, next: next}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func ntfyError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%d,"http":%d,"error":%q,"link":"https://ntfy.sh/docs/publish/"}`+"\n", code, status, msg)
}

func (f *fakeNtfy) serve(w http.ResponseWriter, r *http.Request) {
	if (r.Method != http.MethodPost && r.Method != http.MethodPut) || r.URL.Path != "/" {
		ntfyError(w, http.StatusNotFound, 40401, "page not found")
		return
	}
	f.mu.Lock()
	if len(f.next) > 0 {
		status := f.next[0]
		f.next = f.next[1:]
		f.mu.Unlock()
		switch status {
		case http.StatusTooManyRequests:
			ntfyError(w, status, 42901, "limit reached: too many requests")
		case http.StatusMovedPermanently:
			http.Redirect(w, r, "https://elsewhere.example/", status)
		default:
			ntfyError(w, status, status*100, http.StatusText(status))
		}
		return
	}
	f.mu.Unlock()
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		ntfyError(w, http.StatusForbidden, 40301, "forbidden")
		return
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var p jsonPublish
	if err := dec.Decode(&p); err != nil {
		ntfyError(w, http.StatusBadRequest, 40024, "invalid request: "+err.Error())
		return
	}
	if !topicRE.MatchString(p.Topic) {
		ntfyError(w, http.StatusBadRequest, 40009, "invalid request: topic invalid")
		return
	}
	if p.Priority != 0 && (p.Priority < 1 || p.Priority > 5) {
		ntfyError(w, http.StatusBadRequest, 40007, "invalid priority")
		return
	}
	if p.Click != "" {
		if u, err := url.Parse(p.Click); err != nil || !u.IsAbs() {
			ntfyError(w, http.StatusBadRequest, 40013, "invalid click URL")
			return
		}
	}
	f.mu.Lock()
	f.published = append(f.published, publishRequest{
		Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"),
		Authorization: r.Header.Get("Authorization"), Body: p,
	})
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"sPs71M8A2T","time":1700000000,"expires":1700043200,"event":"message","topic":%q,"title":%q,"message":%q,"priority":%d}`+"\n",
		p.Topic, p.Title, p.Message, p.Priority)
}

func (f *fakeNtfy) requests() []publishRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]publishRequest(nil), f.published...)
}

const topic = "pacer-7f3kq9zt2m"

var reminder = notify.Message{
	Title: "Time for your walk · 14 min",
	Body:  "Walk 14 minutes today. Check in: https://pacer.example/c/tok",
	URL:   "https://pacer.example/c/tok",
	Tag:   "session-42",
}

func TestPublishesDocumentedJSON(t *testing.T) {
	f := newFakeNtfy(t, "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2")
	n, err := ntfy.New(ntfy.Settings{
		HTTPClient: f.srv.Client(),
		Allow:      loopback,
		Tokens:     map[string]string{f.srv.URL + "/": f.token, "https://ntfy.other.example": "tk_other"},
	}, ntfy.Config{Type: "ntfy", Server: f.srv.URL, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(context.Background(), reminder); err != nil {
		t.Fatalf("Send: %v", err)
	}
	urgent := reminder
	urgent.Urgent, urgent.Tag = true, ""
	if err := n.Send(context.Background(), urgent); err != nil {
		t.Fatalf("Send urgent: %v", err)
	}

	got := f.requests()
	if len(got) != 2 {
		t.Fatalf("server got %d publishes, want 2", len(got))
	}
	r := got[0]
	if r.Method != http.MethodPost || r.Path != "/" {
		t.Errorf("request = %s %s, want POST / (JSON publishing goes to the root URL)", r.Method, r.Path)
	}
	if !strings.HasPrefix(r.ContentType, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", r.ContentType)
	}
	if r.Authorization != "Bearer "+f.token {
		t.Errorf("Authorization = %q, want the token configured for this server", r.Authorization)
	}
	want := jsonPublish{Topic: topic, Title: reminder.Title, Message: reminder.Body, Click: reminder.URL, Priority: 3}
	if fmt.Sprint(r.Body) != fmt.Sprint(want) {
		t.Errorf("body = %+v\nwant   %+v", r.Body, want)
	}
	if u := got[1].Body; u.Priority != 5 || u.Tags != nil {
		t.Errorf("urgent message: priority %d tags %v, want priority 5 and no tags", u.Priority, u.Tags)
	}
}

func TestTokenGoesOnlyToItsServer(t *testing.T) {
	f := newFakeNtfy(t, "")
	n, err := ntfy.New(ntfy.Settings{
		HTTPClient: f.srv.Client(),
		Allow:      loopback,
		Tokens:     map[string]string{"https://ntfy.clinic.example": "tk_clinic"},
	}, ntfy.Config{Server: f.srv.URL, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(context.Background(), reminder); err != nil {
		t.Fatal(err)
	}
	if got := f.requests(); len(got) != 1 || got[0].Authorization != "" {
		t.Fatalf("requests %+v: want one without Authorization", got)
	}
}

func TestDefaultServer(t *testing.T) {
	f := newFakeNtfy(t, "")
	n, err := ntfy.New(ntfy.Settings{HTTPClient: f.srv.Client(), DefaultServer: f.srv.URL, Allow: loopback}, ntfy.Config{Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(context.Background(), reminder); err != nil {
		t.Fatal(err)
	}
	if len(f.requests()) != 1 {
		t.Fatal("the default server got no publish")
	}
}

func TestClassifiesFailures(t *testing.T) {
	secret := "tk_SECRETSECRETSECRET"
	for _, tc := range []struct {
		status    int
		temporary bool
	}{
		{http.StatusBadRequest, false},
		{http.StatusUnauthorized, false},
		{http.StatusForbidden, false},
		{http.StatusRequestEntityTooLarge, false},
		{http.StatusMovedPermanently, false},
		{http.StatusTooManyRequests, true},
		{http.StatusInternalServerError, true},
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			f := newFakeNtfy(t, "", tc.status)
			n, err := ntfy.New(ntfy.Settings{HTTPClient: f.srv.Client(), Tokens: map[string]string{f.srv.URL: secret}, Allow: loopback},
				ntfy.Config{Server: f.srv.URL, Topic: topic})
			if err != nil {
				t.Fatal(err)
			}
			err = n.Send(context.Background(), reminder)
			checkErr(t, err, tc.temporary, secret)
			if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", tc.status)) {
				t.Errorf("error %q does not name the status", err)
			}
		})
	}
}

func TestTransportFailures(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		f := newFakeNtfy(t, "")
		client, addr := f.srv.Client(), f.srv.URL
		f.srv.Close()
		n, err := ntfy.New(ntfy.Settings{HTTPClient: client, Allow: loopback}, ntfy.Config{Server: addr, Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		checkErr(t, n.Send(context.Background(), reminder), true, "")
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
		}))
		defer srv.Close()
		defer close(release)
		n, err := ntfy.New(ntfy.Settings{HTTPClient: srv.Client(), Timeout: 100 * time.Millisecond, Allow: loopback},
			ntfy.Config{Server: srv.URL, Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		checkErr(t, n.Send(context.Background(), reminder), true, "")
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %v despite a 100ms timeout", d)
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		f := newFakeNtfy(t, "")
		n, err := ntfy.New(ntfy.Settings{Allow: loopback}, ntfy.Config{Server: f.srv.URL, Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		err = n.Send(context.Background(), reminder)
		checkErr(t, err, false, "")
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error %q does not say the certificate is the problem", err)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    ntfy.Settings
		c    ntfy.Config
		want string
	}{
		{"no topic", ntfy.Settings{}, ntfy.Config{}, "topic"},
		{"bad topic", ntfy.Settings{}, ntfy.Config{Topic: "a/b"}, "topic"},
		{"long topic", ntfy.Settings{}, ntfy.Config{Topic: strings.Repeat("a", 65)}, "topic"},
		{"wrong type", ntfy.Settings{}, ntfy.Config{Type: "email", Topic: topic}, "type"},
		{"http server", ntfy.Settings{}, ntfy.Config{Server: "http://ntfy.lan", Topic: topic}, "https"},
		{"not a URL", ntfy.Settings{}, ntfy.Config{Server: "ntfy.example", Topic: topic}, "absolute"},
		{"query", ntfy.Settings{}, ntfy.Config{Server: "https://ntfy.example/?x=1", Topic: topic}, "root URL"},
		{"token over http", ntfy.Settings{Allow: lan, Tokens: map[string]string{"http://ntfy.lan": "tk_x"}}, ntfy.Config{Topic: topic}, "https"},
		{"empty token", ntfy.Settings{Tokens: map[string]string{"https://ntfy.example": ""}}, ntfy.Config{Topic: topic}, "token"},
		{"duplicate token", ntfy.Settings{Tokens: map[string]string{"https://ntfy.example": "a", "https://NTFY.example/": "b"}}, ntfy.Config{Topic: topic}, "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ntfy.New(tc.s, tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if _, err := ntfy.New(ntfy.Settings{Allow: lan}, ntfy.Config{Server: "http://ntfy.lan", Topic: topic}); err != nil {
		t.Errorf("http server named in notify.allow_private: %v", err)
	}
}

func TestConfigJSON(t *testing.T) {
	var c ntfy.Config
	dec := json.NewDecoder(strings.NewReader(`{"type":"ntfy","server":"https://ntfy.example","topic":"abc"}`))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c != (ntfy.Config{Type: "ntfy", Server: "https://ntfy.example", Topic: "abc"}) {
		t.Fatalf("decoded %+v", c)
	}
}

// checkErr asserts err is a *notify.Error of this channel with the given
// classification whose text leaks neither the secret, the topic nor the body.
func checkErr(t *testing.T, err error, temporary bool, secret string) {
	t.Helper()
	if err == nil {
		t.Fatal("Send succeeded, want an error")
	}
	e, ok := err.(*notify.Error)
	if !ok {
		t.Fatalf("error %T %q is not a *notify.Error", err, err)
	}
	if e.Channel != "ntfy" || e.Temporary != temporary || e.Gone {
		t.Errorf("error %q: channel %q temporary %v gone %v, want ntfy temporary %v", err, e.Channel, e.Temporary, e.Gone, temporary)
	}
	if notify.Temporary(err) != temporary {
		t.Errorf("notify.Temporary = %v, want %v", notify.Temporary(err), temporary)
	}
	for _, leak := range []string{secret, topic, reminder.Body, "/c/tok"} {
		if leak != "" && strings.Contains(err.Error(), leak) {
			t.Errorf("error %q leaks %q", err, leak)
		}
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

// lan names an ntfy server on the clinic's network.
var lan, _ = notify.ParseAllowList("ntfy.lan")

package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pacer/notify"
	"pacer/notify/webhook"
)

var msg = notify.Message{
	Title:  "Red-flag answers recorded",
	Body:   "Patient 12 answered yes on the red-flag screen. Open: https://pacer.example/p/12",
	URL:    "https://pacer.example/p/12",
	Tag:    "red-flag-12",
	Urgent: true,
}

type receiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	types  []string
	status int
}

func newReceiver(t *testing.T, tls bool, status int) *receiver {
	r := &receiver{status: status}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if req.Method != http.MethodPost || req.URL.Path != "/hooks/pacer" || req.URL.Query().Get("key") != "s3cr3t" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		r.bodies = append(r.bodies, b)
		r.types = append(r.types, req.Header.Get("Content-Type"))
		if r.status == http.StatusFound {
			http.Redirect(w, req, "/elsewhere", r.status)
			return
		}
		w.WriteHeader(r.status)
		io.WriteString(w, "echo: "+string(b))
	})
	if tls {
		r.srv = httptest.NewTLSServer(h)
	} else {
		r.srv = httptest.NewServer(h)
	}
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got() (bodies [][]byte, types []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), append([]string(nil), r.types...)
}

func (r *receiver) url() string { return r.srv.URL + "/hooks/pacer?key=s3cr3t" }

func TestPostsDeterministicJSON(t *testing.T) {
	r := newReceiver(t, true, http.StatusNoContent)
	n, err := webhook.New(webhook.Settings{HTTPClient: r.srv.Client(), Allow: loopback}, webhook.Config{Type: "webhook", URL: r.url()})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := n.Send(context.Background(), msg); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	bodies, types := r.got()
	if len(bodies) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(bodies))
	}
	if !bytes.Equal(bodies[0], bodies[1]) {
		t.Errorf("the same message produced different bodies:\n%s\n%s", bodies[0], bodies[1])
	}
	if !strings.HasPrefix(types[0], "application/json") {
		t.Errorf("Content-Type %q, want application/json", types[0])
	}
	var got map[string]any
	if err := json.Unmarshal(bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"title": msg.Title, "body": msg.Body, "url": msg.URL, "tag": msg.Tag, "urgent": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("body %v\nwant %v", got, want)
	}
}

func TestStatusClassification(t *testing.T) {
	for _, tc := range []struct {
		status    int
		ok        bool
		temporary bool
	}{
		{http.StatusOK, true, false},
		{http.StatusAccepted, true, false},
		{http.StatusFound, false, false},
		{http.StatusBadRequest, false, false},
		{http.StatusUnauthorized, false, false},
		{http.StatusNotFound, false, false},
		{http.StatusGone, false, false},
		{http.StatusRequestTimeout, false, true},
		{http.StatusTooManyRequests, false, true},
		{http.StatusInternalServerError, false, true},
		{http.StatusServiceUnavailable, false, true},
		{http.StatusGatewayTimeout, false, true},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			r := newReceiver(t, true, tc.status)
			n, err := webhook.New(webhook.Settings{HTTPClient: r.srv.Client(), Allow: loopback}, webhook.Config{URL: r.url()})
			if err != nil {
				t.Fatal(err)
			}
			err = n.Send(context.Background(), msg)
			if tc.ok {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				return
			}
			checkErr(t, err, tc.temporary)
			if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d from 127.0.0.1", tc.status)) {
				t.Errorf("error %q does not name status and host", err)
			}
		})
	}
}

func TestTimeoutIsTemporary(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	n, err := webhook.New(webhook.Settings{HTTPClient: srv.Client(), Timeout: 100 * time.Millisecond, Allow: loopback},
		webhook.Config{URL: srv.URL + "/hooks/pacer?key=s3cr3t"})
	if err != nil {
		t.Fatal(err)
	}
	checkErr(t, n.Send(context.Background(), msg), true)
}

func TestCancelledContextIsTemporary(t *testing.T) {
	r := newReceiver(t, true, http.StatusNoContent)
	n, err := webhook.New(webhook.Settings{HTTPClient: r.srv.Client(), Allow: loopback}, webhook.Config{URL: r.url()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	checkErr(t, n.Send(ctx, msg), true)
	if bodies, _ := r.got(); len(bodies) != 0 {
		t.Error("a cancelled send reached the receiver")
	}
}

func TestPlainHTTPNeedsTheAllowList(t *testing.T) {
	r := newReceiver(t, false, http.StatusNoContent)
	if _, err := webhook.New(webhook.Settings{}, webhook.Config{URL: r.url()}); err == nil ||
		!strings.Contains(err.Error(), "https") || !strings.Contains(err.Error(), notify.AllowSetting) {
		t.Fatalf("New with http URL: %v, want an error asking for https or %s", err, notify.AllowSetting)
	}
	n, err := webhook.New(webhook.Settings{Allow: loopback}, webhook.Config{URL: r.url()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	if bodies, _ := r.got(); len(bodies) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(bodies))
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []webhook.Config{
		{},
		{URL: "clinic.example/hook"},
		{URL: "ftp://clinic.example/hook"},
		{URL: "https://clinic.example/hook#x"},
		{Type: "ntfy", URL: "https://clinic.example/hook"},
	} {
		if _, err := webhook.New(webhook.Settings{}, c); err == nil {
			t.Errorf("New(%+v) succeeded", c)
		}
	}
	var c webhook.Config
	dec := json.NewDecoder(strings.NewReader(`{"type":"webhook","url":"https://clinic.example/hook"}`))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.URL != "https://clinic.example/hook" {
		t.Errorf("decode channel object: %+v %v", c, err)
	}
}

func checkErr(t *testing.T, err error, temporary bool) {
	t.Helper()
	e, ok := err.(*notify.Error)
	if !ok {
		t.Fatalf("error %T %v is not a *notify.Error", err, err)
	}
	if e.Channel != "webhook" || e.Temporary != temporary || e.Gone {
		t.Errorf("error %q: channel %q temporary %v gone %v, want webhook temporary %v", err, e.Channel, e.Temporary, e.Gone, temporary)
	}
	for _, leak := range []string{"s3cr3t", "/hooks/pacer", msg.Body, "Patient 12"} {
		if strings.Contains(err.Error(), leak) {
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

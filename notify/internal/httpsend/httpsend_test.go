package httpsend

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pacer/notify"
)

func TestTemporaryStatus(t *testing.T) {
	for code, want := range map[int]bool{
		301: false, 400: false, 401: false, 403: false, 404: false, 410: false, 413: false,
		408: true, 425: true, 429: true, 500: true, 502: true, 503: true, 504: true,
	} {
		if got := TemporaryStatus(code); got != want {
			t.Errorf("TemporaryStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

// loopback allows the test servers on this machine, as an operator does with
// notify.allow_private.
func loopback(t *testing.T) notify.AllowList {
	t.Helper()
	a, err := notify.ParseAllowList("127.0.0.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestClient(t *testing.T) {
	if c := Client(nil, 0, notify.AllowList{}); c.Timeout != DefaultTimeout {
		t.Errorf("default timeout %v", c.Timeout)
	}
	base := &http.Client{Timeout: time.Minute}
	if c := Client(base, 0, notify.AllowList{}); c.Timeout != time.Minute || c == base {
		t.Errorf("base client's timeout not kept, or base modified")
	}
	if base.CheckRedirect != nil || base.Transport != nil {
		t.Error("Client changed its base")
	}
	if c := Client(base, time.Second, notify.AllowList{}); c.Timeout != time.Second {
		t.Errorf("timeout %v, want 1s", c.Timeout)
	}
}

func TestPostDoesNotFollowRedirects(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/other", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	resp, err := Post(context.Background(), Client(nil, 0, loopback(t)), Request{URL: srv.URL + "/hook", ContentType: "application/json", Body: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusTemporaryRedirect || hits.Load() != 1 {
		t.Errorf("status %d after %d requests, want 307 after 1", resp.Status, hits.Load())
	}
	if e := Status("webhook", "h", resp, ""); e.Temporary || !strings.Contains(e.Error(), "redirects are not followed") {
		t.Errorf("Status: %v", e)
	}
}

func TestTransportDropsURL(t *testing.T) {
	c := Client(nil, 0, loopback(t))
	_, err := Post(context.Background(), c, Request{URL: "http://127.0.0.1:1/bot123:SECRET/sendMessage", Body: []byte("x")})
	if err == nil {
		t.Fatal("no error from a closed port")
	}
	e := Transport("telegram", "127.0.0.1:1", err)
	if !e.Temporary || strings.Contains(e.Error(), "SECRET") || strings.Contains(e.Error(), "/bot") {
		t.Errorf("Transport: %q temporary %v", e, e.Temporary)
	}
	if e := Transport("x", "h", context.Canceled); !e.Temporary || !errors.Is(e, context.Canceled) {
		t.Errorf("cancelled: %v", e)
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://a.example/x": true, "http://a.example": false, "a.example": false,
		"": false, "https://a.example/#f": false, "ftp://a.example": false,
		"https://user:pass@a.example/": false, "https://user@a.example/": false,
	} {
		if _, err := CheckURL("url", raw, notify.AllowList{}); (err == nil) != ok {
			t.Errorf("CheckURL(%q): %v", raw, err)
		}
	}
	allow, err := notify.ParseAllowList("a.example,10.1.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{"http://a.example", "http://10.1.2.3:8080/x", "https://10.1.2.3/"} {
		if _, err := CheckURL("url", raw, allow); err != nil {
			t.Errorf("%s allowed by notify.allow_private: %v", raw, err)
		}
	}
	for _, raw := range []string{"http://b.example", "http://10.2.0.1/", "https://10.2.0.1/"} {
		_, err := CheckURL("url", raw, allow)
		if err == nil || !strings.Contains(err.Error(), notify.AllowSetting) {
			t.Errorf("%s: %v, want a refusal naming %s", raw, err, notify.AllowSetting)
		}
	}
}

func TestClip(t *testing.T) {
	if got := Clip("a  b\nc", 10); got != "a b c" {
		t.Errorf("Clip = %q", got)
	}
	if got := Clip(strings.Repeat("é", 10), 5); got != "éé…" {
		t.Errorf("Clip cut inside a rune: %q", got)
	}
}

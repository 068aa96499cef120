package httpsend

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"pacer/notify"
)

// RefusedTargets are the destinations a channel's URL may not name: every
// form of loopback, private, link-local (metadata), unique-local,
// unspecified, multicast, CGNAT and mapped address, numbers in disguise and
// user information. The security suite reports them.
var RefusedTargets = []string{
	"https://127.0.0.1/", "https://127.1.2.3/", "https://[::1]/", "https://localhost/", "https://api.localhost/",
	"https://0.0.0.0/", "https://[::]/", "https://10.0.0.1/", "https://172.16.5.4/", "https://192.168.1.1/",
	"https://169.254.169.254/latest/meta-data/", "https://[fe80::1]/", "https://[fd00:ec2::254]/", "https://[fc00::1]/",
	"https://100.64.0.1/", "https://224.0.0.1/", "https://[ff02::1]/", "https://255.255.255.255/", "https://240.0.0.1/",
	"https://[::ffff:127.0.0.1]/", "https://[::ffff:169.254.169.254]/", "https://[::ffff:10.0.0.1]/",
	"https://[64:ff9b::7f00:1]/", "https://[2002:7f00:1::]/", "https://[::127.0.0.1]/",
	"https://0x7f.1/", "https://0x7f000001/", "https://2130706433/", "https://127.1/", "https://017700000001/",
	"https://user:pass@example.org/", "https://user@example.org/",
	"http://example.org/", "ftp://example.org/", "file:///etc/passwd",
}

func TestCheckURLRefusesPrivateTargets(t *testing.T) {
	for _, raw := range RefusedTargets {
		_, err := CheckURL("webhook url", raw, notify.AllowList{})
		if err == nil {
			t.Errorf("%s accepted", raw)
			continue
		}
		if IsRefused(err) && !strings.Contains(err.Error(), notify.AllowSetting) {
			t.Errorf("%s: %v does not name %s", raw, err, notify.AllowSetting)
		}
	}
}

func TestBlocked(t *testing.T) {
	for s, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "::ffff:127.0.0.1": true, "169.254.169.254": true, "fd00:ec2::254": true,
		"10.9.8.7": true, "100.100.100.200": true, "::": true, "0.0.0.0": true, "ff05::2": true,
		"1.1.1.1": false, "2606:4700:4700::1111": false, "93.184.215.14": false, "::ffff:1.1.1.1": false,
	} {
		if got := Blocked(netip.MustParseAddr(s)) != ""; got != want {
			t.Errorf("Blocked(%s) = %v, want %v", s, got, want)
		}
	}
}

// listener counts the connections a real server on loopback accepts.
type listener struct {
	srv   *httptest.Server
	conns atomic.Int32
}

func listen(t *testing.T, network, addr string) *listener {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s listener on %s: %v", network, addr, err)
	}
	l := &listener{}
	l.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	l.srv.Listener.Close()
	l.srv.Listener = ln
	l.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			l.conns.Add(1)
		}
	}
	l.srv.Start()
	t.Cleanup(l.srv.Close)
	return l
}

// The guard checks the address a name resolves to when it is dialled, so a
// name that passes the URL check and then resolves to loopback (DNS
// rebinding) is refused before any connection: here "localhost" sent
// straight to Post, past CheckURL.
func TestGuardRefusesResolvedLoopback(t *testing.T) {
	l := listen(t, "tcp4", "127.0.0.1:0")
	port := l.srv.Listener.Addr().(*net.TCPAddr).Port
	for _, host := range []string{"localhost", "127.0.0.1", "[::ffff:127.0.0.1]"} {
		_, err := Post(context.Background(), Client(nil, 0, notify.AllowList{}),
			Request{URL: fmt.Sprintf("http://%s:%d/hook", host, port), Body: []byte("{}")})
		if !IsRefused(err) {
			t.Errorf("%s: %v, want a refusal", host, err)
			continue
		}
		e := Transport("webhook", host, err)
		if e.Temporary || !strings.Contains(e.Error(), notify.AllowSetting) {
			t.Errorf("%s: %v (temporary %v), want a permanent error naming %s", host, e, e.Temporary, notify.AllowSetting)
		}
	}
	if n := l.conns.Load(); n != 0 {
		t.Errorf("the loopback listener accepted %d connections, want 0", n)
	}
}

// notify.allow_private lets the operator's destinations through: by
// address, by CIDR, by name.
func TestGuardAllowsListed(t *testing.T) {
	l4 := listen(t, "tcp4", "127.0.0.1:0")
	l6 := listen(t, "tcp6", "[::1]:0")
	for _, c := range []struct{ allow, url string }{
		{"127.0.0.1", l4.srv.URL},
		{"127.0.0.0/8", l4.srv.URL},
		{"::1", l6.srv.URL},
		{"localhost", strings.Replace(l4.srv.URL, "127.0.0.1", "localhost", 1)},
	} {
		allow, err := notify.ParseAllowList(c.allow)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := CheckURL("url", c.url, allow); err != nil {
			t.Errorf("allow %s: CheckURL(%s): %v", c.allow, c.url, err)
			continue
		}
		resp, err := Post(context.Background(), Client(nil, 0, allow), Request{URL: c.url, Body: []byte("{}")})
		if err != nil || resp.Status != http.StatusOK {
			t.Errorf("allow %s: POST %s: %v %d", c.allow, c.url, err, resp.Status)
		}
	}
	if l4.conns.Load() == 0 {
		t.Error("the allowed listener got no connection")
	}
}

func TestParseAllowList(t *testing.T) {
	a, err := notify.ParseAllowList("10.0.0.0/8, ntfy.clinic.lan,::1 192.168.1.20")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{"10.2.3.4": true, "ntfy.clinic.lan": true, "NTFY.clinic.lan.": true, "::1": true,
		"192.168.1.20": true, "192.168.1.21": false, "other.lan": false, "[::1]": true} {
		if a.Host(host) != want {
			t.Errorf("Host(%s) = %v, want %v", host, !want, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "http://x", "a b/c", "0x7f.1", "1234"} {
		if _, err := notify.ParseAllowList(bad); err == nil || !strings.Contains(err.Error(), "notify.allow_private") {
			t.Errorf("ParseAllowList(%q): %v", bad, err)
		}
	}
}

// Notifiers are made per message; they share one guarded transport (one pool
// of connections) per base transport and allow list.
func TestGuardedTransportIsShared(t *testing.T) {
	allow, _ := notify.ParseAllowList("10.0.0.0/8, relay.example")
	same, _ := notify.ParseAllowList("relay.example,10.0.0.0/8")
	other, _ := notify.ParseAllowList("192.168.0.0/16")
	a, b := Client(nil, 0, allow), Client(nil, 0, same)
	if a.Transport != b.Transport {
		t.Error("two clients for one allow list have transports of their own")
	}
	if c := Client(nil, 0, other); c.Transport == a.Transport {
		t.Error("clients for different allow lists share a transport")
	}
	base := &http.Client{Transport: &http.Transport{}}
	if c := Client(base, 0, allow); c.Transport == a.Transport || c.Transport != Client(base, 0, allow).Transport {
		t.Error("a client's own transport is not guarded apart, once")
	}
}

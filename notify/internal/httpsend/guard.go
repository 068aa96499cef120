package httpsend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"pacer/notify"
)

// A patient or a therapist names the URLs that webhook, ntfy and Web Push
// channels post to, so pacer's requests must not become a way into the
// network it runs in (server-side request forgery). Every connection is
// checked after DNS resolution, in the dialer, on the address actually
// dialled: a name that resolves to a public address when a channel is saved
// and to 127.0.0.1 when a message is sent (DNS rebinding) is refused then.

// blocked are the address ranges no channel may reach unless
// notify.allow_private lists them, with what each is.
var blocked = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (this host)"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT (shared)"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local (cloud metadata)"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("192.88.99.0/24"), "6to4 relay"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("::/128"), "unspecified"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 (embeds an IPv4 address)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64 (embeds an IPv4 address)"},
	{netip.MustParsePrefix("100::/64"), "discard"},
	{netip.MustParsePrefix("2001::/32"), "Teredo (embeds an IPv4 address)"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4 (embeds an IPv4 address)"},
	{netip.MustParsePrefix("fc00::/7"), "unique-local (cloud metadata)"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("fec0::/10"), "site-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// Blocked says what kind of address ip is when channels may not reach it
// (loopback, private…), or "" when it is a public unicast address. An
// IPv4-mapped IPv6 address (::ffff:127.0.0.1) is judged as the IPv4 address
// it maps.
func Blocked(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	for _, b := range blocked {
		if b.prefix.Contains(ip) {
			return b.what
		}
	}
	return ""
}

// RefusedError is a destination a channel may not reach; its text names
// notify.allow_private, the setting that would allow it.
type RefusedError struct {
	Host string     // as the URL names it
	Addr netip.Addr // the address it resolved to, if it was resolved
	What string     // what kind of address it is
}

func (e *RefusedError) Error() string {
	if e.Addr.IsValid() && e.Addr.String() != e.Host {
		return fmt.Sprintf("%s resolves to %s, a %s address; pacer sends to the clinic's own network only to destinations named in %s",
			e.Host, e.Addr, e.What, notify.AllowSetting)
	}
	return fmt.Sprintf("%s is a %s address; pacer sends to the clinic's own network only to destinations named in %s",
		e.Host, e.What, notify.AllowSetting)
}

// guard returns a DialContext that refuses blocked addresses unless allow
// lists them (by address, or the dialled host by name).
func guard(allow notify.AllowList) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		named := allow.Name(host)
		d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
			// Control sees each address the name resolved to, just
			// before the connection is made to it.
			Control: func(_, address string, _ syscall.RawConn) error {
				if named {
					return nil
				}
				ap, err := netip.ParseAddrPort(address)
				if err != nil {
					return &RefusedError{Host: host, What: "unparsable"}
				}
				ip := ap.Addr().Unmap()
				if what := Blocked(ip); what != "" && !allow.Addr(ip) {
					return &RefusedError{Host: host, Addr: ip, What: what}
				}
				return nil
			}}
		return d.DialContext(ctx, network, addr)
	}
}

// guarded returns a transport for base (nil: net/http's defaults) that
// dials through the guard. A proxy from the environment is not used: the
// proxy, not pacer, would resolve and reach the destination. A base client
// whose transport is not an *http.Transport cannot be guarded and is
// replaced by the defaults.
//
// The guarded transport of a base and an allow list is made once and kept
// (as net/http keeps http.DefaultTransport): a notifier is made per message,
// and each making a transport of its own would open a pool of connections
// per message, with its buffers, and never reuse one.
func guarded(base http.RoundTripper, allow notify.AllowList) http.RoundTripper {
	k := guardedKey{base, allow.String()}
	if t, ok := guardedTransports.Load(k); ok {
		return t.(http.RoundTripper)
	}
	t, ok := base.(*http.Transport)
	if !ok || t == nil {
		t = http.DefaultTransport.(*http.Transport)
	}
	t = t.Clone()
	t.Proxy = nil
	t.DialContext = guard(allow)
	t.DialTLSContext = nil
	got, _ := guardedTransports.LoadOrStore(k, t)
	return got.(http.RoundTripper)
}

// guardedKey names a guarded transport: the transport it was made from and
// the allow list's canonical text. The servers' channel settings are few and
// made once, so the map stays small.
type guardedKey struct {
	base  http.RoundTripper
	allow string
}

var guardedTransports sync.Map // guardedKey → *http.Transport

// checkHost refuses, before any request, a URL's host that is an address
// channels may not reach, localhost, or a name that is not a host name (a
// number in disguise such as 0x7f.1), unless allow lists it.
func checkHost(what string, host string, allow notify.AllowList) error {
	if allow.Host(host) {
		return nil
	}
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if w := Blocked(ip); w != "" {
			return fmt.Errorf("%s: %w", what, &RefusedError{Host: host, Addr: ip.Unmap(), What: w})
		}
		return nil
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fmt.Errorf("%s: %w", what, &RefusedError{Host: host, What: "loopback"})
	}
	if !notify.HostName(h) {
		return fmt.Errorf("%s: %q is not a host name or an IP address: write the server's name, such as ntfy.example.org", what, host)
	}
	return nil
}

// IsRefused reports whether err is a destination the guard refused.
func IsRefused(err error) bool {
	_, ok := errors.AsType[*RefusedError](err)
	return ok
}

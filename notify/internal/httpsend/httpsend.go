// Package httpsend owns what pacer's HTTP channels (ntfy, webhook, Pushover,
// Telegram, Web Push) share: a client that always has a timeout, never
// follows redirects and refuses private, loopback, link-local and metadata
// addresses after DNS resolution (guard.go), the check of a configured URL, one POST through
// nikoksr/notify's generic HTTP service, and the classification of an HTTP
// outcome as a *notify.Error whose text names the host but never the URL,
// a token or the message.
//
// It must not import the channel packages.
package httpsend

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	nhttp "github.com/nikoksr/notify/service/http"

	"pacer/notify"
)

// DefaultTimeout bounds one request when a channel's settings name none.
const DefaultTimeout = 15 * time.Second

// maxBody is how much of a response is kept for the caller to decode.
const maxBody = 64 << 10

// Client returns a copy of base (or of a zero client) whose Timeout is
// timeout (DefaultTimeout when zero or negative, unless base has its own),
// that refuses redirects, so a 3xx is reported rather than silently
// turning a POST into a GET or carrying a token to another host, and whose
// connections refuse private, loopback, link-local and metadata addresses
// unless allow lists them (see guard.go).
func Client(base *http.Client, timeout time.Duration, allow notify.AllowList) *http.Client {
	var c http.Client
	if base != nil {
		c = *base
	}
	if timeout > 0 {
		c.Timeout = timeout
	} else if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Transport = guarded(c.Transport, allow)
	return &c
}

// CheckURL parses raw as an absolute https URL, or http when allow lists
// its host, and refuses user information (user:password@) and hosts the
// guard would refuse: addresses channels may not reach, localhost, and
// numbers in disguise. what names the setting in the error ("webhook url").
func CheckURL(what, raw string, allow notify.AllowList) (*url.URL, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, fmt.Errorf("%s is empty: set it to an https:// URL", what)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("%s is not an absolute URL: write it as https://host/path", what)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allow.Host(u.Hostname()) {
			return nil, fmt.Errorf("%s uses http://: use https://, or, for a server on the clinic's own network, name its host in %s",
				what, notify.AllowSetting)
		}
	default:
		return nil, fmt.Errorf("%s has scheme %q: use https://", what, u.Scheme)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s has user information (user:password@): pacer sends no credentials in URLs; remove it", what)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%s has a #fragment, which is never sent: remove it", what)
	}
	if err := checkHost(what, u.Hostname(), allow); err != nil {
		return nil, err
	}
	return u, nil
}

// Request is one POST.
type Request struct {
	URL         string
	Header      http.Header // extra headers (Authorization, …); may be nil
	ContentType string
	Body        []byte
}

// Response is what came back: the status and at most 64 KiB of the body.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Post sends r through nikoksr/notify's generic HTTP service. A Service is
// built per call because the service stores its webhooks and writes into
// their shared header map on every send, which would race when one channel
// sends concurrently. The service reports a non-2xx status only as text,
// so a post-send hook captures the response instead. The returned error is
// a transport failure (no response) and may name the URL: callers turn it
// into a notify.Error with Transport.
func Post(ctx context.Context, client *http.Client, r Request) (Response, error) {
	var resp Response
	var got bool
	svc := nhttp.New()
	svc.WithClient(client)
	svc.Serializer = rawSerializer{}
	header := http.Header{}
	for k, v := range r.Header {
		header[k] = append([]string(nil), v...)
	}
	header.Set("User-Agent", "pacer")
	svc.AddReceivers(&nhttp.Webhook{
		ContentType:  r.ContentType,
		Header:       header,
		Method:       http.MethodPost,
		URL:          r.URL,
		BuildPayload: func(string, string) any { return r.Body },
	})
	svc.PostSend(func(_ *http.Request, hr *http.Response) error {
		got = true
		resp.Status = hr.StatusCode
		resp.Header = hr.Header.Clone()
		// A short read is ignored: the status is what counts, and a 2xx
		// whose body broke off was still a delivery.
		resp.Body, _ = io.ReadAll(io.LimitReader(hr.Body, maxBody))
		return nil
	})
	err := svc.Send(ctx, "", "")
	if got {
		return resp, nil // a status, 2xx or not, is the caller's to judge
	}
	if err == nil {
		err = errors.New("no response")
	}
	return Response{}, err
}

type rawSerializer struct{}

func (rawSerializer) Marshal(_ string, payload any) ([]byte, error) {
	b, ok := payload.([]byte)
	if !ok {
		return nil, fmt.Errorf("payload is %T, not []byte", payload)
	}
	return bytes.Clone(b), nil
}

// Host is the host[:port] of raw for error messages, or "the server" when
// raw does not parse. It never includes the path, query or user info.
func Host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "the server"
	}
	return u.Host
}

// Transport classifies an error that left no HTTP response. The text keeps
// the cause (timeout, connection refused, certificate problem) but drops
// the URL that net/http puts into its errors, since a URL may carry a token
// (Telegram's /bot<token>/) or be a capability itself (a push endpoint, a
// webhook). Certificate failures are permanent: the fix is configuration.
// Everything else is temporary.
func Transport(channel, host string, err error) *notify.Error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	e := &notify.Error{Channel: channel, Temporary: true}
	switch {
	case IsRefused(err):
		refused, _ := errors.AsType[*RefusedError](err)
		e.Temporary = false // the fix is configuration
		e.Err = fmt.Errorf("request refused: %w", refused)
	case errors.Is(err, context.Canceled):
		e.Err = fmt.Errorf("request to %s cancelled: %w", host, err)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		e.Err = fmt.Errorf("request to %s timed out: %w", host, err)
	case isCertificate(err):
		e.Temporary = false
		e.Err = fmt.Errorf("TLS certificate of %s not accepted (fix its certificate or the trusted CAs): %w", host, err)
	default:
		e.Err = fmt.Errorf("request to %s failed: %w", host, err)
	}
	return e
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isCertificate(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
	)
	return errors.As(err, &unknown) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verify)
}

// Status classifies a non-2xx status: 408, 425, 429 and 5xx are temporary;
// any other status (3xx because redirects are not followed, other 4xx) is
// permanent. detail, if not empty, is appended (the caller makes sure it
// holds no secret); a Retry-After header is mentioned when present.
func Status(channel, host string, resp Response, detail string) *notify.Error {
	code := resp.Status
	msg := "HTTP " + strconv.Itoa(code) + " from " + host
	if detail != "" {
		msg += ": " + detail
	}
	if code >= 300 && code < 400 {
		msg += " (redirects are not followed: configure the final URL)"
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" && len(ra) <= 40 {
		msg += " (retry after " + ra + ")"
	}
	return &notify.Error{Channel: channel, Temporary: TemporaryStatus(code), Err: errors.New(msg)}
}

// TemporaryStatus reports whether an HTTP status is worth retrying later.
func TemporaryStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusTooEarly ||
		code == http.StatusTooManyRequests || code >= 500
}

// OK reports whether code is a success.
func OK(code int) bool { return code >= 200 && code < 300 }

// Clip shortens a peer-supplied text for an error message to at most n
// bytes on a rune boundary, on one line.
func Clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

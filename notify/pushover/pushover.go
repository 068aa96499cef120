// Package pushover delivers a message with Pushover's message API: a form
// POST of token, user, title, message, url and priority to
// https://api.pushover.net/1/messages.json.
//
// nikoksr/notify's Pushover service is not used: it sends only a title and
// a message (no url, no priority), builds its client on gregdel/pushover,
// which posts with http.DefaultClient (no timeout, no context) to a
// package-level APIEndpoint variable (global state, the only way to point it
// at a test server). The request goes through notify's generic HTTP service
// instead, like every HTTP channel here.
//
// It imports only pacer/notify and its internal HTTP helper.
package pushover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"pacer/notify"
	"pacer/notify/internal/httpsend"
)

// Channel is this channel's name in errors and in the channel object's "type".
const Channel = "pushover"

// DefaultAPI is Pushover's API base URL.
const DefaultAPI = "https://api.pushover.net/1"

// Pushover's documented limits (characters).
const (
	maxTitle   = 250
	maxMessage = 1024
	maxURL     = 512
)

// Application tokens and user/group keys are 30 characters of [A-Za-z0-9].
var keyPattern = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)

// Config is one patient's Pushover channel as stored and as sent in
// PUT …/channels: {"type":"pushover","user_key":"…"}.
type Config struct {
	Type    string `json:"type"` // "pushover" (or empty)
	UserKey string `json:"user_key"`
}

// Settings are server-wide and come from pacer's configuration.
type Settings struct {
	// AppToken is pacer's application API token (a secret).
	AppToken string
	// APIBase is the API's base URL; DefaultAPI when empty. Only tests
	// point it elsewhere.
	APIBase string
	// Allow lists private destinations the API base may be on
	// (notify.allow_private); only tests need it.
	Allow notify.AllowList
	// Timeout bounds one request; httpsend.DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient is an optional base client (proxy, extra CAs); the timeout
	// above is applied to a copy and redirects are not followed.
	HTTPClient *http.Client
}

// Validate checks the settings alone, for `pacer config check`.
func (s Settings) Validate() error {
	if !keyPattern.MatchString(s.AppToken) {
		return errors.New("pushover app token must be the 30 letters and digits shown for your application at pushover.net/apps")
	}
	if s.APIBase != "" {
		if _, err := httpsend.CheckURL("pushover API base", s.APIBase, s.Allow); err != nil {
			return err
		}
	}
	return nil
}

type notifier struct {
	endpoint string
	host     string
	token    string
	user     string
	client   *http.Client
}

// New returns a Notifier for one user (or group) key.
func New(s Settings, c Config) (notify.Notifier, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if c.Type != "" && c.Type != Channel {
		return nil, fmt.Errorf("pushover channel has type %q: want %q", c.Type, Channel)
	}
	if !keyPattern.MatchString(c.UserKey) {
		return nil, errors.New("pushover user_key must be the 30 letters and digits shown as \"Your User Key\" in the Pushover app or at pushover.net")
	}
	base := s.APIBase
	if base == "" {
		base = DefaultAPI
	}
	return &notifier{
		endpoint: strings.TrimRight(base, "/") + "/messages.json",
		host:     httpsend.Host(base),
		token:    s.AppToken,
		user:     c.UserKey,
		client:   httpsend.Client(s.HTTPClient, s.Timeout, s.Allow),
	}, nil
}

func (n *notifier) Send(ctx context.Context, m notify.Message) error {
	form := url.Values{}
	form.Set("token", n.token)
	form.Set("user", n.user)
	form.Set("message", truncate(m.Body, maxMessage))
	if m.Title != "" {
		form.Set("title", truncate(m.Title, maxTitle))
	}
	if m.URL != "" && utf8.RuneCountInString(m.URL) <= maxURL {
		form.Set("url", m.URL)
	}
	// 1 is "high priority": shown highlighted and delivered through the
	// user's quiet hours. 2 (emergency) would repeat until acknowledged.
	if m.Urgent {
		form.Set("priority", "1")
	} else {
		form.Set("priority", "0")
	}
	resp, err := httpsend.Post(ctx, n.client, httpsend.Request{
		URL:         n.endpoint,
		ContentType: "application/x-www-form-urlencoded",
		Body:        []byte(form.Encode()),
	})
	if err != nil {
		return httpsend.Transport(Channel, n.host, err)
	}
	var r struct {
		Status int      `json:"status"`
		Errors []string `json:"errors"`
	}
	decodeErr := json.Unmarshal(resp.Body, &r)
	if httpsend.OK(resp.Status) {
		if decodeErr == nil && r.Status != 1 {
			return &notify.Error{Channel: Channel, Err: fmt.Errorf("pushover at %s answered status %d: %s", n.host, r.Status, errorText(r.Errors))}
		}
		return nil
	}
	// 4xx with {"status":0,"errors":[…]}: the input was rejected, do not
	// resend. 429: the application's monthly limit is used up. 5xx: try
	// again later (no faster than every 5 seconds, say the docs).
	detail := ""
	if decodeErr == nil && len(r.Errors) > 0 {
		detail = errorText(r.Errors)
	}
	return httpsend.Status(Channel, n.host, resp, detail)
}

// errorText joins Pushover's error texts, which describe the problem
// ("user identifier is invalid") without echoing the token.
func errorText(errs []string) string {
	if len(errs) == 0 {
		return "no reason given"
	}
	return httpsend.Clip(strings.Join(errs, "; "), 200)
}

// truncate cuts s to n characters, ending with "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// Package ntfy delivers a message to an ntfy topic (https://ntfy.sh or a
// self-hosted server) with ntfy's JSON publish API: a POST to the server's
// root URL of {"topic","title","message","click","priority","tags","actions"},
// sent through nikoksr/notify's generic HTTP service. A session reminder
// carries an http action button, "Done", which the ntfy app posts to the
// session's link when it is tapped, without opening anything.
//
// It imports only pacer/notify and its internal HTTP helper.
package ntfy

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

	"pacer/notify"
	"pacer/notify/internal/httpsend"
)

// Channel is this channel's name in errors and in the channel object's "type".
const Channel = "ntfy"

// PublicServer is used when neither the channel nor the settings name a server.
const PublicServer = "https://ntfy.sh"

// ntfy's own rule for topic names (server.go topicRegex).
var topicPattern = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// Config is one patient's ntfy channel as stored and as sent in
// PUT …/channels: {"type":"ntfy","server":"https://ntfy.example","topic":"…"}.
// Anyone who knows the topic of an open server can read it, so the topic
// should be hard to guess.
type Config struct {
	Type   string `json:"type"`             // "ntfy" (or empty)
	Server string `json:"server,omitempty"` // the server's root URL; Settings.DefaultServer when empty
	Topic  string `json:"topic"`
}

// Settings are server-wide, the same for every patient, and come from
// pacer's configuration, never from a patient.
type Settings struct {
	// DefaultServer is the root URL used when a channel names no server;
	// PublicServer when empty.
	DefaultServer string
	// Tokens maps a server's root URL to an ntfy access token (tk_…),
	// sent as a bearer token to that server only, so a patient who names
	// another server never receives it. Tokens are sent over https only.
	Tokens map[string]string
	// Allow lists the destinations on the clinic's own network that ntfy
	// channels may reach, over http:// too (notify.allow_private); others
	// on private, loopback, link-local or metadata addresses are refused.
	Allow notify.AllowList
	// Timeout bounds one publish; httpsend.DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient is an optional base client (proxy, extra CAs); the
	// timeout above is applied to a copy and redirects are not followed.
	HTTPClient *http.Client
}

// Validate checks the settings alone, for `pacer config check`.
func (s Settings) Validate() error {
	if s.DefaultServer != "" {
		if _, err := httpsend.CheckURL("ntfy default server", s.DefaultServer, s.Allow); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for server, token := range s.Tokens {
		u, err := httpsend.CheckURL("ntfy token server", server, s.Allow)
		if err == nil && u.Scheme != "https" {
			err = fmt.Errorf("ntfy token server %s uses http://: use https://", u.Host)
		}
		if err != nil {
			return fmt.Errorf("%w (an access token is only sent over https)", err)
		}
		if strings.TrimSpace(token) == "" || strings.ContainsAny(token, " \r\n") {
			return fmt.Errorf("ntfy token for %s is empty or has spaces: paste the tk_… token exactly", u.Host)
		}
		if seen[rootOf(u)] {
			return fmt.Errorf("ntfy tokens name %s twice: keep one", u.Host)
		}
		seen[rootOf(u)] = true
	}
	return nil
}

type notifier struct {
	publish string // root URL + "/"
	host    string
	topic   string
	token   string
	client  *http.Client
}

// New returns a Notifier that publishes to c's topic. It fails, saying what
// to fix, when the settings or the channel are invalid.
func New(s Settings, c Config) (notify.Notifier, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if c.Type != "" && c.Type != Channel {
		return nil, fmt.Errorf("ntfy channel has type %q: want %q", c.Type, Channel)
	}
	if !topicPattern.MatchString(c.Topic) {
		return nil, errors.New("ntfy topic must be 1 to 64 letters, digits, '-' or '_'")
	}
	server := c.Server
	if server == "" {
		server = s.DefaultServer
	}
	if server == "" {
		server = PublicServer
	}
	u, err := httpsend.CheckURL("ntfy server", server, s.Allow)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" {
		return nil, errors.New("ntfy server URL has a ?query: give the server's root URL only")
	}
	root := rootOf(u)
	n := &notifier{
		publish: root + "/",
		host:    u.Host,
		topic:   c.Topic,
		client:  httpsend.Client(s.HTTPClient, s.Timeout, s.Allow),
	}
	for tokServer, token := range s.Tokens {
		if tu, err := url.Parse(tokServer); err == nil && rootOf(tu) == root {
			n.token = token
		}
	}
	return n, nil
}

// rootOf normalizes a server URL for comparison: lower-case scheme and
// host, no trailing slash.
func rootOf(u *url.URL) string {
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + strings.TrimRight(u.EscapedPath(), "/")
}

// publishing is ntfy's JSON publish body (docs: "Publish as JSON").
type publishing struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title,omitempty"`
	Message  string   `json:"message"`
	Click    string   `json:"click,omitempty"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags,omitempty"`
	Actions  []action `json:"actions,omitempty"`
}

// action is an ntfy action button (docs: "Action buttons"); pacer sends
// one http action, which the ntfy app performs itself when it is tapped,
// without opening anything.
type action struct {
	Action  string            `json:"action"` // "http"
	Label   string            `json:"label"`
	URL     string            `json:"url"`
	Method  string            `json:"method,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	Clear   bool              `json:"clear,omitempty"` // dismiss the notification once the request succeeded
}

// ntfy's priorities: 3 is the default, 5 ("max/urgent") gets a pop-over
// and long vibration bursts.
const (
	priorityDefault = 3
	priorityUrgent  = 5
)

func (n *notifier) Send(ctx context.Context, m notify.Message) error {
	p := publishing{Topic: n.topic, Title: m.Title, Message: m.Body, Click: m.URL, Priority: priorityDefault}
	if m.Urgent {
		p.Priority = priorityUrgent
	}
	if d := m.Done; d != nil && d.URL != "" {
		p.Actions = []action{{Action: "http", Label: d.Label, URL: d.URL, Method: http.MethodPost,
			Headers: map[string]string{"Content-Type": "application/json"}, Body: notify.DoneBody, Clear: true}}
	}
	// ntfy shows tags on the notification; a message's tag is an internal
	// id, so it stays out.
	body, err := json.Marshal(p)
	if err != nil {
		return &notify.Error{Channel: Channel, Err: fmt.Errorf("encode message: %w", err)}
	}
	header := http.Header{}
	if n.token != "" {
		header.Set("Authorization", "Bearer "+n.token)
	}
	resp, err := httpsend.Post(ctx, n.client, httpsend.Request{
		URL:         n.publish,
		Header:      header,
		ContentType: "application/json",
		Body:        body,
	})
	if err != nil {
		return httpsend.Transport(Channel, n.host, err)
	}
	if httpsend.OK(resp.Status) {
		return nil
	}
	return httpsend.Status(Channel, n.host, resp, detail(resp.Body))
}

// detail extracts ntfy's error code and text ({"code":40301,"http":403,
// "error":"forbidden",…}); ntfy's texts name the problem, not the request.
func detail(body []byte) string {
	var e struct {
		Code  int    `json:"code"`
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return ""
	}
	return fmt.Sprintf("ntfy error %d: %s", e.Code, httpsend.Clip(e.Error, 120))
}

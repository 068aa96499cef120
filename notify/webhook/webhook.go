// Package webhook delivers a message to a clinic system as one JSON POST,
// {"title","body","url","tag","urgent"}, through nikoksr/notify's generic
// HTTP service. The body carries no timestamp so that the same message
// always produces the same bytes (receivers can deduplicate on them).
//
// A 2xx is a delivery; 408, 429 and 5xx are temporary; any other status,
// including a redirect (never followed), is permanent.
//
// It imports only pacer/notify and its internal HTTP helper.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"pacer/notify"
	"pacer/notify/internal/httpsend"
)

// Channel is this channel's name in errors and in the channel object's "type".
const Channel = "webhook"

// Config is one webhook channel as stored and as sent in PUT …/channels:
// {"type":"webhook","url":"https://…"}. The URL may carry the receiver's
// secret; it never appears in errors.
type Config struct {
	Type string `json:"type"` // "webhook" (or empty)
	URL  string `json:"url"`
}

// Settings are server-wide and come from pacer's configuration.
type Settings struct {
	// Allow lists the destinations on the clinic's own network that
	// webhooks may reach, over http:// too (notify.allow_private); others
	// on private, loopback, link-local or metadata addresses are refused.
	Allow notify.AllowList
	// Timeout bounds one POST; httpsend.DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient is an optional base client (proxy, extra CAs); the timeout
	// above is applied to a copy and redirects are not followed.
	HTTPClient *http.Client
}

// Payload is the JSON body a receiver gets.
type Payload struct {
	Title  string `json:"title"`
	Body   string `json:"body"`
	URL    string `json:"url"`
	Tag    string `json:"tag"`
	Urgent bool   `json:"urgent"`
}

type notifier struct {
	url    string
	host   string
	client *http.Client
}

// New returns a Notifier that posts to c.URL. It fails, saying what to fix,
// when the URL is not an https URL (or http, when allowed).
func New(s Settings, c Config) (notify.Notifier, error) {
	if c.Type != "" && c.Type != Channel {
		return nil, fmt.Errorf("webhook channel has type %q: want %q", c.Type, Channel)
	}
	u, err := httpsend.CheckURL("webhook url", c.URL, s.Allow)
	if err != nil {
		return nil, err
	}
	return &notifier{url: u.String(), host: u.Host, client: httpsend.Client(s.HTTPClient, s.Timeout, s.Allow)}, nil
}

func (n *notifier) Send(ctx context.Context, m notify.Message) error {
	body, err := json.Marshal(Payload{Title: m.Title, Body: m.Body, URL: m.URL, Tag: m.Tag, Urgent: m.Urgent})
	if err != nil {
		return &notify.Error{Channel: Channel, Err: fmt.Errorf("encode message: %w", err)}
	}
	resp, err := httpsend.Post(ctx, n.client, httpsend.Request{URL: n.url, ContentType: "application/json", Body: body})
	if err != nil {
		return httpsend.Transport(Channel, n.host, err)
	}
	if httpsend.OK(resp.Status) {
		return nil
	}
	// The receiver's answer is not quoted: it is an arbitrary system that
	// may echo what it was sent.
	return httpsend.Status(Channel, n.host, resp, "")
}

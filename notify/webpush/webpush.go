// Package webpush delivers a message to one browser push subscription
// (RFC 8030 push, RFC 8291 aes128gcm encryption, RFC 8292 VAPID) with
// github.com/SherClockHolmes/webpush-go. The payload is a Declarative Web
// Push notification, {"web_push":8030,"notification":{"title","body",
// "navigate",…}}, which Safari shows by itself and pacer's service worker
// shows elsewhere.
//
// A 404 or 410 from the push service means the subscription is gone: the
// error is Gone and the caller deletes it. 429 and 5xx are temporary;
// other statuses are permanent.
//
// nikoksr/notify's webpush service is not used: it sends a fixed payload
// {"subject","message","data"}, passes options through the context, and
// puts the endpoint URL (a capability) into its errors.
//
// It imports only pacer/notify and its internal HTTP helper.
package webpush

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"time"

	webpushgo "github.com/SherClockHolmes/webpush-go"

	"pacer/notify"
	"pacer/notify/internal/httpsend"
)

// Channel is this channel's name in errors.
const Channel = "webpush"

// DefaultTTL is how long a push service keeps a message for an offline
// device: a reminder later than the outbox's two-hour staleness rule is
// noise.
const DefaultTTL = 2 * time.Hour

// GenerateVAPIDKeys makes a new VAPID key pair, base64url without padding:
// public is what the browser's pushManager.subscribe gets as
// applicationServerKey (GET /vapid-public-key), private stays on the
// server. (webpush-go's own GenerateVAPIDKeys returns them the other way
// round.)
func GenerateVAPIDKeys() (public, private string, err error) {
	private, public, err = webpushgo.GenerateVAPIDKeys()
	return public, private, err
}

// Settings are server-wide and come from pacer's state and configuration.
type Settings struct {
	// VAPIDPublicKey and VAPIDPrivateKey are the pair GenerateVAPIDKeys
	// made on first start. Subscriptions are bound to the public key.
	VAPIDPublicKey  string
	VAPIDPrivateKey string
	// Subscriber is the contact the push services see in the VAPID token:
	// "mailto:ops@clinic.example" or an https:// URL. A bare address gets
	// "mailto:".
	Subscriber string
	// TTL is how long the push service keeps an undelivered message;
	// DefaultTTL when zero.
	TTL time.Duration
	// Allow lists the push services on the clinic's own network (or this
	// machine, such as a test one) that subscriptions may name, over
	// http:// too (notify.allow_private). Browsers' push services are
	// public and https.
	Allow notify.AllowList
	// Timeout bounds one request; httpsend.DefaultTimeout when zero.
	Timeout time.Duration
	// HTTPClient is an optional base client (proxy, extra CAs); the timeout
	// above is applied to a copy and redirects are not followed.
	HTTPClient *http.Client
}

// Keys are a subscription's keys, as the browser gives them.
type Keys struct {
	P256dh string `json:"p256dh"`
	Auth   string `json:"auth"`
}

// Config is one subscription: the browser's PushSubscription JSON as
// POSTed to /c/{token}/push-subscriptions,
// {"endpoint":…,"expirationTime":null,"keys":{"p256dh":…,"auth":…}}.
// The endpoint is a capability: it never appears in errors.
type Config struct {
	Type           string   `json:"type,omitempty"` // "webpush" or empty; not part of the browser's JSON
	Endpoint       string   `json:"endpoint"`
	ExpirationTime *float64 `json:"expirationTime,omitempty"` // ms since the epoch, or null
	Keys           Keys     `json:"keys"`
}

// Validate checks the settings alone, for `pacer config check`.
func (s Settings) Validate() error {
	_, err := s.normalize()
	return err
}

func (s Settings) normalize() (Settings, error) {
	pub, err := decodeKey(s.VAPIDPublicKey)
	if err != nil || len(pub) != 65 {
		return s, errors.New("VAPID public key is not a base64url P-256 public key (65 bytes): use the pair GenerateVAPIDKeys made")
	}
	if _, err := ecdh.P256().NewPublicKey(pub); err != nil {
		return s, errors.New("VAPID public key is not a point on P-256: use the pair GenerateVAPIDKeys made")
	}
	priv, err := decodeKey(s.VAPIDPrivateKey)
	if err != nil || len(priv) != 32 {
		return s, errors.New("VAPID private key is not a base64url P-256 private key (32 bytes): use the pair GenerateVAPIDKeys made")
	}
	key, err := ecdh.P256().NewPrivateKey(priv)
	if err != nil {
		return s, errors.New("VAPID private key is not a valid P-256 key: use the pair GenerateVAPIDKeys made")
	}
	if !bytes.Equal(key.PublicKey().Bytes(), pub) {
		return s, errors.New("VAPID keys do not belong together (swapped?): the public key must be the private key's")
	}
	sub, err := subscriber(s.Subscriber)
	if err != nil {
		return s, err
	}
	s.Subscriber = sub
	if s.TTL < 0 {
		return s, errors.New("web push TTL is negative: use 0 for the default or a duration such as 2h")
	}
	if s.TTL == 0 {
		s.TTL = DefaultTTL
	}
	return s, nil
}

// subscriber returns the VAPID "sub" claim as a full URI.
func subscriber(raw string) (string, error) {
	const fix = "web push subscriber must be a contact for the push services: mailto:ops@clinic.example or https://clinic.example/contact"
	switch {
	case raw == "":
		return "", errors.New(fix)
	case strings.HasPrefix(raw, "https://"):
		// A contact, never requested: any https URL will do.
		if u, err := url.Parse(raw); err != nil || u.Host == "" || u.User != nil {
			return "", errors.New(fix)
		}
		return raw, nil
	}
	addr := strings.TrimPrefix(raw, "mailto:")
	if a, err := mail.ParseAddress(addr); err != nil || a.Address != addr {
		return "", errors.New(fix)
	}
	return "mailto:" + addr, nil
}

type notifier struct {
	s      Settings
	sub    webpushgo.Subscription
	host   string
	client *http.Client
}

// New returns a Notifier for one subscription. It fails, saying what to
// fix, when the settings or the subscription are invalid.
func New(s Settings, c Config) (notify.Notifier, error) {
	s, err := s.normalize()
	if err != nil {
		return nil, err
	}
	if c.Type != "" && c.Type != Channel {
		return nil, fmt.Errorf("web push subscription has type %q: want %q", c.Type, Channel)
	}
	u, err := httpsend.CheckURL("push subscription endpoint", c.Endpoint, s.Allow)
	if err != nil {
		return nil, err
	}
	dh, err := decodeKey(c.Keys.P256dh)
	if err != nil || len(dh) != 65 {
		return nil, errors.New("push subscription keys.p256dh is not a P-256 public key: send the browser's PushSubscription JSON unchanged")
	}
	if _, err := ecdh.P256().NewPublicKey(dh); err != nil {
		return nil, errors.New("push subscription keys.p256dh is not a point on P-256: send the browser's PushSubscription JSON unchanged")
	}
	if auth, err := decodeKey(c.Keys.Auth); err != nil || len(auth) != 16 {
		return nil, errors.New("push subscription keys.auth is not a 16-byte secret: send the browser's PushSubscription JSON unchanged")
	}
	return &notifier{
		s:      s,
		sub:    webpushgo.Subscription{Endpoint: u.String(), Keys: webpushgo.Keys{P256dh: c.Keys.P256dh, Auth: c.Keys.Auth}},
		host:   u.Host,
		client: httpsend.Client(s.HTTPClient, s.Timeout, s.Allow),
	}, nil
}

// Payload is what a push message carries, as JSON: the Declarative Web Push
// format (WebKit; Safari 18.4 and later on iOS, iPadOS and macOS), which
// such a browser shows by itself, without running the service worker, and
// which pacer's service worker (sw.js) reads and shows in every other
// browser. A tap opens Navigate.
type Payload struct {
	WebPush      int          `json:"web_push"` // DeclarativeWebPush
	Notification Notification `json:"notification"`
}

// DeclarativeWebPush marks a payload as a declarative notification.
const DeclarativeWebPush = 8030

// Notification is the notification a Payload describes.
type Notification struct {
	Title    string `json:"title"`
	Body     string `json:"body"`
	Navigate string `json:"navigate"`
	Tag      string `json:"tag,omitempty"`
	// Actions are buttons where the browser shows them (Chromium on
	// Android and desktops). Declaratively, an action navigates; pacer's
	// service worker posts a "done" action's Data.Done instead, so that it
	// records the session without opening a page.
	Actions []Action `json:"actions,omitempty"`
	Data    *Data    `json:"data,omitempty"`
}

// Action is a notification's button.
type Action struct {
	Action   string `json:"action"`
	Title    string `json:"title"`
	Navigate string `json:"navigate"`
}

// Data is what pacer's service worker needs beyond the notification: the
// link a "done" action posts notify.DoneBody to, and what it then says.
type Data struct {
	Done      string `json:"done,omitempty"`
	Confirmed string `json:"confirmed,omitempty"`
}

// payloadOf is a message's payload.
func payloadOf(m notify.Message) Payload {
	n := Notification{Title: m.Title, Body: m.Body, Navigate: m.URL, Tag: m.Tag}
	if d := m.Done; d != nil && d.URL != "" {
		n.Actions = []Action{{Action: "done", Title: d.Label, Navigate: d.URL}}
		n.Data = &Data{Done: d.URL, Confirmed: d.Confirmed}
	}
	return Payload{WebPush: DeclarativeWebPush, Notification: n}
}

// maxPayload is what one aes128gcm record of webpush-go holds: 4096 bytes
// less the 16-byte tag, the 86-byte header and the padding delimiter.
const maxPayload = 4096 - 16 - 86 - 1

// fit encodes p, shortening its body (then its title) with "…" until it
// fits one push record: a long weekly summary arrives cut rather than not
// at all; the link to the full page stays whole.
func fit(p Payload) ([]byte, error) {
	n := &p.Notification
	for {
		b, err := json.Marshal(p)
		if err != nil || len(b) <= maxPayload {
			return b, err
		}
		field := &n.Body
		if strings.TrimSuffix(n.Body, "…") == "" {
			field = &n.Title
			if strings.TrimSuffix(n.Title, "…") == "" {
				return b, nil // the links and tag alone are too long: Send reports it
			}
		}
		r := []rune(strings.TrimSuffix(*field, "…"))
		cut := max(1, min(len(r), (len(b)-maxPayload+5)/2))
		*field = string(r[:len(r)-cut]) + "…"
	}
}

func (n *notifier) Send(ctx context.Context, m notify.Message) error {
	payload, err := fit(payloadOf(m))
	if err != nil {
		return &notify.Error{Channel: Channel, Err: fmt.Errorf("encode message: %w", err)}
	}
	urgency := webpushgo.UrgencyNormal
	if m.Urgent {
		urgency = webpushgo.UrgencyHigh
	}
	resp, err := webpushgo.SendNotificationWithContext(ctx, payload, &n.sub, &webpushgo.Options{
		HTTPClient: n.client,
		// webpush-go prefixes "mailto:" to anything not starting with
		// "https:", so a mailto: URI goes in without its scheme.
		Subscriber:      strings.TrimPrefix(n.s.Subscriber, "mailto:"),
		Topic:           topic(m.Tag),
		TTL:             int(n.s.TTL / time.Second),
		Urgency:         urgency,
		VAPIDPublicKey:  n.s.VAPIDPublicKey,
		VAPIDPrivateKey: n.s.VAPIDPrivateKey,
	})
	if errors.Is(err, webpushgo.ErrMaxPadExceeded) {
		return &notify.Error{Channel: Channel, Err: errors.New("message too long for one web push record (about 3900 bytes): shorten it")}
	}
	if err != nil {
		return httpsend.Transport(Channel, n.host, err)
	}
	defer resp.Body.Close()
	if httpsend.OK(resp.StatusCode) {
		return nil
	}
	r := httpsend.Response{Status: resp.StatusCode, Header: resp.Header}
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		return &notify.Error{Channel: Channel, Gone: true,
			Err: fmt.Errorf("HTTP %d from %s: the subscription has expired or was withdrawn", resp.StatusCode, n.host)}
	}
	return httpsend.Status(Channel, n.host, r, "")
}

var topicPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// topic maps a message tag to a Topic header, which must be at most 32
// characters of the base64url alphabet (RFC 8030 5.4): a tag that is not
// becomes a hash of itself, so equal tags still collapse.
func topic(tag string) string {
	if tag == "" || topicPattern.MatchString(tag) {
		return tag
	}
	sum := sha256.Sum256([]byte(tag))
	return base64.RawURLEncoding.EncodeToString(sum[:])[:32]
}

// decodeKey accepts base64url or standard base64, padded or not, as
// browsers and libraries differ.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

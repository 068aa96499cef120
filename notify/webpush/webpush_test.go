package webpush_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pacer/notify"
	"pacer/notify/webpush"
)

// browser is a subscription's private half, as a browser keeps it.
type browser struct {
	key  *ecdh.PrivateKey
	auth []byte
}

func newBrowser(t *testing.T) browser {
	t.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	return browser{key: key, auth: auth}
}

func (b browser) keys() webpush.Keys {
	return webpush.Keys{
		P256dh: base64.RawURLEncoding.EncodeToString(b.key.PublicKey().Bytes()),
		Auth:   base64.RawURLEncoding.EncodeToString(b.auth),
	}
}

// pushService is an in-process RFC 8030 push service for one subscription:
// it accepts a POST only with a valid VAPID token for the expected key,
// decrypts the aes128gcm body with the browser's keys, and keeps what it
// delivered.
type pushService struct {
	srv       *httptest.Server
	vapidPub  []byte
	subject   string
	browser   browser
	status    int // when not 0, answer with it instead
	mu        sync.Mutex
	delivered []delivery
}

type delivery struct {
	Payload              []byte
	TTL, Urgency, Topic  string
	Audience, Subscriber string
	Expires              time.Time
}

func newPushService(t *testing.T, vapidPub string, subject string, b browser, status int) *pushService {
	t.Helper()
	pub, err := base64.RawURLEncoding.DecodeString(vapidPub)
	if err != nil {
		t.Fatal(err)
	}
	p := &pushService{vapidPub: pub, subject: subject, browser: b, status: status}
	p.srv = httptest.NewTLSServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *pushService) endpoint() string {
	return p.srv.URL + "/wpush/v2/gAAAAABk-secret-subscription-id"
}

func (p *pushService) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/wpush/v2/gAAAAABk-secret-subscription-id" {
		http.Error(w, "no such subscription", http.StatusNotFound)
		return
	}
	if p.status != 0 {
		if p.status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "60")
		}
		http.Error(w, `{"reason":"test"}`, p.status)
		return
	}
	d, err := p.verify(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d.Payload, err = decrypt(body, p.browser)
	if err != nil {
		http.Error(w, "decrypt: "+err.Error(), http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	p.delivered = append(p.delivered, d)
	p.mu.Unlock()
	w.Header().Set("Location", p.srv.URL+"/m/1")
	w.WriteHeader(http.StatusCreated)
}

// verify checks the request headers and the VAPID token (RFC 8292):
// Authorization: vapid t=<JWT>, k=<public key>, the JWT signed with ES256
// by that key, its audience the endpoint's origin, not expired, at most
// 24 hours ahead, and with the configured contact.
func (p *pushService) verify(r *http.Request) (delivery, error) {
	var d delivery
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return d, fmt.Errorf("Content-Encoding %q, want aes128gcm", ce)
	}
	d.TTL, d.Urgency, d.Topic = r.Header.Get("TTL"), r.Header.Get("Urgency"), r.Header.Get("Topic")
	if _, err := strconv.Atoi(d.TTL); err != nil {
		return d, fmt.Errorf("TTL header %q is not a number", d.TTL)
	}
	rest, ok := strings.CutPrefix(r.Header.Get("Authorization"), "vapid ")
	if !ok {
		return d, errors.New("Authorization is not a vapid token")
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		params[k] = v
	}
	k, err := base64.RawURLEncoding.DecodeString(params["k"])
	if err != nil || !bytes.Equal(k, p.vapidPub) {
		return d, errors.New("k is not the application server key the subscription was made with")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), k)
	if err != nil {
		return d, err
	}
	parts := strings.Split(params["t"], ".")
	if len(parts) != 3 {
		return d, errors.New("t is not a JWT")
	}
	var header struct{ Alg, Typ string }
	if err := decodeJSONPart(parts[0], &header); err != nil || header.Alg != "ES256" {
		return d, fmt.Errorf("JWT header %+v (%v), want alg ES256", header, err)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return d, errors.New("JWT signature is not 64 bytes r||s")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return d, errors.New("JWT signature does not verify with k")
	}
	var claims struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := decodeJSONPart(parts[1], &claims); err != nil {
		return d, err
	}
	if claims.Aud != p.srv.URL {
		return d, fmt.Errorf("aud %q, want the endpoint's origin %q", claims.Aud, p.srv.URL)
	}
	d.Expires = time.Unix(claims.Exp, 0)
	if now := time.Now(); !d.Expires.After(now) || d.Expires.After(now.Add(24*time.Hour)) {
		return d, fmt.Errorf("exp %v is not within the next 24 hours", d.Expires)
	}
	if claims.Sub != p.subject {
		return d, fmt.Errorf("sub %q, want %q", claims.Sub, p.subject)
	}
	d.Audience, d.Subscriber = claims.Aud, claims.Sub
	return d, nil
}

func decodeJSONPart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// decrypt reverses RFC 8291 (aes128gcm, RFC 8188) with the browser's
// private key and auth secret.
func decrypt(body []byte, b browser) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body shorter than the aes128gcm header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen {
		return nil, fmt.Errorf("keyid length %d, want the sender's 65-byte public key", idlen)
	}
	senderPub, ciphertext := body[21:21+idlen], body[21+idlen:]
	if uint32(len(ciphertext)) > rs {
		return nil, fmt.Errorf("%d bytes of ciphertext in a record of %d: more than one record", len(ciphertext), rs)
	}
	as, err := ecdh.P256().NewPublicKey(senderPub)
	if err != nil {
		return nil, err
	}
	shared, err := b.key.ECDH(as)
	if err != nil {
		return nil, err
	}
	info := "WebPush: info\x00" + string(b.key.PublicKey().Bytes()) + string(senderPub)
	ikm, err := hkdf.Key(sha256.New, shared, b.auth, info, 32)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, err
	}
	plain = bytes.TrimRight(plain, "\x00")
	if len(plain) == 0 || plain[len(plain)-1] != 0x02 {
		return nil, errors.New("last record lacks the 0x02 delimiter")
	}
	return plain[:len(plain)-1], nil
}

func (p *pushService) got() []delivery {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]delivery(nil), p.delivered...)
}

func settings(p *pushService, public, private string) webpush.Settings {
	return webpush.Settings{
		VAPIDPublicKey: public, VAPIDPrivateKey: private,
		Subscriber: "mailto:ops@clinic.example", HTTPClient: p.srv.Client(), Allow: loopback,
	}
}

var msg = notify.Message{
	Title: "Time for your walk · 14 min",
	Body:  "Walk 14 minutes at an easy pace.",
	URL:   "https://pacer.example/c/7Yq2",
	Tag:   "session-42",
}

func TestDeliversEncryptedVAPIDSignedMessage(t *testing.T) {
	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	p := newPushService(t, public, "mailto:ops@clinic.example", b, 0)
	n, err := webpush.New(settings(p, public, private), webpush.Config{Endpoint: p.endpoint(), Keys: b.keys()})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(context.Background(), msg); err != nil {
		t.Fatalf("Send: %v", err)
	}
	urgent := msg
	urgent.Urgent, urgent.Tag = true, "red flag: patient 12 / week 3"
	if err := n.Send(context.Background(), urgent); err != nil {
		t.Fatalf("Send urgent: %v", err)
	}

	got := p.got()
	if len(got) != 2 {
		t.Fatalf("push service delivered %d messages, want 2", len(got))
	}
	var payload map[string]any
	if err := json.Unmarshal(got[0].Payload, &payload); err != nil {
		t.Fatalf("decrypted payload %q is not JSON: %v", got[0].Payload, err)
	}
	// The Declarative Web Push format: Safari shows it by itself, sw.js elsewhere.
	want := map[string]any{"web_push": 8030.0, "notification": map[string]any{"title": msg.Title, "body": msg.Body, "navigate": msg.URL, "tag": msg.Tag}}
	if fmt.Sprint(payload) != fmt.Sprint(want) {
		t.Errorf("payload %v\nwant %v", payload, want)
	}
	if d := got[0]; d.TTL != "7200" || d.Urgency != "normal" || d.Topic != "session-42" {
		t.Errorf("TTL %q Urgency %q Topic %q, want 7200 normal session-42", d.TTL, d.Urgency, d.Topic)
	}
	if d := got[1]; d.Urgency != "high" || len(d.Topic) != 32 || strings.ContainsAny(d.Topic, " :/") {
		t.Errorf("urgent: Urgency %q Topic %q, want high and a 32-character base64url topic", d.Urgency, d.Topic)
	}
}

func TestSubscriberForms(t *testing.T) {
	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ configured, claim string }{
		{"mailto:ops@clinic.example", "mailto:ops@clinic.example"},
		{"ops@clinic.example", "mailto:ops@clinic.example"},
		{"https://clinic.example/contact", "https://clinic.example/contact"},
	} {
		t.Run(tc.configured, func(t *testing.T) {
			b := newBrowser(t)
			p := newPushService(t, public, tc.claim, b, 0)
			s := settings(p, public, private)
			s.Subscriber = tc.configured
			n, err := webpush.New(s, webpush.Config{Endpoint: p.endpoint(), Keys: b.keys()})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v (want sub %q)", err, tc.claim)
			}
		})
	}
}

func TestClassifiesStatuses(t *testing.T) {
	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		status          int
		gone, temporary bool
	}{
		{http.StatusNotFound, true, false},
		{http.StatusGone, true, false},
		{http.StatusTooManyRequests, false, true},
		{http.StatusInternalServerError, false, true},
		{http.StatusServiceUnavailable, false, true},
		{http.StatusBadRequest, false, false},
		{http.StatusUnauthorized, false, false},
		{http.StatusForbidden, false, false},
		{http.StatusRequestEntityTooLarge, false, false},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			b := newBrowser(t)
			p := newPushService(t, public, "mailto:ops@clinic.example", b, tc.status)
			n, err := webpush.New(settings(p, public, private), webpush.Config{Endpoint: p.endpoint(), Keys: b.keys()})
			if err != nil {
				t.Fatal(err)
			}
			err = n.Send(context.Background(), msg)
			checkErr(t, err, tc.temporary, tc.gone)
			if !strings.Contains(err.Error(), fmt.Sprintf("HTTP %d", tc.status)) {
				t.Errorf("error %q does not name the status", err)
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	p := newPushService(t, public, "mailto:ops@clinic.example", b, 0)
	s := settings(p, public, private)

	s.HTTPClient = nil // the test CA is not trusted
	n, err := webpush.New(s, webpush.Config{Endpoint: p.endpoint(), Keys: b.keys()})
	if err != nil {
		t.Fatal(err)
	}
	checkErr(t, n.Send(context.Background(), msg), false, false)

	s = settings(p, public, private)
	n, err = webpush.New(s, webpush.Config{Endpoint: p.endpoint(), Keys: b.keys()})
	if err != nil {
		t.Fatal(err)
	}
	p.srv.Close()
	checkErr(t, n.Send(context.Background(), msg), true, false)
}

// A message longer than one push record (a weekly summary of many
// activities) arrives shortened, with its link whole; only a link too long
// for any record is a permanent error.
func TestTooLongIsShortened(t *testing.T) {
	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	p := newPushService(t, public, "mailto:ops@clinic.example", b, 0)
	n, err := webpush.New(settings(p, public, private), webpush.Config{Endpoint: p.endpoint(), Keys: b.keys()})
	if err != nil {
		t.Fatal(err)
	}
	long := msg
	long.Body = strings.Repeat("Übung <x> ", 1000)
	if err := n.Send(context.Background(), long); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := p.got()
	if len(got) != 1 {
		t.Fatalf("push service delivered %d messages, want 1", len(got))
	}
	var whole struct {
		Notification struct{ Title, Body, Navigate string }
	}
	if err := json.Unmarshal(got[0].Payload, &whole); err != nil {
		t.Fatal(err)
	}
	payload := struct{ Title, Body, URL string }{whole.Notification.Title, whole.Notification.Body, whole.Notification.Navigate}
	if payload.URL != msg.URL || payload.Title != msg.Title || !strings.HasSuffix(payload.Body, "…") ||
		!strings.HasPrefix(long.Body, strings.TrimSuffix(payload.Body, "…")) || len(got[0].Payload) > 4096 {
		t.Errorf("payload of %d bytes: title %q url %q body ends %q", len(got[0].Payload), payload.Title, payload.URL,
			payload.Body[max(0, len(payload.Body)-20):])
	}
	huge := msg
	huge.URL = "https://pacer.example/" + strings.Repeat("x", 5000)
	checkErr(t, n.Send(context.Background(), huge), false, false)
	if len(p.got()) != 1 {
		t.Error("an oversized message reached the push service")
	}
}

func TestConfigErrors(t *testing.T) {
	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	otherPublic, _, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	good := webpush.Settings{VAPIDPublicKey: public, VAPIDPrivateKey: private, Subscriber: "mailto:ops@clinic.example"}
	keys := newBrowser(t).keys()
	sub := webpush.Config{Endpoint: "https://push.example/abc", Keys: keys}
	with := func(f func(*webpush.Settings)) webpush.Settings { s := good; f(&s); return s }
	for _, tc := range []struct {
		name string
		s    webpush.Settings
		c    webpush.Config
		want string
	}{
		{"swapped keys", with(func(s *webpush.Settings) { s.VAPIDPublicKey, s.VAPIDPrivateKey = private, public }), sub, "VAPID"},
		{"keys of two pairs", with(func(s *webpush.Settings) { s.VAPIDPublicKey = otherPublic }), sub, "belong together"},
		{"no keys", with(func(s *webpush.Settings) { s.VAPIDPublicKey, s.VAPIDPrivateKey = "", "" }), sub, "VAPID public key"},
		{"no subscriber", with(func(s *webpush.Settings) { s.Subscriber = "" }), sub, "subscriber"},
		{"http subscriber", with(func(s *webpush.Settings) { s.Subscriber = "http://clinic.example" }), sub, "subscriber"},
		{"negative TTL", with(func(s *webpush.Settings) { s.TTL = -time.Second }), sub, "TTL"},
		{"http endpoint", good, webpush.Config{Endpoint: "http://push.example/abc", Keys: keys}, "https"},
		{"no endpoint", good, webpush.Config{Keys: keys}, "endpoint"},
		{"bad p256dh", good, webpush.Config{Endpoint: "https://push.example/abc", Keys: webpush.Keys{P256dh: "abc", Auth: keys.Auth}}, "p256dh"},
		{"bad auth", good, webpush.Config{Endpoint: "https://push.example/abc", Keys: webpush.Keys{P256dh: keys.P256dh, Auth: "abc"}}, "auth"},
		{"wrong type", good, webpush.Config{Type: "email", Endpoint: "https://push.example/abc", Keys: keys}, "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := webpush.New(tc.s, tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error mentioning %q", err, tc.want)
			}
			if strings.Contains(err.Error(), private) {
				t.Errorf("error %q leaks the private key", err)
			}
		})
	}
	if _, err := webpush.New(with(func(s *webpush.Settings) { s.Allow = loopback }),
		webpush.Config{Endpoint: "http://127.0.0.1:8090/notify/x", Keys: keys}); err != nil {
		t.Errorf("http endpoint named in notify.allow_private: %v", err)
	}

	// The browser's PushSubscription JSON, padded standard base64 keys
	// included, decodes into Config and is accepted.
	std := base64.StdEncoding.EncodeToString
	pk, _ := base64.RawURLEncoding.DecodeString(keys.P256dh)
	au, _ := base64.RawURLEncoding.DecodeString(keys.Auth)
	raw := fmt.Sprintf(`{"endpoint":"https://fcm.googleapis.com/fcm/send/abc","expirationTime":null,"keys":{"p256dh":%q,"auth":%q}}`, std(pk), std(au))
	var c webpush.Config
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if _, err := webpush.New(good, c); err != nil {
		t.Errorf("New with the browser's JSON: %v", err)
	}
}

func TestGenerateVAPIDKeysOrder(t *testing.T) {
	public, private, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := base64.RawURLEncoding.DecodeString(public)
	if err != nil || len(pub) != 65 || pub[0] != 4 {
		t.Errorf("public key %q is not an uncompressed P-256 point", public)
	}
	priv, err := base64.RawURLEncoding.DecodeString(private)
	if err != nil || len(priv) != 32 {
		t.Errorf("private key is not 32 bytes")
	}
	key, err := ecdh.P256().NewPrivateKey(priv)
	if err != nil || !bytes.Equal(key.PublicKey().Bytes(), pub) {
		t.Error("the public key is not the private key's")
	}
}

func checkErr(t *testing.T, err error, temporary, gone bool) {
	t.Helper()
	if err == nil {
		t.Fatal("Send succeeded, want an error")
	}
	e, ok := err.(*notify.Error)
	if !ok {
		t.Fatalf("error %T %q is not a *notify.Error", err, err)
	}
	if e.Channel != "webpush" || e.Temporary != temporary || e.Gone != gone {
		t.Errorf("error %q: channel %q temporary %v gone %v, want webpush temporary %v gone %v",
			err, e.Channel, e.Temporary, e.Gone, temporary, gone)
	}
	if notify.Gone(err) != gone || notify.Temporary(err) != temporary {
		t.Errorf("notify.Gone %v notify.Temporary %v", notify.Gone(err), notify.Temporary(err))
	}
	for _, leak := range []string{"secret-subscription-id", "/wpush/", msg.Body} {
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

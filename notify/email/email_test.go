package email_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"pacer/notify"
	"pacer/notify/email"
)

// envelope is one message the server accepted.
type envelope struct {
	From     string
	To       []string
	Data     []byte
	TLS      bool   // the connection was encrypted when MAIL FROM came
	AuthUser string // who authenticated, if anyone
	AuthMech string
}

// backend is a real SMTP server's backend (github.com/emersion/go-smtp)
// that records envelopes and can answer a step with an SMTP error.
type backend struct {
	mechs    []string         // offered AUTH mechanisms (only over TLS)
	password string           // accepted for any user
	fail     map[string]error // "mail", "rcpt", "data" → the reply
	mu       sync.Mutex
	got      []envelope
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &session{b: b, c: c}, nil
}

func (b *backend) envelopes() []envelope {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]envelope(nil), b.got...)
}

type session struct {
	b          *backend
	c          *smtp.Conn
	env        envelope
	user, mech string
}

func (s *session) AuthMechanisms() []string { return s.b.mechs }

func (s *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if pass != s.b.password {
			return smtp.ErrAuthFailed // 535 5.7.8, as real servers answer
		}
		s.user, s.mech = user, mech
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if err := s.b.fail["mail"]; err != nil {
		return err
	}
	if len(s.b.mechs) > 0 && s.user == "" {
		return smtp.ErrAuthRequired
	}
	_, isTLS := s.c.TLSConnectionState()
	s.env = envelope{From: from, TLS: isTLS, AuthUser: s.user, AuthMech: s.mech}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.b.fail["rcpt"]; err != nil {
		return err
	}
	s.env.To = append(s.env.To, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := s.b.fail["data"]; err != nil {
		return err
	}
	s.env.Data = data
	s.b.mu.Lock()
	s.b.got = append(s.b.got, s.env)
	s.b.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.env = envelope{} }
func (s *session) Logout() error { return nil }

// loginServer is the server side of AUTH LOGIN, which go-sasl lacks.
type loginServer struct {
	check    func(user, pass string) error
	step     int
	username string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.username, l.step = string(response), 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.username, string(response))
	}
}

// testCert makes a self-signed certificate for 127.0.0.1 and a pool
// that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pacer test SMTP"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// startSMTP runs a go-smtp server on 127.0.0.1 speaking plain SMTP
// ("none"), offering STARTTLS ("starttls") or TLS from the first byte
// ("tls"). It returns the port and the pool trusting its certificate.
func startSMTP(t *testing.T, mode email.TLSMode, b *backend) (int, *x509.CertPool) {
	t.Helper()
	cert, pool := testCert(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	s := smtp.NewServer(b)
	s.Domain = "mx.test"
	s.ReadTimeout = 10 * time.Second
	s.WriteTimeout = 10 * time.Second
	s.ErrorLog = log.New(io.Discard, "", 0)
	var ln net.Listener
	var err error
	switch mode {
	case email.TLSNone:
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	case email.TLSStartTLS:
		s.TLSConfig = cfg
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	case email.TLSImplicit:
		s.TLSConfig = cfg
		ln, err = tls.Listen("tcp", "127.0.0.1:0", cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().(*net.TCPAddr).Port, pool
}

var clock = time.Date(2026, 11, 23, 7, 30, 0, 0, time.UTC)

var msg = notify.Message{
	Title: "Time for your walk · 14 min",
	Body:  "Walk 14 minutes at an easy pace. Check in when you are back.",
	URL:   "https://pacer.example/c/7Yq2",
}

const recipient = "patient@example.org"

func settings(port int, mode email.TLSMode, roots *x509.CertPool) email.Settings {
	return email.Settings{
		Host: "127.0.0.1", Port: port, From: "Pacer <pacer@clinic.example>", TLS: mode,
		RootCAs: roots, Timeout: 10 * time.Second, Now: func() time.Time { return clock },
	}
}

func TestDelivers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mode     email.TLSMode
		mechs    []string
		user     string
		wantMech string
	}{
		{"none", email.TLSNone, nil, "", ""},
		{"starttls", email.TLSStartTLS, nil, "", ""},
		{"tls", email.TLSImplicit, nil, "", ""},
		{"starttls with PLAIN", email.TLSStartTLS, []string{sasl.Plain, sasl.Login}, "pacer", "PLAIN"},
		{"tls with LOGIN", email.TLSImplicit, []string{sasl.Login}, "pacer", "LOGIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &backend{mechs: tc.mechs, password: "correct horse"}
			port, roots := startSMTP(t, tc.mode, b)
			s := settings(port, tc.mode, roots)
			if tc.user != "" {
				s.Username, s.Password = tc.user, "correct horse"
			}
			n, err := email.New(s, email.Config{Type: "email", Address: recipient})
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Send(context.Background(), msg); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := b.envelopes()
			if len(got) != 1 {
				t.Fatalf("server accepted %d messages, want 1", len(got))
			}
			env := got[0]
			if env.From != "pacer@clinic.example" || len(env.To) != 1 || env.To[0] != recipient {
				t.Errorf("envelope from %q to %q, want pacer@clinic.example to [%s]", env.From, env.To, recipient)
			}
			if wantTLS := tc.mode != email.TLSNone; env.TLS != wantTLS {
				t.Errorf("message sent with TLS %v, want %v", env.TLS, wantTLS)
			}
			if env.AuthUser != tc.user || env.AuthMech != tc.wantMech {
				t.Errorf("authenticated as %q with %q, want %q with %q", env.AuthUser, env.AuthMech, tc.user, tc.wantMech)
			}
			checkMessage(t, env.Data)
		})
	}
}

// checkMessage parses the DATA as a mail reader would.
func checkMessage(t *testing.T, data []byte) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("DATA is not a mail message: %v\n%s", err, data)
	}
	h := m.Header
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "pacer@clinic.example" || from[0].Name != "Pacer" {
		t.Errorf("From %q (%v)", h.Get("From"), err)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Address != recipient {
		t.Errorf("To %q (%v)", h.Get("To"), err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if err != nil || subject != msg.Title {
		t.Errorf("Subject %q decodes to %q (%v), want %q", h.Get("Subject"), subject, err, msg.Title)
	}
	if d, err := h.Date(); err != nil || !d.Equal(clock) {
		t.Errorf("Date %q (%v), want %v", h.Get("Date"), err, clock)
	}
	if h.Get("Message-Id") == "" || !strings.HasSuffix(h.Get("Message-Id"), "@clinic.example>") {
		t.Errorf("Message-ID %q", h.Get("Message-Id"))
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt != "text/plain" || params["charset"] != "utf-8" {
		t.Errorf("Content-Type %q", h.Get("Content-Type"))
	}
	if h.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding %q", h.Get("Content-Transfer-Encoding"))
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	want := msg.Body + "\n\n" + msg.URL + "\n"
	if got := strings.ReplaceAll(string(body), "\r\n", "\n"); got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}

func TestRecipientsDoNotAccumulate(t *testing.T) {
	b := &backend{}
	port, roots := startSMTP(t, email.TLSStartTLS, b)
	s := settings(port, email.TLSStartTLS, roots)
	for _, addr := range []string{"a@example.org", "b@example.org", "a@example.org"} {
		n, err := email.New(s, email.Config{Address: addr})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	got := b.envelopes()
	if len(got) != 3 {
		t.Fatalf("%d messages, want 3", len(got))
	}
	for i, want := range []string{"a@example.org", "b@example.org", "a@example.org"} {
		if len(got[i].To) != 1 || got[i].To[0] != want {
			t.Errorf("message %d went to %v, want [%s]", i, got[i].To, want)
		}
	}
}

func TestServerReplies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		step      string
		reply     *smtp.SMTPError
		temporary bool
		want      string
	}{
		{"421 at MAIL", "mail", &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service shutting down"}, true, "SMTP 421 4.3.2"},
		{"451 at DATA", "data", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error, try later"}, true, "SMTP 451 4.3.0"},
		{"452 at RCPT", "rcpt", &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "Mailbox full"}, true, "SMTP 452"},
		{"550 at RCPT", "rcpt", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + recipient + ">: user unknown"}, false, "SMTP 550 5.1.1"},
		{"554 at DATA", "data", &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Rejected as spam"}, false, "SMTP 554"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &backend{fail: map[string]error{tc.step: tc.reply}}
			port, roots := startSMTP(t, email.TLSStartTLS, b)
			n, err := email.New(settings(port, email.TLSStartTLS, roots), email.Config{Address: recipient})
			if err != nil {
				t.Fatal(err)
			}
			err = n.Send(context.Background(), msg)
			checkErr(t, err, tc.temporary)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if len(b.envelopes()) != 0 {
				t.Error("the server recorded a message it refused")
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	t.Run("wrong password is permanent", func(t *testing.T) {
		b := &backend{mechs: []string{sasl.Plain}, password: "correct horse"}
		port, roots := startSMTP(t, email.TLSImplicit, b)
		s := settings(port, email.TLSImplicit, roots)
		s.Username, s.Password = "pacer", "wrong battery"
		n, err := email.New(s, email.Config{Address: recipient})
		if err != nil {
			t.Fatal(err)
		}
		err = n.Send(context.Background(), msg)
		checkErr(t, err, false)
		if !strings.Contains(err.Error(), "535") || strings.Contains(err.Error(), "battery") {
			t.Errorf("error %q: want SMTP 535 and no password", err)
		}
	})
	t.Run("server without AUTH", func(t *testing.T) {
		b := &backend{}
		port, roots := startSMTP(t, email.TLSStartTLS, b)
		s := settings(port, email.TLSStartTLS, roots)
		s.Username, s.Password = "pacer", "pw"
		n, err := email.New(s, email.Config{Address: recipient})
		if err != nil {
			t.Fatal(err)
		}
		err = n.Send(context.Background(), msg)
		checkErr(t, err, false)
		if !strings.Contains(err.Error(), "no authentication") {
			t.Errorf("error %q does not say the server offers no authentication", err)
		}
	})
}

func TestTLSProblemsArePermanent(t *testing.T) {
	t.Run("STARTTLS not offered", func(t *testing.T) {
		port, _ := startSMTP(t, email.TLSNone, &backend{})
		n, err := email.New(settings(port, email.TLSStartTLS, nil), email.Config{Address: recipient})
		if err != nil {
			t.Fatal(err)
		}
		err = n.Send(context.Background(), msg)
		checkErr(t, err, false)
		if !strings.Contains(err.Error(), "STARTTLS") {
			t.Errorf("error %q does not name STARTTLS", err)
		}
	})
	for _, mode := range []email.TLSMode{email.TLSStartTLS, email.TLSImplicit} {
		t.Run("untrusted certificate "+string(mode), func(t *testing.T) {
			b := &backend{}
			port, _ := startSMTP(t, mode, b)
			n, err := email.New(settings(port, mode, nil), email.Config{Address: recipient})
			if err != nil {
				t.Fatal(err)
			}
			err = n.Send(context.Background(), msg)
			checkErr(t, err, false)
			if !strings.Contains(err.Error(), "certificate") {
				t.Errorf("error %q does not name the certificate", err)
			}
			if len(b.envelopes()) != 0 {
				t.Error("message sent over an unverified connection")
			}
		})
	}
	t.Run("tls to a plain port", func(t *testing.T) {
		port, roots := startSMTP(t, email.TLSNone, &backend{})
		n, err := email.New(settings(port, email.TLSImplicit, roots), email.Config{Address: recipient})
		if err != nil {
			t.Fatal(err)
		}
		err = n.Send(context.Background(), msg)
		checkErr(t, err, false)
		if !strings.Contains(err.Error(), "smtp tls") {
			t.Errorf("error %q does not point at the tls setting", err)
		}
	})
}

func TestConnectionTroubleIsTemporary(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		n, err := email.New(settings(port, email.TLSNone, nil), email.Config{Address: recipient})
		if err != nil {
			t.Fatal(err)
		}
		checkErr(t, n.Send(context.Background(), msg), true)
	})

	// A server that accepts the connection and never greets.
	stalled := func(t *testing.T) int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		var mu sync.Mutex
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			ln.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
		return ln.Addr().(*net.TCPAddr).Port
	}
	t.Run("timeout", func(t *testing.T) {
		s := settings(stalled(t), email.TLSNone, nil)
		s.Timeout = 200 * time.Millisecond
		n, err := email.New(s, email.Config{Address: recipient})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = n.Send(context.Background(), msg)
		checkErr(t, err, true)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %v with a 200ms timeout", d)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		n, err := email.New(settings(stalled(t), email.TLSNone, nil), email.Config{Address: recipient})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		err = n.Send(ctx, msg)
		checkErr(t, err, true)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %q does not wrap context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Send took %v after cancel", d)
		}
	})
}

func TestConfigErrors(t *testing.T) {
	good := email.Settings{Host: "smtp.clinic.example", From: "pacer@clinic.example"}
	with := func(f func(*email.Settings)) email.Settings { s := good; f(&s); return s }
	for _, tc := range []struct {
		name string
		s    email.Settings
		c    email.Config
		want string
	}{
		{"no host", with(func(s *email.Settings) { s.Host = "" }), email.Config{Address: recipient}, "host"},
		{"host with port", with(func(s *email.Settings) { s.Host = "smtp.clinic.example:587" }), email.Config{Address: recipient}, "without scheme or port"},
		{"host URL", with(func(s *email.Settings) { s.Host = "smtp://smtp.clinic.example" }), email.Config{Address: recipient}, "without scheme or port"},
		{"bad port", with(func(s *email.Settings) { s.Port = 70000 }), email.Config{Address: recipient}, "port"},
		{"no from", with(func(s *email.Settings) { s.From = "" }), email.Config{Address: recipient}, "from"},
		{"bad from", with(func(s *email.Settings) { s.From = "pacer" }), email.Config{Address: recipient}, "from"},
		{"bad tls", with(func(s *email.Settings) { s.TLS = "ssl" }), email.Config{Address: recipient}, "starttls"},
		{"auth in clear", with(func(s *email.Settings) { s.TLS = email.TLSNone; s.Username, s.Password = "u", "p" }), email.Config{Address: recipient}, "clear text"},
		{"user without password", with(func(s *email.Settings) { s.Username = "u" }), email.Config{Address: recipient}, "password"},
		{"password without user", with(func(s *email.Settings) { s.Password = "p" }), email.Config{Address: recipient}, "username"},
		{"no address", good, email.Config{}, "address"},
		{"bad address", good, email.Config{Address: "patient at example.org"}, "address"},
		{"header injection", good, email.Config{Address: "a@example.org\r\nBcc: x@example.org"}, "address"},
		{"wrong type", good, email.Config{Type: "ntfy", Address: recipient}, "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := email.New(tc.s, tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(%+v): %v", good, err)
	}
	var c email.Config
	dec := json.NewDecoder(strings.NewReader(`{"type":"email","address":"a@b.example"}`))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || c.Address != "a@b.example" {
		t.Errorf("decode channel object: %+v %v", c, err)
	}
}

func checkErr(t *testing.T, err error, temporary bool) {
	t.Helper()
	if err == nil {
		t.Fatal("Send succeeded, want an error")
	}
	e, ok := err.(*notify.Error)
	if !ok {
		t.Fatalf("error %T %q is not a *notify.Error", err, err)
	}
	if e.Channel != "email" || e.Temporary != temporary || e.Gone {
		t.Errorf("error %q: channel %q temporary %v gone %v, want email temporary %v", err, e.Channel, e.Temporary, e.Gone, temporary)
	}
	for _, leak := range []string{recipient, msg.Body, "correct horse"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q leaks %q", err, leak)
		}
	}
}

package reminderload

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Sink is a webhook receiver on 127.0.0.1 over HTTPS with a certificate of its
// own (pacer posts webhooks over https only). It answers 204 to a well-formed
// reminder and records when each arrived, for which patient, and with which
// dedupe key (the webhook's "tag"): a repeat of a reminder carries the key
// of the first.
type Sink struct {
	URL     string // https://127.0.0.1:port
	CertPEM []byte // the certificate to trust (SSL_CERT_FILE for a pacer process)

	srv *http.Server
	ln  net.Listener

	mu        sync.Mutex
	arrivals  []Arrival
	seen      map[int64]int  // patient → arrivals
	keys      map[string]int // dedupe key → arrivals
	bad       int
	holding   bool // hold reminders after holdAfter were answered
	holdAfter int
	held      int           // requests held now
	abandoned int           // held requests whose sender went away
	release   chan struct{} // closed by Release
	changed   chan struct{}
}

// Arrival is one reminder the sink answered.
type Arrival struct {
	At      time.Time
	Patient int64  // from the path: /hook/<patient>
	Key     string // the reminder's dedupe key (the webhook's "tag")
}

// NewSink starts a sink.
func NewSink() (*Sink, error) {
	cert, certPEM, err := selfSigned()
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	s := &Sink{URL: "https://" + ln.Addr().String(), CertPEM: certPEM, ln: ln,
		seen: map[int64]int{}, keys: map[string]int{}, release: make(chan struct{}), changed: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /hook/{id}", s.hook)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}},
		ErrorLog:  log.New(io.Discard, "", 0)} // a client closing an idle connection is not news
	go s.srv.ServeTLS(ln, "", "")
	return s, nil
}

func (s *Sink) hook(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var m struct{ Title, Body, URL, Tag string }
	if err == nil {
		err = json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&m)
		// Read to the end: only then does the server watch for the sender
		// going away, and end the request's context.
		io.Copy(io.Discard, io.LimitReader(r.Body, 64<<10))
	}
	ok := err == nil && m.Title != "" && m.URL != "" && m.Tag != "" && strings.Contains(m.Body, m.URL)
	defer s.notify()
	if !ok {
		s.mu.Lock()
		s.bad++
		s.mu.Unlock()
		http.Error(w, "not a reminder", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.holding && len(s.arrivals) >= s.holdAfter {
		// Read, never answered: the sender does not know it arrived.
		s.held++
		s.mu.Unlock()
		s.notify()
		select {
		case <-r.Context().Done(): // the sender went away (was killed)
			s.mu.Lock()
			s.held--
			s.abandoned++
			s.mu.Unlock()
			s.notify()
			return
		case <-s.release:
		}
		s.mu.Lock()
		s.held--
	}
	s.arrivals = append(s.arrivals, Arrival{At: time.Now(), Patient: id, Key: m.Tag})
	s.seen[id]++
	s.keys[m.Tag]++
	s.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sink) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// HoldAfter makes the sink answer only n reminders in all; it reads later
// ones and holds them unanswered until Release, or until their sender goes
// away (then they count as abandoned, not arrived). Set it before the
// first arrives.
func (s *Sink) HoldAfter(n int) {
	s.mu.Lock()
	s.holding, s.holdAfter = true, n
	s.mu.Unlock()
}

// Release answers the held reminders and every later one.
func (s *Sink) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holding {
		s.holding = false
		close(s.release)
	}
}

// WaitHeld returns when n reminders are held, or ctx ends.
func (s *Sink) WaitHeld(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return s.held >= n }, func() string { return fmt.Sprintf("%d of %d held", s.held, n) })
}

// WaitAbandoned returns when the senders of n held reminders have gone
// away, or ctx ends.
func (s *Sink) WaitAbandoned(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return s.abandoned >= n },
		func() string { return fmt.Sprintf("%d of %d abandoned", s.abandoned, n) })
}

// Abandoned is how many held reminders their sender gave up on.
func (s *Sink) Abandoned() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.abandoned
}

// Arrivals returns the reminders answered so far, in order.
func (s *Sink) Arrivals() []Arrival {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.arrivals)
}

func (s *Sink) waitFor(ctx context.Context, done func() bool, state func() string) error {
	for {
		s.mu.Lock()
		ok, now := done(), state()
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", now, ctx.Err())
		case <-s.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Wait returns when n distinct reminders (dedupe keys) have arrived, or ctx
// ends.
func (s *Sink) Wait(ctx context.Context, n int) error {
	return s.waitFor(ctx, func() bool { return len(s.keys) >= n },
		func() string { return fmt.Sprintf("%d of %d reminders arrived", len(s.keys), n) })
}

// Result is what a sink saw.
type Result struct {
	Received   int // well-formed reminders
	Patients   int // distinct patients reminded
	Reminders  int // distinct reminders (dedupe keys)
	Duplicates int // arrivals beyond the first of each dedupe key
	Bad        int // requests that were not a reminder
	// Lateness is arrival minus the due time: percentiles and the last
	// (the time to drain everything that fell due).
	P50, P99, Max time.Duration
	First         time.Duration // the first arrival's lateness
}

// Result summarizes the arrivals against the due time, and forgets them.
func (s *Sink) Result(due time.Time) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Result{Received: len(s.arrivals), Patients: len(s.seen), Reminders: len(s.keys), Bad: s.bad}
	for _, n := range s.keys {
		r.Duplicates += n - 1
	}
	late := make([]time.Duration, len(s.arrivals))
	for i, a := range s.arrivals {
		late[i] = a.At.Sub(due)
	}
	slices.Sort(late)
	if n := len(late); n > 0 {
		r.P50, r.P99, r.Max, r.First = late[(n-1)*50/100], late[(n-1)*99/100], late[n-1], late[0]
	}
	s.arrivals, s.seen, s.keys, s.bad = s.arrivals[:0], map[int64]int{}, map[string]int{}, 0
	return r
}

// Transport is http.DefaultTransport's settings, trusting the sink: what a
// pacer process with SSL_CERT_FILE set to the sink's certificate uses.
func (s *Sink) Transport() (*http.Transport, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.CertPEM) {
		return nil, errors.New("sink: bad certificate")
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool}
	return t, nil
}

// Close stops the sink.
func (s *Sink) Close() error { return s.srv.Close() }

// selfSigned makes a P-256 certificate for 127.0.0.1, valid for a day.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "pacer reminder sink"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

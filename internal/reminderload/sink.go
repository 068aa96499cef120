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
// reminder and records when each arrived and for which patient.
type Sink struct {
	URL     string // https://127.0.0.1:port
	CertPEM []byte // the certificate to trust (SSL_CERT_FILE for a pacer process)

	srv *http.Server
	ln  net.Listener

	mu       sync.Mutex
	arrivals []time.Time
	seen     map[int64]int
	bad      int
	changed  chan struct{}
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
		seen: map[int64]int{}, changed: make(chan struct{}, 1)}
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
	var m struct{ Title, Body, URL string }
	if err == nil {
		err = json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&m)
	}
	ok := err == nil && m.Title != "" && m.URL != "" && strings.Contains(m.Body, m.URL)
	at := time.Now()
	s.mu.Lock()
	if ok {
		s.arrivals = append(s.arrivals, at)
		s.seen[id]++
	} else {
		s.bad++
	}
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	if !ok {
		http.Error(w, "not a reminder", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Wait returns when n distinct patients have been reminded, or ctx ends.
func (s *Sink) Wait(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		got := len(s.seen)
		s.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d reminders arrived: %w", got, n, ctx.Err())
		case <-s.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Result is what a sink saw.
type Result struct {
	Received   int // well-formed reminders
	Patients   int // distinct patients reminded
	Duplicates int // reminders beyond the first per patient
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
	r := Result{Received: len(s.arrivals), Patients: len(s.seen), Bad: s.bad}
	for _, n := range s.seen {
		r.Duplicates += n - 1
	}
	late := make([]time.Duration, len(s.arrivals))
	for i, at := range s.arrivals {
		late[i] = at.Sub(due)
	}
	slices.Sort(late)
	if n := len(late); n > 0 {
		r.P50, r.P99, r.Max, r.First = late[(n-1)*50/100], late[(n-1)*99/100], late[n-1], late[0]
	}
	s.arrivals, s.seen, s.bad = s.arrivals[:0], map[int64]int{}, 0
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

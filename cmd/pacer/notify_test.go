package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"pacer/internal/store"
)

type testMail struct {
	mu   sync.Mutex
	data []string
}

func (m *testMail) NewSession(*smtp.Conn) (smtp.Session, error) { return m, nil }
func (m *testMail) Mail(string, *smtp.MailOptions) error        { return nil }
func (m *testMail) Rcpt(string, *smtp.RcptOptions) error        { return nil }
func (m *testMail) Reset()                                      {}
func (m *testMail) Logout() error                               { return nil }
func (m *testMail) Data(r io.Reader) error {
	b, _ := io.ReadAll(r)
	m.mu.Lock()
	m.data = append(m.data, string(b))
	m.mu.Unlock()
	return nil
}

func TestNotifyTestSendsThroughTheRealChannel(t *testing.T) {
	mb := &testMail{}
	srv := smtp.NewServer(mb)
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "p.db")
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, bytes.Repeat([]byte("k"), 32), 0o600)
	ctx := context.Background()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	st.Migrate(ctx)
	th, _ := st.CreateTherapist(ctx, "t@example.org", "", false)
	p, err := st.CreatePatient(ctx, store.Patient{TherapistID: th.ID, Name: "P", Timezone: "UTC", CheckinNonce: []byte("n")},
		store.HashToken("f"), store.HashToken("c"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]string{"type": "email", "address": "p@example.org"})
	if _, err := st.SetChannels(ctx, p.ID, []store.Channel{{PatientID: p.ID, Type: "email", Config: cfg}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	env := map[string]string{"PACER_SMTP_HOST": "127.0.0.1", "PACER_SMTP_PORT": fmt.Sprint(ln.Addr().(*net.TCPAddr).Port),
		"PACER_SMTP_FROM": "pacer@clinic.example", "PACER_SMTP_TLS": "none", "PACER_SECRET_KEY_FILE": keyFile,
		"PACER_BASE_URL": "https://pacer.example.org", "STATE_DIRECTORY": dir}
	var out, errs bytes.Buffer
	c := &cli{getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &errs, now: time.Now}
	err = c.run(ctx, []string{"notify", "test", "--patient", fmt.Sprint(p.ID), "--db", db})
	if err != nil || !strings.Contains(out.String(), "email (channel 1): sent") {
		t.Fatalf("notify test: %v\n%s%s", err, out.String(), errs.String())
	}
	mb.mu.Lock()
	defer mb.mu.Unlock()
	if len(mb.data) != 1 || !strings.Contains(mb.data[0], "https://pacer.example.org/c/") {
		t.Errorf("%d mails; want one with the check-in link", len(mb.data))
	}
	out.Reset()
	if err := c.run(ctx, []string{"notify", "test", "--patient", fmt.Sprint(p.ID), "--channel", "ntfy", "--db", db}); err == nil ||
		!strings.Contains(err.Error(), "has no ntfy channel to test (they have: email)") {
		t.Errorf("a missing channel: %v", err)
	}
}

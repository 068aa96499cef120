package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// pacerEnv runs one command line with an environment.
func pacerEnv(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{getenv: func(k string) string { return env[k] }, stdout: &out, stderr: &errb, now: time.Now}
	err := c.run(t.Context(), args)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pacer.toml")
	os.WriteFile(file, []byte("listen = \"127.0.0.1:9090\"\n[smtp]\nhost = \"mail.example.org\"\nusername = \"pacer\"\n"), 0o600)
	env := map[string]string{"STATE_DIRECTORY": dir, "PACER_SMTP_PASSWORD": "hunter2-secret", "PACER_TELEGRAM_TOKEN": "123:tg-secret"}

	out, errs, code := pacerEnv(t, env, "config", "check", "--config", file)
	if code != 1 || !strings.Contains(errs, "smtp.host is set, so smtp.from must be set too") {
		t.Errorf("smtp.host without smtp.from: %d %q", code, errs)
	}
	for _, secret := range []string{"hunter2-secret", "tg-secret"} {
		if strings.Contains(out+errs, secret) {
			t.Errorf("config check printed a secret:\n%s\n%s", out, errs)
		}
	}

	env["PACER_SMTP_FROM"] = "Pacer <pacer@example.org>"
	out, errs, code = pacerEnv(t, env, "config", "check", "--config", file, "--listen", "127.0.0.1:7070")
	if code != 0 || !strings.Contains(errs, "configuration OK") {
		t.Fatalf("a valid configuration: %d %q", code, errs)
	}
	for _, want := range []string{
		`listen = "127.0.0.1:7070"`, "# --listen",
		`host = "mail.example.org"`, "# file " + file,
		`password = "(redacted)"`, "# PACER_SMTP_PASSWORD",
		`from = "Pacer <pacer@example.org>"`,
		"the store is sqlite:" + filepath.Join(dir, "pacer.db"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("config check lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") || strings.Contains(out, "tg-secret") {
		t.Errorf("config check printed a secret:\n%s", out)
	}
	if _, errs, code := pacerEnv(t, env, "config"); code != 2 || !strings.Contains(errs, "config needs a subcommand: check") {
		t.Errorf("config without check: %d %q", code, errs)
	}
	// serve refuses the same mistake before it opens anything.
	delete(env, "PACER_SMTP_FROM")
	if _, errs, code := pacerEnv(t, env, "serve", "--config", file); code != 1 || !strings.Contains(errs, "smtp.from must be set too") {
		t.Errorf("serve with smtp.host and no smtp.from: %d %q", code, errs)
	}
}

func TestHealthcheck(t *testing.T) {
	out, stop := startServe(t, map[string]string{"STATE_DIRECTORY": t.TempDir()})
	base := listening.FindStringSubmatch(out)[1]
	if out, errs, code := pacer(t, "healthcheck", "--url", base); code != 0 || out != "ready: "+base+"/readyz\n" {
		t.Errorf("healthcheck of a running server: %d %q %q", code, out, errs)
	}
	if _, _, code := pacer(t, "healthcheck", "--url", base+"/readyz"); code != 0 {
		t.Errorf("healthcheck with the /readyz URL: %d", code)
	}
	// Without --url it dials the configured listen address.
	host := strings.TrimPrefix(base, "http://")
	if _, errs, code := pacerEnv(t, map[string]string{"PACER_LISTEN": host}, "healthcheck"); code != 0 {
		t.Errorf("healthcheck of PACER_LISTEN: %d %q", code, errs)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := pacer(t, "healthcheck", "--url", base, "--timeout", "2s"); code != 1 || !strings.Contains(errs, "does not answer") {
		t.Errorf("healthcheck of a stopped server: %d %q", code, errs)
	}
	// A server whose store is down answers /readyz with 503.
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	if _, errs, code := pacer(t, "healthcheck", "--url", down.URL); code != 1 || !strings.Contains(errs, "is not ready: 503 Service Unavailable store unavailable") {
		t.Errorf("healthcheck of a server that is not ready: %d %q", code, errs)
	}
	if got := dialable("0.0.0.0:8080"); got != "127.0.0.1:8080" {
		t.Errorf("dialable(0.0.0.0:8080) = %s", got)
	}
	if got := dialable("[::]:8080"); got != "127.0.0.1:8080" {
		t.Errorf("dialable([::]:8080) = %s", got)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	out, stop := startServe(t, map[string]string{"STATE_DIRECTORY": t.TempDir(), "TZ": "UTC"}, "--demo")
	defer stop()
	feed := regexp.MustCompile(`calendar feed:\s+(\S+)`).FindStringSubmatch(out)[1]
	if code, _, _ := get(t, feed); code != 200 {
		t.Fatalf("feed: %d", code)
	}
	// The review at start (no review ran before) runs beside the server:
	// wait for it.
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var code int
		code, body, _ = get(t, listening.FindStringSubmatch(out)[1]+"/metrics")
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		if strings.Contains(body, `pacer_review_sweeps_total 1`) || time.Now().After(deadline) {
			break
		}
	}
	// The demo patient's plan was computed today, when it was seeded (the
	// demo's four weeks of history ran the engine for each check-in), so
	// the review leaves it: it re-plans only plans of an earlier day. Its
	// two programs are in their fifth week, each with one decision.
	if !strings.Contains(body, `pacer_reviews_total{result="ok"} 0`) {
		t.Errorf("the review at start re-planned the demo patient, planned today:\n%s", regexp.MustCompile(`(?m)^pacer_review.*$`).FindAllString(body, -1))
	}
	decisions := 0
	for _, m := range regexp.MustCompile(`(?m)^pacer_current_decisions\{code="[A-Z_]+"\} (\d+)$`).FindAllStringSubmatch(body, -1) {
		n, _ := strconv.Atoi(m[1])
		decisions += n
	}
	if decisions != 2 {
		t.Errorf("/metrics counts %d current decisions, want 2:\n%s", decisions, body)
	}
	if !regexp.MustCompile(`(?m)^pacer_engine_runs_total [1-9]\d*$`).MatchString(body) {
		t.Error("/metrics lacks pacer_engine_runs_total, or it is 0 after the demo's re-plan and the sweep")
	}
	for _, want := range []string{`pacer_feed_requests_total{code="200"} 1`, `pacer_review_sweeps_total 1`,
		`pacer_store_duration_seconds_count{op="patient_by_feed_token"} 1`, `pacer_reminders_outbox{status="pending"} 0`,
		`pacer_build_info{commit="unknown",go_version="` + runtime.Version() + `",version="devel"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestBackupWhileServingRestoresTheSamePlanAndFeed(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	env := map[string]string{"STATE_DIRECTORY": state, "TZ": "Europe/Berlin"}
	out, stop := startServe(t, env, "--demo")
	base := listening.FindStringSubmatch(out)[1]
	feed := regexp.MustCompile(`calendar feed:\s+(\S+)`).FindStringSubmatch(out)[1]
	token := regexp.MustCompile(`API token for \S+: (\S+)`).FindStringSubmatch(out)[1]
	api := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// A second patient, whose check-ins the server writes during the backup.
	code, body := api("POST", "/api/v1/patients", `{"name":"Busy","timezone":"Europe/Berlin"}`)
	checkin := regexp.MustCompile(`"checkin_url": "([^"]+)"`).FindStringSubmatch(body)
	if code != 201 || checkin == nil {
		t.Fatalf("second patient: %d %s", code, body)
	}
	if code, body := api("POST", "/api/v1/patients/2/assignments", `{"program":"core"}`); code != 201 {
		t.Fatalf("assignment: %d %s", code, body)
	}
	stopWrites := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	writes := 0
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stopWrites:
				return
			default:
			}
			resp, err := http.Post(checkin[1]+"/checkins", "application/json", strings.NewReader(fmt.Sprintf(`{"kind":"daily","pain":%d}`, writes%10)))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			writes++
		}
	}()
	time.Sleep(100 * time.Millisecond)
	backup := filepath.Join(dir, "backup.db")
	bout, berrs, bcode := pacerEnv(t, env, "backup", "--to", backup)
	close(stopWrites)
	wg.Wait()
	if bcode != 0 || !strings.Contains(bout, "backed up sqlite:"+filepath.Join(state, "pacer.db")) || !strings.Contains(berrs, "secret key") {
		t.Fatalf("backup: %d %q %q", bcode, bout, berrs)
	}
	if writes == 0 {
		t.Error("no check-in was written during the backup")
	}
	if _, errs, code := pacerEnv(t, env, "backup", "--to", backup); code != 1 || !strings.Contains(errs, "exists") {
		t.Errorf("a second backup to the same file: %d %q", code, errs)
	}
	_, planBefore := api("GET", "/api/v1/assignments/1/plan", "")
	_, feedBefore, _ := get(t, feed)

	// Restoring over the running server's database is refused.
	if _, errs, code := pacerEnv(t, env, "restore", "--from", backup, "--force"); code != 1 || !strings.Contains(errs, "is in use; stop pacer") {
		t.Errorf("restore under a running server: %d %q", code, errs)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if _, errs, code := pacerEnv(t, env, "restore", "--from", backup); code != 1 || !strings.Contains(errs, "add --force") {
		t.Errorf("restore without --force: %d %q", code, errs)
	}
	if out, errs, code := pacerEnv(t, env, "restore", "--from", backup, "--force"); code != 0 || !strings.Contains(out, "restored") {
		t.Fatalf("restore: %d %q %q", code, out, errs)
	}

	// The same address, so that the links in the feed are the same.
	_, stop = startServe(t, env, "--listen", strings.TrimPrefix(base, "http://"))
	defer stop()
	_, planAfter := api("GET", "/api/v1/assignments/1/plan", "")
	code, feedAfter, _ := get(t, feed)
	if code != 200 || planAfter != planBefore || feedAfter != feedBefore {
		t.Errorf("the restored server differs: feed %d, plan equal %v, feed equal %v", code, planAfter == planBefore, feedAfter == feedBefore)
	}
}

func TestRestoreRefusesWhatIsNotABackup(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, bytes.Repeat([]byte("junk"), 1024), 0o600)
	if _, errs, code := pacer(t, "restore", "--from", junk, "--db", filepath.Join(dir, "p.db")); code != 1 || !strings.Contains(errs, "is not an SQLite database") {
		t.Errorf("restore from junk: %d %q", code, errs)
	}
	if _, errs, code := pacer(t, "backup", "--to", junk, "--db", "postgres://x@127.0.0.1:1/db"); code != 1 || !strings.Contains(errs, "pg_dump") {
		t.Errorf("backup of PostgreSQL: %d %q", code, errs)
	}
	if _, errs, code := pacer(t, "restore", "--from", junk, "--db", "postgres://x@127.0.0.1:1/db"); code != 1 || !strings.Contains(errs, "pg_restore") {
		t.Errorf("restore to PostgreSQL: %d %q", code, errs)
	}
	if _, errs, code := pacer(t, "backup"); code != 2 || !strings.Contains(errs, "backup needs --to FILE") {
		t.Errorf("backup without --to: %d %q", code, errs)
	}
}

// serve runs the retention at start: sessions of ended programs older than
// the period go, an active program's stay.
func TestServeAppliesRetention(t *testing.T) {
	ctx := t.Context()
	state := t.TempDir()
	db := filepath.Join(state, "pacer.db")
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	th, _ := st.CreateTherapist(ctx, "t@example.org", "", false)
	p, err := st.CreatePatient(ctx, store.Patient{TherapistID: th.ID, Name: "P", Timezone: "UTC", FeedNonce: []byte("f"), CheckinNonce: []byte("c")},
		[]byte("feed-hash"), []byte("checkin-hash"))
	if err != nil {
		t.Fatal(err)
	}
	lib, _ := programs.LoadLibrary()
	walking, _ := lib.Get("walking")
	today := programs.DateOf(time.Now().UTC())
	a, err := st.CreateAssignment(ctx, store.Assignment{PatientID: p.ID, ProgramID: "walking", Program: walking,
		Start: today.AddDays(-800), Status: "ended"})
	if err != nil {
		t.Fatal(err)
	}
	var old []store.Session
	for _, d := range []int{-700, -500, -10} {
		old = append(old, store.Session{Activity: "walk", Date: today.AddDays(d), Time: 8 * 60, Dose: 10, Sets: 1,
			Unit: programs.Minutes, Week: 1, Status: programs.Done})
	}
	if err := st.WithPatient(ctx, p.ID, func(tx *store.PatientTx) error {
		_, err := tx.SavePlan(a.ID, old, store.Plan{Header: store.PlanHeader{RulesVersion: programs.RulesVersion, Now: today}}, nil, time.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// The patient's links were made with a key: pacer makes no new one for
	// a database with patients.
	if err := os.WriteFile(filepath.Join(state, "secret.key"), bytes.Repeat([]byte("k"), 32), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stop := startServe(t, map[string]string{"STATE_DIRECTORY": state, "PACER_RETENTION_SESSION_DAYS": "400"})
	defer stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		xs, err := st.Sessions(ctx, p.ID, 0, today)
		if err != nil {
			t.Fatal(err)
		}
		if len(xs) == 1 && xs[0].Date == today.AddDays(-10) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions after retention: %+v", xs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWatchdogPingsOnlyWhileTheStoreAnswers(t *testing.T) {
	var (
		mu    sync.Mutex
		down  bool
		sent  []string
		pings int
	)
	ping := func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		pings++
		if down {
			return errors.New("store down")
		}
		return nil
	}
	notify := func(s string) error {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, s)
		return nil
	}
	count := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		return len(sent), pings
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchdog(ctx, 5*time.Millisecond, ping, notify, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("three pings", func() bool { n, _ := count(); return n >= 3 })
	mu.Lock()
	down = true
	mu.Unlock()
	n0, p0 := count()
	waitFor("five pings of a store that is down", func() bool { _, p := count(); return p >= p0+6 })
	if n, _ := count(); n > n0+1 { // one ping may have been in flight
		t.Errorf("%d watchdog notifications while the store was down", n-n0)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	n1, _ := count()
	waitFor("pings again", func() bool { n, _ := count(); return n >= n1+2 })
	cancel()
	<-done
	for _, s := range sent {
		if s != "WATCHDOG=1" {
			t.Errorf("sent %q", s)
		}
	}
}

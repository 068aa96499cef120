package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pacer/scheduler"
)

// The acceptance of the several-replica setup: two pacer serve processes on
// one PostgreSQL schema, 40 patients whose walk reminders fall due in the
// same minute, delivered to one slow webhook receiver. The replica sending
// them is killed with SIGKILL after the receiver has taken its first few
// calls. Every patient still gets the reminder — the survivor takes the
// killed replica's claimed rows over once their lease (reminders.lease, 10 s
// here) expires — with at most one duplicate, and the survivor takes the
// periodic jobs over (leader failover).
//
// Replica A starts first and so holds the leader lock. Replica B is paused
// (SIGSTOP) across the due instant and resumed as soon as A's first call
// arrives, so that it is A — the leader — that holds all 40 claims when it
// is killed: every run exercises both the lease takeover and the leader
// failover, rather than whichever the race at the due instant picks.
//
// The receiver takes one call at a time, 150 ms each, so the 40 take about
// 6 s. A call counts as delivered when the receiver has handled it while its
// sender still waited for the answer. Requests whose sender died first — the
// killed replica's other workers' calls, queued at the receiver — are counted
// apart as abandoned and reported, not asserted: the survivor sends them
// again, so a receiver that acted on every request it had read, sender gone
// or not, would see each of them twice (up to the dispatcher's 16 workers).
func TestTwoReplicasOnPostgresDeliverEveryReminderWhenOneIsKilled(t *testing.T) {
	base := os.Getenv("PACER_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("set PACER_TEST_POSTGRES_URL to run two replicas against PostgreSQL")
	}
	const (
		patients = 40
		lease    = "10s"
		leaderOn = `"msg":"running periodic jobs on this replica"`
	)
	began := time.Now()
	dsn, db := replicaSchema(t, base)
	bin := buildPacer(t)
	t.Logf("built pacer in %v", time.Since(began).Round(time.Millisecond))

	dir := t.TempDir()
	keyFile := filepath.Join(dir, "secret.key")
	if err := os.WriteFile(keyFile, []byte(rand.Text()+rand.Text()), 0o600); err != nil {
		t.Fatal(err)
	}
	sink := startReplicaSink(t, 150*time.Millisecond)
	caFile := filepath.Join(dir, "sink-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sink.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(extra ...string) []string {
		// The webhook receiver is https with a test certificate, on
		// loopback, which pacer reaches only when notify.allow_private says.
		return append([]string{"PACER_DB=" + dsn, "PACER_SECRET_KEY_FILE=" + keyFile, "TZ=UTC",
			"SSL_CERT_FILE=" + caFile, "PACER_NOTIFY_ALLOW_PRIVATE=127.0.0.1"}, extra...)
	}

	// A therapist and API tokens, through the CLI against the same database.
	// The setup's 120 requests go round four tokens, as from four clients,
	// each within the per-token burst.
	var tokens []string
	commands := [][]string{{"user", "add", "--email", "replicas@clinic.example"}}
	for range 4 {
		commands = append(commands, []string{"token", "create", "--email", "replicas@clinic.example"})
	}
	for _, args := range commands {
		cmd := exec.Command(bin, args...)
		cmd.Env = env("STATE_DIRECTORY=" + t.TempDir())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("pacer %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
		}
		if args[0] == "token" {
			tokens = append(tokens, strings.TrimSpace(string(out)))
		}
	}

	a := startReplica(t, bin, "A", env("STATE_DIRECTORY="+t.TempDir(), "PACER_REMINDERS_LEASE="+lease))
	if !a.await(leaderOn, 10*time.Second) {
		t.Fatalf("replica A, started alone, did not take the leader lock (does another process hold pacer-jobs in this database?):\n%s", a.stderr.String())
	}

	// 40 patients through A's API, each with a webhook channel to the sink
	// (its path names the patient), no quiet hours (the test runs at any
	// hour) and no nudge.
	api := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 10 * time.Second}
	type patient struct {
		ID         int64  `json:"id"`
		CheckinURL string `json:"checkin_url"`
	}
	ps := make([]patient, patients)
	byHook := map[string]int{} // the patient's webhook path → patient index
	for i := range ps {
		token := tokens[i%len(tokens)]
		apiCall(t, api, "POST", a.base+"/api/v1/patients", token,
			fmt.Sprintf(`{"name":"Patient %02d","timezone":"Europe/Berlin"}`, i+1), http.StatusCreated, &ps[i])
		u, err := url.Parse(ps[i].CheckinURL)
		if err != nil || u.Path == "" {
			t.Fatalf("patient %d: check-in url %q", ps[i].ID, ps[i].CheckinURL)
		}
		byHook[fmt.Sprintf("/hook/%d", ps[i].ID)] = i
		apiCall(t, api, "PUT", fmt.Sprintf("%s/api/v1/patients/%d/channels", a.base, ps[i].ID), token,
			fmt.Sprintf(`{"channels":[{"type":"webhook","url":"%s/hook/%d"}],"quiet_hours":{"start":"00:00","end":"00:00"},"nudge_hours":0}`,
				sink.srv.URL, ps[i].ID), http.StatusOK, nil)
	}

	// The walk is due at the first minute boundary at least 20 s away, today
	// in Berlin.
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	due := time.Now().Truncate(time.Minute).Add(time.Minute)
	for time.Until(due) < 20*time.Second {
		due = due.Add(time.Minute)
	}
	local := due.In(berlin)
	for i, p := range ps {
		apiCall(t, api, "POST", fmt.Sprintf("%s/api/v1/patients/%d/assignments", a.base, p.ID), tokens[i%len(tokens)], fmt.Sprintf(
			`{"program":"walking","start":"%s","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["%s"]}}}`,
			local.Format(time.DateOnly), local.Format("15:04")), http.StatusCreated, nil)
	}
	var pending int
	if err := db.QueryRow(`SELECT count(*) FROM reminders WHERE kind = $1 AND status = 'pending' AND due_at = $2`,
		scheduler.KindSession, due.UnixMilli()).Scan(&pending); err != nil || pending != patients {
		t.Fatalf("%d pending session reminders due at %s, want %d (%v)", pending, due.Format(time.TimeOnly), patients, err)
	}
	t.Logf("set up %d patients in %v; reminders due at %s UTC (%s in Berlin), in %v", patients,
		time.Since(began).Round(time.Millisecond), due.Format(time.TimeOnly), local.Format("15:04"), time.Until(due).Round(time.Millisecond))
	if time.Until(due) < 5*time.Second {
		t.Fatalf("the setup took too long: the reminders fall due in %v", time.Until(due))
	}

	// B tries the leader lock at its start and then every minute: started
	// 15-40 s before the due instant, its first try after A's death comes
	// 20-45 s after it, which keeps the failover check short.
	time.Sleep(time.Until(due.Add(-40 * time.Second)))
	b := startReplica(t, bin, "B", env("STATE_DIRECTORY="+t.TempDir(), "PACER_REMINDERS_LEASE="+lease))
	bStarted := time.Now()
	if time.Until(due) < 2*time.Second {
		t.Fatalf("replica B was ready only %v before the due instant", time.Until(due))
	}
	if b.has(leaderOn) {
		t.Fatalf("replica B took the leader lock while A holds it:\n%s", b.stderr.String())
	}

	time.Sleep(time.Until(due.Add(-time.Second)))
	b.signal(t, syscall.SIGSTOP)
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			b.signal(t, syscall.SIGCONT)
		}
	}
	defer resume()
	if !sink.await(1, time.Until(due)+15*time.Second) {
		resume()
		t.Fatalf("no reminder reached the receiver within 15 s of the due instant\nA:\n%s\nB:\n%s", a.stderr.String(), b.stderr.String())
	}
	resume()
	first := time.Now()
	if !sink.await(3, 10*time.Second) {
		t.Fatalf("the receiver took only %d calls", len(sink.delivered()))
	}
	a.kill(t)
	killedAt := time.Now()
	before := sink.delivered()
	t.Logf("first call %v after the due instant; killed A %v after the first call, with %d calls delivered",
		first.Sub(due).Round(time.Millisecond), killedAt.Sub(first).Round(time.Millisecond), len(before))
	for _, c := range before {
		if c.Replica != a.host {
			t.Errorf("a call before the kill came from %s, not replica A (%s): B was paused, so A must hold every claim", c.Replica, a.host)
		}
	}

	// Every patient gets the reminder, within the lease plus the sending.
	allAt := time.Time{}
	deadline := killedAt.Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if len(sink.patients()) == patients {
			allAt = time.Now()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Then nothing is left to send: no row pending or sending.
	var unsent int
	for time.Now().Before(deadline) {
		if err := db.QueryRow(`SELECT count(*) FROM reminders WHERE kind = $1 AND due_at = $2 AND status IN ('pending', 'sending')`,
			scheduler.KindSession, due.UnixMilli()).Scan(&unsent); err != nil {
			t.Fatal(err)
		}
		if unsent == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	calls := sink.delivered()
	perPatient := map[string]int{}
	perReplica := map[string]int{}
	for _, c := range calls {
		perPatient[c.Patient]++
		perReplica[c.Replica]++
		if _, ok := byHook[c.Patient]; !ok {
			t.Errorf("a call to an unknown webhook %s", c.Patient)
		}
		// A webhook is someone else's server: the reminder carries the
		// session's own link, never the check-in link.
		if !strings.HasPrefix(c.Link, "/s/") {
			t.Errorf("the reminder to %s links %s, not the session's link", c.Patient, c.Link)
		}
		if !strings.HasPrefix(c.Tag, scheduler.KindSession+":") || !strings.Contains(c.Body, "walk") {
			t.Errorf("not a walk reminder: tag %q, body %q", c.Tag, c.Body)
		}
	}
	var missing []int64
	duplicates := 0
	for i, p := range ps {
		switch n := perPatient[fmt.Sprintf("/hook/%d", p.ID)]; {
		case n == 0:
			missing = append(missing, ps[i].ID)
		case n > 1:
			duplicates += n - 1
		}
	}
	abandoned := sink.abandonedCalls()
	t.Logf("%d calls delivered for %d patients: %d before the kill, %d from A and %d from B in all; %d duplicates; "+
		"%d requests abandoned by the killed replica before the receiver answered",
		len(calls), len(perPatient), len(before), perReplica[a.host], perReplica[b.host], duplicates, len(abandoned))
	if !allAt.IsZero() {
		t.Logf("all %d patients had their reminder %v after the kill (%v after the due instant)", patients,
			allAt.Sub(killedAt).Round(time.Millisecond), allAt.Sub(due).Round(time.Millisecond))
	}
	if len(missing) > 0 {
		t.Errorf("%d patients got no reminder within 90 s of the kill: %v", len(missing), missing)
	}
	if duplicates > 1 {
		t.Errorf("%d duplicate reminders, want at most one", duplicates)
	}
	if unsent != 0 {
		t.Errorf("%d session reminders still pending or sending", unsent)
	}
	rows, err := db.Query(`SELECT status, count(*) FROM reminders WHERE kind = $1 AND due_at = $2 GROUP BY status ORDER BY status`,
		scheduler.KindSession, due.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for rows.Next() {
		var s string
		var n int
		rows.Scan(&s, &n)
		statuses = append(statuses, fmt.Sprintf("%s=%d", s, n))
	}
	rows.Close()
	if !slices.Equal(statuses, []string{fmt.Sprintf("sent=%d", patients)}) {
		t.Errorf("the outbox: %v, want all %d sent", statuses, patients)
	}

	// The survivor takes the periodic jobs over. Its tries are a minute
	// apart, from its start.
	if b.await(leaderOn, time.Until(killedAt.Add(75*time.Second))) {
		t.Logf("replica B took the periodic jobs over %v after the kill (it started %v before the kill)",
			b.when(leaderOn).Sub(killedAt).Round(time.Millisecond), killedAt.Sub(bStarted).Round(time.Millisecond))
	} else {
		t.Errorf("replica B did not take the periodic jobs over within 75 s of the kill")
	}
	if t.Failed() {
		t.Logf("replica A:\n%s\nreplica B:\n%s", a.stderr.String(), b.stderr.String())
	}
	t.Logf("the test took %v", time.Since(began).Round(time.Millisecond))
}

// replicaSchema creates a schema of its own in the test database and returns
// a DSN whose search_path names it, and an open handle on it; the schema is
// dropped at cleanup, after the replicas are gone.
func replicaSchema(t *testing.T, base string) (string, *sql.DB) {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "pacer_replicas_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base) // the store registers pgx
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	return u.String(), db
}

// stderrOf is the stderr an exec.Command's Output kept in its error.
func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// apiCall sends a JSON request with a bearer token and decodes the answer.
// It slows down when the per-token rate limit (10 a second after a burst of
// 40) answers 429, as a client should.
func apiCall(t *testing.T, c *http.Client, method, u, token, body string, want int, out any) {
	t.Helper()
	var resp *http.Response
	for try := 0; ; try++ {
		req, err := http.NewRequest(method, u, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusTooManyRequests || try == 50 {
			break
		}
		resp.Body.Close()
		time.Sleep(100 * time.Millisecond)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %s %s, want %d", method, u, resp.Status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, u, err, b)
		}
	}
}

// replica is one pacer serve process.
type replica struct {
	name   string
	cmd    *exec.Cmd
	base   string // http://127.0.0.1:port
	host   string // 127.0.0.1:port: the host of the links it builds
	stderr *timedLog
	exited chan struct{}
}

func startReplica(t *testing.T, bin, name string, env []string) *replica {
	t.Helper()
	r := &replica{name: name, stderr: &timedLog{}, exited: make(chan struct{})}
	var stdout syncBuffer
	r.cmd = exec.Command(bin, "serve", "--listen", "127.0.0.1:0")
	r.cmd.Env = env
	r.cmd.Stdout, r.cmd.Stderr = &stdout, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		r.cmd.Process.Kill() // SIGKILL also ends a stopped process
		<-r.exited
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			r.base = m[1]
			r.host = strings.TrimPrefix(m[1], "http://")
			break
		}
		select {
		case <-r.exited:
			t.Fatalf("replica %s stopped: %s\n%s", name, r.cmd.ProcessState, r.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s did not start:\n%s\n%s", name, stdout.String(), r.stderr.String())
		}
	}
	for {
		resp, err := http.Get(r.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s is not ready: %v\n%s", name, err, r.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *replica) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := r.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("replica %s: %v: %v", r.name, sig, err)
	}
}

// kill ends the replica with SIGKILL and waits until it is gone.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.signal(t, syscall.SIGKILL)
	select {
	case <-r.exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("replica %s outlived SIGKILL", r.name)
	}
}

func (r *replica) has(s string) bool { return !r.when(s).IsZero() }

func (r *replica) when(s string) time.Time { return r.stderr.when(s) }

// await reports whether the replica logs a line containing s within d.
func (r *replica) await(s string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !r.has(s) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// timedLog keeps a process's output and when each line arrived.
type timedLog struct {
	mu    sync.Mutex
	b     strings.Builder
	lines []timedLine
	part  string
}

type timedLine struct {
	at   time.Time
	text string
}

func (l *timedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.b.Write(p)
	l.part += string(p)
	for {
		i := strings.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, timedLine{now, l.part[:i]})
		l.part = l.part[i+1:]
	}
	return len(p), nil
}

func (l *timedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// when is the arrival of the first line containing s, or zero.
func (l *timedLog) when(s string) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.lines {
		if strings.Contains(x.text, s) {
			return x.at
		}
	}
	return time.Time{}
}

// replicaSink is a slow webhook receiver: one call at a time, each taking
// delay. It keeps each call's payload; the check-in URL in it names the
// patient (its path) and the replica that sent it (its host).
type replicaSink struct {
	srv   *httptest.Server
	delay time.Duration

	work      sync.Mutex // one call at a time
	mu        sync.Mutex
	calls     []sinkCall // handled while the sender waited for the answer
	abandoned []sinkCall // the sender was gone before the receiver answered
}

type sinkCall struct {
	Patient string // the path posted to: /hook/<patient id>
	Link    string // the path of the link it carries, the session's
	Replica string // the link's host
	Tag     string
	Body    string
	At      time.Time
}

func startReplicaSink(t *testing.T, delay time.Duration) *replicaSink {
	k := &replicaSink{delay: delay}
	k.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read to the end: only then does the server watch the connection,
		// and cancel the request's context when the sender hangs up.
		b, err := io.ReadAll(r.Body)
		var p struct{ Title, Body, URL, Tag string }
		if err == nil {
			err = json.Unmarshal(b, &p)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		u, _ := url.Parse(p.URL)
		c := sinkCall{Patient: r.URL.Path, Tag: p.Tag, Body: p.Title + " " + p.Body}
		if u != nil {
			c.Link, c.Replica = u.Path, u.Host
		}
		k.work.Lock()
		defer k.work.Unlock()
		var gone bool
		select {
		case <-r.Context().Done(): // the sender hung up while the call waited or was handled
			gone = true
		case <-time.After(k.delay):
		}
		c.At = time.Now()
		k.mu.Lock()
		if gone {
			k.abandoned = append(k.abandoned, c)
		} else {
			k.calls = append(k.calls, c)
		}
		k.mu.Unlock()
		if !gone {
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func (k *replicaSink) delivered() []sinkCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.calls)
}

func (k *replicaSink) abandonedCalls() []sinkCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.abandoned)
}

// patients is the set of patients' webhook paths that got a call.
func (k *replicaSink) patients() map[string]bool {
	out := map[string]bool{}
	for _, c := range k.delivered() {
		out[c.Patient] = true
	}
	return out
}

// await reports whether n calls were delivered within d.
func (k *replicaSink) await(n int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for len(k.delivered()) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

package reminderload_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pacer/internal/i18n"
	"pacer/internal/reminderload"
	"pacer/internal/store"
	"pacer/notify"
	"pacer/notify/webhook"
	"pacer/programs"
	"pacer/scheduler"
)

// The seeded rows must be the ones the store writes itself, or the benchmark
// measures something else: read them back through the store.
func TestSeedReadsBackThroughTheStore(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { seedReadsBack(t, filepath.Join(t.TempDir(), "pacer.db")) })
	base := os.Getenv("PACER_TEST_POSTGRES_URL")
	if base == "" {
		return
	}
	t.Run("postgres", func(t *testing.T) {
		dsn, drop, err := reminderload.PostgresSchema(t.Context(), base)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := drop(); err != nil {
				t.Error(err)
			}
		})
		seedReadsBack(t, dsn)
	})
}

func seedReadsBack(t *testing.T, path string) {
	ctx := context.Background()
	due := time.Date(2026, 3, 10, 13, 5, 0, 0, time.UTC)
	ran := due.Add(-10 * time.Minute)
	if err := reminderload.SeedAt(ctx, path, reminderload.Seed{Patients: 3, Due: due,
		HookURL: "https://127.0.0.1:9", Zone: "Europe/Berlin", JobsRanAt: ran}); err != nil {
		t.Fatal(err)
	}
	if err := reminderload.SeedAt(ctx, path, reminderload.Seed{Patients: 1, Due: due, HookURL: "https://x"}); err == nil {
		t.Error("seeding a store that has patients: no error")
	}
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	active, err := st.ActivePatients(ctx)
	if err != nil || len(active) != 3 {
		t.Fatalf("active patients: %d, %v", len(active), err)
	}
	for _, p := range active {
		if p.Timezone != "Europe/Berlin" || len(p.CheckinNonce) != 16 {
			t.Errorf("patient %d: zone %q, nonce %d bytes", p.ID, p.Timezone, len(p.CheckinNonce))
		}
		chs, err := st.Channels(ctx, p.ID)
		if err != nil || len(chs) != 1 || chs[0].Type != "webhook" {
			t.Fatalf("patient %d channels: %+v, %v", p.ID, chs, err)
		}
		// The config is in the store's canonical form: setting the same
		// channel again keeps it (and its pending reminder).
		again, err := st.SetChannels(ctx, p.ID, []store.Channel{{Type: "webhook",
			Config: json.RawMessage(`{"url": "` + reminderload.HookURL("https://127.0.0.1:9", p.ID) + `", "type": "webhook"}`)}})
		if err != nil || again[0].ID != chs[0].ID {
			t.Errorf("patient %d: SetChannels with the same webhook: %+v, %v; want channel %d kept", p.ID, again, err, chs[0].ID)
		}
		if _, err := (&scheduler.Channels{Webhook: webhook.Settings{Allow: loopback}}).Notifier(ctx, chs[0]); err != nil {
			t.Errorf("patient %d: webhook notifier: %v", p.ID, err)
		}
		rs, err := st.Reminders(ctx, p.ID, due.Add(-time.Hour))
		if err != nil || len(rs) != 1 {
			t.Fatalf("patient %d reminders: %+v, %v", p.ID, rs, err)
		}
		r := rs[0]
		if r.Kind != scheduler.KindSession || r.Status != store.ReminderPending || !r.DueAt.Equal(due) ||
			r.DedupeKey != scheduler.DedupeKey(scheduler.KindSession, r.SessionID, chs[0].ID) {
			t.Errorf("patient %d reminder: %+v", p.ID, r)
		}
		s, err := st.Session(ctx, r.SessionID)
		if err != nil {
			t.Fatal(err)
		}
		loc, _ := time.LoadLocation("Europe/Berlin")
		if s.Status != programs.Planned || !s.Date.In(loc, int(s.Time)).Equal(due) || s.Activity != reminderload.ActivityID {
			t.Errorf("patient %d session: %+v, at %v, want planned at %v", p.ID, s, s.Date.In(loc, int(s.Time)), due)
		}
		a, err := st.AssignmentByID(ctx, s.AssignmentID)
		if err != nil {
			t.Fatal(err)
		}
		if a.Program == nil || a.Program.ID == "" || a.Status != "active" {
			t.Errorf("assignment %d: status %q, program %+v", a.ID, a.Status, a.Program)
		}
	}
	// Planned under the current rules, so `pacer serve` does not re-plan
	// them at start (which would cancel the seeded reminders).
	if stale, err := st.StalePatients(ctx, programs.RulesVersion); err != nil || len(stale) != 0 {
		t.Errorf("stale patients after seeding: %v, %v; want none", stale, err)
	}
	for _, job := range []string{"review", "retention", "digest"} {
		if at, err := st.JobLastRun(ctx, job); err != nil || !at.Equal(ran) {
			t.Errorf("job %s last run %v, %v; want %v", job, at, err, ran)
		}
	}
	if rs, err := st.ClaimDue(ctx, due.Add(-time.Second), time.Minute, 10); err != nil || len(rs) != 0 {
		t.Errorf("claimed before due: %d, %v", len(rs), err)
	}
	if rs, err := st.ClaimDue(ctx, due, time.Minute, 10); err != nil || len(rs) != 3 {
		t.Errorf("claimed at due: %d, %v; want 3", len(rs), err)
	}
	if err := reminderload.Rearm(ctx, path, due.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, ok, err := st.NextDue(ctx); err != nil || !ok || !n.Equal(due.Add(time.Hour)) {
		t.Errorf("after rearm, next due %v %v %v", n, ok, err)
	}
	if counts, err := reminderload.Counts(ctx, path); err != nil || counts[store.ReminderPending] != 3 || len(counts) != 1 {
		t.Errorf("counts after rearm: %v, %v; want 3 pending", counts, err)
	}
	// The store goes on after the seeded ids (PostgreSQL's identities too).
	p, err := st.CreatePatient(ctx, store.Patient{TherapistID: active[0].TherapistID, Name: "New", Timezone: "UTC",
		FeedNonce: []byte("0123456789abcdef"), CheckinNonce: []byte("fedcba9876543210")},
		store.HashToken("feed new"), store.HashToken("checkin new"))
	if err != nil || p.ID != 4 {
		t.Errorf("a patient added after the seed: %d, %v; want id 4", p.ID, err)
	}
}

func TestSinkCountsReminders(t *testing.T) {
	ctx := context.Background()
	sink, err := reminderload.NewSink()
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	tr, err := sink.Transport()
	if err != nil {
		t.Fatal(err)
	}
	due := time.Now()
	send := func(patient int64, m notify.Message) error {
		n, err := webhook.New(webhook.Settings{HTTPClient: &http.Client{Transport: tr}, Allow: loopback}, webhook.Config{URL: reminderload.HookURL(sink.URL, patient)})
		if err != nil {
			t.Fatal(err)
		}
		return n.Send(ctx, m)
	}
	message := func(key string) notify.Message {
		return scheduler.SessionMessage(i18n.For(i18n.English), scheduler.KindSession, key, i18n.Name{Title: "Walk", Mid: "walk"}, programs.Unit("minutes"), 10, 1, "https://pacer.example/c/tok")
	}
	// Patient 2's reminder twice (a repeat), and a second reminder of patient 1.
	for _, x := range []struct {
		patient int64
		key     string
	}{{1, "session:1:1"}, {2, "session:2:2"}, {2, "session:2:2"}, {1, "nudge:1:1"}} {
		if err := send(x.patient, message(x.key)); err != nil {
			t.Fatal(err)
		}
	}
	if err := send(3, notify.Message{Title: "no link"}); notify.Temporary(err) || err == nil {
		t.Errorf("a message without the check-in link: %v, want a permanent error (400)", err)
	}
	if err := send(3, message("")); notify.Temporary(err) || err == nil {
		t.Errorf("a message without a dedupe key: %v, want a permanent error (400)", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sink.Wait(wctx, 3); err != nil {
		t.Fatal(err)
	}
	if got := sink.Arrivals(); len(got) != 4 || got[2].Patient != 2 || got[2].Key != "session:2:2" {
		t.Errorf("arrivals %+v", got)
	}
	r := sink.Result(due)
	if r.Received != 4 || r.Patients != 2 || r.Reminders != 3 || r.Duplicates != 1 || r.Bad != 2 || r.P50 <= 0 ||
		r.Max < r.P99 || r.P99 < r.P50 {
		t.Errorf("result %+v", r)
	}
	if r := sink.Result(due); r.Received != 0 {
		t.Errorf("second result %+v, want empty", r)
	}

	// Held: read, unanswered until released; a sender that gives up is
	// counted apart.
	sink.HoldAfter(1)
	if err := send(4, message("session:4:4")); err != nil {
		t.Fatal(err)
	}
	gone, giveUp := context.WithCancel(ctx)
	errs := make(chan error, 2)
	go func() {
		n, _ := webhook.New(webhook.Settings{HTTPClient: &http.Client{Transport: tr}, Allow: loopback}, webhook.Config{URL: reminderload.HookURL(sink.URL, 5)})
		errs <- n.Send(gone, message("session:5:5"))
	}()
	if err := sink.WaitHeld(wctx, 1); err != nil {
		t.Fatal(err)
	}
	giveUp()
	if err := <-errs; err == nil {
		t.Error("a held reminder was answered")
	}
	if err := sink.WaitAbandoned(wctx, 1); err != nil {
		t.Fatal(err)
	}
	go func() { errs <- send(6, message("session:6:6")) }()
	if err := sink.WaitHeld(wctx, 1); err != nil {
		t.Fatal(err)
	}
	sink.Release()
	if err := <-errs; err != nil {
		t.Errorf("a released reminder: %v", err)
	}
	if err := sink.Wait(wctx, 2); err != nil {
		t.Fatal(err)
	}
	if r, n := sink.Result(due), sink.Abandoned(); r.Received != 2 || r.Reminders != 2 || n != 1 {
		t.Errorf("after the hold: %+v, %d abandoned; want 4 and 6 received, 5 abandoned", r, n)
	}
}

// loopback is notify.allow_private as an operator sets it for the sink on
// 127.0.0.1.
var loopback, _ = notify.ParseAllowList("127.0.0.1")

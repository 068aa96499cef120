package reminderload_test

import (
	"context"
	"encoding/json"
	"net/http"
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
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "pacer.db")
	due := time.Date(2026, 3, 10, 13, 5, 0, 0, time.UTC)
	ran := due.Add(-10 * time.Minute)
	if err := reminderload.SeedSQLite(ctx, path, reminderload.Seed{Patients: 3, Due: due,
		HookURL: "https://127.0.0.1:9", Zone: "Europe/Berlin", JobsRanAt: ran}); err != nil {
		t.Fatal(err)
	}
	if err := reminderload.SeedSQLite(ctx, path, reminderload.Seed{Patients: 1, Due: due, HookURL: "https://x"}); err == nil {
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
	m := scheduler.SessionMessage(i18n.For(i18n.English), scheduler.KindSession, "session:1:1", "Walk", programs.Unit("minutes"), 10, 1, "https://pacer.example/c/tok")
	for _, id := range []int64{1, 2, 2} {
		n, err := webhook.New(webhook.Settings{HTTPClient: &http.Client{Transport: tr}, Allow: loopback}, webhook.Config{URL: reminderload.HookURL(sink.URL, id)})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Send(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := webhook.New(webhook.Settings{HTTPClient: &http.Client{Transport: tr}, Allow: loopback}, webhook.Config{URL: reminderload.HookURL(sink.URL, 3)})
	if err := n.Send(ctx, notify.Message{Title: "no link"}); notify.Temporary(err) || err == nil {
		t.Errorf("a message without the check-in link: %v, want a permanent error (400)", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := sink.Wait(wctx, 2); err != nil {
		t.Fatal(err)
	}
	r := sink.Result(due)
	if r.Received != 3 || r.Patients != 2 || r.Duplicates != 1 || r.Bad != 1 || r.P50 <= 0 || r.Max < r.P99 || r.P99 < r.P50 {
		t.Errorf("result %+v", r)
	}
	if r := sink.Result(due); r.Received != 0 {
		t.Errorf("second result %+v, want empty", r)
	}
}

// loopback is notify.allow_private as an operator sets it for the sink on
// 127.0.0.1.
var loopback, _ = notify.ParseAllowList("127.0.0.1")

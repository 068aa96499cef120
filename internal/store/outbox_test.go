package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pacer/programs"
)

// Fixtures of the outbox.

func mkChannels(t *testing.T, s *Store, patientID int64, chs ...Channel) []Channel {
	t.Helper()
	got, err := s.SetChannels(t.Context(), patientID, chs)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func email(addr string) Channel {
	return Channel{Type: "email", Config: json.RawMessage(`{"address":"` + addr + `"}`)}
}

func ntfy(topic string) Channel {
	return Channel{Type: "ntfy", Config: json.RawMessage(`{"server":"https://ntfy.example","topic":"` + topic + `"}`)}
}

func pushSub(endpoint, key string) json.RawMessage {
	return json.RawMessage(`{"endpoint":"` + endpoint + `","keys":{"auth":"a","p256dh":"` + key + `"}}`)
}

// remindAll is a reminders callback: one reminder per planned session and
// channel at the session's UTC time, with the dose in the payload. It
// records the sessions it was given.
type remindAll struct {
	channels []Channel
	got      []Session
}

func (r *remindAll) fn(saved []Session) []Reminder {
	r.got = slices.Clone(saved)
	var out []Reminder
	for _, x := range saved {
		if x.Status == programs.Cancelled {
			continue
		}
		for _, ch := range r.channels {
			out = append(out, Reminder{Kind: "session", SessionID: x.ID, ChannelID: ch.ID,
				DedupeKey: fmt.Sprintf("session:%d:%d", x.ID, ch.ID), DueAt: x.Date.In(time.UTC, int(x.Time)),
				Payload: json.RawMessage(fmt.Sprintf(`{"dose": %d}`, x.Dose))})
		}
	}
	return out
}

// reminders returns the patient's reminders by dedupe key.
func reminders(t *testing.T, s *Store, patientID int64) map[string]Reminder {
	t.Helper()
	rs, err := s.Reminders(t.Context(), patientID, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]Reminder, len(rs))
	for _, r := range rs {
		m[r.DedupeKey] = r
	}
	return m
}

// addDue adds n test reminders of the patient to the channel, the i-th due
// at due(i), and returns them as stored, in order.
func addDue(t *testing.T, s *Store, patientID, channelID int64, n int, due func(i int) time.Time) []Reminder {
	t.Helper()
	rs := make([]Reminder, n)
	for i := range rs {
		rs[i] = Reminder{Kind: "test", PatientID: patientID, ChannelID: channelID,
			DedupeKey: fmt.Sprintf("test:%d:%d:%d", patientID, channelID, i), DueAt: due(i)}
	}
	if got, err := s.AddReminders(t.Context(), rs); err != nil || got != n {
		t.Fatalf("AddReminders = %d, %v; want %d", got, err, n)
	}
	m := reminders(t, s, patientID)
	for i := range rs {
		rs[i] = m[rs[i].DedupeKey]
	}
	return rs
}

func ids(rs []Reminder) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestOutboxSchema(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		q := mkPatient(t, s, th.ID, "Q")

		// A channel has exactly one owner.
		for _, owners := range []string{"NULL, NULL", fmt.Sprintf("%d, %d", p.ID, th.ID)} {
			if _, err := s.w.ExecContext(ctx, `INSERT INTO channels (patient_id, therapist_id, type, config, created_at)
				VALUES (`+owners+`, 'email', '{}', 0)`); err == nil {
				t.Errorf("a channel with owners (%s) was stored", owners)
			}
		}
		if _, err := s.w.ExecContext(ctx, s.q(`INSERT INTO reminders (kind, patient_id, dedupe_key, due_at, status,
			next_attempt_at, created_at) VALUES ('test', ?, 'k', 0, 'lost', 0, 0)`), p.ID); err == nil {
			t.Error("a reminder with an unknown status was stored")
		}

		chs := mkChannels(t, s, p.ID, email("p@example.org"))
		tchs, err := s.SetTherapistChannels(ctx, th.ID, []Channel{email("t@example.org")})
		if err != nil {
			t.Fatal(err)
		}
		qchs := mkChannels(t, s, q.ID, email("q@example.org"))
		if err := s.SetNotifySettings(ctx, DefaultNotifySettings(p.ID)); err != nil {
			t.Fatal(err)
		}
		a := mkAssignment(t, s, p.ID)
		r := &remindAll{channels: chs}
		if _, err := s.SavePlan(ctx, a.ID, p.ID, plan(a.Start), nil, r.fn, time.Unix(0, 0)); err != nil {
			t.Fatal(err)
		}
		alert := Reminder{Kind: "alert_red_flag", PatientID: p.ID, TherapistID: th.ID, ChannelID: tchs[0].ID,
			DedupeKey: "alert", DueAt: time.Unix(1, 0)}
		if n, err := s.AddReminders(ctx, []Reminder{alert}); err != nil || n != 1 {
			t.Fatalf("AddReminders = %d, %v", n, err)
		}
		addDue(t, s, q.ID, qchs[0].ID, 1, func(int) time.Time { return time.Unix(2, 0) })

		// Erasing a patient takes their channels, settings and reminders
		// (and the therapist's alerts about them), and nothing of others.
		count := func(table, where string) int {
			t.Helper()
			var n int
			if err := s.w.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE `+where).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count("reminders", "true"); n != len(plan(a.Start))+2 {
			t.Fatalf("%d reminders before the erasure", n)
		}
		if _, err := s.w.ExecContext(ctx, s.q(`DELETE FROM patients WHERE id = ?`), p.ID); err != nil {
			t.Fatal(err)
		}
		for table, want := range map[string]int{"channels": 2, "notify_settings": 0, "reminders": 1, "sessions": 0} {
			if n := count(table, "true"); n != want {
				t.Errorf("%d rows in %s after the erasure, want %d", n, table, want)
			}
		}
		if got, err := s.TherapistChannels(ctx, th.ID); err != nil || len(got) != 1 {
			t.Errorf("the therapist's channels after a patient's erasure: %v, %v", got, err)
		}
	})
}

func TestSetChannels(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		q := mkPatient(t, s, th.ID, "Q")

		if chs, err := s.Channels(ctx, p.ID); err != nil || len(chs) != 0 {
			t.Fatalf("no channels yet: %v, %v", chs, err)
		}
		first := mkChannels(t, s, p.ID, email("p@example.org"), ntfy("p-1"))
		for _, ch := range first {
			if ch.ID == 0 || ch.PatientID != p.ID || ch.TherapistID != 0 || ch.CreatedAt != c.Now().Truncate(time.Millisecond).UTC() {
				t.Errorf("stored %+v", ch)
			}
		}
		mail, topic := first[0], first[1]
		if got, err := s.Channels(ctx, p.ID); err != nil || !slices.EqualFunc(got, first, sameChannel) {
			t.Errorf("Channels = %v, %v; want %v", got, err, first)
		}
		if got, err := s.Channel(ctx, topic.ID); err != nil || !sameChannel(got, topic) {
			t.Errorf("Channel(%d) = %v, %v", topic.ID, got, err)
		}

		// Pending reminders on both; one on ntfy already sent, one being sent.
		pending := addDue(t, s, p.ID, mail.ID, 1, func(int) time.Time { return time.Unix(3600, 0) })[0]
		onNtfy := addDue(t, s, p.ID, topic.ID, 3, func(i int) time.Time { return time.Unix(int64(i), 0) })
		claimed, err := s.ClaimDue(ctx, time.Unix(1, 0), time.Minute, 2)
		if err != nil || !slices.Equal(ids(claimed), ids(onNtfy[:2])) {
			t.Fatalf("claimed %v, %v", claimed, err)
		}
		if err := s.MarkSent(ctx, onNtfy[0].ID, time.Unix(1, 0)); err != nil {
			t.Fatal(err)
		}

		// Replace: the email is the same (keys reordered, spaced), ntfy goes,
		// a webhook comes.
		c.Add(time.Hour)
		same := Channel{Type: "email", Config: json.RawMessage(` { "address" : "p@example.org" } `)}
		hook := Channel{Type: "webhook", Config: json.RawMessage(`{"url":"https://clinic.example/hook","headers":{"b":1,"a":2}}`)}
		second := mkChannels(t, s, p.ID, hook, same)
		if second[1].ID != mail.ID || !second[1].CreatedAt.Equal(mail.CreatedAt) || string(second[1].Config) != string(mail.Config) {
			t.Errorf("the unchanged email channel %+v, want %+v", second[1], mail)
		}
		if second[0].ID == mail.ID || second[0].ID == topic.ID || second[0].Type != "webhook" {
			t.Errorf("the webhook %+v", second[0])
		}
		if want := `{"headers":{"a":2,"b":1},"url":"https://clinic.example/hook"}`; string(second[0].Config) != want {
			t.Errorf("config stored as %s, want the canonical %s", second[0].Config, want)
		}
		if got, _ := s.Channels(ctx, p.ID); len(got) != 2 || got[0].ID != mail.ID || got[1].ID != second[0].ID {
			t.Errorf("Channels after the replacement: %v", got)
		}
		if _, err := s.Channel(ctx, topic.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("the removed channel: %v, want ErrNotFound", err)
		}
		rs := reminders(t, s, p.ID)
		if r := rs[pending.DedupeKey]; r.Status != ReminderPending || r.ChannelID != mail.ID {
			t.Errorf("the kept channel's reminder %+v, want pending on %d", r, mail.ID)
		}
		for i, want := range []struct{ status, reason string }{
			{ReminderSent, ""}, {ReminderSending, ""}, {ReminderSkipped, SkipChannelRemoved},
		} {
			r := rs[onNtfy[i].DedupeKey]
			if r.Status != want.status || r.SkipReason != want.reason || r.ChannelID != 0 {
				t.Errorf("reminder %d of the removed channel: %s/%q on %d; want %s/%q, no channel",
					i, r.Status, r.SkipReason, r.ChannelID, want.status, want.reason)
			}
		}

		// The other patient and the therapist are separate.
		qchs := mkChannels(t, s, q.ID, email("p@example.org"))
		if qchs[0].ID == mail.ID {
			t.Error("two patients share a channel row")
		}
		tchs, err := s.SetTherapistChannels(ctx, th.ID, []Channel{email("t@example.org")})
		if err != nil || len(tchs) != 1 || tchs[0].TherapistID != th.ID || tchs[0].PatientID != 0 {
			t.Fatalf("SetTherapistChannels = %v, %v", tchs, err)
		}
		if got, err := s.TherapistChannels(ctx, th.ID); err != nil || !slices.EqualFunc(got, tchs, sameChannel) {
			t.Errorf("TherapistChannels = %v, %v", got, err)
		}
		if got, _ := s.Channels(ctx, p.ID); len(got) != 2 {
			t.Errorf("the therapist's channels changed the patient's: %v", got)
		}

		// Refusals leave the channels as they were.
		for name, chs := range map[string][]Channel{
			"twice":          {email("x@example.org"), {Type: "email", Config: json.RawMessage(`{"address": "x@example.org"}`)}},
			"invalid JSON":   {{Type: "email", Config: json.RawMessage(`{"address":`)}},
			"trailing data":  {{Type: "email", Config: json.RawMessage(`{} {}`)}},
			"not an object":  {{Type: "email", Config: json.RawMessage(`"x@example.org"`)}},
			"no config":      {{Type: "email"}},
			"no type":        {{Config: json.RawMessage(`{}`)}},
			"push, endpoint": {{Type: ChannelWebPush, Config: json.RawMessage(`{"keys":{}}`)}},
		} {
			if _, err := s.SetChannels(ctx, p.ID, chs); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		if got, _ := s.Channels(ctx, p.ID); len(got) != 2 || got[0].ID != mail.ID {
			t.Errorf("a refused SetChannels changed the channels: %v", got)
		}
		_, err = s.SetChannels(ctx, q.ID+100, []Channel{email("x@example.org")})
		wantNotFound(t, "SetChannels of a missing patient", err)
		_, err = s.SetTherapistChannels(ctx, th.ID+100, nil)
		wantNotFound(t, "SetTherapistChannels of a missing therapist", err)

		// None: all removed.
		if got := mkChannels(t, s, p.ID); len(got) != 0 {
			t.Errorf("SetChannels(none) = %v", got)
		}
		if r := reminders(t, s, p.ID)[pending.DedupeKey]; r.Status != ReminderSkipped || r.SkipReason != SkipChannelRemoved {
			t.Errorf("the last channel's pending reminder %+v", r)
		}
	})
}

func sameChannel(a, b Channel) bool {
	return a.ID == b.ID && a.PatientID == b.PatientID && a.TherapistID == b.TherapistID && a.Type == b.Type &&
		string(a.Config) == string(b.Config) && a.CreatedAt.Equal(b.CreatedAt)
}

func TestPushSubscriptions(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		q := mkPatient(t, s, th.ID, "Q")
		mail := mkChannels(t, s, p.ID, email("p@example.org"))[0]

		one, err := s.AddPushSubscription(ctx, p.ID, pushSub("https://push.example/1", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		if one.ID == 0 || one.Type != ChannelWebPush || one.PatientID != p.ID || one.CreatedAt.IsZero() {
			t.Errorf("added %+v", one)
		}
		// The browser renews its keys: same endpoint, same channel, new keys.
		renewed, err := s.AddPushSubscription(ctx, p.ID, pushSub("https://push.example/1", "k2"))
		if err != nil {
			t.Fatal(err)
		}
		if renewed.ID != one.ID || !renewed.CreatedAt.Equal(one.CreatedAt) || !strings.Contains(string(renewed.Config), `"k2"`) {
			t.Errorf("renewed %+v, was %+v", renewed, one)
		}
		two, err := s.AddPushSubscription(ctx, p.ID, pushSub("https://push.example/2", "k1"))
		if err != nil || two.ID == one.ID {
			t.Fatalf("a second browser: %+v, %v", two, err)
		}
		other, err := s.AddPushSubscription(ctx, q.ID, pushSub("https://push.example/1", "k1"))
		if err != nil || other.ID == one.ID || other.PatientID != q.ID {
			t.Fatalf("another patient's subscription on the endpoint: %+v, %v", other, err)
		}
		chs, err := s.Channels(ctx, p.ID)
		if err != nil || len(chs) != 3 || !sameChannel(chs[1], renewed) || !sameChannel(chs[2], two) {
			t.Fatalf("Channels = %v, %v", chs, err)
		}
		for name, config := range map[string]string{"no endpoint": `{"keys":{}}`, "not JSON": `{`, "empty endpoint": `{"endpoint":""}`} {
			if _, err := s.AddPushSubscription(ctx, p.ID, json.RawMessage(config)); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		_, err = s.AddPushSubscription(ctx, q.ID+100, pushSub("https://push.example/3", "k"))
		wantNotFound(t, "AddPushSubscription for a missing patient", err)

		// SetChannels passing them back keeps them; two with one endpoint
		// are refused.
		if got := mkChannels(t, s, p.ID, chs...); !slices.EqualFunc(got, chs, sameChannel) {
			t.Errorf("SetChannels(Channels()) = %v, want %v", got, chs)
		}
		dup := []Channel{mail, {Type: ChannelWebPush, Config: pushSub("https://push.example/1", "k3")},
			{Type: ChannelWebPush, Config: pushSub("https://push.example/1", "k4")}}
		if _, err := s.SetChannels(ctx, p.ID, dup); err == nil {
			t.Error("two web push channels with one endpoint were stored")
		}

		// The push service says 410 Gone.
		r := addDue(t, s, p.ID, two.ID, 1, func(int) time.Time { return time.Unix(60, 0) })[0]
		if err := s.DeleteChannel(ctx, two.ID); err != nil {
			t.Fatal(err)
		}
		if got := reminders(t, s, p.ID)[r.DedupeKey]; got.Status != ReminderSkipped || got.SkipReason != SkipChannelRemoved {
			t.Errorf("the deleted channel's reminder %+v", got)
		}
		if chs, _ := s.Channels(ctx, p.ID); len(chs) != 2 {
			t.Errorf("after DeleteChannel: %v", chs)
		}
		wantNotFound(t, "DeleteChannel twice", s.DeleteChannel(ctx, two.ID))
		if chs, _ := s.Channels(ctx, q.ID); len(chs) != 1 {
			t.Errorf("the other patient's channels: %v", chs)
		}
	})
}

func TestNotifySettings(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		got, err := s.NotifySettings(ctx, p.ID)
		if want := DefaultNotifySettings(p.ID); err != nil || got != want {
			t.Errorf("defaults: %+v, %v; want %+v", got, err, want)
		}
		if got.QuietStart != 21*60+30 || got.QuietEnd != 7*60 || got.NudgeHours != 3 || got.QuietDrop {
			t.Errorf("defaults %+v are not reminders.md's", got)
		}
		want := NotifySettings{PatientID: p.ID, QuietStart: 22 * 60, QuietEnd: 6*60 + 30, QuietDrop: true,
			LeadMinutes: 15, NudgeHours: 0, Language: "de", UpdatedAt: time.Unix(1, 0)}
		for range 2 { // insert, then update
			if err := s.SetNotifySettings(ctx, want); err != nil {
				t.Fatal(err)
			}
			c.Add(time.Minute)
		}
		want.UpdatedAt = c.Now().Add(-time.Minute).Truncate(time.Millisecond).UTC()
		if got, err := s.NotifySettings(ctx, p.ID); err != nil || got != want {
			t.Errorf("round trip: %+v, %v; want %+v", got, err, want)
		}
		for _, bad := range []func(*NotifySettings){
			func(n *NotifySettings) { n.QuietStart = -1 },
			func(n *NotifySettings) { n.QuietEnd = 24 * 60 },
			func(n *NotifySettings) { n.LeadMinutes = -5 },
			func(n *NotifySettings) { n.LeadMinutes = MaxLeadMinutes + 1 },
			func(n *NotifySettings) { n.NudgeHours = MaxNudgeHours + 1 },
			func(n *NotifySettings) { n.Language = "" },
		} {
			n := DefaultNotifySettings(p.ID)
			bad(&n)
			if err := s.SetNotifySettings(ctx, n); err == nil {
				t.Errorf("%+v accepted", n)
			}
		}
		if got, _ := s.NotifySettings(ctx, p.ID); got != want {
			t.Errorf("a refused save changed the settings: %+v", got)
		}
		_, err = s.NotifySettings(ctx, p.ID+100)
		wantNotFound(t, "NotifySettings of a missing patient", err)
		wantNotFound(t, "SetNotifySettings of a missing patient", s.SetNotifySettings(ctx, DefaultNotifySettings(p.ID+100)))
	})
}

// Two replicas starting together on a fresh database end with one key pair.
func TestVAPIDKeys(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		s1, s2 := openStore(t, dsn), openStore(t, dsn)
		if err := s1.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s1.VAPIDKeys(ctx, func() (string, string, error) { return "", "", errors.New("no entropy") }); err == nil ||
			!strings.Contains(err.Error(), "no entropy") {
			t.Errorf("a failing generator: %v", err)
		}
		// The first to generate waits a little for the other, so that both
		// insert when both generate.
		var calls atomic.Int32
		second := make(chan struct{})
		gen := func() (string, string, error) {
			n := calls.Add(1)
			if n == 1 {
				select {
				case <-second:
				case <-time.After(500 * time.Millisecond):
				}
			} else if n == 2 {
				close(second)
			}
			return fmt.Sprintf("pub%d", n), fmt.Sprintf("priv%d", n), nil
		}
		type pair struct{ pub, priv string }
		got := make([]pair, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, s := range []*Store{s1, s2} {
			wg.Go(func() {
				var p pair
				p.pub, p.priv, errs[i] = s.VAPIDKeys(ctx, gen)
				got[i] = p
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		if got[0] != got[1] || got[0].pub == "" || strings.TrimPrefix(got[0].pub, "pub") != strings.TrimPrefix(got[0].priv, "priv") {
			t.Errorf("replicas got %v and %v", got[0], got[1])
		}
		t.Logf("generate called %d times", calls.Load())
		never := func() (string, string, error) { t.Error("generate called with keys stored"); return "", "", nil }
		for _, s := range []*Store{s1, s2} {
			if pub, priv, err := s.VAPIDKeys(ctx, never); err != nil || (pair{pub, priv}) != got[0] {
				t.Errorf("later: %s, %s, %v; want %v", pub, priv, err, got[0])
			}
		}
	})
}

func TestSavePlanReminders(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		q := mkPatient(t, s, th.ID, "Q")
		a := mkAssignment(t, s, p.ID)
		chs := mkChannels(t, s, p.ID, email("p@example.org"), ntfy("p"))
		t0 := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC) // before every session
		r := &remindAll{channels: chs}
		want := plan(a.Start)

		n, err := s.SavePlan(ctx, a.ID, p.ID, want, nil, r.fn, t0)
		if err != nil || n != len(want) {
			t.Fatalf("SavePlan = %d, %v", n, err)
		}
		stored, err := s.Sessions(ctx, p.ID, a.Start, a.Start.AddDays(30))
		if err != nil {
			t.Fatal(err)
		}
		// The callback saw the sessions as stored, IDs known, in date and
		// time order.
		if len(r.got) != len(want) || !slices.IsSortedFunc(r.got, func(a, b Session) int {
			return int(a.Date-b.Date)*10000 + int(a.Time-b.Time)
		}) {
			t.Errorf("the callback got %d sessions, out of order: %v", len(r.got), r.got)
		}
		byID := map[int64]Session{}
		for _, x := range stored {
			byID[x.ID] = x
		}
		for _, x := range r.got {
			if x.ID == 0 || byID[x.ID] != x {
				t.Errorf("the callback got %+v, stored is %+v", x, byID[x.ID])
			}
		}
		rs := reminders(t, s, p.ID)
		if len(rs) != 2*len(want) {
			t.Fatalf("%d reminders, want %d", len(rs), 2*len(want))
		}
		for _, x := range rs {
			ses := byID[x.SessionID]
			if x.Status != ReminderPending || x.Attempts != 0 || x.NextAttemptAt != x.DueAt ||
				x.DueAt != ses.Date.In(time.UTC, int(ses.Time)) || x.PatientID != p.ID || x.TherapistID != 0 ||
				string(x.Payload) != fmt.Sprintf(`{"dose":%d}`, ses.Dose) {
				t.Errorf("reminder %+v of session %+v", x, ses)
			}
		}

		// Saving the same plan changes no reminder.
		if _, err := s.SavePlan(ctx, a.ID, p.ID, want, nil, r.fn, t0); err != nil {
			t.Fatal(err)
		}
		if again := reminders(t, s, p.ID); !maps.EqualFunc(again, rs, sameReminder) {
			t.Error("an unchanged plan changed reminders")
		}

		// The first session's reminder on email is sent; then the first two
		// sessions move by an hour and the third's dose changes.
		key := func(x Session, ch Channel) string { return fmt.Sprintf("session:%d:%d", x.ID, ch.ID) }
		first, second, third := r.got[0], r.got[1], r.got[2]
		sent := rs[key(first, chs[0])]
		claimed, err := s.ClaimDue(ctx, sent.DueAt, time.Minute, 1)
		if err != nil || len(claimed) != 1 || claimed[0].ID != sent.ID {
			t.Fatalf("claimed %v, %v; want %d", claimed, err, sent.ID)
		}
		if err := s.MarkSent(ctx, sent.ID, sent.DueAt); err != nil {
			t.Fatal(err)
		}
		moved := slices.Clone(want)
		for i := range moved {
			switch keyOf(&moved[i]) {
			case keyOf(&first), keyOf(&second):
				moved[i].Time += 60
			case keyOf(&third):
				moved[i].Dose = 15
			}
		}
		if _, err := s.SavePlan(ctx, a.ID, p.ID, moved, nil, r.fn, t0); err != nil {
			t.Fatal(err)
		}
		after := reminders(t, s, p.ID)
		hour := time.Hour
		for _, c := range []struct {
			key     string
			status  string
			shift   time.Duration
			payload string
		}{
			{key(first, chs[0]), ReminderSent, 0, `{"dose":10}`}, // left alone
			{key(first, chs[1]), ReminderPending, hour, `{"dose":10}`},
			{key(second, chs[0]), ReminderPending, hour, `{"dose":10}`},
			{key(second, chs[1]), ReminderPending, hour, `{"dose":10}`},
			{key(third, chs[0]), ReminderPending, 0, `{"dose":15}`},
			{key(third, chs[1]), ReminderPending, 0, `{"dose":15}`},
		} {
			got, was := after[c.key], rs[c.key]
			if got.ID != was.ID || got.Status != c.status || got.DueAt != was.DueAt.Add(c.shift) ||
				string(got.Payload) != c.payload || (got.Status == ReminderPending && got.NextAttemptAt != got.DueAt) {
				t.Errorf("%s after the move: %s due %v next %v %s; want %s due %v %s", c.key, got.Status, got.DueAt,
					got.NextAttemptAt, got.Payload, c.status, was.DueAt.Add(c.shift), c.payload)
			}
		}
		if n := countChanged(rs, after); n != 6 { // the five, and the one sent
			t.Errorf("%d reminders changed, want 6", n)
		}

		// The third session is dropped from the plan: cancelled, its
		// reminders skipped. A reminder already due is left to the
		// dispatcher, and one claimed is left alone.
		dropped := slices.DeleteFunc(slices.Clone(moved), func(x Session) bool { return keyOf(&x) == keyOf(&third) })
		thirdMail, thirdNtfy := after[key(third, chs[0])], after[key(third, chs[1])]
		if _, err := s.SavePlan(ctx, a.ID, p.ID, dropped, nil, r.fn, thirdMail.DueAt); err != nil {
			t.Fatal(err)
		}
		// Both were due at the save's now: neither skipped.
		if got := reminders(t, s, p.ID); got[key(third, chs[0])].Status != ReminderPending {
			t.Errorf("a due reminder of a cancelled session: %+v, want left pending", got[key(third, chs[0])])
		}
		// Saved again before they are due: both skipped.
		if _, err := s.SavePlan(ctx, a.ID, p.ID, dropped, nil, r.fn, t0); err != nil {
			t.Fatal(err)
		}
		after2 := reminders(t, s, p.ID)
		for _, k := range []string{thirdMail.DedupeKey, thirdNtfy.DedupeKey} {
			if got := after2[k]; got.Status != ReminderSkipped || got.SkipReason != SkipCancelled {
				t.Errorf("%s of the cancelled session: %s/%q, want skipped/cancelled", k, got.Status, got.SkipReason)
			}
		}
		if n := countChanged(after, after2); n != 2 {
			t.Errorf("%d reminders changed by the cancellation, want 2", n)
		}

		// Wanted again: its reminders are pending again (same rows).
		if _, err := s.SavePlan(ctx, a.ID, p.ID, moved, nil, r.fn, t0); err != nil {
			t.Fatal(err)
		}
		after3 := reminders(t, s, p.ID)
		for _, was := range []Reminder{thirdMail, thirdNtfy} {
			if got := after3[was.DedupeKey]; got.Status != ReminderPending || got.SkipReason != "" || got.ID != was.ID ||
				got.DueAt != was.DueAt {
				t.Errorf("%s restored: %+v", was.DedupeKey, got)
			}
		}

		// SaveSessions (no reminders callback) leaves the outbox alone.
		if _, err := s.SaveSessions(ctx, a.ID, p.ID, dropped, nil, t0); err != nil {
			t.Fatal(err)
		}
		if got := reminders(t, s, p.ID); !maps.EqualFunc(got, after3, sameReminder) {
			t.Error("SaveSessions changed reminders")
		}

		// A row for a channel that is not the patient's (removed since the
		// caller read them, or another's) is dropped.
		qch := mkChannels(t, s, q.ID, email("q@example.org"))[0]
		stray := &remindAll{channels: []Channel{chs[0], qch}}
		if _, err := s.SavePlan(ctx, a.ID, p.ID, moved, nil, stray.fn, t0); err != nil {
			t.Fatal(err)
		}
		got := reminders(t, s, p.ID)
		for k := range got {
			if strings.HasSuffix(k, fmt.Sprintf(":%d", qch.ID)) {
				t.Errorf("a reminder to another patient's channel: %s", k)
			}
		}
		// The ntfy rows were not returned: those ahead are skipped.
		if n := countStatus(got, ReminderPending); n != len(moved)-1 {
			t.Errorf("%d pending, want %d (the email channel's, but the sent one)", n, len(moved)-1)
		}
		if rs, _ := s.Reminders(ctx, q.ID, time.Time{}); len(rs) != 0 {
			t.Errorf("the other patient has reminders: %v", rs)
		}

		// An empty result skips every pending row ahead.
		none := func([]Session) []Reminder { return nil }
		if _, err := s.SavePlan(ctx, a.ID, p.ID, moved, nil, none, t0); err != nil {
			t.Fatal(err)
		}
		if n := countStatus(reminders(t, s, p.ID), ReminderPending); n != 0 {
			t.Errorf("%d pending after a plan with no reminders", n)
		}
	})
}

func sameReminder(a, b Reminder) bool {
	return a.ID == b.ID && a.Status == b.Status && a.DueAt.Equal(b.DueAt) && a.NextAttemptAt.Equal(b.NextAttemptAt) &&
		string(a.Payload) == string(b.Payload) && a.SkipReason == b.SkipReason && a.Attempts == b.Attempts &&
		a.ChannelID == b.ChannelID && a.LeaseUntil.Equal(b.LeaseUntil)
}

func countChanged(before, after map[string]Reminder) int {
	n := 0
	for k, a := range after {
		if b, ok := before[k]; !ok || !sameReminder(a, b) {
			n++
		}
	}
	return n
}

func countStatus(rs map[string]Reminder, status string) int {
	n := 0
	for _, r := range rs {
		if r.Status == status {
			n++
		}
	}
	return n
}

// A reminders callback whose rows are refused rolls the sessions back too.
func TestSavePlanRollsBack(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		other := mkAssignment(t, s, p.ID)
		chs := mkChannels(t, s, p.ID, email("p@example.org"))
		t0 := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
		r := &remindAll{channels: chs}
		if _, err := s.SavePlan(ctx, a.ID, p.ID, plan(a.Start), nil, r.fn, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SaveSessions(ctx, other.ID, p.ID, plan(a.Start)[:1], nil, t0); err != nil {
			t.Fatal(err)
		}
		otherSessions, _ := s.Sessions(ctx, p.ID, a.Start, a.Start)
		var foreign int64
		for _, x := range otherSessions {
			if x.AssignmentID == other.ID {
				foreign = x.ID
			}
		}
		snapshot := func() string {
			t.Helper()
			xs, err := s.Sessions(ctx, p.ID, a.Start, a.Start.AddDays(40))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := s.Reminders(ctx, p.ID, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			return fmt.Sprint(xs, rs, feedVersion(t, s, th.ID, p.ID))
		}
		before := snapshot()

		// Every session changes and one is added; the callback sees them
		// written, and then returns something wrong.
		want := plan(a.Start)
		for i := range want {
			want[i].Time += 30
		}
		want = append(want, Session{Activity: "walk", Date: a.Start.AddDays(20), Time: 600, Dose: 1, Sets: 1,
			Unit: programs.Minutes, Week: 3, Status: programs.Planned})
		for name, mangle := range map[string]func([]Reminder) []Reminder{
			"a key twice":        func(rs []Reminder) []Reminder { return append(rs, rs[0]) },
			"an empty key":       func(rs []Reminder) []Reminder { rs[3].DedupeKey = ""; return rs },
			"no due time":        func(rs []Reminder) []Reminder { rs[3].DueAt = time.Time{}; return rs },
			"no channel":         func(rs []Reminder) []Reminder { rs[3].ChannelID = 0; return rs },
			"a bad payload":      func(rs []Reminder) []Reminder { rs[3].Payload = json.RawMessage(`{`); return rs },
			"a therapist's":      func(rs []Reminder) []Reminder { rs[3].TherapistID = th.ID; return rs },
			"another's session":  func(rs []Reminder) []Reminder { rs[3].SessionID = foreign; return rs },
			"an unknown session": func(rs []Reminder) []Reminder { rs[3].SessionID = foreign + 1000; return rs },
		} {
			var sawNew bool
			fn := func(saved []Session) []Reminder {
				for _, x := range saved {
					sawNew = sawNew || x.Date == a.Start.AddDays(20)
				}
				return mangle(r.fn(saved))
			}
			if _, err := s.SavePlan(ctx, a.ID, p.ID, want, nil, fn, t0); err == nil {
				t.Errorf("%s: accepted", name)
			}
			if !sawNew {
				t.Errorf("%s: the callback did not see the new session", name)
			}
			if after := snapshot(); after != before {
				t.Errorf("%s: the failed save left changes", name)
			}
		}
	})
}

func TestAddReminders(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		c := setClock(s)
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		q := mkPatient(t, s, th.ID, "Q")
		pch := mkChannels(t, s, p.ID, email("p@example.org"))[0]
		qch := mkChannels(t, s, q.ID, email("q@example.org"))[0]
		tchs, err := s.SetTherapistChannels(ctx, th.ID, []Channel{email("t@example.org")})
		if err != nil {
			t.Fatal(err)
		}
		tch := tchs[0]
		due := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		flare := Reminder{Kind: "flare", PatientID: p.ID, ChannelID: pch.ID, DedupeKey: "flare:2026-03-02:1", DueAt: due,
			Payload: json.RawMessage(`{"title": "Flare plan", "body": "<rest>"}`),
			Status:  ReminderSent, Attempts: 4, ID: 99} // ignored
		alert := Reminder{Kind: "alert_red_flag", PatientID: p.ID, TherapistID: th.ID, ChannelID: tch.ID,
			DedupeKey: "alert_red_flag:1", DueAt: due}
		n, err := s.AddReminders(ctx, []Reminder{flare, alert, flare})
		if err != nil || n != 2 {
			t.Fatalf("AddReminders = %d, %v; want 2 (the repeat ignored)", n, err)
		}
		got := reminders(t, s, p.ID)
		f := got[flare.DedupeKey]
		if len(got) != 1 || f.ID == 0 || f.ID == 99 || f.Status != ReminderPending || f.Attempts != 0 ||
			f.NextAttemptAt != due || f.ChannelID != pch.ID || f.CreatedAt != c.Now().Truncate(time.Millisecond).UTC() ||
			string(f.Payload) != `{"body":"<rest>","title":"Flare plan"}` {
			t.Errorf("Reminders = %+v (the alert is the therapist's, not listed)", got)
		}
		// Again: nothing new. A reminder to a channel not its recipient's
		// is dropped.
		wrong := []Reminder{
			{Kind: "flare", PatientID: p.ID, ChannelID: qch.ID, DedupeKey: "x1", DueAt: due},
			{Kind: "alert_flare", PatientID: p.ID, TherapistID: th.ID, ChannelID: pch.ID, DedupeKey: "x2", DueAt: due},
			{Kind: "flare", PatientID: p.ID, ChannelID: qch.ID + 1000, DedupeKey: "x3", DueAt: due},
		}
		if n, err := s.AddReminders(ctx, append([]Reminder{flare, alert}, wrong...)); err != nil || n != 0 {
			t.Errorf("AddReminders again = %d, %v; want 0", n, err)
		}
		if counts, err := s.ReminderCounts(ctx); err != nil || counts[ReminderPending] != 2 {
			t.Errorf("ReminderCounts = %v, %v; want 2 pending", counts, err)
		}
		for name, r := range map[string]Reminder{
			"no kind":      {PatientID: p.ID, ChannelID: pch.ID, DedupeKey: "k", DueAt: due},
			"no key":       {Kind: "flare", PatientID: p.ID, ChannelID: pch.ID, DueAt: due},
			"no due time":  {Kind: "flare", PatientID: p.ID, ChannelID: pch.ID, DedupeKey: "k"},
			"no channel":   {Kind: "flare", PatientID: p.ID, DedupeKey: "k", DueAt: due},
			"no recipient": {Kind: "flare", ChannelID: pch.ID, DedupeKey: "k", DueAt: due},
			"bad payload":  {Kind: "flare", PatientID: p.ID, ChannelID: pch.ID, DedupeKey: "k", DueAt: due, Payload: json.RawMessage(`[`)},
		} {
			if _, err := s.AddReminders(ctx, []Reminder{r}); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
	})
}

func TestClaimDue(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		ch := mkChannels(t, s, p.ID, email("p@example.org"))[0]
		t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		if _, ok, err := s.NextDue(ctx); err != nil || ok {
			t.Errorf("NextDue of an empty outbox: %v, %v", ok, err)
		}
		// Due at t0+4m, t0+3m, … t0: added out of order.
		rs := addDue(t, s, p.ID, ch.ID, 5, func(i int) time.Time { return t0.Add(time.Duration(4-i) * time.Minute) })
		slices.Reverse(rs) // by due time
		if next, ok, err := s.NextDue(ctx); err != nil || !ok || next != t0 {
			t.Errorf("NextDue = %v, %v, %v; want %v", next, ok, err, t0)
		}

		// Before anything is due: nothing.
		if got, err := s.ClaimDue(ctx, t0.Add(-time.Millisecond), time.Minute, 10); err != nil || len(got) != 0 {
			t.Errorf("claimed %v, %v before t0", got, err)
		}
		// At t0+2m three are due; the limit takes the earliest two.
		now := t0.Add(2 * time.Minute)
		lease := 30 * time.Second
		got, err := s.ClaimDue(ctx, now, lease, 2)
		if err != nil || !slices.Equal(ids(got), ids(rs[:2])) {
			t.Fatalf("claimed %v, %v; want %v", ids(got), err, ids(rs[:2]))
		}
		for i, r := range got {
			if r.Status != ReminderSending || r.Attempts != 1 || r.LeaseUntil != now.Add(lease) || r.DueAt != rs[i].DueAt ||
				r.NextAttemptAt != rs[i].DueAt {
				t.Errorf("claimed %+v", r)
			}
		}
		// Claimed rows are not claimed again while leased; the third is.
		got, err = s.ClaimDue(ctx, now, lease, 10)
		if err != nil || !slices.Equal(ids(got), ids(rs[2:3])) {
			t.Fatalf("second claim %v, %v; want %v", ids(got), err, ids(rs[2:3]))
		}
		if got, _ := s.ClaimDue(ctx, now.Add(lease-time.Millisecond), lease, 10); len(got) != 0 {
			t.Errorf("claimed %v while every due row is leased", ids(got))
		}
		// The earliest is now the end of the first two leases.
		if next, ok, err := s.NextDue(ctx); err != nil || !ok || next != now.Add(lease) {
			t.Errorf("NextDue = %v, %v, %v; want the lease's end %v", next, ok, err, now.Add(lease))
		}

		// The first dispatcher crashed: once its leases expire, they are
		// claimed again (attempt 2), earliest first, before the rows that
		// came due meanwhile.
		if err := s.MarkSent(ctx, rs[2].ID, now); err != nil {
			t.Fatal(err)
		}
		later := now.Add(lease) // t0+2m30s: rs[3] (t0+3m) not yet due
		got, err = s.ClaimDue(ctx, later, lease, 10)
		if err != nil || !slices.Equal(ids(got), ids(rs[:2])) {
			t.Fatalf("reclaimed %v, %v; want %v", ids(got), err, ids(rs[:2]))
		}
		for _, r := range got {
			if r.Attempts != 2 || r.LeaseUntil != later.Add(lease) {
				t.Errorf("reclaimed %+v", r)
			}
		}
		got, err = s.ClaimDue(ctx, t0.Add(time.Hour), lease, 10)
		if err != nil || !slices.Equal(ids(got), []int64{rs[0].ID, rs[1].ID, rs[3].ID, rs[4].ID}) {
			t.Errorf("an hour later claimed %v, %v", ids(got), err)
		}
		if _, err := s.ClaimDue(ctx, now, 0, 10); err == nil {
			t.Error("a zero lease was accepted")
		}
		if _, err := s.ClaimDue(ctx, now, lease, 0); err == nil {
			t.Error("a zero limit was accepted")
		}
	})
}

// The outcome of a claim is recorded only while the row is claimed.
func TestMarkOnlySending(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		ch := mkChannels(t, s, p.ID, email("p@example.org"))[0]
		t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		rs := addDue(t, s, p.ID, ch.ID, 5, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) })
		state := func(id int64) Reminder {
			t.Helper()
			for _, r := range reminders(t, s, p.ID) {
				if r.ID == id {
					return r
				}
			}
			t.Fatalf("no reminder %d", id)
			return Reminder{}
		}
		marks := map[string]func(id int64) error{
			"MarkSent":    func(id int64) error { return s.MarkSent(ctx, id, t0) },
			"MarkRetry":   func(id int64) error { return s.MarkRetry(ctx, id, t0.Add(time.Hour), "503") },
			"MarkFailed":  func(id int64) error { return s.MarkFailed(ctx, id, "401") },
			"MarkSkipped": func(id int64) error { return s.MarkSkipped(ctx, id, "stale") },
		}
		// Pending: refused, unchanged.
		for name, mark := range marks {
			wantNotFound(t, name+" of a pending row", mark(rs[0].ID))
			wantNotFound(t, name+" of a missing row", mark(rs[4].ID+1000))
		}
		if r := state(rs[0].ID); !sameReminder(r, rs[0]) {
			t.Errorf("refused marks changed %+v", r)
		}

		claimed, err := s.ClaimDue(ctx, t0.Add(time.Minute), time.Minute, 10)
		if err != nil || len(claimed) != 5 {
			t.Fatalf("claimed %v, %v", claimed, err)
		}
		long := strings.Repeat("é", maxErrorLen) // 2 bytes each
		if err := s.MarkSent(ctx, rs[0].ID, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkRetry(ctx, rs[1].ID, t0.Add(time.Hour), long); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkFailed(ctx, rs[2].ID, "401 Unauthorized"); err != nil {
			t.Fatal(err)
		}
		if err := s.MarkSkipped(ctx, rs[3].ID, "checked_in"); err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseLeases(ctx, []int64{rs[4].ID, rs[0].ID}); err != nil { // rs[0] is sent: left alone
			t.Fatal(err)
		}
		for _, c := range []struct {
			r        Reminder
			status   string
			attempts int
			check    func(Reminder) bool
		}{
			{rs[0], ReminderSent, 1, func(r Reminder) bool { return r.SentAt == t0.Add(time.Minute) }},
			{rs[1], ReminderPending, 1, func(r Reminder) bool {
				return r.NextAttemptAt == t0.Add(time.Hour) && len(r.LastError) <= maxErrorLen && strings.HasPrefix(long, r.LastError) &&
					len(r.LastError) > maxErrorLen-2
			}},
			{rs[2], ReminderFailed, 1, func(r Reminder) bool { return r.LastError == "401 Unauthorized" }},
			{rs[3], ReminderSkipped, 1, func(r Reminder) bool { return r.SkipReason == "checked_in" }},
			{rs[4], ReminderPending, 0, func(r Reminder) bool { return r.NextAttemptAt == rs[4].NextAttemptAt }},
		} {
			got := state(c.r.ID)
			if got.Status != c.status || got.Attempts != c.attempts || !got.LeaseUntil.IsZero() || !c.check(got) {
				t.Errorf("reminder %d: %+v; want %s after %d attempts", c.r.ID, got, c.status, c.attempts)
			}
		}
		// Recorded outcomes are final: a second mark of any kind is refused.
		for name, mark := range marks {
			for _, r := range rs[:4] {
				wantNotFound(t, fmt.Sprintf("%s of reminder %d, no longer sending", name, r.ID), mark(r.ID))
			}
		}
		// The retried row comes back at its time.
		if got, _ := s.ClaimDue(ctx, t0.Add(time.Hour-time.Millisecond), time.Minute, 10); !slices.Equal(ids(got), ids(rs[4:5])) {
			t.Errorf("before the retry time claimed %v, want only the released %d", ids(got), rs[4].ID)
		}
		if got, _ := s.ClaimDue(ctx, t0.Add(time.Hour), time.Minute, 10); len(got) != 1 || got[0].ID != rs[1].ID || got[0].Attempts != 2 {
			t.Errorf("at the retry time claimed %+v", got)
		}
		counts, err := s.ReminderCounts(ctx)
		want := map[string]int{ReminderPending: 0, ReminderSending: 2, ReminderSent: 1, ReminderSkipped: 1, ReminderFailed: 1}
		if err != nil || !maps.Equal(counts, want) {
			t.Errorf("ReminderCounts = %v, %v; want %v", counts, err, want)
		}
		// The metrics' count: the rows still to send and those given up on.
		counts, err = s.OutboxCounts(ctx)
		want = map[string]int{ReminderPending: 0, ReminderSending: 2, ReminderFailed: 1}
		if err != nil || !maps.Equal(counts, want) {
			t.Errorf("OutboxCounts = %v, %v; want %v", counts, err, want)
		}
		if err := s.ReleaseLeases(ctx, nil); err != nil {
			t.Error(err)
		}
	})
}

// Replicas claiming together never get one row twice, and get them all.
func TestClaimConcurrently(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		const replicas, rows, batch = 4, 200, 10
		stores := make([]*Store, replicas)
		for i := range stores {
			// Each its own *Store: on PostgreSQL its own pool, like a
			// replica; on SQLite its own write connection to the file.
			stores[i] = openStore(t, dsn)
		}
		s := stores[0]
		if err := s.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		ch := mkChannels(t, s, p.ID, email("p@example.org"))[0]
		t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		all := addDue(t, s, p.ID, ch.ID, rows, func(i int) time.Time { return t0.Add(time.Duration(i%17) * time.Second) })

		var (
			mu     sync.Mutex
			got    = map[int64]int{}
			per    = make([]int, replicas)
			errs   = make([]error, replicas)
			start  = make(chan struct{})
			wg     sync.WaitGroup
			began  = time.Now()
			claims atomic.Int32
		)
		for i, st := range stores {
			wg.Go(func() {
				<-start
				for {
					rs, err := st.ClaimDue(ctx, t0.Add(time.Minute), time.Hour, batch)
					if err != nil {
						errs[i] = err
						return
					}
					if len(rs) == 0 {
						return
					}
					claims.Add(1)
					if len(rs) > batch {
						errs[i] = fmt.Errorf("claimed %d, more than %d", len(rs), batch)
						return
					}
					mu.Lock()
					for _, r := range rs {
						got[r.ID]++
					}
					per[i] += len(rs)
					mu.Unlock()
					for _, r := range rs {
						if err := st.MarkSent(ctx, r.ID, t0); err != nil {
							errs[i] = err
							return
						}
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for id, n := range got {
			if n != 1 {
				t.Errorf("reminder %d claimed %d times", id, n)
			}
		}
		for _, r := range all {
			if got[r.ID] == 0 {
				t.Errorf("reminder %d never claimed", r.ID)
			}
		}
		if counts, err := s.ReminderCounts(ctx); err != nil || counts[ReminderSent] != rows {
			t.Errorf("ReminderCounts = %v, %v; want %d sent", counts, err, rows)
		}
		t.Logf("%d rows in %d claims in %v, per replica %v", len(got), claims.Load(), time.Since(began), per)
	})
}

func TestTryLeader(t *testing.T) {
	forEachDSN(t, func(t *testing.T, dsn string) {
		ctx := t.Context()
		s1, s2 := openStore(t, dsn), openStore(t, dsn)
		name := "jobs-" + t.Name() + fmt.Sprint(time.Now().UnixNano()) // the lock is database-wide
		l1, ok, err := s1.TryLeader(ctx, name)
		if err != nil || !ok || !l1.Check(ctx) {
			t.Fatalf("first TryLeader: %v, %v", ok, err)
		}
		defer l1.Release()
		if _, _, err := s1.TryLeader(ctx, ""); err == nil {
			t.Error("an empty name was accepted")
		}
		if s1.Dialect() == SQLite {
			// One daemon per file: always the leader.
			l2, ok, err := s2.TryLeader(ctx, name)
			if err != nil || !ok || !l2.Check(ctx) {
				t.Errorf("SQLite: TryLeader = %v, %v", ok, err)
			}
			l2.Release()
			if l2.Check(ctx) {
				t.Error("SQLite: Check true after Release")
			}
			return
		}
		// Another replica, and another Leader of the same store, cannot.
		for _, s := range []*Store{s2, s1} {
			if l, ok, err := s.TryLeader(ctx, name); err != nil || ok || l != nil {
				t.Errorf("a second TryLeader while held: %v, %v, %v", l, ok, err)
			}
		}
		// Another name is another role.
		other, ok, err := s2.TryLeader(ctx, name+"-other")
		if err != nil || !ok {
			t.Fatalf("another role: %v, %v", ok, err)
		}
		other.Release()

		l1.Release()
		l1.Release() // idempotent
		if l1.Check(ctx) {
			t.Error("Check true after Release")
		}
		l2, ok, err := s2.TryLeader(ctx, name)
		if err != nil || !ok || !l2.Check(ctx) {
			t.Fatalf("TryLeader after the release: %v, %v", ok, err)
		}
		defer l2.Release()

		// The leader's session is killed: Check says so, and the first
		// store can take over.
		var killed bool
		if err := s1.w.QueryRowContext(ctx, `SELECT pg_terminate_backend($1)`, l2.pid).Scan(&killed); err != nil || !killed {
			t.Fatalf("terminate the leader's session: %v, %v", killed, err)
		}
		if l2.Check(ctx) {
			t.Error("Check true after the session died")
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			l3, ok, err := s1.TryLeader(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				l3.Release()
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the lock of a dead session was not freed")
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The dead leader's pool recovers.
		if err := s2.Ping(ctx); err != nil {
			t.Error(err)
		}
	})
}

func TestJobRuns(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		_, err := s.JobLastRun(ctx, "weekly-review")
		wantNotFound(t, "a job never run", err)
		t1 := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
		if err := s.SetJobLastRun(ctx, "weekly-review", t1); err != nil {
			t.Fatal(err)
		}
		if got, err := s.JobLastRun(ctx, "weekly-review"); err != nil || got != t1.Truncate(time.Millisecond).UTC() {
			t.Errorf("JobLastRun = %v, %v; want %v", got, err, t1)
		}
		// Never backwards.
		if err := s.SetJobLastRun(ctx, "weekly-review", t1.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.JobLastRun(ctx, "weekly-review"); !got.Equal(t1.Truncate(time.Millisecond)) {
			t.Errorf("moved back to %v", got)
		}
		if err := s.SetJobLastRun(ctx, "weekly-review", t1.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.JobLastRun(ctx, "weekly-review"); !got.Equal(t1.Add(time.Hour).Truncate(time.Millisecond)) {
			t.Errorf("not moved forward: %v", got)
		}
		if _, err := s.JobLastRun(ctx, "digest"); !errors.Is(err, ErrNotFound) {
			t.Errorf("another job: %v", err)
		}
		if err := s.SetJobLastRun(ctx, "", t1); err == nil {
			t.Error("an empty name was accepted")
		}
	})
}

func TestUnscopedLookups(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		a := mkAssignment(t, s, p.ID)
		if _, err := s.SaveSessions(ctx, a.ID, p.ID, plan(a.Start), nil, time.Now()); err != nil {
			t.Fatal(err)
		}
		if got, err := s.PatientByID(ctx, p.ID); err != nil || got.ID != p.ID || got.TherapistID != th.ID || got.Name != "P" {
			t.Errorf("PatientByID = %+v, %v", got, err)
		}
		_, err := s.PatientByID(ctx, p.ID+100)
		wantNotFound(t, "PatientByID of a missing patient", err)
		xs, err := s.Sessions(ctx, p.ID, a.Start, a.Start.AddDays(30))
		if err != nil || len(xs) == 0 {
			t.Fatal(xs, err)
		}
		for _, x := range xs {
			if got, err := s.Session(ctx, x.ID); err != nil || got != x {
				t.Errorf("Session(%d) = %+v, %v; want %+v", x.ID, got, err, x)
			}
		}
		_, err = s.Session(ctx, xs[len(xs)-1].ID+100)
		wantNotFound(t, "Session of a missing session", err)
	})
}

// NextDue and ClaimDue agree: a lease that ends at an instant is claimable
// at it, so a dispatcher woken then finds work rather than spinning.
func TestNextDueIsClaimable(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		ch := mkChannels(t, s, p.ID, email("p@example.org"))[0]
		t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		addDue(t, s, p.ID, ch.ID, 1, func(int) time.Time { return t0 })
		now := t0
		for i := range 3 {
			next, ok, err := s.NextDue(ctx)
			if err != nil || !ok || next.Before(now) {
				t.Fatalf("step %d: NextDue = %v, %v, %v", i, next, ok, err)
			}
			now = next
			got, err := s.ClaimDue(ctx, now, time.Second, 10)
			if err != nil || len(got) != 1 || got[0].Attempts != i+1 {
				t.Fatalf("step %d: claim at NextDue %v: %v, %v", i, now, got, err)
			}
		}
	})
}

func TestDeleteOldReminders(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		ch := mkChannels(t, s, p.ID, email("p@example.org"))[0]
		t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		rs := addDue(t, s, p.ID, ch.ID, 3, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Hour) })
		// The first is sent, the second still pending (old but undone), the third sent but recent.
		if got, err := s.ClaimDue(ctx, t0.Add(2*time.Hour), time.Minute, 3); err != nil || len(got) != 3 {
			t.Fatalf("claimed %d, %v", len(got), err)
		}
		for _, r := range []Reminder{rs[0], rs[2]} {
			if err := s.MarkSent(ctx, r.ID, r.DueAt); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.ReleaseLeases(ctx, []int64{rs[1].ID}); err != nil {
			t.Fatal(err)
		}
		n, err := s.DeleteOldReminders(ctx, t0.Add(90*time.Minute))
		if err != nil || n != 1 {
			t.Fatalf("deleted %d, %v; want the one old sent row", n, err)
		}
		left, err := s.Reminders(ctx, p.ID, time.Time{})
		if err != nil || len(left) != 2 {
			t.Errorf("left %d rows, %v; want the pending one and the recent one", len(left), err)
		}
	})
}

// RecordOutcomes records a batch of results in one transaction: every kind
// of result at once, across several statements, only for rows still
// sending, and all or nothing.
func TestRecordOutcomes(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		ch := mkChannels(t, s, p.ID, email("p@example.org"))[0]
		t0 := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
		const n = 2*recordChunk + 205 // three statements
		rs := addDue(t, s, p.ID, ch.ID, n, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) })
		claimed, err := s.ClaimDue(ctx, t0.Add(time.Hour), time.Minute, 2*n)
		if err != nil || len(claimed) != n {
			t.Fatalf("claimed %d, %v", len(claimed), err)
		}
		long := strings.Repeat("é", maxErrorLen) // 2 bytes each
		outcome := func(i int) Outcome {
			id := rs[i].ID
			switch i % 4 {
			case 0:
				return Outcome{ID: id, Status: ReminderSent, At: t0.Add(time.Duration(i) * time.Second)}
			case 1:
				return Outcome{ID: id, Status: ReminderPending, At: t0.Add(time.Hour + time.Duration(i)*time.Second), Error: fmt.Sprint("503 #", i)}
			case 2:
				return Outcome{ID: id, Status: ReminderFailed, Error: long}
			}
			return Outcome{ID: id, Status: ReminderSkipped, Reason: "checked_in"}
		}
		var outs []Outcome
		for i := range n {
			outs = append(outs, outcome(i))
		}
		state := func() map[string]Reminder { return reminders(t, s, p.ID) }
		before := state()

		// Refused before anything is written: nothing changes.
		for name, bad := range map[string]Outcome{
			"twice":          outs[7],
			"unknown status": {ID: rs[3].ID, Status: ReminderSending},
			"sent, no time":  {ID: rs[3].ID, Status: ReminderSent},
			"retry, no time": {ID: rs[3].ID, Status: ReminderPending, Error: "503"},
		} {
			if _, err := s.RecordOutcomes(ctx, append(slices.Clone(outs), bad)); err == nil {
				t.Errorf("%s: accepted", name)
			}
		}
		// A statement that fails after others ran (a row of the last chunk
		// refuses the update): the whole batch is rolled back.
		refuse := rs[n-1].ID
		trigger := map[string][]string{
			SQLite: {fmt.Sprintf(`CREATE TRIGGER refuse BEFORE UPDATE ON reminders WHEN OLD.id = %d
				BEGIN SELECT RAISE(ABORT, 'refused'); END`, refuse)},
			Postgres: {`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
				BEGIN RAISE EXCEPTION 'refused'; END $$`,
				fmt.Sprintf(`CREATE TRIGGER refuse BEFORE UPDATE ON reminders FOR EACH ROW WHEN (OLD.id = %d)
				EXECUTE FUNCTION refuse()`, refuse)},
		}
		for _, q := range trigger[s.Dialect()] {
			if _, err := s.w.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.RecordOutcomes(ctx, outs); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("a batch whose last statement failed: %v", err)
		}
		if after := state(); !maps.EqualFunc(after, before, sameReminder) {
			t.Errorf("a failed batch left %d rows changed", countChanged(before, after))
		}
		drop := "DROP TRIGGER refuse"
		if s.Dialect() == Postgres {
			drop += " ON reminders"
		}
		if _, err := s.w.ExecContext(ctx, drop); err != nil {
			t.Fatal(err)
		}

		// Recorded: each row as its outcome says, its lease gone.
		stale, err := s.RecordOutcomes(ctx, outs)
		if err != nil || len(stale) != 0 {
			t.Fatalf("RecordOutcomes = %v, %v", stale, err)
		}
		after := state()
		for i, r := range rs {
			got, o := after[r.DedupeKey], outcome(i)
			ok := got.Status == o.Status && got.LeaseUntil.IsZero() && got.Attempts == 1
			switch o.Status {
			case ReminderSent:
				ok = ok && got.SentAt.Equal(o.At) && got.NextAttemptAt.Equal(r.NextAttemptAt) && got.LastError == ""
			case ReminderPending:
				ok = ok && got.NextAttemptAt.Equal(o.At) && got.LastError == o.Error && got.SentAt.IsZero()
			case ReminderFailed:
				ok = ok && strings.HasPrefix(long, got.LastError) && len(got.LastError) > maxErrorLen-2 &&
					len(got.LastError) <= maxErrorLen && got.SentAt.IsZero()
			case ReminderSkipped:
				ok = ok && got.SkipReason == o.Reason && got.LastError == "" && got.SentAt.IsZero()
			}
			if !ok {
				t.Errorf("reminder %d after %s: %+v", i, o.Status, got)
			}
		}
		// Recorded once: a second record of any of them, and of a row that
		// does not exist, changes nothing and says which.
		retried := rs[1]
		again, err := s.ClaimDue(ctx, t0.Add(2*time.Hour), time.Minute, 1)
		if err != nil || len(again) != 1 || again[0].ID != retried.ID || again[0].Attempts != 2 {
			t.Fatalf("the retry claimed %+v, %v", again, err)
		}
		missing := rs[n-1].ID + 1000
		stale, err = s.RecordOutcomes(ctx, []Outcome{
			{ID: retried.ID, Status: ReminderSent, At: t0.Add(2 * time.Hour)}, // sending again: recorded
			{ID: rs[0].ID, Status: ReminderFailed, Error: "late"},             // sent already
			{ID: rs[2].ID, Status: ReminderSkipped, Reason: "stale"},          // failed already
			{ID: missing, Status: ReminderSent, At: t0},
		})
		if err != nil || !slices.Equal(stale, []int64{rs[0].ID, rs[2].ID, missing}) {
			t.Errorf("stale %v, %v; want %v", stale, err, []int64{rs[0].ID, rs[2].ID, missing})
		}
		final := state()
		if r := final[retried.DedupeKey]; r.Status != ReminderSent || !r.SentAt.Equal(t0.Add(2*time.Hour)) || r.LastError != "503 #1" {
			t.Errorf("the retried reminder, sent on its second attempt: %+v", r)
		}
		if n := countChanged(after, final); n != 1 {
			t.Errorf("%d rows changed, want the retried one", n)
		}
		if stale, err := s.RecordOutcomes(ctx, nil); err != nil || stale != nil {
			t.Errorf("no outcomes: %v, %v", stale, err)
		}
	})
}

// The SQLite writer commits durably: WAL, and the WAL synced at each commit.
func TestSQLiteSyncsEveryCommit(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "pacer.db"))
	var mode string
	var sync int
	if err := s.w.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.w.QueryRowContext(t.Context(), `PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 {
		t.Errorf("journal_mode %s, synchronous %d; want wal and 2 (FULL)", mode, sync)
	}
}

// ReminderSubjects reads a batch's channels, sessions, patients and
// settings as the one-row lookups do, and leaves out what is gone.
func TestReminderSubjects(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store) {
		ctx := t.Context()
		th := mkTherapist(t, s, "t@example.org")
		p := mkPatient(t, s, th.ID, "P")
		q := mkPatient(t, s, th.ID, "Q")
		german := DefaultNotifySettings(q.ID)
		german.Language, german.QuietDrop, german.LeadMinutes = "de", true, 10
		if err := s.SetNotifySettings(ctx, german); err != nil {
			t.Fatal(err)
		}
		pchs := mkChannels(t, s, p.ID, email("p@example.org"), ntfy("p"))
		qch := mkChannels(t, s, q.ID, email("q@example.org"))[0]
		tchs, err := s.SetTherapistChannels(ctx, th.ID, []Channel{email("t@example.org")})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
		for _, x := range []struct {
			patient  Patient
			channels []Channel
		}{{p, pchs}, {q, []Channel{qch}}} {
			a := mkAssignment(t, s, x.patient.ID)
			r := &remindAll{channels: x.channels}
			if _, err := s.SavePlan(ctx, a.ID, x.patient.ID, plan(a.Start), nil, r.fn, t0); err != nil {
				t.Fatal(err)
			}
		}
		alert := Reminder{Kind: "alert_red_flag", PatientID: p.ID, TherapistID: th.ID, ChannelID: tchs[0].ID,
			DedupeKey: "alert", DueAt: t0}
		if _, err := s.AddReminders(ctx, []Reminder{alert}); err != nil {
			t.Fatal(err)
		}
		// p's ntfy channel goes: its pending rows are skipped, but a claimed
		// one is worded without it.
		early, err := s.ClaimDue(ctx, time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC), time.Hour, 1000)
		if err != nil || len(early) < 40 {
			t.Fatalf("claimed %d, %v", len(early), err)
		}
		mkChannels(t, s, p.ID, email("p@example.org"))

		sub, err := s.ReminderSubjects(ctx, early)
		if err != nil {
			t.Fatal(err)
		}
		wantChannels := map[int64]bool{pchs[0].ID: true, qch.ID: true, tchs[0].ID: true}
		if len(sub.Channels) != len(wantChannels) {
			t.Errorf("channels %v, want %v (not the removed ntfy one)", slices.Collect(maps.Keys(sub.Channels)), wantChannels)
		}
		for id := range wantChannels {
			want, err := s.Channel(ctx, id)
			if err != nil || !sameChannel(sub.Channels[id], want) {
				t.Errorf("channel %d: %+v, want %+v (%v)", id, sub.Channels[id], want, err)
			}
		}
		sessions := 0
		for _, r := range early {
			if r.SessionID == 0 {
				continue
			}
			sessions++
			want, err := s.Session(ctx, r.SessionID)
			if err != nil || sub.Sessions[r.SessionID] != want {
				t.Errorf("session %d: %+v, want %+v (%v)", r.SessionID, sub.Sessions[r.SessionID], want, err)
			}
		}
		if sessions == 0 || len(sub.Sessions) != len(plan(0))*2 {
			t.Errorf("%d sessions read for %d session reminders", len(sub.Sessions), sessions)
		}
		for _, x := range []Patient{p, q} {
			want, err := s.PatientByID(ctx, x.ID)
			got := sub.Patients[x.ID]
			if err != nil || got.ID != want.ID || got.Name != want.Name || string(got.CheckinNonce) != string(want.CheckinNonce) {
				t.Errorf("patient %d: %+v, want %+v (%v)", x.ID, got, want, err)
			}
			set, err := s.NotifySettings(ctx, x.ID)
			if err != nil || sub.Settings[x.ID] != set {
				t.Errorf("settings of %d: %+v, want %+v (%v)", x.ID, sub.Settings[x.ID], set, err)
			}
		}
		if sub.Settings[q.ID].Language != "de" || sub.Settings[p.ID] != DefaultNotifySettings(p.ID) {
			t.Errorf("settings %+v", sub.Settings)
		}
		if len(sub.Patients) != 2 {
			t.Errorf("%d patients, want 2", len(sub.Patients))
		}
		if none, err := s.ReminderSubjects(ctx, nil); err != nil || len(none.Channels)+len(none.Sessions)+len(none.Patients) != 0 {
			t.Errorf("no reminders: %+v, %v", none, err)
		}

		// Programs: read by id, in chunks; a missing id is left out.
		var ids []int64
		for id := range int64(3 * idChunk) {
			ids = append(ids, id+1)
		}
		progs, err := s.AssignmentPrograms(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range sub.Sessions {
			a, err := s.AssignmentByID(ctx, x.AssignmentID)
			if err != nil || progs[x.AssignmentID] != a.Program {
				t.Errorf("assignment %d program: %p, want the decoded %p (%v)", x.AssignmentID, progs[x.AssignmentID], a.Program, err)
			}
		}
		if len(progs) != 2 {
			t.Errorf("%d programs, want the two assignments'", len(progs))
		}
	})
}

package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pacer/internal/i18n"
	"pacer/internal/store"
	"pacer/programs"
)

func TestSessionReminders(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	day := programs.MakeDate(2026, 11, 23)
	now := day.In(berlin, 6*60) // 06:00 local
	sess := func(id int64, d programs.Date, hhmm string, st programs.Status) store.Session {
		c, _ := programs.ParseClock(hhmm)
		return store.Session{ID: id, PatientID: 9, Activity: "walk", Date: d, Time: c, Dose: 14, Status: st}
	}
	chs := []store.Channel{{ID: 1, Type: "email"}, {ID: 2, Type: "webhook"}}
	set := store.DefaultNotifySettings(9)
	got := SessionReminders([]store.Session{
		sess(1, day, "07:30", programs.Planned),             // reminder at 07:30, nudge at 10:30
		sess(2, day, "06:30", programs.Planned),             // in quiet hours: moved to 07:00; nudge 09:30
		sess(3, day, "20:00", programs.Planned),             // nudge at 23:00 is in quiet hours: none
		sess(4, day, "08:00", programs.Done),                // checked in: nothing
		sess(5, day, "09:00", programs.Cancelled),           // cancelled: nothing
		sess(6, day.AddDays(3), "07:30", programs.Planned),  // beyond 48 hours: later
		sess(7, day.AddDays(-1), "07:30", programs.Planned), // in the past: nothing
	}, chs, set, berlin, now)
	var lines []string
	for _, r := range got {
		lines = append(lines, r.DedupeKey+" "+r.DueAt.In(berlin).Format("01-02 15:04"))
	}
	want := "session:1:1 11-23 07:30,nudge:1:1 11-23 10:30,session:1:2 11-23 07:30,nudge:1:2 11-23 10:30," +
		"session:2:1 11-23 07:00,nudge:2:1 11-23 09:30,session:2:2 11-23 07:00,nudge:2:2 11-23 09:30," +
		"session:3:1 11-23 20:00,session:3:2 11-23 20:00"
	if strings.Join(lines, ",") != want {
		t.Errorf("got  %s\nwant %s", strings.Join(lines, ","), want)
	}

	// Lead time, no nudge, and quiet hours that drop instead of moving.
	set = store.NotifySettings{QuietStart: 22 * 60, QuietEnd: 7 * 60, QuietDrop: true, LeadMinutes: 15}
	got = SessionReminders([]store.Session{sess(1, day, "07:30", programs.Planned), sess(2, day, "06:30", programs.Planned)},
		chs[:1], set, berlin, now)
	if len(got) != 1 || got[0].DedupeKey != "session:1:1" || got[0].DueAt.In(berlin).Format("15:04") != "07:15" {
		t.Errorf("lead and drop: %+v", got)
	}
}

func TestQuietHoursWrapMidnight(t *testing.T) {
	for _, tt := range []struct {
		m    int
		want bool
	}{{21*60 + 29, false}, {21*60 + 30, true}, {23 * 60, true}, {0, true}, {6*60 + 59, true}, {7 * 60, false}, {12 * 60, false}} {
		if got := inQuiet(tt.m, 21*60+30, 7*60); got != tt.want {
			t.Errorf("inQuiet(%02d:%02d) = %v", tt.m/60, tt.m%60, got)
		}
	}
	if inQuiet(100, 300, 300) {
		t.Error("an empty window is never quiet")
	}
}

func TestMessagesAreDiscreetAndVaried(t *testing.T) {
	en := i18n.For(i18n.English)
	seen := map[string]bool{}
	for i := range 30 {
		m := SessionMessage(en, KindSession, DedupeKey(KindSession, int64(i), 1), i18n.Name{Title: "Walk", Mid: "walk"}, programs.Minutes, 14, 1, "https://p.example/c/tok")
		if !strings.Contains(m.Title, "walk") || !strings.Contains(m.Title, "14 minutes") || !strings.Contains(m.Body, "https://p.example/c/tok") {
			t.Errorf("message %+v lacks the activity, the dose or the link", m)
		}
		for _, word := range []string{"pain", "back", "sciatica", "flare"} {
			if strings.Contains(strings.ToLower(m.Title), word) {
				t.Errorf("title %q says %q", m.Title, word)
			}
		}
		seen[m.Title[:10]] = true
	}
	if len(seen) < 3 {
		t.Errorf("%d phrasings in 30 reminders, want 3", len(seen))
	}
	a := SessionMessage(en, KindNudge, "nudge:1:1", i18n.Name{Title: "Bridge", Mid: "bridge"}, programs.Reps, 8, 2, "u")
	b := SessionMessage(en, KindNudge, "nudge:1:1", i18n.Name{Title: "Bridge", Mid: "bridge"}, programs.Reps, 8, 2, "u")
	if a != b || !strings.Contains(a.Body, "2 × 8 reps") {
		t.Errorf("a retry must keep its words: %+v / %+v", a, b)
	}
}

func TestNudgeOutlivesItsSessionTime(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	day := programs.MakeDate(2026, 11, 23)
	c, _ := programs.ParseClock("07:30")
	s := store.Session{ID: 1, Date: day, Time: c, Status: programs.Planned}
	// An hour after the session, a re-plan still wants its nudge (due 10:30).
	got := SessionReminders([]store.Session{s}, []store.Channel{{ID: 1}}, store.DefaultNotifySettings(1), berlin, day.In(berlin, 8*60+30))
	if len(got) != 1 || got[0].Kind != KindNudge {
		t.Errorf("an hour after the session: %+v, want its nudge only", got)
	}
}

func TestFlareAndWeeklyTitlesRotate(t *testing.T) {
	flare, weekly := map[string]bool{}, map[string]bool{}
	for i := range 30 {
		flare[FlareMessage(i18n.For(i18n.English), fmt.Sprint(i), "Walk: 4 minutes", "u").Title] = true
		weekly[Phrasing("weekly", fmt.Sprintf("7:%d", i), "title")] = true
	}
	if len(flare) != 3 || len(weekly) != 3 {
		t.Errorf("%d flare and %d weekly phrasings in 30 messages, want 3 each", len(flare), len(weekly))
	}
}

func TestGermanMessages(t *testing.T) {
	de := i18n.For(i18n.German)
	seen := map[string]bool{}
	for i := range 30 {
		for _, kind := range []string{KindSession, KindNudge} {
			m := SessionMessage(de, kind, DedupeKey(kind, int64(i), 1), i18n.Name{Title: "Spaziergang", Mid: "Spaziergang"}, programs.Minutes, 14, 1, "https://p.example/c/tok")
			if !strings.Contains(m.Title+m.Body, "Spaziergang") || !strings.Contains(m.Body, "14 Minuten") || !strings.Contains(m.Body, "https://p.example/c/tok") {
				t.Errorf("message %+v lacks the activity, the dose or the link", m)
			}
			for _, word := range []string{"schmerz", "rücken", "ischias", "schub", "your", "today", " du ", " dein"} {
				if strings.Contains(strings.ToLower(m.Title+" "+m.Body), word) {
					t.Errorf("%s %q says %q", kind, m.Title+" / "+m.Body, word)
				}
			}
			seen[m.Title[:8]] = true
		}
	}
	if len(seen) < 6 {
		t.Errorf("%d German phrasings in 60 reminders, want 6", len(seen))
	}
	if m := SessionMessage(de, KindSession, "session:1:1", i18n.Name{Title: "Brücke", Mid: "Brücke"}, programs.Reps, 1, 1, "u"); !strings.Contains(m.Title, "1 Wiederholung") {
		t.Errorf("German reminder %q, want the singular", m.Title)
	}
	red := RedFlagMessage(de, "", true, "", "u")
	if red.Title != "Bitte holen Sie noch heute ärztlichen Rat ein" || !strings.Contains(red.Body, "Notaufnahme") || !red.Urgent {
		t.Errorf("German red-flag message %+v", red)
	}
	if red := RedFlagMessage(de, programs.UrgencyEmergency, true, "", "u"); !strings.Contains(red.Body, "Notaufnahme") || !strings.Contains(red.Body, "pausiert") {
		t.Errorf("German emergency message %+v", red)
	}
	if red := RedFlagMessage(de, programs.UrgencySoon, true, "", "u"); strings.Contains(red.Body, "Notaufnahme") || !strings.Contains(red.Body, "bald") {
		t.Errorf("German contact-your-doctor-soon message %+v", red)
	}
	// Said only when true: with no way to reach the therapist, the message
	// says so and names the clinic's contact.
	if red := RedFlagMessage(de, programs.UrgencyToday, false, "Praxis am Park, 030 1234567", "u"); strings.Contains(red.Body, "ist informiert") ||
		!strings.Contains(red.Body, "nicht benachrichtigen") || !strings.Contains(red.Body, "Praxis am Park, 030 1234567") {
		t.Errorf("German message without a therapist channel %+v", red)
	}
	if red := RedFlagMessage(de, programs.UrgencyToday, true, "", "u"); strings.Contains(red.Body, "nicht benachrichtigen") {
		t.Errorf("German message with a therapist channel %+v", red)
	}
	lib, _ := programs.LoadLibrary()
	walking, _ := lib.Get("walking")
	f := FlareMessage(de, "1", de.Doses(walking, []programs.ActivityDose{{Activity: "walk", Dose: 4}}, ""), "u")
	if !strings.Contains(f.Body, "(Spaziergang: 4 Minuten)") {
		t.Errorf("German flare message %q", f.Body)
	}
	if f := FlareMessage(de, "1", "", "u"); !strings.Contains(f.Body, "(etwa die Hälfte Ihres üblichen Pensums)") {
		t.Errorf("German flare message without doses %q", f.Body)
	}
}

package scheduler

import (
	"fmt"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// Reminder timing.
const (
	// Stale is how late a reminder may still go out: one more than 2 hours late
	// (the daemon was down) is skipped, not sent at 3 a.m. for a 7 p.m. walk.
	Stale = 2 * time.Hour
	// remindAhead is how far ahead session reminders are written; the daily
	// review, run in the first hour of the patient's day, extends it.
	remindAhead = 48 * time.Hour
	// remindBehind lets a re-plan just after a session's time still remind it.
	remindBehind = 15 * time.Minute
)

// DedupeKey is kind + session (or another subject) + channel: unique per reminder.
func DedupeKey(kind string, subject, channelID int64) string {
	return fmt.Sprintf("%s:%d:%d", kind, subject, channelID)
}

// inQuiet reports whether the local minute of day m falls in [start, end),
// a window that may wrap midnight.
func inQuiet(m, start, end int) bool {
	if start == end {
		return false
	}
	if start < end {
		return m >= start && m < end
	}
	return m >= start || m < end
}

// quietAdjust moves t out of the quiet hours to their end, or reports false
// when the settings drop such reminders.
func quietAdjust(t time.Time, set store.NotifySettings, loc *time.Location) (time.Time, bool) {
	lt := t.In(loc)
	m := lt.Hour()*60 + lt.Minute()
	if !inQuiet(m, set.QuietStart, set.QuietEnd) {
		return t, true
	}
	if set.QuietDrop {
		return t, false
	}
	end := programs.DateOf(lt)
	if m >= set.QuietEnd { // the window ends tomorrow
		end = end.AddDays(1)
	}
	return end.In(loc, set.QuietEnd), true
}

// SessionReminders returns the reminders (one per channel) and follow-up
// nudges that the planned sessions of the next 48 hours need. Sessions already
// checked in, cancelled or in the past get none; the dispatcher checks again
// when it sends.
func SessionReminders(sessions []store.Session, chs []store.Channel, set store.NotifySettings, loc *time.Location, now time.Time) []store.Reminder {
	var out []store.Reminder
	// Each reminder is written while its own due time is near.
	near := func(t time.Time) bool { return !t.Before(now.Add(-remindBehind)) && !t.After(now.Add(remindAhead)) }
	for _, s := range sessions {
		if s.Status != programs.Planned {
			continue
		}
		at := s.Date.In(loc, int(s.Time))
		due, ok := quietAdjust(at.Add(-time.Duration(set.LeadMinutes)*time.Minute), set, loc)
		if ok && due.Sub(at) > Stale { // moved so far it would arrive long after the session
			ok = false
		}
		ok = ok && near(due)
		var nudge time.Time
		if set.NudgeHours > 0 {
			nudge = at.Add(time.Duration(set.NudgeHours) * time.Hour)
			lt := nudge.In(loc)
			if inQuiet(lt.Hour()*60+lt.Minute(), set.QuietStart, set.QuietEnd) || !near(nudge) {
				nudge = time.Time{} // a nudge is optional: never in quiet hours
			}
		}
		for _, ch := range chs {
			if ok {
				out = append(out, store.Reminder{Kind: KindSession, SessionID: s.ID, PatientID: s.PatientID, ChannelID: ch.ID,
					DedupeKey: DedupeKey(KindSession, s.ID, ch.ID), DueAt: due.UTC()})
			}
			if !nudge.IsZero() {
				out = append(out, store.Reminder{Kind: KindNudge, SessionID: s.ID, PatientID: s.PatientID, ChannelID: ch.ID,
					DedupeKey: DedupeKey(KindNudge, s.ID, ch.ID), DueAt: nudge.UTC()})
			}
		}
	}
	return out
}

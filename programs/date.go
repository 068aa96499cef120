package programs

import (
	"fmt"
	"time"
)

// Date is a civil (calendar) date, counted in days since 1970-01-01. Plans
// reason in local dates so that a week boundary or a DST change in the
// patient's zone never shifts a session to another day.
type Date int32

// DateOf returns the civil date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return MakeDate(y, m, d)
}

// MakeDate returns the date y-m-d; out-of-range values normalize as in time.Date.
func MakeDate(y int, m time.Month, d int) Date {
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// ParseDate parses YYYY-MM-DD and rejects impossible dates such as 2026-02-30.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a date: write YYYY-MM-DD, e.g. 2026-11-23", s)
	}
	return DateOf(t), nil
}

func (d Date) time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String formats the date as YYYY-MM-DD.
func (d Date) String() string { return d.time().Format(time.DateOnly) }

// AddDays returns the date n days later (earlier for negative n).
func (d Date) AddDays(n int) Date { return d + Date(n) }

// Weekday returns the day of the week; 1970-01-01 was a Thursday.
func (d Date) Weekday() time.Weekday { return time.Weekday((int(d)%7 + 7 + 4) % 7) }

// In returns the instant at the local wall-clock time hh:mm on d in loc. A time
// that occurs twice (when the clocks go back) is its first occurrence: 02:30 on
// the day Berlin falls back is 02:30 summer time. A time that a DST change
// skips is moved forward by the gap, so it stays on d: 02:30 on the day Berlin
// springs forward is 03:30, and 00:00 on the day Santiago skips midnight is
// 01:00 (time.Date alone may give 23:00 the day before, and leaves the choice
// between two occurrences unspecified).
func (d Date) In(loc *time.Location, minuteOfDay int) time.Time {
	y, m, day := d.time().Date()
	h, mi := minuteOfDay/60, minuteOfDay%60
	wall := time.Date(y, m, day, h, mi, 0, 0, time.UTC)
	// The offsets in force a day before and a day after give every instant
	// that can read as this wall time; a zone changes its offset at most once
	// in two days.
	_, before := wall.Add(-24 * time.Hour).In(loc).Zone()
	_, after := wall.Add(24 * time.Hour).In(loc).Zone()
	var first time.Time
	for _, off := range [2]int{before, after} {
		t := wall.Add(-time.Duration(off) * time.Second).In(loc)
		if t.Hour() == h && t.Minute() == mi && DateOf(t) == d && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	if !first.IsZero() {
		return first
	}
	// In a gap: read the wall time with the offset in force before the change.
	return wall.Add(-time.Duration(before) * time.Second).In(loc)
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

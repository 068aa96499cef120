package feed

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/emersion/go-ical"
)

// Calendar is one feed: a patient's sessions in the feed's window, already
// chosen and worded by the caller.
type Calendar struct {
	// Name is the X-WR-CALNAME, e.g. "My movement plan". Best without , ; and
	// \: ical.js (Thunderbird) shows this property's TEXT escapes as typed.
	Name   string
	Alarm  bool // a VALARM (display, 10 minutes before) on each event that is not cancelled
	Events []Event
}

// Event is one session as a VEVENT.
type Event struct {
	// UID identifies the session for good, e.g. "s123@pacer" from its id; it
	// must not change when the plan is recomputed. Printable text, no spaces.
	UID string
	// Start is an instant; the feed gives it in UTC (…Z), to the second,
	// whatever its location.
	Start time.Time
	// Duration is positive; DTEND is Start+Duration.
	Duration time.Duration
	// Title is the SUMMARY, e.g. "Walk · 14 min" (see Title). Discretion is the
	// caller's choice.
	Title string
	// Description is free text: newlines, commas, semicolons, backslashes and
	// any Unicode are fine. CR LF and lone CR become LF; other control
	// characters and invalid UTF-8 are dropped or replaced.
	Description string
	// URL is optional: the absolute check-in link (the caller also ends the
	// description with it, as not every client shows URL).
	URL string
	// Status is Confirmed, Tentative or Cancelled.
	Status string
	// Sequence is the SEQUENCE, which rises whenever the session's time, dose,
	// title or status changes.
	Sequence int
	// LastModified is when the session last changed; it is also the DTSTAMP, so
	// that an unchanged feed renders byte-identical.
	LastModified time.Time
	// NoAlarm leaves this event without the calendar's VALARM, e.g. a session
	// already in the past.
	NoAlarm bool
}

// Feed-wide properties. The refresh hint is one hour; Google ignores it and
// refreshes every 8-24 hours, which is why the feed is never urgent.
const (
	prodID  = "-//pacer//pacer//EN"
	refresh = "PT1H"
	alarmAt = "-PT10M"
)

// Render returns the feed as an iCalendar object: CRLF line ends, lines folded
// at 75 octets, times in UTC, events sorted by start and then UID. The same
// Calendar always gives the same bytes. It fails on an event that clients
// would reject or mis-file: no UID or a duplicate one, a zero start or
// LastModified, a duration that is not positive, an unknown status, a negative
// sequence, or a URL that is not absolute. A calendar without events is
// still a valid feed (it carries an unused VTIMEZONE for UTC, as RFC 5545
// wants at least one component).
func Render(c Calendar) ([]byte, error) {
	cal, err := build(c)
	if err != nil {
		return nil, fmt.Errorf("render feed: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(1024 + 800*len(c.Events))
	f := &folder{w: &buf}
	if err := ical.NewEncoder(f).Encode(cal); err != nil {
		return nil, fmt.Errorf("render feed: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("render feed: %w", err)
	}
	return buf.Bytes(), nil
}

// build checks c and turns it into go-ical's model, events in feed order.
func build(c Calendar) (*ical.Calendar, error) {
	if strings.TrimSpace(c.Name) == "" {
		return nil, errors.New("the calendar has no name")
	}
	events := slices.Clone(c.Events)
	slices.SortFunc(events, func(a, b Event) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.UID, b.UID))
	})

	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, prodID)
	cal.Props.SetText(ical.PropCalendarScale, "GREGORIAN")
	cal.Props.SetText(ical.PropMethod, "PUBLISH")
	name := ical.NewProp("X-WR-CALNAME")
	name.SetText(clean(c.Name))
	name.Params.Del(ical.ParamValue) // TEXT is what clients assume; go-ical would add VALUE=TEXT
	cal.Props.Set(name)
	// RFC 7986 requires VALUE=DURATION here, which go-ical leaves out because
	// DURATION is the property's default type in its table.
	cal.Props.Set(&ical.Prop{Name: ical.PropRefreshInterval, Params: ical.Params{ical.ParamValue: {string(ical.ValueDuration)}}, Value: refresh})
	cal.Props.Set(&ical.Prop{Name: "X-PUBLISHED-TTL", Params: ical.Params{}, Value: refresh})

	for i := range events {
		ev, err := vevent(&events[i], c.Alarm && !events[i].NoAlarm)
		if err != nil {
			return nil, fmt.Errorf("event %q starting %s: %w", events[i].UID, events[i].Start.UTC().Format(time.RFC3339), err)
		}
		cal.Children = append(cal.Children, ev)
	}
	if err := uniqueUIDs(events); err != nil {
		return nil, err
	}
	if len(cal.Children) == 0 {
		// RFC 5545 wants at least one component, and go-ical will not encode an
		// empty calendar; a patient with no sessions in the window still needs
		// a valid feed, so it gets an (unused) UTC time zone.
		cal.Children = append(cal.Children, utcZone())
	}
	return cal, nil
}

func vevent(e *Event, alarm bool) (*ical.Component, error) {
	switch {
	case e.UID == "" || !printable(e.UID):
		return nil, fmt.Errorf("UID %q must be printable text without spaces", e.UID)
	case !validTime(e.Start):
		return nil, fmt.Errorf("start %v is not a usable time", e.Start)
	case e.Duration <= 0:
		return nil, fmt.Errorf("duration %v is not positive", e.Duration)
	case !validTime(e.LastModified):
		return nil, fmt.Errorf("last-modified %v is not a usable time", e.LastModified)
	case e.Sequence < 0:
		return nil, fmt.Errorf("sequence %d is negative", e.Sequence)
	}
	switch e.Status {
	case Confirmed, Tentative, Cancelled:
	default:
		return nil, fmt.Errorf("status %q is not %s, %s or %s", e.Status, Confirmed, Tentative, Cancelled)
	}

	ev := ical.NewEvent()
	p := ev.Props
	p.SetText(ical.PropUID, e.UID)
	p.SetDateTime(ical.PropDateTimeStamp, e.LastModified.UTC())
	p.SetDateTime(ical.PropLastModified, e.LastModified.UTC())
	p.SetDateTime(ical.PropDateTimeStart, e.Start.UTC())
	p.SetDateTime(ical.PropDateTimeEnd, e.Start.Add(e.Duration).UTC())
	title := clean(e.Title)
	p.SetText(ical.PropSummary, title)
	p.SetText(ical.PropDescription, clean(e.Description))
	p.SetText(ical.PropStatus, e.Status)
	p.Set(&ical.Prop{Name: ical.PropSequence, Params: ical.Params{}, Value: strconv.Itoa(e.Sequence)})
	if e.URL != "" {
		u, err := url.Parse(e.URL)
		if err != nil || !u.IsAbs() || u.Host == "" {
			return nil, fmt.Errorf("URL %q is not an absolute URL", e.URL)
		}
		p.SetURI(ical.PropURL, u)
	}
	if alarm && e.Status != Cancelled {
		a := ical.NewComponent(ical.CompAlarm)
		a.Props.SetText(ical.PropAction, "DISPLAY")
		a.Props.SetText(ical.PropDescription, title)
		a.Props.Set(&ical.Prop{Name: ical.PropTrigger, Params: ical.Params{}, Value: alarmAt})
		ev.Children = append(ev.Children, a)
	}
	return ev.Component, nil
}

// uniqueUIDs reports a UID used twice: clients keep only one of the events.
func uniqueUIDs(events []Event) error {
	seen := make(map[string]struct{}, len(events))
	for _, e := range events {
		if _, ok := seen[e.UID]; ok {
			return fmt.Errorf("UID %q is used by two events", e.UID)
		}
		seen[e.UID] = struct{}{}
	}
	return nil
}

// utcZone is a VTIMEZONE for UTC, the one component an empty feed carries.
func utcZone() *ical.Component {
	std := ical.NewComponent(ical.CompTimezoneStandard)
	std.Props.Set(&ical.Prop{Name: ical.PropDateTimeStart, Params: ical.Params{}, Value: "19700101T000000"})
	std.Props.Set(&ical.Prop{Name: ical.PropTimezoneOffsetFrom, Params: ical.Params{}, Value: "+0000"})
	std.Props.Set(&ical.Prop{Name: ical.PropTimezoneOffsetTo, Params: ical.Params{}, Value: "+0000"})
	std.Props.SetText(ical.PropTimezoneName, "UTC")
	tz := ical.NewComponent(ical.CompTimezone)
	tz.Props.SetText(ical.PropTimezoneID, "UTC")
	tz.Children = append(tz.Children, std)
	return tz
}

// validTime reports whether t is set and has the four-digit year iCalendar's
// DATE-TIME needs.
func validTime(t time.Time) bool {
	y := t.UTC().Year()
	return !t.IsZero() && y >= 1 && y <= 9999
}

// printable reports whether s is valid UTF-8 with no spaces or control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

// clean makes s valid iCalendar TEXT before go-ical escapes it: line breaks
// become LF (escaped as \n), invalid UTF-8 becomes U+FFFD, and the control
// characters RFC 5545 forbids (all but tab) are dropped. go-ical itself
// escapes backslash, semicolon, comma and LF, and refuses CR.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// ETag is a strong entity tag for a feed body: the first 128 bits of its
// SHA-256, base64url-encoded without padding and quoted: 24 characters.
// Equal bodies have equal tags.
func ETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
}

// LastModified is the newest LastModified of c's events, zero for none, for
// the Last-Modified header. Events also leave and enter the feed as its window
// slides, which this does not see: the ETag is the validator to trust, and
// If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2).
func (c Calendar) LastModified() time.Time {
	var t time.Time
	for _, e := range c.Events {
		if e.LastModified.After(t) {
			t = e.LastModified
		}
	}
	return t.UTC()
}

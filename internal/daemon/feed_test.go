package daemon_test

import (
	"strings"
	"testing"
	"time"
)

// feedEvent is one VEVENT of a served feed: its unfolded lines as they were
// sent (its bytes, but for the folding), and its properties by name.
type feedEvent struct {
	lines []string
	props map[string]string
	start time.Time
}

// feedEvents splits a feed into its events, unfolding lines (RFC 5545 3.1)
// and undoing TEXT escapes in the properties.
func feedEvents(t *testing.T, body []byte) []feedEvent {
	t.Helper()
	raw := strings.ReplaceAll(string(body), "\r\n ", "")
	var out []feedEvent
	var cur *feedEvent
	inAlarm := false
	for _, line := range strings.Split(raw, "\r\n") {
		switch {
		case line == "BEGIN:VEVENT":
			out = append(out, feedEvent{props: map[string]string{}})
			cur = &out[len(out)-1]
			continue
		case line == "END:VEVENT":
			cur = nil
			continue
		case cur == nil:
			continue
		}
		cur.lines = append(cur.lines, line)
		switch line {
		case "BEGIN:VALARM":
			inAlarm = true
			continue
		case "END:VALARM":
			inAlarm = false
			continue
		}
		if inAlarm {
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		name, _, _ = strings.Cut(name, ";")
		value = strings.NewReplacer(`\n`, "\n", `\,`, ",", `\;`, ";", `\\`, `\`).Replace(value)
		cur.props[name] = value
		if name == "DTSTART" {
			at, err := time.Parse("20060102T150405Z", value)
			if err != nil {
				t.Fatalf("DTSTART %q: %v", value, err)
			}
			cur.start = at
		}
	}
	return out
}

// text is the event as sent, unfolded.
func (e feedEvent) text() string { return strings.Join(e.lines, "\n") }

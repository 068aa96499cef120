package feed

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// clientsEnv enables the real-client tests; CI sets it after installing the
// clients (see testdata/icaljs/package.json and testdata/check_icalendar.py).
const clientsEnv = "PACER_TEST_ICAL_CLIENTS"

// seen is what a client reports of a feed.
type seen struct {
	Name   string     `json:"name"`
	Errors [][]string `json:"errors"` // python3-icalendar's swallowed property errors
	Events []seenEvent
}

type seenEvent struct {
	UID         string      `json:"uid"`
	Start       string      `json:"start"`
	End         string      `json:"end"`
	Zone        string      `json:"zone,omitempty"` // ical.js only: the zones of start and end
	Status      string      `json:"status"`
	Sequence    int         `json:"sequence"`
	Summary     string      `json:"summary"`
	Description string      `json:"description"`
	URL         string      `json:"url"`
	Alarms      []seenAlarm `json:"alarms"`
}

type seenAlarm struct {
	Action         string `json:"action"`
	TriggerSeconds int    `json:"trigger_seconds"`
	Description    string `json:"description"`
}

// expect is what a correct client must see of c.
func expect(c Calendar) seen {
	utc := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
	s := seen{Name: clean(c.Name), Events: []seenEvent{}}
	for _, e := range c.Events {
		ev := seenEvent{
			UID: e.UID, Start: utc(e.Start), End: utc(e.Start.Add(e.Duration)),
			Status: e.Status, Sequence: e.Sequence, Summary: clean(e.Title),
			Description: clean(e.Description), URL: e.URL, Alarms: []seenAlarm{},
		}
		if c.Alarm && e.Status != Cancelled {
			ev.Alarms = append(ev.Alarms, seenAlarm{"DISPLAY", -600, clean(e.Title)})
		}
		s.Events = append(s.Events, ev)
	}
	slices.SortFunc(s.Events, func(a, b seenEvent) int { return strings.Compare(a.UID, b.UID) })
	return s
}

// TestClients has real iCalendar parsers read the feed: Mozilla's ical.js
// (Thunderbird's) under Node and Debian's python3-icalendar. Each must see
// every event with exactly its times (as UTC instants), status, sequence,
// summary, description, URL and alarm.
func TestClients(t *testing.T) {
	if os.Getenv(clientsEnv) != "1" {
		t.Skipf("real iCalendar clients not run: set %s=1 after installing them "+
			"(apt-get install -y python3-icalendar nodejs npm; npm ci --prefix internal/feed/testdata/icaljs)", clientsEnv)
	}
	clients := []struct {
		name      string
		cmd       func(file string) *exec.Cmd
		need      func() error
		nameQuirk *quirk
		textQuirk *quirk
	}{
		{
			name:      "ical.js",
			nameQuirk: &escaped,
			cmd: func(file string) *exec.Cmd {
				return exec.Command("node", filepath.Join("testdata", "icaljs", "check.mjs"), file)
			},
			need: func() error {
				if _, err := exec.LookPath("node"); err != nil {
					return fmt.Errorf("%w: install Node.js (apt-get install -y nodejs npm)", err)
				}
				if _, err := os.Stat(filepath.Join("testdata", "icaljs", "node_modules", "ical.js", "package.json")); err != nil {
					return fmt.Errorf("ical.js is not installed: run npm ci in internal/feed/testdata/icaljs (%w)", err)
				}
				return nil
			},
		},
		{
			name:      "python3-icalendar",
			textQuirk: &replaced,
			cmd: func(file string) *exec.Cmd {
				return exec.Command("/usr/bin/python3", filepath.Join("testdata", "check_icalendar.py"), file)
			},
			need: func() error {
				out, err := exec.Command("/usr/bin/python3", "-c", "import icalendar").CombinedOutput()
				if err != nil {
					return fmt.Errorf("/usr/bin/python3 cannot import icalendar: install python3-icalendar (%v: %s)", err, out)
				}
				return nil
			},
		},
	}

	feeds := map[string]Calendar{
		"sample":   sample(t),
		"no-alarm": func() Calendar { c := sample(t); c.Alarm = false; return c }(),
		"window":   window(t),
		"empty":    {Name: "My movement plan", Alarm: true},
		"hostile":  hostile(),
	}
	dir := t.TempDir()
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			if err := cl.need(); err != nil {
				t.Fatalf("%s=1 but %s is missing: %v", clientsEnv, cl.name, err)
			}
			for name, c := range feeds {
				t.Run(name, func(t *testing.T) {
					file := filepath.Join(dir, name+".ics")
					if err := os.WriteFile(file, render(t, c), 0o644); err != nil {
						t.Fatal(err)
					}
					var stderr bytes.Buffer
					cmd := cl.cmd(file)
					cmd.Stderr = &stderr
					out, err := cmd.Output()
					if err != nil {
						t.Fatalf("%s: %v\n%s", cl.name, err, stderr.Bytes())
					}
					var got seen
					if err := json.Unmarshal(out, &got); err != nil {
						t.Fatalf("%s printed %q: %v", cl.name, out, err)
					}
					for _, e := range got.Errors {
						t.Errorf("%s swallowed an error: %v", cl.name, e)
					}
					got.Errors = nil
					for i := range got.Events {
						if z := got.Events[i].Zone; z != "" && z != "UTC/UTC" {
							t.Errorf("%s: %s has zones %s, not UTC", cl.name, got.Events[i].UID, z)
						}
						got.Events[i].Zone = ""
					}
					slices.SortFunc(got.Events, func(a, b seenEvent) int { return strings.Compare(a.UID, b.UID) })
					compareSeen(t, cl.name, got, expect(c), cl.nameQuirk, cl.textQuirk)
				})
			}
		})
	}
}

// quirk is how a client is known to show a TEXT value wrongly: given the
// value, what the client shows instead. Render cannot avoid these: the
// escaping it writes is the only one RFC 5545 allows.
type quirk struct {
	what string
	show func(string) string
}

// escaped is the value as written: ical.js does not unescape properties it
// does not know, such as X-WR-CALNAME.
var escaped = quirk{"ical.js leaves X-WR-CALNAME TEXT-escaped", func(s string) string {
	p := ical.NewProp("X-WR-CALNAME")
	p.SetText(s)
	return p.Value
}}

// replaced is python3-icalendar 4.x (Debian bookworm): it unescapes TEXT
// twice, with chains of str.replace calls (parser.escape_string and
// unescape_string around each content line, then prop.unescape_char), so an
// escaped backslash is taken as the start of another escape: a literal "\n"
// becomes a newline, and "%2C" in the text becomes a comma.
var replaced = quirk{"python3-icalendar 4 unescapes TEXT twice", func(s string) string {
	p := ical.NewProp(ical.PropDescription)
	p.SetText(s)
	v := p.Value
	for _, r := range [][2]string{
		{`\,`, "%2C"}, {`\:`, "%3A"}, {`\;`, "%3B"}, {`\\`, "%5C"}, // escape_string
		{"%2C", ","}, {"%3A", ":"}, {"%3B", ";"}, {"%5C", `\`}, // unescape_string
		{`\N`, `\n`}, {"\r\n", "\n"}, {`\n`, "\n"}, {`\,`, ","}, {`\;`, ";"}, {`\\`, `\`}, // unescape_char
	} {
		v = strings.ReplaceAll(v, r[0], r[1])
	}
	return v
}}

func compareSeen(t *testing.T, client string, got, want seen, name, text *quirk) {
	t.Helper()
	same := func(what, g, w string, q *quirk) {
		switch {
		case g == w:
		case q != nil && g == q.show(w):
			t.Logf("%s: %s %q shown as %q: known quirk (%s)", client, what, w, g, q.what)
		default:
			t.Errorf("%s: %s %q, want %q", client, what, g, w)
		}
	}
	same("calendar name", got.Name, want.Name, name)
	if len(got.Events) != len(want.Events) {
		t.Fatalf("%s sees %d events, want %d", client, len(got.Events), len(want.Events))
	}
	for i := range want.Events {
		g, w := got.Events[i], want.Events[i]
		if g.UID != w.UID || g.Start != w.Start || g.End != w.End || g.Status != w.Status ||
			g.Sequence != w.Sequence || g.URL != w.URL || len(g.Alarms) != len(w.Alarms) {
			gj, _ := json.MarshalIndent(g, "", "  ")
			wj, _ := json.MarshalIndent(w, "", "  ")
			t.Errorf("%s sees\n%s\nwant\n%s", client, gj, wj)
			continue
		}
		same(w.UID+" summary", g.Summary, w.Summary, text)
		same(w.UID+" description", g.Description, w.Description, text)
		for j, a := range w.Alarms {
			if ga := g.Alarms[j]; ga.Action != a.Action || ga.TriggerSeconds != a.TriggerSeconds {
				t.Errorf("%s: %s alarm %+v, want %+v", client, w.UID, ga, a)
			}
			same(w.UID+" alarm description", g.Alarms[j].Description, a.Description, text)
		}
	}
}

// hostile is text that trips parsers: a literal backslash-n, escapes at fold
// points, spaces where lines fold, tabs, quotes and colons, a line of only
// multi-octet characters, control characters (dropped) and invalid UTF-8.
func hostile() Calendar {
	mod := time.Date(2026, 3, 1, 18, 4, 5, 0, time.UTC)
	ev := func(uid, title, desc string) Event {
		return Event{
			UID: uid, Start: time.Date(2026, 3, 2, 6, 30, 0, 0, time.UTC), Duration: 5 * time.Minute,
			Title: title, Description: desc, Status: Confirmed, LastModified: mod,
		}
	}
	return Calendar{
		Name:  `Plan: "mine"; a, b \ c · ü`,
		Alarm: true,
		Events: []Event{
			ev("h1@pacer", `a literal \n, not a newline`, `C:\new\table; "x": y, z`+"\n\t tab\x01\x7f"),
			ev("h2@pacer", "  leading and trailing spaces  ", strings.Repeat(" ", 80)+"x"+strings.Repeat(" ", 80)),
			ev("h3@pacer", strings.Repeat("ü", 60), strings.Repeat("🚶", 40)+strings.Repeat("€", 40)),
			ev("h4@pacer", "escapes at fold points", strings.Repeat(`\`, 50)+strings.Repeat(";", 50)+strings.Repeat(",", 50)+strings.Repeat("\n", 50)),
			ev("h5@pacer", "bad \xff\xfe UTF-8", "ends with a backslash \\"),
			ev("h6@pacer", "", ""),
			ev("h7@pacer", "100% sure, 50%2C off", "%5C %3B %2C"),
		},
	}
}

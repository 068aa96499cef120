package feed

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"
	"pgregory.net/rapid"

	"pacer/programs"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

func render(t testing.TB, c Calendar) []byte {
	t.Helper()
	b, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRenderGolden(t *testing.T) {
	noAlarm := sample(t)
	noAlarm.Alarm = false
	noAlarm.Events = noAlarm.Events[:2]
	for _, tc := range []struct {
		name string
		c    Calendar
	}{
		{"feed", sample(t)},
		{"no-alarm", noAlarm},
		{"empty", Calendar{Name: "My movement plan", Alarm: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, tc.c)
			path := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/feed -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render differs from %s (rerun with -update if the change is intended):\n%s", path, got)
			}
		})
	}
}

// TestRenderDeterministic: the same sessions, in any order, give the same bytes
// and so the same ETag; nothing depends on the clock or on map order.
func TestRenderDeterministic(t *testing.T) {
	c := window(t)
	first := render(t, c)
	r := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		shuffled := c
		shuffled.Events = slices.Clone(c.Events)
		r.Shuffle(len(shuffled.Events), func(i, j int) {
			shuffled.Events[i], shuffled.Events[j] = shuffled.Events[j], shuffled.Events[i]
		})
		if got := render(t, shuffled); !bytes.Equal(got, first) {
			t.Fatal("a different event order gave a different body")
		}
	}
	if ETag(render(t, c)) != ETag(first) {
		t.Fatal("ETag differs for the same calendar")
	}
}

func TestRenderOrder(t *testing.T) {
	cal := decode(t, render(t, sample(t)))
	var uids []string
	for _, ev := range cal.Events() {
		uids = append(uids, ev.Props.Get(ical.PropUID).Value)
	}
	// s1000 and s1001 start at the same instant: UID breaks the tie.
	want := []string{"s1000@pacer", "s1001@pacer", "session-2001-2002-2003-2004@pacer", "s1042@pacer", "s1090@pacer", "s1100@pacer"}
	if !slices.Equal(uids, want) {
		t.Errorf("event order %v, want %v", uids, want)
	}
}

func TestRenderHeader(t *testing.T) {
	body := string(render(t, sample(t)))
	for _, line := range []string{
		"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//pacer//pacer//EN", "CALSCALE:GREGORIAN",
		"METHOD:PUBLISH", "X-WR-CALNAME:My movement plan", "REFRESH-INTERVAL;VALUE=DURATION:PT1H",
		"X-PUBLISHED-TTL:PT1H", "END:VCALENDAR",
	} {
		if !strings.Contains(body, "\r\n"+line+"\r\n") && !strings.HasPrefix(body, line+"\r\n") {
			t.Errorf("no line %q", line)
		}
	}
	if !strings.HasPrefix(body, "BEGIN:VCALENDAR\r\n") || !strings.HasSuffix(body, "END:VCALENDAR\r\n") {
		t.Error("body does not start with BEGIN:VCALENDAR and end with END:VCALENDAR CRLF")
	}
}

// TestRenderTimes: every DATE-TIME of an event is UTC; nothing is floating or
// carries a TZID, even for starts given in Europe/Berlin.
func TestRenderTimes(t *testing.T) {
	body := unfold(string(render(t, window(t))))
	for _, line := range strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n") {
		name, value, _ := strings.Cut(line, ":")
		switch name {
		case "DTSTART", "DTEND", "DTSTAMP", "LAST-MODIFIED":
			if _, err := time.Parse("20060102T150405Z", value); err != nil {
				t.Fatalf("%q is not a UTC DATE-TIME: %v", line, err)
			}
		}
		if strings.Contains(name, "TZID") {
			t.Fatalf("%q has a TZID", line)
		}
	}
}

// TestRenderEscaping: go-ical escapes TEXT once; Render adds no second layer.
func TestRenderEscaping(t *testing.T) {
	c := Calendar{Name: "Plan; mine, yes", Events: []Event{{
		UID: "s1@pacer", Start: time.Date(2026, 3, 2, 6, 30, 0, 0, time.UTC), Duration: time.Minute,
		Title: "a,b", Description: "back\\slash; semi, comma\nnew\r\nline\rcr\x00nul\ttab",
		Status: Confirmed, LastModified: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	}}}
	body := unfold(string(render(t, c)))
	for _, want := range []string{
		"\r\nX-WR-CALNAME:Plan\\; mine\\, yes\r\n",
		"\r\nSUMMARY:a\\,b\r\n",
		"\r\nDESCRIPTION:back\\\\slash\\; semi\\, comma\\nnew\\nline\\ncrnul\ttab\r\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
}

func TestRenderAlarm(t *testing.T) {
	for _, alarm := range []bool{false, true} {
		c := sample(t)
		c.Alarm = alarm
		for _, ev := range decode(t, render(t, c)).Events() {
			status := ev.Props.Get(ical.PropStatus).Value
			want := 0
			if alarm && status != Cancelled {
				want = 1
			}
			if len(ev.Children) != want {
				t.Fatalf("alarm %v, status %s: %d VALARMs, want %d", alarm, status, len(ev.Children), want)
			}
			if want == 1 {
				a := ev.Children[0]
				if a.Name != ical.CompAlarm || a.Props.Get(ical.PropAction).Value != "DISPLAY" ||
					a.Props.Get(ical.PropTrigger).Value != "-PT10M" ||
					a.Props.Get(ical.PropDescription).Value != ev.Props.Get(ical.PropSummary).Value {
					t.Fatalf("VALARM is %+v", a.Props)
				}
			}
		}
	}
}

func TestRenderErrors(t *testing.T) {
	good := Event{
		UID: "s1@pacer", Start: time.Date(2026, 3, 2, 6, 30, 0, 0, time.UTC), Duration: time.Minute,
		Title: "Walk · 1 min", Status: Confirmed, LastModified: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	}
	if _, err := Render(Calendar{Name: "x", Events: []Event{good}}); err != nil {
		t.Fatalf("the good event fails: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(c *Calendar)
		want string
	}{
		{"no name", func(c *Calendar) { c.Name = " " }, "no name"},
		{"no UID", func(c *Calendar) { c.Events[0].UID = "" }, "UID"},
		{"UID with a space", func(c *Calendar) { c.Events[0].UID = "s 1" }, "UID"},
		{"UID with a newline", func(c *Calendar) { c.Events[0].UID = "s1\n" }, "UID"},
		{"duplicate UID", func(c *Calendar) {
			e := c.Events[0]
			e.Start = e.Start.Add(time.Hour)
			c.Events = append(c.Events, e)
		}, "used by two events"},
		{"zero start", func(c *Calendar) { c.Events[0].Start = time.Time{} }, "start"},
		{"zero duration", func(c *Calendar) { c.Events[0].Duration = 0 }, "duration"},
		{"negative duration", func(c *Calendar) { c.Events[0].Duration = -time.Minute }, "duration"},
		{"zero last-modified", func(c *Calendar) { c.Events[0].LastModified = time.Time{} }, "last-modified"},
		{"lower-case status", func(c *Calendar) { c.Events[0].Status = "confirmed" }, "status"},
		{"no status", func(c *Calendar) { c.Events[0].Status = "" }, "status"},
		{"negative sequence", func(c *Calendar) { c.Events[0].Sequence = -1 }, "sequence"},
		{"relative URL", func(c *Calendar) { c.Events[0].URL = "/c/abc" }, "URL"},
		{"URL with a newline", func(c *Calendar) { c.Events[0].URL = "https://x.example/\n" }, "URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Calendar{Name: "x", Events: []Event{good}}
			tc.edit(&c)
			_, err := Render(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render error %v, want one about %q", err, tc.want)
			}
		})
	}
}

func TestFolder(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		name, in, want string
	}{
		{"short", "A:b", "A:b\r\n"},
		{"75 octets", a(75), a(75) + "\r\n"},
		{"76 octets", a(76), a(75) + "\r\n a\r\n"},
		{"75+74", a(75 + 74), a(75) + "\r\n " + a(74) + "\r\n"},
		{"75+75", a(75 + 75), a(75) + "\r\n " + a(74) + "\r\n a\r\n"},
		{"two octets across the limit", a(74) + "äb", a(74) + "\r\n äb\r\n"},
		{"two octets up to the limit", a(73) + "äb", a(73) + "ä\r\n b\r\n"},
		{"four octets across the limit", a(73) + "🚶b", a(73) + "\r\n 🚶b\r\n"},
		{"four octets on the next limit", a(75) + a(72) + "🚶", a(75) + "\r\n " + a(72) + "\r\n 🚶\r\n"},
		{"empty line", "", "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			f := &folder{w: &out}
			// Write in awkward pieces: a line may arrive in several writes.
			in := tc.in + "\r\n"
			for len(in) > 0 {
				n := min(len(in), 7)
				if _, err := f.Write([]byte(in[:n])); err != nil {
					t.Fatal(err)
				}
				in = in[n:]
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("folded\n%q\nwant\n%q", out.String(), tc.want)
			}
		})
	}
	for _, bad := range []string{"no end", "LF only\n"} {
		f := &folder{w: new(bytes.Buffer)}
		_, err := f.Write([]byte(bad))
		if err == nil {
			err = f.Close()
		}
		if err == nil {
			t.Errorf("folding %q: no error", bad)
		}
	}
}

// checkFolded asserts RFC 5545 §3.1 on a rendered body and that unfolding it
// gives go-ical's unfolded encoding of the same calendar, line for line.
func checkFolded(t *testing.T, c Calendar, body []byte) {
	t.Helper()
	if !bytes.HasSuffix(body, []byte("\r\n")) {
		t.Fatal("body does not end with CRLF")
	}
	lines := strings.Split(strings.TrimSuffix(string(body), "\r\n"), "\r\n")
	for i, l := range lines {
		switch {
		case len(l) > 75:
			t.Fatalf("line %d is %d octets: %q", i+1, len(l), l)
		case strings.ContainsAny(l, "\r\n"):
			t.Fatalf("line %d has a bare CR or LF: %q", i+1, l)
		case !utf8.ValidString(l):
			t.Fatalf("line %d splits a UTF-8 character: %q", i+1, l)
		case i == 0 && strings.HasPrefix(l, " "):
			t.Fatal("the first line is a continuation")
		case strings.HasPrefix(l, " ") && len(l) == 1:
			t.Fatalf("line %d is an empty continuation", i+1)
		}
	}
	cal, err := build(c)
	if err != nil {
		t.Fatal(err)
	}
	var plain bytes.Buffer
	if err := ical.NewEncoder(&plain).Encode(cal); err != nil {
		t.Fatal(err)
	}
	if got := unfold(string(body)); got != plain.String() {
		t.Fatalf("unfolded body differs from go-ical's unfolded encoding:\n%s\nwant\n%s", got, plain.String())
	}
}

// unfold undoes RFC 5545 folding: CRLF followed by one space goes.
func unfold(s string) string { return strings.ReplaceAll(s, "\r\n ", "") }

func TestRenderFolding(t *testing.T) {
	for name, c := range map[string]Calendar{"sample": sample(t), "window": window(t)} {
		t.Run(name, func(t *testing.T) {
			body := render(t, c)
			checkFolded(t, c, body)
			if name == "sample" && bytes.Count(body, []byte("\r\n ")) < 5 {
				t.Fatal("the sample feed hardly folds: the test would not test folding")
			}
		})
	}
}

func decode(t testing.TB, body []byte) *ical.Calendar {
	t.Helper()
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("go-ical cannot decode the feed: %v", err)
	}
	return cal
}

// TestRoundTrip: go-ical's decoder reads back every event as given.
func TestRoundTrip(t *testing.T) {
	for name, c := range map[string]Calendar{"sample": sample(t), "window": window(t)} {
		t.Run(name, func(t *testing.T) {
			cal := decode(t, render(t, c))
			if got, _ := cal.Props.Text("X-WR-CALNAME"); got != c.Name {
				t.Errorf("X-WR-CALNAME %q, want %q", got, c.Name)
			}
			got := cal.Events()
			if len(got) != len(c.Events) {
				t.Fatalf("%d events, want %d", len(got), len(c.Events))
			}
			byUID := map[string]Event{}
			for _, e := range c.Events {
				byUID[e.UID] = e
			}
			for _, ev := range got {
				uid, _ := ev.Props.Text(ical.PropUID)
				want, ok := byUID[uid]
				if !ok {
					t.Fatalf("unexpected UID %q", uid)
				}
				checkDecoded(t, ev, want)
			}
		})
	}
}

func checkDecoded(t *testing.T, ev ical.Event, want Event) {
	t.Helper()
	text := func(name string) string {
		s, err := ev.Props.Text(name)
		if err != nil {
			t.Fatalf("%s %s: %v", want.UID, name, err)
		}
		return s
	}
	when := func(name string) time.Time {
		tm, err := ev.Props.DateTime(name, nil)
		if err != nil {
			t.Fatalf("%s %s: %v", want.UID, name, err)
		}
		return tm
	}
	start, _ := ev.DateTimeStart(nil)
	end, _ := ev.DateTimeEnd(nil)
	seq, err := ev.Props.Get(ical.PropSequence).Int()
	if err != nil {
		t.Fatal(err)
	}
	url := ""
	if p := ev.Props.Get(ical.PropURL); p != nil {
		url = p.Value
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"start", start, want.Start.UTC().Truncate(time.Second)},
		{"end", end, want.Start.Add(want.Duration).UTC().Truncate(time.Second)},
		{"DTSTAMP", when(ical.PropDateTimeStamp), want.LastModified.UTC().Truncate(time.Second)},
		{"LAST-MODIFIED", when(ical.PropLastModified), want.LastModified.UTC().Truncate(time.Second)},
		{"summary", text(ical.PropSummary), clean(want.Title)},
		{"description", text(ical.PropDescription), clean(want.Description)},
		{"status", text(ical.PropStatus), want.Status},
		{"sequence", seq, want.Sequence},
		{"URL", url, want.URL},
	} {
		if c.got != c.want {
			t.Errorf("%s: %s %v, want %v", want.UID, c.what, c.got, c.want)
		}
	}
}

// TestRenderProperties: for any text at all, Render succeeds, its lines obey
// RFC 5545 and go-ical reads back the text (after clean's documented changes).
func TestRenderProperties(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		e := Event{
			UID:          rapid.StringMatching(`[A-Za-z0-9@.,;:\\_-]{1,90}`).Draw(rt, "uid"),
			Start:        time.Unix(rapid.Int64Range(0, 4e9).Draw(rt, "start"), 0),
			Duration:     time.Duration(rapid.IntRange(1, 600).Draw(rt, "minutes")) * time.Minute,
			Title:        rapid.String().Draw(rt, "title"),
			Description:  rapid.String().Draw(rt, "description"),
			Status:       rapid.SampledFrom([]string{Confirmed, Tentative, Cancelled}).Draw(rt, "status"),
			Sequence:     rapid.IntRange(0, 1000).Draw(rt, "sequence"),
			LastModified: time.Unix(rapid.Int64Range(0, 4e9).Draw(rt, "modified"), 0),
		}
		c := Calendar{Name: "n" + rapid.String().Draw(rt, "name"), Alarm: rapid.Bool().Draw(rt, "alarm"), Events: []Event{e}}
		body, err := Render(c)
		if err != nil {
			rt.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(body), "\r\n"), "\r\n")
		for _, l := range lines {
			if len(l) > 75 || strings.ContainsAny(l, "\r\n") || !utf8.ValidString(l) {
				rt.Fatalf("bad physical line %q", l)
			}
		}
		cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
		if err != nil {
			rt.Fatal(err)
		}
		evs := cal.Events()
		if len(evs) != 1 {
			rt.Fatalf("%d events", len(evs))
		}
		for _, x := range []struct{ prop, want string }{
			{ical.PropUID, e.UID},
			{ical.PropSummary, clean(e.Title)},
			{ical.PropDescription, clean(e.Description)},
		} {
			if got, err := evs[0].Props.Text(x.prop); err != nil || got != x.want {
				rt.Fatalf("%s read back as %q (%v), want %q", x.prop, got, err, x.want)
			}
		}
		if got, _ := cal.Props.Text("X-WR-CALNAME"); got != clean(c.Name) {
			rt.Fatalf("X-WR-CALNAME read back as %q, want %q", got, clean(c.Name))
		}
	})
}

func TestETag(t *testing.T) {
	a, b := render(t, sample(t)), render(t, window(t))
	ea := ETag(a)
	if len(ea) != 24 || ea[0] != '"' || ea[23] != '"' || strings.HasPrefix(ea, "W/") {
		t.Fatalf("ETag %s is not a quoted strong tag of 22 characters", ea)
	}
	if strings.ContainsAny(ea[1:23], `"+/= `) {
		t.Fatalf("ETag %s is not base64url without padding", ea)
	}
	if ETag(b) == ea {
		t.Fatal("two different bodies have the same ETag")
	}
	if ETag(slices.Clone(a)) != ea {
		t.Fatal("equal bodies have different ETags")
	}
}

func TestLastModified(t *testing.T) {
	c := sample(t)
	if got, want := c.LastModified(), time.Date(2026, 3, 1, 21, 4, 5, 0, time.UTC); !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("LastModified %v, want %v", got, want)
	}
	if !(Calendar{}).LastModified().IsZero() {
		t.Error("LastModified of an empty calendar is not zero")
	}
}

func TestTitle(t *testing.T) {
	for _, tc := range []struct {
		name       string
		unit       programs.Unit
		dose, sets int
		want       string
	}{
		{"Walk", programs.Minutes, 14, 1, "Walk · 14 min"},
		{"Stretches", programs.Minutes, 6, 1, "Stretches · 6 min"},
		{"Breathing", programs.Minutes, 5, 2, "Breathing · 2 × 5 min"},
		{"Bridge", programs.Reps, 8, 2, "Bridge · 2 × 8"},
		{"Bridge", programs.Reps, 8, 1, "Bridge · 8 reps"},
		{"Bridge", programs.Reps, 1, 1, "Bridge · 1 rep"},
		{"Knee to chest", programs.Seconds, 20, 3, "Knee to chest · 3 × 20 s"},
		{"Knee to chest", programs.Seconds, 20, 1, "Knee to chest · 20 s"},
		{" Walk ", programs.Minutes, 14, 0, "Walk · 14 min"},
	} {
		if got := Title(tc.name, tc.unit, tc.dose, tc.sets); got != tc.want {
			t.Errorf("Title(%q, %s, %d, %d) = %q, want %q", tc.name, tc.unit, tc.dose, tc.sets, got, tc.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		unit       programs.Unit
		dose, sets int
		want       time.Duration
	}{
		{programs.Minutes, 14, 1, 14 * time.Minute},
		{programs.Minutes, 2, 1, 2 * time.Minute},
		{programs.Minutes, 5, 2, 10 * time.Minute},
		{programs.Minutes, 14, 0, 14 * time.Minute},
		{programs.Minutes, 0, 1, 5 * time.Minute},
		{programs.Reps, 8, 2, 5 * time.Minute},      // 80 s + 30 s
		{programs.Reps, 1, 1, 5 * time.Minute},      // at least 5 minutes
		{programs.Reps, 20, 3, 10 * time.Minute},    // 300 s + 60 s = 6 min, rounded up
		{programs.Reps, 60, 1, 5 * time.Minute},     // exactly 300 s stays 5 min
		{programs.Seconds, 20, 3, 5 * time.Minute},  // 90 s + 30 s + 60 s
		{programs.Seconds, 60, 5, 10 * time.Minute}, // 350 s + 120 s = 7 min 50 s
		{programs.Seconds, -5, 2, 5 * time.Minute},
	} {
		if got := Duration(tc.unit, tc.dose, tc.sets); got != tc.want {
			t.Errorf("Duration(%s, %d, %d) = %v, want %v", tc.unit, tc.dose, tc.sets, got, tc.want)
		}
	}
}

// A merged event lasts its sessions one after the other, rounded up once:
// four 3 × 20 s stretches (150 s each, with the rests) are 10 minutes, not
// 4 × 5.
func TestGroupDuration(t *testing.T) {
	s := func(dose, sets int) Dose { return Dose{programs.Seconds, dose, sets} }
	for _, tc := range []struct {
		ds   []Dose
		want time.Duration
	}{
		{[]Dose{s(20, 3), s(20, 3), s(20, 3), s(20, 3)}, 10 * time.Minute},          // 4 × 150 s
		{[]Dose{s(20, 3), s(20, 3), s(25, 3)}, 10 * time.Minute},                    // 465 s, rounded up
		{[]Dose{s(10, 1), s(10, 1)}, 5 * time.Minute},                               // 40 s: at least 5 minutes
		{[]Dose{{programs.Minutes, 8, 1}, {programs.Reps, 8, 2}}, 10 * time.Minute}, // 8 min + 110 s
		{[]Dose{{programs.Minutes, 10, 1}, {programs.Minutes, 5, 1}}, 15 * time.Minute},
	} {
		if got := GroupDuration(tc.ds); got != tc.want {
			t.Errorf("GroupDuration(%v) = %v, want %v", tc.ds, got, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		s         programs.Status
		projected bool
		want      string
	}{
		{programs.Planned, false, Confirmed},
		{programs.Done, false, Confirmed},
		{programs.Missed, false, Confirmed},
		{programs.Planned, true, Tentative},
		{programs.Cancelled, false, Cancelled},
		{programs.Cancelled, true, Cancelled},
	} {
		if got := Status(tc.s, tc.projected); got != tc.want {
			t.Errorf("Status(%s, %v) = %s, want %s", tc.s, tc.projected, got, tc.want)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	c := window(b)
	var body []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if body, err = Render(c); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(c.Events)), "events")
	b.ReportMetric(float64(len(body)), "bytes")
	if len(body) > 1<<20/2 {
		b.Fatalf("feed of %d events is %d bytes; it must stay far below 1 MB", len(c.Events), len(body))
	}
}

func TestNoAlarmOnAnEvent(t *testing.T) {
	at := time.Date(2026, 11, 23, 6, 30, 0, 0, time.UTC)
	ev := func(uid string, noAlarm bool) Event {
		return Event{UID: uid, Start: at, Duration: 10 * time.Minute, Title: "Walk · 10 min", Status: Confirmed,
			LastModified: at, NoAlarm: noAlarm}
	}
	body, err := Render(Calendar{Name: "Plan", Alarm: true, Events: []Event{ev("a@pacer", false), ev("b@pacer", true)}})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(string(body), "BEGIN:VEVENT")
	if len(parts) != 3 || !strings.Contains(parts[1], "BEGIN:VALARM") || strings.Contains(parts[2], "BEGIN:VALARM") {
		t.Errorf("want a VALARM on a@pacer only:\n%s", body)
	}
}

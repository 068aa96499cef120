package web_test

// The security suite: every attack of the security review (issue 11),
// replayed against pacer as `pacer serve` builds it (daemon.New, through
// testserver), on SQLite and PostgreSQL, and shown refused. Each test names
// the review's finding it answers.

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"pacer/internal/clinic"
	"pacer/internal/config"
	"pacer/internal/daemon"
	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
	"pacer/scheduler"
)

// secEnv runs pacer with an SMTP server (so that email channels and
// therapist alerts exist) and the configuration tweak applies.
func secEnv(t *testing.T, dsn string, tweak func(c *config.Config)) (*env, *mailbox) {
	t.Helper()
	mb := startMailbox(t)
	return newEnv(t, dsn, testserver.Options{Config: func(c *config.Config) {
		c.SMTP.Host, c.SMTP.Port, c.SMTP.From, c.SMTP.TLS = "127.0.0.1", mb.port, "pacer@clinic.example", "none"
		if tweak != nil {
			tweak(c)
		}
	}}), mb
}

// feedEvents fetches a feed and returns each event's URL and description.
func feedEvents(t *testing.T, e *env, feedURL string) (body []byte, urls, descs []string) {
	t.Helper()
	code, body, _ := e.Do("GET", feedURL, "", "")
	if code != http.StatusOK {
		t.Fatalf("feed: %d", code)
	}
	cal, err := ical.NewDecoder(bytes.NewReader(body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range cal.Events() {
		var u string
		if p := ev.Props.Get(ical.PropURL); p != nil {
			u = p.Value
		}
		d, _ := ev.Props.Text(ical.PropDescription)
		urls, descs = append(urls, u), append(descs, d)
	}
	return body, urls, descs
}

// pathOf is an absolute link's path (and query) on the server.
func pathOf(e *env, link string) string { return strings.TrimPrefix(link, e.URL) }

var sessionURL = regexp.MustCompile(`/s/[A-Za-z0-9_-]{54}$`)

// raw is the store's database opened beside the store, for the queries
// the store does not offer: tests look for what must be gone.
type raw struct {
	db *sql.DB
	pg bool
}

func rawDB(t *testing.T, dsn string) raw {
	t.Helper()
	r := raw{pg: strings.HasPrefix(dsn, "postgres")}
	driver, name := "sqlite", strings.TrimPrefix(dsn, "sqlite:")
	if r.pg {
		driver, name = "pgx", dsn
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r.db = db
	return r
}

// count runs a COUNT query written with ? placeholders.
func (r raw) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	if r.pg {
		n := 0
		query = regexp.MustCompile(`\?`).ReplaceAllStringFunc(query, func(string) string { n++; return fmt.Sprintf("$%d", n) })
	}
	var n int
	if err := r.db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// day is a date of the tests' calendar.
func day(s string) programs.Date {
	d, err := programs.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// Finding: "The calendar feed hands out the write link. Every event carries
// the check-in URL; anyone shown a shared calendar, and Google's fetcher,
// can post red flags or flares and change reminder channels."
func TestSecurityFeedCarriesOnlySessionLinks(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		l := e.Patient(`{"name":"F. L.","timezone":"Europe/Berlin"}`)
		e.Assign(l.ID, `{"program":"walking","start":"2026-11-23","baseline":{"walk":10}}`)
		body, urls, descs := feedEvents(t, e, l.FeedURL)
		checkinToken := l.CheckinURL[strings.LastIndexByte(l.CheckinURL, '/')+1:]
		unfolded := strings.ReplaceAll(string(body), "\r\n ", "")
		if strings.Contains(unfolded, checkinToken) || strings.Contains(unfolded, "/c/") {
			t.Fatal("the feed carries the check-in link")
		}
		seen := map[string]bool{}
		for i, u := range urls {
			if !strings.HasPrefix(u, e.URL) || !sessionURL.MatchString(u) || !strings.Contains(descs[i], u) {
				t.Fatalf("event %d: URL %q (description %q), want its own session link", i, u, descs[i])
			}
			seen[u] = true
		}
		if len(urls) < 40 || len(seen) != len(urls) {
			t.Fatalf("%d events with %d distinct links, want one link per event", len(urls), len(seen))
		}

		// Today's session, from its link: that session and nothing else.
		today := urls[0]
		p := newBrowser(e).send("GET", pathOf(e, today), nil)
		p.want(t, "the session page", http.StatusOK, "Walk", "8 minutes", `action="/s/`)
		for _, leak := range []string{checkinToken, "/feed/", `value="red_flag"`, `value="flare"`, `name="kind"`, `name="answers"`,
			"webcal", "F. L."} {
			if strings.Contains(p.body, leak) {
				t.Errorf("the session page shows %q", leak)
			}
		}
		if p.hdr.Get("Referrer-Policy") != "no-referrer" {
			t.Error("the session page may leak its link in Referer")
		}
		// It marks the session done…
		newBrowser(e).send("POST", pathOf(e, today), url.Values{"status": {"done"}}).redirectedTo(t, "done", pathOf(e, today))
		xs, err := e.Store.Sessions(t.Context(), l.ID, day("2026-11-23"), day("2026-11-23"))
		if err != nil || len(xs) != 1 || xs[0].Status != programs.Done {
			t.Fatalf("today's session after its link: %+v %v", xs, err)
		}
		// … and can do nothing else: no flare, no red flag, no other kind,
		// no channels.
		newBrowser(e).send("POST", pathOf(e, today), url.Values{"status": {"flare"}}).want(t, "a flare by a session link", http.StatusBadRequest)
		for _, body := range []string{`{"kind":"red_flag","answers":["night_pain"]}`, `{"status":"done","kind":"flare"}`,
			`{"status":"done","activity":"stretch"}`, `{"status":"done","date":"2026-11-20"}`} {
			if code, out, _ := e.Do("POST", today, "", body); code != http.StatusBadRequest {
				t.Errorf("POST %s to a session link: %d %s, want 400", body, code, out)
			}
		}
		for _, m := range []string{"PUT", "POST", "GET"} {
			for _, sub := range []string{"/channels", "/checkins", "/push-subscriptions", "/settings"} {
				if code, _, _ := e.Do(m, today+sub, "", `{"channels":[]}`); code < 400 {
					t.Errorf("%s %s on a session link: %d", m, sub, code)
				}
			}
		}
		var plan struct {
			Paused  bool `json:"paused"`
			InFlare bool `json:"in_flare"`
		}
		e.JSON("GET", fmt.Sprintf("/api/v1/assignments/%d/plan", e.Assignments(l.ID)[0]), e.TokenA, "", 200, &plan)
		if plan.Paused || plan.InFlare {
			t.Errorf("a session link changed the plan: %+v", plan)
		}
		// A session of another day: shown, not recordable before its day.
		future := urls[len(urls)-1]
		newBrowser(e).send("GET", pathOf(e, future), nil).want(t, "a future session", http.StatusOK, "from its day on")
		newBrowser(e).send("POST", pathOf(e, future), url.Values{"status": {"done"}}).want(t, "a future session marked done", http.StatusBadRequest)
		// Forged and altered tokens are unknown.
		tok := today[strings.LastIndexByte(today, '/')+1:]
		altered := tok[:10] + map[bool]string{true: "A", false: "B"}[tok[10] != 'A'] + tok[11:]
		random := make([]byte, 40)
		rand.Read(random)
		for _, bad := range []string{altered, base64.RawURLEncoding.EncodeToString(random), tok[:53], tok + "A", "1", checkinToken} {
			if code, _, _ := e.Do("GET", "/s/"+bad, "", ""); code != http.StatusNotFound {
				t.Errorf("session link %q: %d, want 404", bad, code)
			}
		}
	})
}

// Finding: "The check-in token cannot be rotated, and the check-in page
// reveals the current feed URL, so rotating the feed does not lock out a
// holder of the check-in link." Deliver: rotating either link, or erasing,
// revokes what the old one reached.
func TestSecurityRotationRevokes(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		old := e.Patient(`{"name":"R. O.","timezone":"Europe/Berlin"}`)
		e.Assign(old.ID, `{"program":"walking","start":"2026-11-23"}`)
		_, oldSessions, _ := feedEvents(t, e, old.FeedURL)
		gone := func(what string, links ...string) {
			t.Helper()
			for _, l := range links {
				if code, _, _ := e.Do("GET", l, "", ""); code != http.StatusNotFound {
					t.Errorf("%s %s: %d, want 404", what, l, code)
				}
			}
		}

		// The therapist rotates the check-in link: the old check-in link,
		// the calendar link its page showed, and that calendar's session
		// links are dead at once.
		var rot struct {
			CheckinURL string `json:"checkin_url"`
			FeedURL    string `json:"feed_url"`
		}
		e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/checkin-token", old.ID), e.TokenA, "", 200, &rot)
		gone("after the check-in link's rotation", old.CheckinURL, old.FeedURL, oldSessions[0], oldSessions[5])
		if rot.CheckinURL == old.CheckinURL || rot.FeedURL == old.FeedURL {
			t.Fatal("rotation kept a link")
		}
		p := newBrowser(e).send("GET", pathOf(e, rot.CheckinURL)+"/calendar", nil)
		p.want(t, "the new calendar page", http.StatusOK, rot.FeedURL)
		if strings.Contains(p.body, old.FeedURL) {
			t.Error("the new calendar page shows the old calendar link")
		}
		_, sessions, _ := feedEvents(t, e, rot.FeedURL)
		if sessions[0] == oldSessions[0] {
			t.Error("the new calendar carries the old session links")
		}

		// The patient's own button, "I shared my link by mistake".
		loc := newBrowser(e).send("POST", pathOf(e, rot.CheckinURL)+"/rotate", url.Values{}).
			redirectedTo(t, "the patient's rotation", e.URL+"/c/")
		gone("after the patient's rotation", rot.CheckinURL, rot.FeedURL, sessions[0])
		newBrowser(e).send("GET", pathOf(e, loc), nil).want(t, "the new page, once", http.StatusOK, "new address")
		mine := strings.TrimSuffix(loc, "?saved=rotated")
		if code, _, _ := e.Do("GET", mine, "", ""); code != http.StatusOK {
			t.Fatalf("the patient's new link: %d", code)
		}

		// Rotating the calendar link revokes the session links it carried;
		// the check-in link stays.
		var now struct {
			FeedURL string `json:"feed_url"`
		}
		e.JSON("GET", fmt.Sprintf("/api/v1/patients/%d", old.ID), e.TokenA, "", 200, &now)
		_, sessions, _ = feedEvents(t, e, now.FeedURL)
		e.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/feed-token", old.ID), e.TokenA, "", 200, &now)
		gone("after the calendar link's rotation", sessions[0], sessions[3])
		if code, _, _ := e.Do("GET", mine, "", ""); code != http.StatusOK {
			t.Errorf("the check-in link after a calendar rotation: %d", code)
		}

		// Erasure revokes everything.
		_, sessions, _ = feedEvents(t, e, now.FeedURL)
		if code, _, _ := e.Do("DELETE", fmt.Sprintf("/api/v1/patients/%d", old.ID), e.TokenA, ""); code != http.StatusNoContent {
			t.Fatalf("erase: %d", code)
		}
		gone("after erasure", mine, now.FeedURL, sessions[0], sessions[len(sessions)-1])
	})
}

// pushSubscription is a browser's PushSubscription JSON with real keys.
func pushSubscription(t *testing.T, endpoint string) string {
	t.Helper()
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	enc := base64.RawURLEncoding.EncodeToString
	return fmt.Sprintf(`{"endpoint":%q,"expirationTime":null,"keys":{"p256dh":%q,"auth":%q}}`,
		endpoint, enc(k.PublicKey().Bytes()), enc(auth))
}

// Finding: "A patient link can mail anyone, and flood the outbox. One PUT to
// /c/{token}/channels stored 1,202 email channels … a duplicate channel gets
// 500."
func TestSecurityChannelsAreBounded(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e, _ := secEnv(t, dsn, nil)
		l := e.Patient(`{"name":"B. C.","email":"bc@example.org","timezone":"Europe/Berlin"}`)
		put := func(who, path, token, body string, want int, says string) {
			t.Helper()
			code, out, _ := e.Do("PUT", path, token, body)
			if code != want || !strings.Contains(string(out), says) {
				t.Errorf("%s: %d %s, want %d saying %q", who, code, out, want, says)
			}
		}
		var many []string
		for i := range 1202 {
			many = append(many, fmt.Sprintf(`{"type":"email","address":"victim%d@example.org"}`, i))
		}
		flood := `{"channels":[` + strings.Join(many, ",") + `]}`
		put("1,202 emails from the patient's link", l.CheckinURL+"/channels", "", flood, 400, "at most one channel of each type")
		apiPath := fmt.Sprintf("/api/v1/patients/%d/channels", l.ID)
		put("1,202 emails from the therapist", apiPath, e.TokenA, flood, 400, "at most one channel of each type")
		for _, dup := range []string{
			`{"channels":[{"type":"email","address":"a@example.org"},{"type":"email","address":"b@example.org"}]}`,
			`{"channels":[{"type":"email","address":"a@example.org"},{"address":"a@example.org","type":"email"}]}`,
			`{"channels":[{"type":"ntfy","topic":"t1a2b3c4"},{"type":"ntfy","topic":"t1a2b3c4","server":"https://ntfy.sh"}]}`,
			`{"channels":[{"type":"webhook","url":"https://hooks.example.org/a"},{"type":"webhook","url":"https://hooks.example.org/b"}]}`,
		} {
			put("a second or duplicate channel", l.CheckinURL+"/channels", "", dup, 400, "")
			put("a second or duplicate channel (therapist)", apiPath, e.TokenA, dup, 400, "")
		}
		chs, err := e.Store.Channels(t.Context(), l.ID)
		if err != nil || len(chs) != 1 {
			t.Fatalf("after the refusals: %d channels, %v; want the one set at creation", len(chs), err)
		}
		// One of each type is fine.
		put("one of each", apiPath, e.TokenA, `{"channels":[{"type":"email","address":"bc@example.org"},
			{"type":"ntfy","topic":"pacer-bc-1234"},{"type":"webhook","url":"https://hooks.example.org/pacer"}]}`, 200, "ntfy")

		// Web Push: a sixth browser replaces the oldest; never more than five.
		var first string
		for i := range 7 {
			sub := pushSubscription(t, fmt.Sprintf("https://push.example.org/send/%d", i))
			if code, out, _ := e.Do("POST", l.CheckinURL+"/push-subscriptions", "", sub); code != http.StatusCreated {
				t.Fatalf("subscription %d: %d %s", i, code, out)
			}
			if i == 0 {
				first = sub
			}
		}
		chs, _ = e.Store.Channels(t.Context(), l.ID)
		var push []string
		for _, ch := range chs {
			if ch.Type == store.ChannelWebPush {
				push = append(push, string(ch.Config))
			}
		}
		if len(push) != store.MaxPushSubscriptions || strings.Contains(strings.Join(push, " "), "/send/0") ||
			strings.Contains(strings.Join(push, " "), "/send/1\"") || !strings.Contains(strings.Join(push, " "), "/send/6") {
			t.Errorf("web push subscriptions after seven browsers: %d %v; want the newest five", len(push), push)
		}
		_ = first
	})
}

// Finding: "A patient link can mail anyone": an address typed on the
// patient's page receives nothing but a confirmation link until it is
// confirmed; the link's page changes nothing on GET.
func TestSecurityEmailFromThePatientIsConfirmedFirst(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e, mb := secEnv(t, dsn, nil)
		l := e.Patient(`{"name":"C. F.","timezone":"Europe/Berlin"}`)
		berlin, _ := time.LoadLocation("Europe/Berlin")
		due := e.Clock.Now().Add(2 * time.Minute).In(berlin)
		e.Assign(l.ID, fmt.Sprintf(`{"program":"walking","start":"%s","baseline":{"walk":10},"schedule":{"walk":{"days":["daily"],"times":["%s"]}}}`,
			due.Format(time.DateOnly), due.Format("15:04")))
		var got channelsReply
		e.JSON("PUT", l.CheckinURL+"/channels", "", `{"channels":[{"type":"email","address":"victim@example.org"}]}`, 200, &got)
		var ch struct{ Pending bool }
		if len(got.Channels) != 1 || json.Unmarshal(got.Channels[0], &ch) != nil || !ch.Pending {
			t.Fatalf("channels after the patient set an email: %s", got.Channels)
		}
		// The reply can be sent back as it is.
		back, _ := json.Marshal(map[string]any{"channels": got.Channels})
		e.JSON("PUT", l.CheckinURL+"/channels", "", string(back), 200, nil)

		// A flare and the session's due time: only the confirmation goes.
		e.JSON("POST", l.CheckinURL+"/checkins", "", `{"kind":"flare"}`, 201, nil)
		e.Clock.Add(3 * time.Minute)
		run(t, e)
		run(t, e)
		mails := to(mb.received(), "victim@example.org")
		if len(mails) != 1 || subjectOf(mails[0]) != "Confirm your reminder address" {
			var subjects []string
			for _, m := range mails {
				subjects = append(subjects, subjectOf(m))
			}
			t.Fatalf("mail to the unconfirmed address: %q, want only the confirmation", subjects)
		}
		for _, word := range []string{"flare", "walk", "pain", "C. F."} {
			if strings.Contains(strings.ToLower(mails[0].Body), strings.ToLower(word)) {
				t.Errorf("the confirmation says %q: %s", word, mails[0].Body)
			}
		}
		link := regexp.MustCompile(`https?://\S+/confirm/[A-Za-z0-9_-]{43}`).FindString(mails[0].Body)
		if link == "" {
			t.Fatalf("no confirmation link in %s", mails[0].Body)
		}
		// Opening the link (a mail scanner does) changes nothing.
		newBrowser(e).send("GET", pathOf(e, link), nil).want(t, "the confirmation page", http.StatusOK, "victim@example.org", "<form")
		chs, _ := e.Store.Channels(t.Context(), l.ID)
		if len(chs) != 1 || !chs[0].Pending {
			t.Fatalf("after a GET of the link: %+v", chs)
		}
		if code, _, _ := e.Do("GET", strings.Replace(link, "/confirm/", "/confirm/x", 1), "", ""); code != http.StatusNotFound {
			t.Errorf("a wrong confirmation link: %d", code)
		}
		newBrowser(e).send("POST", pathOf(e, link), url.Values{}).want(t, "confirming", http.StatusOK, "Confirmed")
		chs, _ = e.Store.Channels(t.Context(), l.ID)
		if len(chs) != 1 || chs[0].Pending {
			t.Fatalf("after confirming: %+v", chs)
		}
		if code, _, _ := e.Do("GET", link, "", ""); code != http.StatusNotFound {
			t.Errorf("the link after use: %d, want 404", code)
		}
		// Now it receives the next day's reminder.
		e.Clock.Add(24 * time.Hour)
		if err := e.Daemon.Clinic.Replan(t.Context(), l.ID); err != nil {
			t.Fatal(err)
		}
		run(t, e)
		if n := len(to(mb.received(), "victim@example.org")); n != 2 {
			t.Errorf("%d messages to the confirmed address, want the confirmation and one reminder", n)
		}
		// An address the therapist sets needs no confirmation.
		e.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", l.ID), e.TokenA,
			`{"channels":[{"type":"email","address":"other@example.org"}]}`, 200, nil)
		if chs, _ := e.Store.Channels(t.Context(), l.ID); len(chs) != 1 || chs[0].Pending {
			t.Errorf("an address the therapist set: %+v", chs)
		}
	})
}

// Finding: "three flare check-ins then sent 295 emails through the clinic's
// SMTP within 30 s and can starve every other patient's reminders": flare
// and red-flag messages go at most once per kind a day, and a daily quota
// per patient skips the excess as "quota".
func TestSecurityMessagesAreBounded(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e, mb := secEnv(t, dsn, func(c *config.Config) { c.Notify.DailyQuota = 5 })
		l := e.Patient(`{"name":"M. B.","email":"mb@example.org","timezone":"Europe/Berlin"}`)
		other := e.Patient(`{"name":"O. P.","email":"op@example.org","timezone":"Europe/Berlin"}`)
		e.Assign(l.ID, `{"program":"walking","start":"2026-11-16","baseline":{"walk":10}}`)
		e.Assign(other.ID, `{"program":"walking","start":"2026-11-16","baseline":{"walk":10}}`)
		for _, c := range []string{`{"kind":"flare"}`, `{"kind":"settled"}`, `{"kind":"flare"}`, `{"kind":"settled"}`,
			`{"kind":"flare"}`, `{"kind":"flare","date":"2026-11-22"}`, `{"kind":"flare","date":"2026-11-21"}`,
			`{"kind":"red_flag","answers":["night_pain"]}`, `{"kind":"red_flag","answers":["fall_injury"]}`} {
			e.JSON("POST", l.CheckinURL+"/checkins", "", c, 201, nil)
		}
		rs, err := e.Store.Reminders(t.Context(), l.ID, e.Clock.Now().Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]int{}
		for _, r := range rs {
			kinds[r.Kind]++
		}
		if kinds[scheduler.KindFlare] != 1 || kinds[scheduler.KindRedFlag] != 1 {
			t.Errorf("messages to the patient after 5 flares and 2 red flags in a day: %v, want one of each", kinds)
		}
		db := rawDB(t, dsn)
		if n := db.count(t, `SELECT COUNT(*) FROM reminders WHERE therapist_id IS NOT NULL AND patient_id = ? AND kind = 'alert_flare'`, l.ID); n != 1 {
			t.Errorf("%d flare alerts to the therapist, want 1", n)
		}

		// The quota: past five messages a day the patient's rows are
		// skipped as quota, other patients' go.
		chs, _ := e.Store.Channels(t.Context(), l.ID)
		otherChs, _ := e.Store.Channels(t.Context(), other.ID)
		var extra []store.Reminder
		for i := range 10 {
			extra = append(extra, store.Reminder{Kind: scheduler.KindTest, PatientID: l.ID, ChannelID: chs[0].ID,
				DueAt: e.Clock.Now(), DedupeKey: fmt.Sprintf("test:flood:%d", i), Payload: json.RawMessage(`{"Title":"t","Body":"b"}`)})
		}
		extra = append(extra, store.Reminder{Kind: scheduler.KindTest, PatientID: other.ID, ChannelID: otherChs[0].ID,
			DueAt: e.Clock.Now(), DedupeKey: "test:other", Payload: json.RawMessage(`{"Title":"t","Body":"b"}`)})
		if _, err := e.Store.AddReminders(t.Context(), extra); err != nil {
			t.Fatal(err)
		}
		for run(t, e) > 0 {
		}
		if n := len(to(mb.received(), "mb@example.org")); n != 5 {
			t.Errorf("%d messages to the flooded patient, want the quota of 5", n)
		}
		if n := len(to(mb.received(), "op@example.org")); n != 1 {
			t.Errorf("%d messages to the other patient, want 1", n)
		}
		rs, _ = e.Store.Reminders(t.Context(), l.ID, e.Clock.Now().Add(-time.Hour))
		quota := 0
		for _, r := range rs {
			if r.SkipReason == scheduler.SkipQuota {
				quota++
			}
		}
		if quota != 7 { // 1 flare + 1 red flag + 10 test rows = 12, less 5 sent
			t.Errorf("%d rows skipped as quota, want 7", quota)
		}
		// The dispatcher's workers send at once, so which rows the quota
		// skips varies; how many does not.
		_, metrics, _ := e.Do("GET", "/metrics", "", "")
		counted := 0
		for _, m := range regexp.MustCompile(`pacer_reminders_skipped_total\{kind="[a-z_]+",reason="quota"\} (\d+)`).
			FindAllStringSubmatch(string(metrics), -1) {
			n, _ := strconv.Atoi(m[1])
			counted += n
		}
		if counted != 7 {
			t.Errorf("/metrics counts %d skips for the quota, want 7", counted)
		}
	})
}

// Finding: "Credentials cannot be revoked. API tokens never expire and
// cannot be listed or revoked; therapists cannot be disabled; a therapist
// whose setup link expired can never get in; logout ends only that
// session." (The CLI's token and user commands: cmd/pacer.)
func TestSecurityCredentialLifecycle(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		ctx := t.Context()
		api := func(token string) int {
			code, _, _ := e.Do("GET", "/api/v1/patients", token, "")
			return code
		}

		// A token with an expiry works until then.
		tok, _ := store.NewToken()
		if err := e.Store.CreateExpiringAPIToken(ctx, e.A.ID, "ci", store.HashToken(tok), e.Clock.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if api(tok) != 200 {
			t.Fatal("a fresh expiring token does not work")
		}
		e.Clock.Add(61 * time.Minute)
		if code := api(tok); code != 401 {
			t.Errorf("an expired token: %d, want 401", code)
		}
		// Tokens are listed with their last use, and a revoked one is dead.
		ks, err := e.Store.APITokens(ctx, e.A.ID)
		if err != nil || len(ks) != 2 {
			t.Fatalf("A's tokens: %+v %v", ks, err)
		}
		if ks[1].LastUsedAt.IsZero() || ks[1].ExpiresAt.IsZero() {
			t.Errorf("the listed token lacks its last use or expiry: %+v", ks[1])
		}
		if api(e.TokenA) != 200 {
			t.Fatal("A's token does not work")
		}
		for _, k := range ks {
			if err := e.Store.RevokeAPIToken(ctx, k.ID); err != nil {
				t.Fatal(err)
			}
		}
		if code := api(e.TokenA); code != 401 {
			t.Errorf("a revoked token: %d, want 401", code)
		}

		// Disabling a therapist ends their sessions, their tokens and their
		// setup links; enabling gives back the tokens.
		bob := signedIn(t, e, "bob@example.org", false)
		bobID := e.therapistOf(t, "bob@example.org")
		bobToken, _ := store.NewToken()
		e.Store.CreateAPIToken(ctx, bobID, "bob", store.HashToken(bobToken))
		link := setupLink(t, e, "carol@example.org", e.Clock.Now().Add(time.Hour))
		carolID := e.therapistOf(t, "carol@example.org")
		for _, id := range []int64{bobID, carolID} {
			if err := e.Store.SetTherapistDisabled(ctx, id, true); err != nil {
				t.Fatal(err)
			}
		}
		bob.send("GET", "/", nil).want(t, "a disabled therapist's session", http.StatusOK, "Sign in")
		if code := api(bobToken); code != 401 {
			t.Errorf("a disabled therapist's token: %d, want 401", code)
		}
		newBrowser(e).send("POST", "/login", url.Values{"email": {"bob@example.org"}, "password": {"a long passphrase"}}).
			want(t, "a disabled therapist's sign-in", http.StatusForbidden, "wrong")
		newBrowser(e).send("GET", link, nil).want(t, "a disabled therapist's setup link", http.StatusNotFound)
		e.Store.SetTherapistDisabled(ctx, bobID, false)
		if code := api(bobToken); code != 200 {
			t.Errorf("an enabled therapist's token: %d, want 200", code)
		}

		// A password change ends every other session; "sign out
		// everywhere" ends them all.
		ann1 := signedIn(t, e, "ann@example.org", false)
		ann2 := newBrowser(e)
		login(t, ann2, "ann@example.org", "a long passphrase")
		ann1.send("POST", "/account/password", url.Values{"current": {"not it at all"}, "password": {"a newer passphrase"},
			"confirm": {"a newer passphrase"}}).want(t, "a wrong current password", http.StatusUnprocessableEntity, "current password is wrong")
		ann1.send("POST", "/account/password", url.Values{"current": {"a long passphrase"}, "password": {"a newer passphrase"},
			"confirm": {"a newer passphrase"}}).redirectedTo(t, "a password change", "/account")
		ann1.send("GET", "/account?done=password", nil).want(t, "the session that changed it", http.StatusOK, "Your password was changed")
		ann2.send("GET", "/", nil).want(t, "another session after the change", http.StatusOK, "Sign in")
		newBrowser(e).send("POST", "/login", url.Values{"email": {"ann@example.org"}, "password": {"a long passphrase"}}).
			want(t, "the old password", http.StatusForbidden)
		login(t, ann2, "ann@example.org", "a newer passphrase")
		ann1.send("POST", "/account/sign-out-everywhere", url.Values{}).redirectedTo(t, "sign out everywhere", "/login")
		for i, b := range []*browser{ann1, ann2} {
			if b.cookie != nil {
				b.cookie.Name = sessionCookie // a browser that kept the cookie anyway
			}
			b.send("GET", "/", nil).want(t, fmt.Sprintf("session %d after signing out everywhere", i+1), http.StatusOK, "Sign in")
		}
	})
}

// The admin page: therapists listed, one disabled, a new setup link for one
// whose link expired, their patients moved to another therapist.
func TestSecurityAdminManagesTherapists(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		admin := signedIn(t, e, "admin@example.org", true)
		plain := signedIn(t, e, "plain@example.org", false)
		expired := setupLink(t, e, "late@example.org", e.Clock.Now().Add(-time.Hour))
		late := e.therapistOf(t, "late@example.org")
		newBrowser(e).send("GET", expired, nil).want(t, "an expired setup link", http.StatusNotFound)

		admin.send("GET", "/admin/therapists", nil).want(t, "the admin page", http.StatusOK,
			"admin@example.org", "plain@example.org", "late@example.org", "b@example.org")
		for _, path := range []string{"/admin/therapists", fmt.Sprintf("/admin/therapists/%d/disable", late),
			fmt.Sprintf("/admin/therapists/%d/setup-link", late), fmt.Sprintf("/admin/therapists/%d/move", e.B.ID)} {
			plain.send("POST", path, url.Values{"to": {"1"}}).want(t, "a non-admin's "+path, http.StatusForbidden)
		}

		// A new setup link for the therapist whose link expired.
		p := admin.send("POST", fmt.Sprintf("/admin/therapists/%d/setup-link", late), url.Values{})
		p.want(t, "a new setup link", http.StatusOK, "late@example.org")
		fresh := regexp.MustCompile(`/setup/[A-Za-z0-9_-]{43}`).FindString(p.body)
		if fresh == "" || p.hdr.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("no setup link on the page (Referrer-Policy %q)", p.hdr.Get("Referrer-Policy"))
		}
		lateBrowser := newBrowser(e)
		lateBrowser.send("POST", fresh, url.Values{"password": {"a late passphrase"}, "confirm": {"a late passphrase"}}).
			want(t, "the new setup link", http.StatusSeeOther)

		// Disabling ends their session and tokens at once; admins cannot
		// disable themselves.
		admin.send("POST", fmt.Sprintf("/admin/therapists/%d/disable", e.B.ID), url.Values{}).
			want(t, "disable B", http.StatusOK, "b@example.org is disabled")
		if code, _, _ := e.Do("GET", "/api/v1/patients", e.TokenB, ""); code != 401 {
			t.Errorf("B's token after disabling: %d", code)
		}
		admin.send("POST", fmt.Sprintf("/admin/therapists/%d/disable", late), url.Values{})
		lateBrowser.send("GET", "/", nil).want(t, "a disabled therapist's session", http.StatusOK, "Sign in")
		self := e.therapistOf(t, "admin@example.org")
		admin.send("POST", fmt.Sprintf("/admin/therapists/%d/disable", self), url.Values{}).
			want(t, "disabling oneself", http.StatusUnprocessableEntity, "cannot disable yourself")
		admin.send("POST", fmt.Sprintf("/admin/therapists/%d/enable", e.B.ID), url.Values{}).
			want(t, "enable B", http.StatusOK, "enabled again")

		// B's patients move to A.
		var pb patientLinks
		e.JSON("POST", "/api/v1/patients", e.TokenB, `{"name":"Moved","timezone":"UTC"}`, 201, &pb)
		admin.send("POST", fmt.Sprintf("/admin/therapists/%d/move", e.B.ID), url.Values{"to": {fmt.Sprint(e.A.ID)}}).
			want(t, "move B's patients", http.StatusOK, "1 patients moved to a@example.org")
		if code, _, _ := e.Do("GET", fmt.Sprintf("/api/v1/patients/%d", pb.ID), e.TokenA, ""); code != 200 {
			t.Errorf("the moved patient for A: %d", code)
		}
		if code, _, _ := e.Do("GET", fmt.Sprintf("/api/v1/patients/%d", pb.ID), e.TokenB, ""); code != 404 {
			t.Errorf("the moved patient for B: %d", code)
		}
	})
}

// listener is a real server on loopback that counts the connections made
// to it.
type listener struct {
	*httptest.Server
	conns atomic.Int32
	hits  atomic.Int32
}

func newListener(t *testing.T) *listener {
	t.Helper()
	l := &listener{}
	l.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { l.hits.Add(1) }))
	l.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			l.conns.Add(1)
		}
	}
	l.Start()
	t.Cleanup(l.Close)
	return l
}

// refusedTargets are the destinations of the review's SSRF finding, and
// more: every form of loopback, private, link-local (metadata),
// unique-local, unspecified, multicast, CGNAT and IPv4-mapped address, names
// that stand for them, user information, and plain http.
var refusedTargets = []string{
	"https://127.0.0.1/", "https://127.1.2.3/", "https://[::1]/", "https://localhost/", "https://ntfy.localhost/",
	"https://0.0.0.0/", "https://[::]/", "https://10.0.0.1/", "https://172.16.5.4/", "https://192.168.1.1/",
	"https://169.254.169.254/latest/meta-data/", "https://[fe80::1]/", "https://[fd00:ec2::254]/", "https://[fc00::1]/",
	"https://100.64.0.1/", "https://224.0.0.1/", "https://[ff02::1]/", "https://255.255.255.255/", "https://240.0.0.1/",
	"https://[::ffff:127.0.0.1]/", "https://[::ffff:169.254.169.254]/", "https://[::ffff:10.0.0.1]/", "https://[::ffff:7f00:1]/",
	"https://[64:ff9b::7f00:1]/", "https://[2002:7f00:1::]/", "https://[::127.0.0.1]/",
	"https://0x7f.1/", "https://0x7f000001/", "https://2130706433/", "https://127.1/", "https://017700000001/",
	"https://user:pass@hooks.example.org/", "https://user@hooks.example.org/", "http://hooks.example.org/",
	"ftp://hooks.example.org/", "file:///etc/passwd", "gopher://127.0.0.1:6379/_",
}

// RefusedTargets is the list the README's security section reports.
func TestSecurityOutboundRequestsRefused(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e, _ := secEnv(t, dsn, nil)
		sink := newListener(t)
		l := e.Patient(`{"name":"S. S.","timezone":"UTC"}`)
		apiPath := fmt.Sprintf("/api/v1/patients/%d/channels", l.ID)
		port := sink.Listener.Addr().(*net.TCPAddr).Port
		targets := append([]string{sink.URL + "/hook", fmt.Sprintf("https://127.0.0.1:%d/hook", port),
			fmt.Sprintf("http://localhost:%d/", port), fmt.Sprintf("https://[::ffff:127.0.0.1]:%d/", port)}, refusedTargets...)
		accepted := 0
		for _, target := range targets {
			for _, ch := range []string{
				fmt.Sprintf(`{"type":"webhook","url":%q}`, target),
				fmt.Sprintf(`{"type":"ntfy","server":%q,"topic":"pacer-ssrf-1"}`, target),
			} {
				e.Clock.Add(200 * time.Millisecond) // within the API's rate limit
				code, out, _ := e.Do("PUT", apiPath, e.TokenA, `{"channels":[`+ch+`]}`)
				if code != 400 {
					accepted++
					t.Errorf("%s: %d %s, want 400", ch, code, out)
				}
				if u, _ := url.Parse(target); u != nil && (u.Scheme == "http" || u.Scheme == "https" && isAddress(u.Hostname())) &&
					!strings.Contains(string(out), "notify.allow_private (PACER_NOTIFY_ALLOW_PRIVATE)") {
					t.Errorf("%s: %s does not name notify.allow_private", ch, out)
				}
				if strings.Contains(string(out), "server settings") {
					t.Errorf("%s: %s points at a setting that does not exist", ch, out)
				}
			}
			sub := pushSubscription(t, target)
			if code, out, _ := e.Do("POST", l.CheckinURL+"/push-subscriptions", "", sub); code != 400 {
				accepted++
				t.Errorf("push subscription to %s: %d %s, want 400", target, code, out)
			}
		}
		t.Logf("outbound targets tried: %d (webhook, ntfy and Web Push each), wrongly accepted: %d", len(targets), accepted)

		// A channel stored before these checks (or through a name that now
		// resolves to loopback) is refused when it is sent, at the dialler,
		// permanently, and the sink sees no connection.
		if _, err := e.Store.SetChannels(t.Context(), l.ID, []store.Channel{{Type: "webhook",
			Config: json.RawMessage(fmt.Sprintf(`{"type":"webhook","url":%q}`, fmt.Sprintf("https://127.0.0.1:%d/hook", port)))}}); err != nil {
			t.Fatal(err)
		}
		chs, _ := e.Store.Channels(t.Context(), l.ID)
		e.Store.AddReminders(t.Context(), []store.Reminder{{Kind: scheduler.KindTest, PatientID: l.ID, ChannelID: chs[0].ID,
			DueAt: e.Clock.Now(), DedupeKey: "test:ssrf", Payload: json.RawMessage(`{"Title":"t","Body":"b"}`)}})
		run(t, e)
		rs, _ := e.Store.Reminders(t.Context(), l.ID, e.Clock.Now().Add(-time.Hour))
		if len(rs) != 1 || rs[0].Status != store.ReminderFailed || !strings.Contains(rs[0].LastError, "notify.allow_private") {
			t.Errorf("a stored loopback webhook: %+v, want failed naming notify.allow_private", rs)
		}
		if n := sink.conns.Load(); n != 0 {
			t.Errorf("the loopback listener accepted %d connections, want 0", n)
		}
	})
}

// isAddress reports whether a URL's host is an IP address (or a number
// standing for one, or localhost).
func isAddress(h string) bool {
	if net.ParseIP(h) != nil || h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	return false
}

// With notify.allow_private naming it, the clinic's own destination is
// reached, over plain http too, through the real setting.
func TestSecurityAllowPrivateReachesTheClinicsNetwork(t *testing.T) {
	e, _ := secEnv(t, testkit.SQLite(t), func(c *config.Config) { c.Notify.AllowPrivate = "127.0.0.1" })
	sink := newListener(t)
	l := e.Patient(`{"name":"A. P.","timezone":"UTC"}`)
	e.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", l.ID), e.TokenA,
		fmt.Sprintf(`{"channels":[{"type":"webhook","url":%q}]}`, sink.URL+"/hook"), 200, nil)
	chs, _ := e.Store.Channels(t.Context(), l.ID)
	e.Store.AddReminders(t.Context(), []store.Reminder{{Kind: scheduler.KindTest, PatientID: l.ID, ChannelID: chs[0].ID,
		DueAt: e.Clock.Now(), DedupeKey: "test:allowed", Payload: json.RawMessage(`{"Title":"t","Body":"b"}`)}})
	run(t, e)
	if sink.hits.Load() != 1 {
		t.Errorf("the allowed sink got %d requests, want 1", sink.hits.Load())
	}
	// Other private destinations stay refused.
	code, out, _ := e.Do("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", l.ID), e.TokenA,
		`{"channels":[{"type":"webhook","url":"https://169.254.169.254/"}]}`)
	if code != 400 || !strings.Contains(string(out), "notify.allow_private") {
		t.Errorf("metadata with 127.0.0.1 allowed: %d %s", code, out)
	}
}

// Finding: "Random bearer tokens each create a rate-limit bucket; past
// 100,000 every request sweeps the map under one mutex." Unknown tokens
// make no bucket, an address that keeps sending them is answered without a
// store read, and the per-address map is bounded. (The latency under a
// flood of 100,000 is measured by scripts/token-flood.)
func TestSecurityTokenFloodMakesNoBuckets(t *testing.T) {
	e := sqliteEnv(t)
	h := e.Daemon.Handler
	req := func(addr, token string) int {
		r := httptest.NewRequest("GET", "/api/v1/patients", nil)
		r.RemoteAddr = addr + ":40000"
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	const flooder = "198.51.100.7"
	if code := req(flooder, e.TokenA); code != 200 { // A's client, at the address the flood will come from
		t.Fatalf("a valid token: %d", code)
	}
	reads := func() int { return storeCalls(t, e.Server)["therapist_by_api_token"] }
	before := reads()
	for i := range 3000 {
		tok, _ := store.NewToken()
		if code := req(flooder, tok); code != 401 && code != 429 {
			t.Fatalf("random token %d: %d", i, code)
		}
	}
	if n := reads() - before; n > 40 {
		t.Errorf("3,000 random tokens from one address cost %d token lookups, want only those within its budget", n)
	}
	perToken, failures, bound := e.Daemon.Web.LimiterKeys()
	if perToken != 1 || failures != 1 {
		t.Errorf("after 3,000 random tokens from one address: %d token buckets, %d address buckets; want 1 and 1", perToken, failures)
	}
	// During the flood, A's client goes on; a token never used before waits
	// at the flooding address only.
	if code := req(flooder, e.TokenA); code != 200 {
		t.Errorf("a token in use, from the flooding address: %d, want 200", code)
	}
	if code := req(flooder, e.TokenB); code != 429 {
		t.Errorf("a new token from the flooding address: %d, want 429", code)
	}
	if code := req("203.0.113.5", e.TokenB); code != 200 {
		t.Errorf("a new token from another address: %d, want 200", code)
	}
	// Made-up requests from more addresses than the bound: the map stays
	// within it (and no request sweeps it).
	for i := range bound + 4000 {
		req(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "")
	}
	if _, failures, _ := e.Daemon.Web.LimiterKeys(); failures > bound {
		t.Errorf("%d address buckets after %d addresses, want at most %d", failures, bound+4000, bound)
	}
}

// Finding: "Ten failed logins from one address lock out every therapist
// behind a reverse proxy; anyone can lock out a known email." With
// trusted_proxies, X-Forwarded-For names the client; failures delay only
// their sender for that email; a spoofed X-Forwarded-For from anyone else
// changes nothing.
func TestSecuritySignInCannotLockOut(t *testing.T) {
	e := sqliteEnv(t, testserver.Options{Config: func(c *config.Config) { c.TrustedProxies = "127.0.0.1, ::1" }})
	withPassword(t, e, "ann@example.org", "a long passphrase")
	withPassword(t, e, "ben@example.org", "a long passphrase")
	try := func(xff, email, password string) page {
		return newBrowser(e).send("POST", "/login", url.Values{"email": {email}, "password": {password}}, "X-Forwarded-For", xff)
	}
	// An attacker behind the proxy fails 25 times at Ann's email.
	limited := 0
	for range 25 {
		if try("203.0.113.66", "ann@example.org", "guessing wrong").code == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Error("25 failures from one client were never slowed down")
	}
	// Ann, and Ben, behind the same proxy, sign in at once.
	try("198.51.100.10", "ann@example.org", "a long passphrase").want(t, "Ann from her own address", http.StatusSeeOther)
	try("198.51.100.11", "ben@example.org", "a long passphrase").want(t, "Ben behind the same proxy", http.StatusSeeOther)
	// The rightmost untrusted hop counts: the attacker cannot pose as Ann
	// by prepending her address.
	try("198.51.100.10, 203.0.113.66", "ann@example.org", "a long passphrase").
		want(t, "the attacker with a forged first hop", http.StatusTooManyRequests)

	// Without trusted_proxies the header is not believed.
	plain := sqliteEnv(t)
	withPassword(t, plain, "ann@example.org", "a long passphrase")
	for i := range 40 {
		newBrowser(plain).send("POST", "/login", url.Values{"email": {fmt.Sprintf("x%d@example.org", i)}, "password": {"wrong"}},
			"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
	}
	newBrowser(plain).send("POST", "/login", url.Values{"email": {"y@example.org"}, "password": {"wrong"}},
		"X-Forwarded-For", "192.0.2.250").want(t, "a spoofed X-Forwarded-For without trusted proxies", http.StatusTooManyRequests)
}

// Deliver: a per-patient daily check-in cap.
func TestSecurityCheckInCap(t *testing.T) {
	e := sqliteEnv(t, testserver.Options{Config: func(c *config.Config) { c.CheckIns.DailyCap = 5 }})
	l := e.Patient(`{"name":"C. C.","timezone":"UTC"}`)
	e.Assign(l.ID, `{"program":"walking","start":"2026-11-23"}`)
	for i := range 5 {
		e.JSON("POST", l.CheckinURL+"/checkins", "", fmt.Sprintf(`{"kind":"daily","pain":%d}`, i), 201, nil)
	}
	code, out, _ := e.Do("POST", l.CheckinURL+"/checkins", "", `{"kind":"daily","pain":2}`)
	if code != http.StatusTooManyRequests || !strings.Contains(string(out), "5 check-ins") {
		t.Errorf("the 6th check-in in a day: %d %s, want 429", code, out)
	}
	// Through a session link too.
	_, urls, _ := feedEvents(t, e, l.FeedURL)
	if code, out, _ := e.Do("POST", urls[0], "", `{"status":"done"}`); code != http.StatusTooManyRequests {
		t.Errorf("a check-in by session link past the cap: %d %s, want 429", code, out)
	}
	if xs, _ := e.Store.Sessions(t.Context(), l.ID, day("2026-11-23"), day("2026-11-23")); len(xs) != 1 || xs[0].Status != programs.Planned {
		t.Errorf("the session after refused check-ins: %+v", xs)
	}
}

// Finding: "Erasure leaves traces: alert and digest rows with the patient's
// name and red-flag answers survive DELETE /api/v1/patients/{id}; freed
// SQLite pages still hold the name and email."
func TestSecurityErasureErases(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e, mb := secEnv(t, dsn, nil)
		const name, email = "Zebulon Quixote-Erasure", "zq.erasure.trace@example.org"
		l := e.Patient(fmt.Sprintf(`{"name":%q,"email":%q,"timezone":"Europe/Berlin"}`, name, email))
		keep := e.Patient(`{"name":"Kept Patient","email":"kept@example.org","timezone":"Europe/Berlin"}`)
		for _, p := range []int64{l.ID, keep.ID} {
			e.Assign(p, `{"program":"walking","start":"2026-11-09","baseline":{"walk":10}}`)
		}
		e.JSON("POST", l.CheckinURL+"/checkins", "", `{"kind":"flare"}`, 201, nil)
		e.JSON("POST", l.CheckinURL+"/checkins", "", `{"kind":"red_flag","answers":["saddle_numbness"]}`, 201, nil)
		if err := e.Daemon.Jobs.Digest(t.Context()); err != nil { // both did none of their sessions: one digest names both
			t.Fatal(err)
		}
		for run(t, e) > 0 {
		}
		db := rawDB(t, dsn)
		like := "%" + name + "%"
		if n := db.count(t, `SELECT COUNT(*) FROM reminders WHERE payload LIKE ?`, like); n < 3 {
			t.Fatalf("%d outbox rows name the patient before erasure, want the alerts and the digest", n)
		}
		if len(to(mb.received(), "b@example.org"))+len(to(mb.received(), "a@example.org")) == 0 {
			t.Fatal("no alert or digest reached the therapist")
		}
		if code, _, _ := e.Do("DELETE", fmt.Sprintf("/api/v1/patients/%d", l.ID), e.TokenA, ""); code != http.StatusNoContent {
			t.Fatalf("erase: %d", code)
		}
		for q, want := range map[string]int{
			`SELECT COUNT(*) FROM reminders WHERE payload LIKE ?`:         0,
			`SELECT COUNT(*) FROM reminders WHERE patient_id = ?`:         0,
			`SELECT COUNT(*) FROM reminder_patients WHERE patient_id = ?`: 0,
			`SELECT COUNT(*) FROM channels WHERE config LIKE ?`:           0,
			`SELECT COUNT(*) FROM notify_quota WHERE patient_id = ?`:      0,
		} {
			arg := any(l.ID)
			if strings.Contains(q, "LIKE") {
				arg = like
				if strings.Contains(q, "channels") {
					arg = "%" + email + "%"
				}
			}
			if n := db.count(t, q, arg); n != want {
				t.Errorf("%s after erasure: %d", q, n)
			}
		}
		if n := db.count(t, `SELECT COUNT(*) FROM patients WHERE id = ?`, keep.ID); n != 1 {
			t.Error("erasure took the other patient")
		}
		if !strings.HasPrefix(dsn, "sqlite:") {
			return
		}
		// The database's files hold no trace: secure_delete zeroed the
		// freed content, and the write-ahead log was checkpointed.
		path := strings.TrimPrefix(dsn, "sqlite:")
		for _, f := range []string{path, path + "-wal"} {
			b, err := os.ReadFile(f)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, trace := range []string{name, email, "Zebulon", "saddle_numbness"} {
				if bytes.Contains(b, []byte(trace)) {
					t.Errorf("%s (%d bytes) still holds %q after erasure", filepath.Base(f), len(b), trace)
				}
			}
		}
	})
}

// inlineProgram is an inline program of n daily activities with k times a
// day, names and instructions as given.
func inlineProgram(n, k int, name, instructions string) string {
	var times []string
	for i := range k {
		times = append(times, fmt.Sprintf("%q", fmt.Sprintf("%02d:%02d", 6+i/4, i%4*15)))
	}
	var acts []string
	for i := range n {
		acts = append(acts, fmt.Sprintf(`{"id":"a%d","name":%q,"kind":"mobility","unit":"minutes","baseline":4,"goal":10,
			"schedule":{"days":["daily"],"times":[%s]},"instructions":%q}`, i, name, strings.Join(times, ","), instructions))
	}
	return fmt.Sprintf(`{"program":{"id":"custom","name":"Custom","activities":[%s]},"start":"2026-11-23"}`, strings.Join(acts, ","))
}

// Finding: "No size limits on inline programs: 1,440 times a day gave
// 102,035 sessions, a 57 MB feed and 522 MB RSS; a 100 KB activity name goes
// into every push." Every accepted assignment's feed stays within 1 MB.
func TestSecurityProgramLimits(t *testing.T) {
	e := sqliteEnv(t)
	l := e.Patient(`{"name":"P. L.","timezone":"Europe/Berlin"}`)
	path := fmt.Sprintf("/api/v1/patients/%d/assignments", l.ID)
	var allDay []string
	for m := range 1440 {
		allDay = append(allDay, fmt.Sprintf("%q", fmt.Sprintf("%02d:%02d", m/60, m%60)))
	}
	for what, c := range map[string]struct {
		body, says string
	}{
		"1,440 times a day":     {strings.Replace(inlineProgram(1, 1, "Walk", "Walk."), `"06:00"`, strings.Join(allDay, ","), 1), "at most 12"},
		"13 times a day":        {inlineProgram(1, 13, "Walk", "Walk."), "at most 12"},
		"13 activities":         {inlineProgram(13, 1, "Walk", "Walk."), "at most 12"},
		"a 100 KB name":         {inlineProgram(1, 1, strings.Repeat("W", 100_000), "Walk."), "keep it to 80"},
		"long instructions":     {inlineProgram(1, 1, "Walk", strings.Repeat("Slowly. ", 400)), "keep it to 2000"},
		"a name with a newline": {inlineProgram(1, 1, "Walk\nnow", "Walk."), "control character"},
		"13 times by schedule": {`{"program":"walking","start":"2026-11-23","schedule":{"walk":{"days":["daily"],"times":[` +
			strings.Join(allDay[:13], ",") + `]}}}`, "at most 12"},
		"a feed past 1 MB": {inlineProgram(12, 12, "Mobility move", "Move gently."), "past the 1000 KB"},
	} {
		code, out, _ := e.Do("POST", path, e.TokenA, c.body)
		if code != 400 || !strings.Contains(string(out), c.says) {
			t.Errorf("%s: %d %.300s, want 400 saying %q", what, code, out, c.says)
		}
	}
	if as := e.Assignments(l.ID); len(as) != 0 {
		t.Fatalf("refused programs were stored: %v", as)
	}

	// Near the limit: whatever is accepted renders a feed within 1 MB, and
	// the limit is not so cautious that large real plans are refused.
	largest, refused := 0, 0
	for _, c := range []struct{ n, k int }{{1, 1}, {4, 2}, {6, 3}, {8, 2}, {12, 2}, {10, 3}, {12, 4}, {12, 6}, {12, 8}, {12, 10}} {
		p := e.Patient(`{"name":"Big","timezone":"Europe/Berlin","discreet":false}`)
		code, out, _ := e.Do("POST", fmt.Sprintf("/api/v1/patients/%d/assignments", p.ID), e.TokenA,
			inlineProgram(c.n, c.k, strings.Repeat("Ü", 80), strings.Repeat("Breathe out and move gently. ", 68)))
		switch code {
		case 201:
			body, _, _ := feedEvents(t, e, p.FeedURL)
			if len(body) > 1_000_000 {
				t.Errorf("%d activities × %d a day: accepted with a %d-byte feed", c.n, c.k, len(body))
			}
			largest = max(largest, len(body))
		case 400:
			refused++
			if !strings.Contains(string(out), "KB") {
				t.Errorf("%d × %d: %s", c.n, c.k, out)
			}
		default:
			t.Fatalf("%d × %d: %d %s", c.n, c.k, code, out)
		}
	}
	t.Logf("largest accepted feed %d bytes; %d of 10 large plans refused", largest, refused)
	if refused == 0 || largest < 500_000 {
		t.Errorf("largest accepted feed %d bytes, %d refused: the limit is off", largest, refused)
	}
}

// Finding: "The secret key is not tied to the database: started from
// another directory, pacer makes a new key and hands out links that 404."
func TestSecurityKeyBelongsToItsDatabase(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	dsn := "sqlite:" + filepath.Join(dir, "data", "clinic.db")
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	// With --db naming a SQLite file, the key lives beside it, whatever the
	// state directory.
	cfg := config.Defaults(func(k string) string {
		return map[string]string{"STATE_DIRECTORY": filepath.Join(dir, "elsewhere")}[k]
	})
	cfg.DB = dsn
	key, file, err := daemon.SecretKey(ctx, &cfg, st)
	if err != nil || file != filepath.Join(dir, "data", "secret.key") {
		t.Fatalf("first start: %s %v", file, err)
	}
	base, _ := url.Parse("http://127.0.0.1:1")
	opts := daemon.Options{Store: st, Config: &cfg, Key: key, KeyFile: file, BaseURL: base, Now: time.Now,
		Log: slogDiscard()}
	d, err := daemon.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	th, _ := st.CreateTherapist(ctx, "k@example.org", "", false)
	if _, err := d.Clinic.AddPatient(ctx, th.ID, clinicPatient("K")); err != nil {
		t.Fatal(err)
	}

	// Another key, from the environment: refused, naming the file to use.
	other := filepath.Join(dir, "other.key")
	os.WriteFile(other, bytes.Repeat([]byte("x"), 32), 0o600)
	withOther := cfg
	withOther.SecretKeyFile = other
	if _, _, err := daemon.SecretKey(ctx, &withOther, st); err == nil || !strings.Contains(err.Error(), file) ||
		!strings.Contains(err.Error(), "PACER_SECRET_KEY_FILE") {
		t.Errorf("another key file: %v, want a refusal naming %s", err, file)
	}
	opts.Key, opts.KeyFile = bytes.Repeat([]byte("x"), 32), other
	if _, err := daemon.New(ctx, opts); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("daemon.New with another key: %v, want a refusal naming %s", err, file)
	}
	// The key file gone: no new key is made for a database with links.
	os.Rename(file, file+".moved")
	if _, _, err := daemon.SecretKey(ctx, &cfg, st); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("the key file gone: %v, want a refusal naming %s", err, file)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("a new key file was made for a database whose links need the old one")
	}
	os.Rename(file+".moved", file)
	if k, _, err := daemon.SecretKey(ctx, &cfg, st); err != nil || !bytes.Equal(k, key) {
		t.Errorf("the key back in place: %v", err)
	}
}

// Finding: "Smaller: names with control or bidi characters, clock "+7:30",
// start dates in year 1 or 9999, zones "Factory"/"posixrules", fields that
// do not belong to a check-in kind, a threshold below the baseline — all
// accepted; a duplicate channel gets 500; database files are created 0644."
func TestSecurityBadInputsAre400(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		e, _ := secEnv(t, dsn, nil)
		l := e.Patient(`{"name":"I. N.","timezone":"Europe/Berlin"}`)
		asg := e.Assign(l.ID, `{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"threshold":{"walk":20}}`)
		type bad struct{ method, path, token, body string }
		var cases []bad
		patients := "/api/v1/patients"
		for _, name := range []string{"A\x00B", "Ann\nSmith", "Ann\rSmith", "\u202eevil", "Ann\u2066x\u2069", "Ann\u200f",
			"Ann\u2028B", "Ann\x7f", "A\u0085nn", "Ann\x1b[31m", "\u061cAnn", "Ann\ufffe", "\t"} {
			b, _ := json.Marshal(map[string]string{"name": name, "timezone": "UTC"})
			cases = append(cases, bad{"POST", patients, e.TokenA, string(b)})
		}
		for _, zone := range []string{"Factory", "posixrules", "Local", "localtime", "posix/Europe/Berlin", "right/UTC",
			"../../etc/passwd", "/etc/localtime", "", "Mars/Base", "Europe/Berlin\x00", "SystemV/EST5"} {
			b, _ := json.Marshal(map[string]string{"name": "Z", "timezone": zone})
			cases = append(cases, bad{"POST", patients, e.TokenA, string(b)})
		}
		assign := fmt.Sprintf("/api/v1/patients/%d/assignments", l.ID)
		for _, start := range []string{"0001-01-01", "9999-12-31", "1970-01-01", "2099-01-01", "2026-02-30", "+2026-11-23"} {
			cases = append(cases, bad{"POST", assign, e.TokenA, fmt.Sprintf(`{"program":"walking","start":%q}`, start)})
		}
		for _, tm := range []string{"+7:30", "-0:30", "7:30", "24:00", "07:60", " 7:30", "07:30 ", "+07:3", "0x:30", "٠٧:٣٠", "07.30"} {
			cases = append(cases, bad{"POST", assign, e.TokenA,
				fmt.Sprintf(`{"program":"walking","start":"2026-11-23","schedule":{"walk":{"days":["mon"],"times":[%q]}}}`, tm)})
		}
		for _, p := range []string{
			`{"program":"walking","start":"2026-11-23","baseline":{"walk":10},"threshold":{"walk":5}}`,
			`{"program":"walking","start":"2026-11-23","threshold":{"walk":5}}`, // below the template's baseline of 10
			`{"program":{"id":"x","name":"Walk \u202e","activities":[{"id":"w","name":"W","kind":"aerobic","unit":"minutes","baseline":5,"goal":9,"schedule":{"days":["daily"],"times":["07:00"]},"instructions":"Go."}]}}`,
			`{"program":{"id":"x","name":"Walk","activities":[{"id":"w","name":"W","kind":"aerobic","unit":"minutes","baseline":5,"goal":9,"schedule":{"days":["daily"],"times":["07:00"]},"instructions":"Go.\u0000"}]}}`,
		} {
			cases = append(cases, bad{"POST", assign, e.TokenA, p})
		}
		patch := fmt.Sprintf("/api/v1/assignments/%d", asg)
		for _, p := range []string{`{"threshold":{"walk":5}}`, `{"from":"0001-01-01","dose":{"walk":9}}`,
			`{"from":"9999-12-31","dose":{"walk":9}}`, `{"schedule":{"walk":{"days":["mon"],"times":["+7:30"]}}}`} {
			cases = append(cases, bad{"PATCH", patch, e.TokenA, p})
		}
		checkins := l.CheckinURL + "/checkins"
		for _, c := range []string{
			`{"kind":"flare","pain":3}`, `{"kind":"daily","pain":3,"activity":"walk"}`,
			`{"kind":"session","activity":"walk","status":"done","answers":["night_pain"]}`,
			`{"kind":"weekly","function":5,"symptoms":5,"confidence":5,"pain":3}`, `{"kind":"red_flag","answers":["night_pain"],"function":3}`,
			`{"kind":"settled","dose":5}`, `{"kind":"flare","assignment":1}`, `{"kind":"daily","pain":3,"status":"done"}`,
			`{"kind":"session","activity":"walk","status":"done","time":"+7:30"}`, `{"kind":"flare","date":"0001-01-01"}`,
			`{"kind":"flare","date":"9999-12-31"}`, `{"kind":"red_flag","answers":["not_a_flag"]}`,
		} {
			cases = append(cases, bad{"POST", checkins, "", c})
		}
		channels := fmt.Sprintf("/api/v1/patients/%d/channels", l.ID)
		for _, c := range []string{
			`{"channels":[{"type":"email","address":"a@example.org"},{"type":"email","address":"a@example.org"}]}`,
			`{"channels":[{"type":"email","address":"a@example.org"},{"type":"email","address":"b@example.org"}]}`,
			`{"channels":[{"type":"webhook","url":"javascript:alert(1)"}]}`,
			`{"channels":[],"quiet_hours":{"start":"+7:30","end":"07:00"}}`,
			`{"channels":[],"quiet_hours":{"start":"21:30","end":"24:00"}}`,
		} {
			cases = append(cases, bad{"PUT", channels, e.TokenA, c})
			cases = append(cases, bad{"PUT", l.CheckinURL + "/channels", "", c})
		}
		before, _ := e.Store.Patients(t.Context(), e.A.ID)
		accepted := 0
		for _, c := range cases {
			e.Clock.Add(200 * time.Millisecond) // within the API's rate limit
			code, out, _ := e.Do(c.method, c.path, c.token, c.body)
			var msg errorBody
			json.Unmarshal(out, &msg)
			if code != 400 || msg.Error == "" {
				accepted++
				t.Errorf("%s %s %q: %d %s, want 400 saying what to fix", c.method, pathOf(e, c.path), c.body, code, out)
			}
		}
		after, _ := e.Store.Patients(t.Context(), e.A.ID)
		if len(after) != len(before) {
			t.Errorf("bad inputs stored patients: %d → %d", len(before), len(after))
		}
		t.Logf("bad inputs tried: %d, wrongly accepted: %d", len(cases), accepted)

		// Database files are the owner's only.
		if strings.HasPrefix(dsn, "sqlite:") {
			path := strings.TrimPrefix(dsn, "sqlite:")
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s has mode %v, want 0600", filepath.Base(f), fi.Mode().Perm())
				}
			}
		}
	})
}

// Deliver: HSTS and a __Host- cookie prefix when the base URL is https; a
// plain-http setup (local use) gets neither.
func TestSecurityHTTPSHeaders(t *testing.T) {
	base, _ := url.Parse("https://pacer.example.org")
	e := sqliteEnv(t, testserver.Options{BaseURL: base})
	withPassword(t, e, "ann@example.org", "a long passphrase")
	req := httptest.NewRequest("POST", "https://pacer.example.org/login",
		strings.NewReader(url.Values{"email": {"ann@example.org"}, "password": {"a long passphrase"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.Daemon.Handler.ServeHTTP(rec, req)
	if hsts := rec.Header().Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=31536000") {
		t.Errorf("HSTS over https: %q", hsts)
	}
	cs := rec.Result().Cookies()
	if len(cs) != 1 || cs[0].Name != "__Host-pacer_session" || !cs[0].Secure || cs[0].Path != "/" || cs[0].Domain != "" {
		t.Errorf("the session cookie over https: %+v", cs)
	}
	// The prefixed cookie signs in; the unprefixed name does not.
	for name, want := range map[string]int{"__Host-pacer_session": http.StatusOK, "pacer_session": http.StatusSeeOther} {
		r := httptest.NewRequest("GET", "https://pacer.example.org/account", nil)
		r.AddCookie(&http.Cookie{Name: name, Value: cs[0].Value})
		rec := httptest.NewRecorder()
		e.Daemon.Handler.ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("cookie %s: %d, want %d", name, rec.Code, want)
		}
	}
	plain := sqliteEnv(t)
	if code, _, hdr := plain.Do("GET", "/healthz", "", ""); code != 200 || hdr.Get("Strict-Transport-Security") != "" {
		t.Errorf("plain http: HSTS %q", hdr.Get("Strict-Transport-Security"))
	}
}

func slogDiscard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func clinicPatient(name string) clinic.NewPatient {
	return clinic.NewPatient{Name: name, Timezone: "UTC", Discreet: true}
}

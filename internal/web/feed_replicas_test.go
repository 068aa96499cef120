package web_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
)

// feedWatch fetches a patient's feed from one server while another (or the
// same) server takes the changes.
type feedWatch struct {
	t      *testing.T
	writer *testserver.Server // takes the changes
	reader *testserver.Server // serves the feed
	// wait is how long a change may take to reach the reader: 0 on one
	// server, where the change is forgotten before its request is answered.
	wait time.Duration
}

// fetch is the reader's answer for the feed URL (made on any server).
func (w *feedWatch) fetch(feedURL string) (int, []byte) {
	w.t.Helper()
	path := feedURL[strings.Index(feedURL, "/feed/"):]
	code, body, _ := w.reader.Do("GET", w.reader.URL+path, "", "")
	return code, body
}

// until fetches until ok holds of the answer, for up to w.wait.
func (w *feedWatch) until(what, feedURL string, ok func(code int, body []byte) bool) []byte {
	w.t.Helper()
	deadline := time.Now().Add(w.wait)
	for {
		code, body := w.fetch(feedURL)
		if ok(code, body) {
			return body
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: the reader still answers %d (%d bytes) after %v", what, code, len(body), w.wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cached fetches until the reader holds the feed in its cache, then checks
// that a fetch from the cache reads nothing from the store, and returns the
// cached body. On PostgreSQL a server hears its own changes' notices too,
// after it answered them, and drops the feed again: the fetch that proves the
// cache is one after the notices have arrived.
func (w *feedWatch) cached(feedURL string) []byte {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ; ; time.Sleep(5 * time.Millisecond) {
		if n, _, _ := w.reader.Daemon.Web.FeedCache(); n > 0 {
			before := storeCalls(w.t, w.reader)
			code, body := w.fetch(feedURL)
			calls := since(before, storeCalls(w.t, w.reader))
			if code == 200 && len(calls) == 0 {
				return body
			}
			if time.Now().After(deadline) {
				w.t.Fatalf("a cached feed: %d, with store calls %v", code, calls)
			}
			continue
		}
		if time.Now().After(deadline) {
			w.t.Fatal("the reader did not cache the feed within 10 s")
		}
		w.fetch(feedURL)
	}
}

// followsChanges is a patient's feed, cached on the reader, following each
// change the writer makes: new settings, a re-plan, a rotated link, an
// erasure.
func (w *feedWatch) followsChanges() {
	t, a := w.t, w.writer
	links := a.Patient(`{"name":"P","timezone":"Europe/Berlin"}`)
	asg := a.Assign(links.ID, `{"program":"walking","start":"2026-11-02"}`)

	before := w.cached(links.FeedURL)
	if !bytes.Contains(before, []byte("Walk")) {
		t.Fatalf("the feed has no walk:\n%.400s", before)
	}

	// Language: the sessions stay as they are (no new feed version), the
	// words change.
	a.JSON("PUT", fmt.Sprintf("/api/v1/patients/%d/channels", links.ID), a.TokenA, `{"channels":[],"language":"de"}`, 200, nil)
	german := w.until("language de", links.FeedURL, func(code int, body []byte) bool {
		return code == 200 && !bytes.Equal(body, before)
	})
	if !bytes.Contains(german, []byte("Mein Bewegungsplan")) {
		t.Errorf("after the language went to de, the feed is not German:\n%.600s", german)
	}

	// A re-plan: the therapist pauses the program; its coming sessions
	// are cancelled.
	w.cached(links.FeedURL)
	a.JSON("POST", fmt.Sprintf("/api/v1/assignments/%d/pause", asg), a.TokenA, "", 200, nil)
	paused := w.until("pause", links.FeedURL, func(code int, body []byte) bool {
		return code == 200 && !bytes.Equal(body, german)
	})
	if bytes.Count(paused, []byte("STATUS:CANCELLED")) <= bytes.Count(german, []byte("STATUS:CANCELLED")) {
		t.Error("after the pause, no more events are cancelled")
	}

	// A rotated link: the old one is gone, the new one serves the same
	// events, whose session links (made from the feed's token) are new.
	w.cached(links.FeedURL)
	var rotated testserver.Links
	a.JSON("POST", fmt.Sprintf("/api/v1/patients/%d/feed-token", links.ID), a.TokenA, "", 200, &rotated)
	w.until("the old link after rotation", links.FeedURL, func(code int, _ []byte) bool { return code == 404 })
	sessionLinks := regexp.MustCompile(`/s/[A-Za-z0-9_-]+`)
	unlinked := func(b []byte) []byte {
		return sessionLinks.ReplaceAll(bytes.ReplaceAll(b, []byte("\r\n "), nil), []byte("/s/…"))
	}
	if code, body := w.fetch(rotated.FeedURL); code != 200 || bytes.Equal(body, paused) || !bytes.Equal(unlinked(body), unlinked(paused)) {
		t.Errorf("the new link: %d; want the same events with new session links", code)
	}

	// Erasure: the feed is gone.
	w.cached(rotated.FeedURL)
	a.JSON("DELETE", fmt.Sprintf("/api/v1/patients/%d", links.ID), a.TokenA, "", 204, nil)
	w.until("erasure", rotated.FeedURL, func(code int, _ []byte) bool { return code == 404 })
}

// On one server, a change is forgotten before its request is answered.
func TestFeedCacheFollowsChanges(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		s := testserver.New(t, dsn)
		(&feedWatch{t: t, writer: s, reader: s}).followsChanges()
	})
}

// Two pacers on one PostgreSQL schema, as two `pacer serve` replicas: a
// change committed through one reaches the other's cached feed promptly,
// through the store's change notices. When the notices' connection is lost,
// the other's cache is dropped, since notices may have been missed.
func TestFeedCacheFollowsChangesOnAnotherReplica(t *testing.T) {
	dsn := testkit.Postgres(t)
	a := testserver.New(t, dsn)
	b := a.Replica()
	w := &feedWatch{t: t, writer: a, reader: b, wait: 10 * time.Second}
	w.followsChanges()

	// A change that sends no notice (made behind pacer's back): b keeps its
	// copy, until its notices' connection is cut; then it drops it.
	links := a.Patient(`{"name":"Q","timezone":"Europe/Berlin"}`)
	a.Assign(links.ID, `{"program":"walking","start":"2026-11-02"}`)
	before := w.cached(links.FeedURL)
	if !bytes.Contains(before, []byte("BEGIN:VALARM")) {
		t.Fatal("the feed has no alarms to turn off")
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE patients SET alarm = false WHERE id = $1`, links.ID); err != nil {
		t.Fatal(err)
	}
	if _, body := w.fetch(links.FeedURL); !bytes.Equal(body, before) {
		t.Fatal("b saw a change no notice told it of: the check below proves nothing")
	}
	res, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'pacer changes ' || current_schema()`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("cut %d listening connections, want 2 (a's and b's)", n)
	}
	w.until("alarms off, after the notices' connection was cut", links.FeedURL, func(code int, body []byte) bool {
		return code == 200 && !bytes.Contains(body, []byte("BEGIN:VALARM"))
	})
	// b listens again, and caches again.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, _, ok := b.Daemon.Web.FeedCache(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b did not listen again within 10 s")
		}
	}
	w.cached(links.FeedURL)
}

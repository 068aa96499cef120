package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// feedFixture is a server on a real SQLite store with one patient in
// Europe/Berlin who has walking, stretching and core, all assigned through the
// API three weeks before the clock, so the feed's window (14 days back, 8 weeks
// ahead) is full. It takes testing.TB so benchmarks and tests share it.
type feedFixture struct {
	srv     *Server
	handler http.Handler
	feed    string // the feed's path, /feed/{token}.ics
}

func newFeedFixture(tb testing.TB, wrap func(*store.Store) Store) *feedFixture {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(tb.TempDir(), "pacer.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	lib, err := programs.LoadLibrary()
	if err != nil {
		tb.Fatal(err)
	}
	keys, _ := NewKeyring(bytes.Repeat([]byte("k"), 32))
	now := time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC) // Monday 07:00 in Berlin
	base, _ := url.Parse("https://pacer.example.org")
	var ws Store = st
	if wrap != nil {
		ws = wrap(st)
	}
	s := New(ws, keys, lib, base, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)))
	th, err := st.CreateTherapist(ctx, "a@example.org", "", false)
	if err != nil {
		tb.Fatal(err)
	}
	tok, _ := store.NewToken()
	if err := st.CreateAPIToken(ctx, th.ID, "bench", store.HashToken(tok)); err != nil {
		tb.Fatal(err)
	}
	f := &feedFixture{srv: s, handler: s.Handler()}
	post := func(path, body string, out any) {
		tb.Helper()
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			tb.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			tb.Fatal(err)
		}
	}
	var links patientLinks
	post("/api/v1/patients", `{"name":"P","timezone":"Europe/Berlin"}`, &links)
	for _, prog := range []string{"walking", "stretching", "core"} {
		var a assignmentJSON
		post(fmt.Sprintf("/api/v1/patients/%d/assignments", links.ID), `{"program":"`+prog+`","start":"2026-11-02"}`, &a)
	}
	f.feed = strings.TrimPrefix(links.FeedURL, base.String())
	return f
}

// get serves the feed through the full handler, with optional header pairs.
func (f *feedFixture) get(hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", f.feed, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// BenchmarkRenderFeed is an uncached render: the store reads, the wording and
// the iCalendar text of three programs' sessions.
func BenchmarkRenderFeed(b *testing.B) {
	f := newFeedFixture(b, nil)
	ctx := context.Background()
	tok := strings.TrimSuffix(strings.TrimPrefix(f.feed, "/feed/"), ".ics")
	p, err := f.srv.Store.PatientByFeedToken(ctx, store.HashToken(tok))
	if err != nil {
		b.Fatal(err)
	}
	loc, _ := time.LoadLocation(p.Timezone)
	today := programs.DateOf(f.srv.Now().In(loc))
	var size int
	for b.Loop() {
		e, err := f.srv.renderFeed(ctx, p, loc, today)
		if err != nil {
			b.Fatal(err)
		}
		size = len(e.body)
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkServeFeed serves a cached feed through the full handler: a 200
// with the body, and a conditional GET answered 304.
func BenchmarkServeFeed(b *testing.B) {
	f := newFeedFixture(b, nil)
	first := f.get() // fills the cache
	if first.Code != http.StatusOK {
		b.Fatalf("feed: %d", first.Code)
	}
	etag := first.Header().Get("ETag")
	b.Run("200", func(b *testing.B) {
		for b.Loop() {
			if rec := f.get(); rec.Code != http.StatusOK {
				b.Fatalf("feed: %d", rec.Code)
			}
		}
		b.ReportMetric(float64(first.Body.Len()), "bytes")
	})
	b.Run("304", func(b *testing.B) {
		for b.Loop() {
			if rec := f.get("If-None-Match", etag); rec.Code != http.StatusNotModified {
				b.Fatalf("conditional feed: %d", rec.Code)
			}
		}
	})
}

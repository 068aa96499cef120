package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
	"pacer/programs"
)

// feedFixture is pacer as `pacer serve` builds it, on a real SQLite store,
// with one patient in Europe/Berlin who has walking, stretching and core,
// all assigned through the API three weeks before the clock (Monday 23 Nov
// 2026, 07:00 in Berlin), so the feed's window (14 days back, 8 weeks ahead)
// is full. It takes testing.TB so benchmarks and tests share it; requests go
// straight to the daemon's handler.
type feedFixture struct {
	s       *testserver.Server
	handler http.Handler
	patient int64
	feed    string // the feed's path, /feed/{token}.ics
}

func newFeedFixture(tb testing.TB) *feedFixture {
	tb.Helper()
	return newFeedFixtureOn(tb, testkit.SQLite(tb))
}

// newFeedFixtureOn is the fixture on the store at dsn.
func newFeedFixtureOn(tb testing.TB, dsn string) *feedFixture {
	tb.Helper()
	s := testserver.New(tb, dsn)
	links := s.Patient(`{"name":"P","timezone":"Europe/Berlin"}`)
	for _, prog := range []string{"walking", "stretching", "core"} {
		s.Assign(links.ID, `{"program":"`+prog+`","start":"2026-11-02"}`)
	}
	return &feedFixture{s: s, handler: s.Daemon.Handler, patient: links.ID, feed: strings.TrimPrefix(links.FeedURL, s.URL)}
}

// get serves the feed through the full handler, with optional header pairs.
func (f *feedFixture) get(hdr ...string) *httptest.ResponseRecorder { return f.do("GET", hdr...) }

// do sends a request for the feed through the full handler.
func (f *feedFixture) do(method string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, f.feed, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

// warm serves the feed until it is cached. On PostgreSQL a render that
// overlaps the notice of an earlier change (the fixture's own assignments,
// heard back from the database) is not kept, so one serving may not do.
func (f *feedFixture) warm(tb testing.TB) {
	tb.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if n, _, _ := f.s.Daemon.Web.FeedCache(); n > 0 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("the feed was not cached within 10 s")
		}
		if rec := f.get(); rec.Code != http.StatusOK {
			tb.Fatalf("feed: %d", rec.Code)
		}
	}
}

// BenchmarkRenderFeed is an uncached render: the store reads, the wording and
// the iCalendar text of three programs' sessions.
func BenchmarkRenderFeed(b *testing.B) {
	f := newFeedFixture(b)
	ctx := context.Background()
	tok := strings.TrimSuffix(strings.TrimPrefix(f.feed, "/feed/"), ".ics")
	p, err := f.s.Store.PatientByFeedToken(ctx, store.HashToken(tok))
	if err != nil {
		b.Fatal(err)
	}
	loc, _ := time.LoadLocation(p.Timezone)
	today := programs.DateOf(f.s.Clock.Now().In(loc))
	var size int
	for b.Loop() {
		if size, err = f.s.Daemon.Web.RenderFeed(ctx, p, today); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkServeFeed serves a cached feed through the full handler: a 200
// with the plain body, a 200 with the gzip body, and a conditional GET
// answered 304.
func BenchmarkServeFeed(b *testing.B) {
	f := newFeedFixture(b)
	f.warm(b)
	first := f.get()
	etag := first.Header().Get("ETag")
	zipped := f.get("Accept-Encoding", "gzip")
	for _, c := range []struct {
		name string
		hdr  []string
		want int
		size int
	}{
		{"200", nil, http.StatusOK, first.Body.Len()},
		{"200-gzip", []string{"Accept-Encoding", "gzip, deflate, br"}, http.StatusOK, zipped.Body.Len()},
		{"304", []string{"If-None-Match", etag}, http.StatusNotModified, 0},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rec := f.get(c.hdr...); rec.Code != c.want {
					b.Fatalf("feed: %d", rec.Code)
				}
			}
			b.ReportMetric(float64(c.size), "bytes")
		})
	}
}

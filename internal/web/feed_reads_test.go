package web_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"pacer/internal/testkit"
	"pacer/internal/testkit/testserver"
)

// storeCalls is how many calls of each store operation the running server
// has made, as its metrics hook (store.SetObserver) counted them.
func storeCalls(t *testing.T, s *testserver.Server) map[string]int {
	t.Helper()
	mfs, err := s.Daemon.Registry.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, mf := range mfs {
		if mf.GetName() != "pacer_store_duration_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" {
					calls[l.GetValue()] = int(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	return calls
}

// since is the calls made between two counts.
func since(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for op, n := range after {
		if d := n - before[op]; d > 0 {
			out[op] = d
		}
	}
	return out
}

// A warm feed request reads nothing from the store, in any encoding, plain
// or conditional, GET or HEAD: the token's patient and the rendered bodies
// are in memory, and only a change (or the next local day) drops them. The
// store's own hook (store.SetObserver, the metrics) counts the calls.
func TestWarmFeedCostsNoStoreRead(t *testing.T) {
	testkit.Stores(t, func(t *testing.T, dsn string) {
		f := newFeedFixtureOn(t, dsn)
		runs := f.s.Daemon.Clinic.EngineRuns()
		start := storeCalls(t, f.s)

		first := f.get("Accept-Encoding", "gzip")
		if first.Code != http.StatusOK {
			t.Fatalf("first serving: %d", first.Code)
		}
		// The hook sees the render's reads; otherwise the check below proves nothing.
		if calls := since(start, storeCalls(t, f.s)); calls["patient_by_feed_token"] != 1 || calls["sessions"] == 0 || calls["plan"] == 0 {
			t.Fatalf("first serving made %v: the store hook misses the render's reads", calls)
		}
		f.warm(t)
		afterFirst := storeCalls(t, f.s)

		for _, req := range []struct {
			method string
			hdr    []string
			want   int
		}{
			{"GET", []string{"Accept-Encoding", "gzip"}, http.StatusOK},
			{"GET", nil, http.StatusOK},
			{"HEAD", nil, http.StatusOK},
			{"HEAD", []string{"Accept-Encoding", "gzip"}, http.StatusOK},
			{"GET", []string{"Accept-Encoding", "gzip", "If-None-Match", first.Header().Get("ETag")}, http.StatusNotModified},
			{"GET", []string{"If-Modified-Since", first.Header().Get("Last-Modified")}, http.StatusNotModified},
		} {
			rec := f.do(req.method, req.hdr...)
			if rec.Code != req.want {
				t.Errorf("%s %v: %d, want %d", req.method, req.hdr, rec.Code, req.want)
			}
		}
		again := f.get("Accept-Encoding", "gzip")
		if !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) || again.Header().Get("ETag") != first.Header().Get("ETag") {
			t.Error("a warm serving differs from the first")
		}
		if calls := since(afterFirst, storeCalls(t, f.s)); len(calls) != 0 {
			t.Errorf("warm servings of an unchanged feed made store calls %v, want none", calls)
		}
		if n := f.s.Daemon.Clinic.EngineRuns() - runs; n != 0 {
			t.Errorf("serving the feed ran the engine %d times, want 0", n)
		}
	})
}

// TestFeedSizeForThreePrograms keeps a full feed (three programs, the whole
// 14-day-back / 8-week window) far below the 1 MB past which Google drops
// events: under 400 KB, with the reviewed templates' longer instructions.
func TestFeedSizeForThreePrograms(t *testing.T) {
	f := newFeedFixture(t)
	rec := f.get()
	if rec.Code != 200 {
		t.Fatalf("feed: %d", rec.Code)
	}
	const limit = 400 << 10
	body := rec.Body.String()
	if n := len(body); n > limit {
		t.Errorf("the feed is %d bytes, over %d", n, limit)
	}
	// The coming week's sessions still carry their full instructions.
	if !strings.Contains(body, "Walk at an easy pace") {
		t.Error("no instructions in the coming week's sessions")
	}
	t.Logf("feed of three programs: %d bytes", len(body))
}

package web_test

import (
	"bytes"
	"maps"
	"net/http"
	"strings"
	"testing"

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

// The design's aim: a feed served from an unchanged plan costs no plan
// recomputation and no more than one store read.
func TestUnchangedFeedCostsOneStoreRead(t *testing.T) {
	f := newFeedFixture(t)
	runs := f.s.Daemon.Clinic.EngineRuns()
	start := storeCalls(t, f.s)

	first := f.get()
	if first.Code != http.StatusOK {
		t.Fatalf("first serving: %d", first.Code)
	}
	// The hook sees the render's reads; otherwise the check below proves nothing.
	afterFirst := storeCalls(t, f.s)
	if calls := since(start, afterFirst); calls["sessions"] == 0 || calls["plan"] == 0 {
		t.Fatalf("first serving made %v: the store hook misses the render's reads", calls)
	}

	second := f.get()
	if second.Code != http.StatusOK || !bytes.Equal(second.Body.Bytes(), first.Body.Bytes()) {
		t.Fatalf("second serving: %d, same body %v", second.Code, bytes.Equal(second.Body.Bytes(), first.Body.Bytes()))
	}
	if calls, want := since(afterFirst, storeCalls(t, f.s)), map[string]int{"patient_by_feed_token": 1}; !maps.Equal(calls, want) {
		t.Errorf("second serving of an unchanged feed made store calls %v, want only %v (no sessions, assignments or plan reads; no patient_tx, which means a re-plan)", calls, want)
	}
	if n := f.s.Daemon.Clinic.EngineRuns() - runs; n != 0 {
		t.Errorf("serving the feed twice ran the engine %d times, want 0", n)
	}
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

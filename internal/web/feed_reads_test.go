package web

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"pacer/internal/store"
	"pacer/programs"
)

// countingStore is the real store, counting the calls the feed could make:
// the feed's reads, and the engine's (CheckIns, Overrides, SaveSessions).
type countingStore struct {
	*store.Store
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingStore) count(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[name]++
}

// take returns the calls counted so far and starts again from none.
func (c *countingStore) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = map[string]int{}
	return calls
}

func (c *countingStore) PatientByFeedToken(ctx context.Context, hash []byte) (store.Patient, error) {
	c.count("PatientByFeedToken")
	return c.Store.PatientByFeedToken(ctx, hash)
}

func (c *countingStore) Sessions(ctx context.Context, patientID int64, from, to programs.Date) ([]store.Session, error) {
	c.count("Sessions")
	return c.Store.Sessions(ctx, patientID, from, to)
}

func (c *countingStore) Assignments(ctx context.Context, patientID int64) ([]store.Assignment, error) {
	c.count("Assignments")
	return c.Store.Assignments(ctx, patientID)
}

func (c *countingStore) Decisions(ctx context.Context, assignmentID int64) ([]store.Decision, error) {
	c.count("Decisions")
	return c.Store.Decisions(ctx, assignmentID)
}

func (c *countingStore) CheckIns(ctx context.Context, patientID, assignmentID int64) ([]programs.CheckIn, error) {
	c.count("CheckIns")
	return c.Store.CheckIns(ctx, patientID, assignmentID)
}

func (c *countingStore) Overrides(ctx context.Context, assignmentID int64) ([]programs.Overriding, error) {
	c.count("Overrides")
	return c.Store.Overrides(ctx, assignmentID)
}

func (c *countingStore) SaveSessions(ctx context.Context, assignmentID, patientID int64, want []store.Session, decisions []store.Decision, now time.Time) (int, error) {
	c.count("SaveSessions")
	return c.Store.SaveSessions(ctx, assignmentID, patientID, want, decisions, now)
}

// The design's aim: a feed served from an unchanged plan costs no plan
// recomputation and no more than one store read.
func TestUnchangedFeedCostsOneStoreRead(t *testing.T) {
	var cs *countingStore
	f := newFeedFixture(t, func(st *store.Store) Store {
		cs = &countingStore{Store: st, calls: map[string]int{}}
		return cs
	})
	cs.take() // the set-up's calls

	first := f.get()
	if first.Code != http.StatusOK {
		t.Fatalf("first serving: %d", first.Code)
	}
	// The counter sees the render's reads; otherwise the check below proves nothing.
	if calls := cs.take(); calls["Sessions"] == 0 || calls["Assignments"] == 0 {
		t.Fatalf("first serving made %v: the counting store misses the render's reads", calls)
	}

	second := f.get()
	if second.Code != http.StatusOK || !bytes.Equal(second.Body.Bytes(), first.Body.Bytes()) {
		t.Fatalf("second serving: %d, same body %v", second.Code, bytes.Equal(second.Body.Bytes(), first.Body.Bytes()))
	}
	if calls, want := cs.take(), map[string]int{"PatientByFeedToken": 1}; !maps.Equal(calls, want) {
		t.Errorf("second serving of an unchanged feed made store calls %v, want only %v (no Sessions, Assignments or Decisions; no CheckIns, Overrides or SaveSessions, which mean a re-plan)", calls, want)
	}
}

// TestFeedSizeForThreePrograms keeps a full feed (three programs, the whole
// 14-day-back / 8-week window) far below the 1 MB past which Google drops events.
func TestFeedSizeForThreePrograms(t *testing.T) {
	f := newFeedFixture(t, nil)
	rec := f.get()
	if rec.Code != 200 {
		t.Fatalf("feed: %d", rec.Code)
	}
	const limit = 350 << 10
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

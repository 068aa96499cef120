package web

import (
	"bytes"
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"
	"time"

	"pacer/internal/store"
)

var cacheNow = time.Date(2026, 11, 23, 6, 0, 0, 0, time.UTC)

func testEntry(patientID int64, token string, size int) *feedEntry {
	return &feedEntry{key: sha256.Sum256([]byte(token)), patientID: patientID, until: cacheNow.Add(time.Hour),
		plain: newFeedBody(bytes.Repeat([]byte("x"), size), `"p"`), gzip: newFeedBody(nil, `"p-gzip"`)}
}

func (c *feedCache) has(token string) bool {
	key := sha256.Sum256([]byte(token))
	return c.get(&key, cacheNow) != nil
}

// The cache holds at most its number of entries and its bytes, and evicts
// entries not used since eviction last passed before used ones.
func TestFeedCacheBounds(t *testing.T) {
	c := newFeedCache(4, 1<<20)
	for i := range int64(4) {
		c.put(testEntry(i, "t"+strconv.FormatInt(i, 10), 10), c.generation())
	}
	c.has("t0") // used: kept over the others
	c.put(testEntry(4, "t4", 10), c.generation())
	if n, _ := c.stats(); n != 4 {
		t.Errorf("%d entries, want at most 4", n)
	}
	if !c.has("t0") || !c.has("t4") {
		t.Error("the used entry or the newest one was evicted")
	}

	c = newFeedCache(100, 4*testEntry(0, "", 100_000).size())
	for i := range int64(6) {
		c.put(testEntry(i, "t"+strconv.FormatInt(i, 10), 100_000), c.generation())
	}
	if n, b := c.stats(); n != 4 || b > c.maxBytes {
		t.Errorf("%d entries of %d bytes, want 4 within %d", n, b, c.maxBytes)
	}
	// An entry over a quarter of the bytes is not kept at all.
	c.put(testEntry(9, "big", c.maxBytes/4), c.generation())
	if c.has("big") {
		t.Error("an entry of a quarter of the cache was kept")
	}
}

// One entry per patient: a new token's entry replaces the old token's.
func TestFeedCacheOneEntryPerPatient(t *testing.T) {
	c := newFeedCache(10, 1<<20)
	c.put(testEntry(1, "old", 10), c.generation())
	c.put(testEntry(1, "new", 10), c.generation())
	if c.has("old") || !c.has("new") {
		t.Error("the old token's entry outlived the new one's")
	}
	c.forget(1)
	if n, b := c.stats(); n != 0 || b != 0 || c.has("new") {
		t.Errorf("after forget: %d entries, %d bytes", n, b)
	}
}

// A render that began before a forget of its patient, or before a
// forgetAll, is not kept: it may have read the patient before the change.
// Renders of other patients are.
func TestFeedCacheRefusesRendersOlderThanAForget(t *testing.T) {
	c := newFeedCache(10, 1<<20)
	gen := c.generation()
	c.forget(1)
	c.put(testEntry(1, "one", 10), gen)
	c.put(testEntry(2, "two", 10), gen)
	if c.has("one") || !c.has("two") {
		t.Errorf("forgotten patient's older render kept %v, other patient's kept %v", c.has("one"), c.has("two"))
	}
	c.put(testEntry(1, "one", 10), c.generation())
	if !c.has("one") {
		t.Error("a render begun after the forget was not kept")
	}

	gen = c.generation()
	c.forgetAll()
	c.put(testEntry(3, "three", 10), gen)
	if n, _ := c.stats(); n != 0 {
		t.Errorf("%d entries after forgetAll and an older render", n)
	}
}

// While not synced (changes from other replicas may go unheard) the cache
// is neither read nor filled; going either way drops what it held.
func TestFeedCacheUnsynced(t *testing.T) {
	c := newFeedCache(10, 1<<20)
	c.put(testEntry(1, "one", 10), c.generation())
	c.setSynced(false)
	c.put(testEntry(2, "two", 10), c.generation())
	if n, _ := c.stats(); n != 0 || c.has("one") {
		t.Error("an unsynced cache holds or serves entries")
	}
	gen := c.generation()
	c.setSynced(true)
	c.put(testEntry(3, "three", 10), gen) // rendered before the cache synced
	c.put(testEntry(4, "four", 10), c.generation())
	if c.has("three") || !c.has("four") {
		t.Errorf("synced again: kept the older render %v, the newer %v", c.has("three"), c.has("four"))
	}
}

// An entry is valid until its patient's next local midnight.
func TestFeedCacheEntryExpires(t *testing.T) {
	c := newFeedCache(10, 1<<20)
	e := testEntry(1, "one", 10)
	c.put(e, c.generation())
	if c.get(&e.key, e.until.Add(-time.Nanosecond)) == nil || c.get(&e.key, e.until) != nil {
		t.Error("an entry is not valid exactly until its until")
	}
}

// The cache's key is the hash the store keeps of a token.
func TestTokenHashIsTheStores(t *testing.T) {
	for _, tok := range []string{"", "a", "Jx3c0l9bW5Y2b3RyYW5kb20tdG9rZW4tZm9yLXRlc3Q", strings.Repeat("x", 100)} {
		if got, want := tokenHash(tok), [sha256.Size]byte(store.HashToken(tok)); got != want {
			t.Errorf("tokenHash(%q) differs from store.HashToken", tok)
		}
	}
}

// Under concurrent use (run with -race) the cache keeps its books: its
// bytes are its entries' sizes, one entry per patient, within its bounds.
func TestFeedCacheConcurrent(t *testing.T) {
	c := newFeedCache(8, 8*testEntry(0, "", 1000).size())
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 2000 {
				id := int64((g*7 + i) % 12)
				tok := "t" + strconv.FormatInt(id, 10) + "-" + strconv.Itoa(i%3)
				switch i % 10 {
				case 0:
					c.forget(id)
				case 1:
					if g == 0 && i%100 == 1 {
						c.setSynced(i%200 != 1)
					}
				case 2:
					if g == 1 && i%500 == 2 {
						c.forgetAll()
					}
				default:
					if !c.has(tok) {
						c.put(testEntry(id, tok, 1000), c.generation())
					}
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	sum := 0
	for _, e := range c.byToken {
		sum += e.size()
		if c.byPatient[e.patientID] != e {
			t.Errorf("patient %d's entry is not indexed", e.patientID)
		}
	}
	if sum != c.bytes || len(c.byPatient) != len(c.byToken) || len(c.byToken) > c.maxEntries || c.bytes > c.maxBytes {
		t.Errorf("%d entries (%d indexed), %d bytes counted, %d held, bounds %d and %d",
			len(c.byToken), len(c.byPatient), c.bytes, sum, c.maxEntries, c.maxBytes)
	}
}

package web

import (
	"crypto/sha256"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The feed cache's bounds. A full feed (three programs, the whole window) is
// about 330 KB plain and 20 KB gzipped; most are smaller.
const (
	feedCacheEntries = 10_000
	feedCacheBytes   = 128 << 20
)

// feedCache keeps rendered feeds by the SHA-256 of their token (never the
// token itself), so that serving an unchanged feed reads nothing from the
// store: no token lookup, no sessions, no plans. It holds at most one entry
// per patient, and is bounded in entries and in bytes.
//
// An entry is valid until the patient's local midnight, when the feed's
// window moves on, or until something drops it: Forget after any committed
// change of the patient (a re-plan, a check-in, new settings, a rotated
// link, an erasure), told by the clinic in this process and by the other
// replicas' notices (store.ListenChanges) on PostgreSQL; ForgetAll when every
// patient may have changed.
//
// A render races the changes: it may read a patient before a change commits
// and finish after the change was forgotten. Each put therefore carries the
// generation at which its render began, and is refused when a forget that
// may concern it came later.
type feedCache struct {
	maxEntries int
	maxBytes   int

	// synced is false while changes from other replicas may go unheard (the
	// listener is not connected): the cache is then neither read nor filled.
	synced atomic.Bool
	gen    atomic.Uint64 // rises with every forget

	mu        sync.RWMutex
	byToken   map[[sha256.Size]byte]*feedEntry
	byPatient map[int64]*feedEntry
	bytes     int
	// forgotAt[id % len] is the generation of the last forget of a patient
	// whose id falls on that slot; clearedAt that of the last ForgetAll.
	forgotAt  [256]uint64
	clearedAt uint64
}

// feedEntry is one patient's rendered feed, in both encodings.
type feedEntry struct {
	key       [sha256.Size]byte // the token's hash
	patientID int64
	// until is when the feed's window moves: the patient's next local
	// midnight.
	until time.Time
	plain feedBody
	gzip  feedBody
	// modified and lastModified are the newest event change, as a time and
	// as the Last-Modified header's value.
	modified     time.Time
	lastModified []string
	// used is set by every hit, cleared as eviction passes over the entry.
	used atomic.Bool
}

// feedBody is one encoding of a feed with its header values, made once so
// that serving it builds nothing.
type feedBody struct {
	body          []byte
	etag          string // quoted
	etagHeader    []string
	contentLength []string
}

func newFeedBody(body []byte, etag string) feedBody {
	return feedBody{body: body, etag: etag, etagHeader: header(etag),
		contentLength: header(strconv.Itoa(len(body)))}
}

// size is what an entry counts against the cache's byte bound.
func (e *feedEntry) size() int { return len(e.plain.body) + len(e.gzip.body) + 512 }

func newFeedCache(maxEntries, maxBytes int) *feedCache {
	c := &feedCache{maxEntries: maxEntries, maxBytes: maxBytes,
		byToken: map[[sha256.Size]byte]*feedEntry{}, byPatient: map[int64]*feedEntry{}}
	c.synced.Store(true)
	return c
}

// generation is read before a render's first store read and given to put.
func (c *feedCache) generation() uint64 { return c.gen.Load() }

// get returns the valid entry of the token's hash at now, or nil.
func (c *feedCache) get(key *[sha256.Size]byte, now time.Time) *feedEntry {
	if !c.synced.Load() {
		return nil
	}
	c.mu.RLock()
	e := c.byToken[*key]
	c.mu.RUnlock()
	if e == nil || !now.Before(e.until) {
		return nil
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
	return e
}

// put caches e, rendered from reads that began at generation gen, unless a
// forget that may concern it came since, or it is too large to keep. It
// replaces the patient's previous entry, whatever its token.
func (c *feedCache) put(e *feedEntry, gen uint64) {
	if !c.synced.Load() || e.size() > c.maxBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.clearedAt > gen || c.forgotAt[slot(e.patientID)] > gen {
		return
	}
	if old := c.byPatient[e.patientID]; old != nil {
		c.remove(old)
	}
	for len(c.byToken) >= c.maxEntries || c.bytes+e.size() > c.maxBytes {
		c.evict()
	}
	c.byToken[e.key] = e
	c.byPatient[e.patientID] = e
	c.bytes += e.size()
}

// evict drops one entry not used since eviction last passed over it (the
// "second chance" of the clock algorithm). Map iteration starts at a random
// place, so which entries are looked at first varies.
func (c *feedCache) evict() {
	for len(c.byToken) > 0 {
		for _, e := range c.byToken {
			if !e.used.Swap(false) {
				c.remove(e)
				return
			}
		}
	}
}

func (c *feedCache) remove(e *feedEntry) {
	delete(c.byToken, e.key)
	if c.byPatient[e.patientID] == e {
		delete(c.byPatient, e.patientID)
	}
	c.bytes -= e.size()
}

// forget drops the patient's entry, and refuses renders of them that began
// before.
func (c *feedCache) forget(patientID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.gen.Add(1)
	c.forgotAt[slot(patientID)] = g
	if e := c.byPatient[patientID]; e != nil {
		c.remove(e)
	}
}

// forgetAll drops every entry, and refuses every render that began before.
func (c *feedCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clearedAt = c.gen.Add(1)
	clear(c.byToken)
	clear(c.byPatient)
	c.bytes = 0
}

// setSynced says whether every change is heard. Either way what is cached
// may have missed changes, so it is dropped.
func (c *feedCache) setSynced(ok bool) {
	if !ok {
		c.synced.Store(false)
	}
	c.forgetAll()
	if ok {
		c.synced.Store(true)
	}
}

// stats are the cache's entries and bytes.
func (c *feedCache) stats() (entries, bytes int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.byToken), c.bytes
}

func slot(patientID int64) int { return int(uint64(patientID) % 256) }

package web

import (
	"container/list"
	"hash/maphash"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// bounded is a map of at most max entries, in shards each with its own lock
// and its own least-recently-used order: when a shard is full, a new key
// takes the place of the key seen least recently there. Every operation is
// O(1), so a flood of distinct keys (addresses, made-up tokens) costs
// bounded memory and constant time, and never a sweep under one lock.
type bounded[V any] struct {
	seed   maphash.Seed
	shards [boundedShards]shard[V]
}

const boundedShards = 16

type shard[V any] struct {
	mu    sync.Mutex
	max   int
	items map[string]*list.Element // of *item[V]
	order list.List                // front: most recently used
}

type item[V any] struct {
	key string
	val V
}

func newBounded[V any](size int) *bounded[V] {
	b := &bounded[V]{seed: maphash.MakeSeed()}
	for i := range b.shards {
		b.shards[i].max = max(1, size/boundedShards)
		b.shards[i].items = map[string]*list.Element{}
	}
	return b
}

// with calls fn with key's value, created by make when key is new, under
// the key's shard's lock; fn may change the value.
func (b *bounded[V]) with(key string, create func() V, fn func(v *V)) {
	sh := &b.shards[maphash.String(b.seed, key)%boundedShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.items[key]
	if ok {
		sh.order.MoveToFront(e)
	} else {
		if sh.order.Len() >= sh.max {
			oldest := sh.order.Back()
			delete(sh.items, oldest.Value.(*item[V]).key)
			sh.order.Remove(oldest)
		}
		e = sh.order.PushFront(&item[V]{key: key, val: create()})
		sh.items[key] = e
	}
	fn(&e.Value.(*item[V]).val)
}

// forget drops key.
func (b *bounded[V]) forget(key string) {
	sh := &b.shards[maphash.String(b.seed, key)%boundedShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.items[key]; ok {
		delete(sh.items, key)
		sh.order.Remove(e)
	}
}

// len is how many keys are held.
func (b *bounded[V]) len() int {
	n := 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		n += sh.order.Len()
		sh.mu.Unlock()
	}
	return n
}

// limiterKeys bounds each limiter: more keys than a clinic has valid tokens
// or active addresses; a key evicted by a flood starts again with a full
// bucket, which bounds memory without ever blocking a key that was not
// limited.
const limiterKeys = 16384

// limiter is a token bucket per key (a token hash, a client address).
type limiter struct {
	perSec  rate.Limit
	burst   int
	now     func() time.Time
	buckets *bounded[*rate.Limiter]
}

func newLimiter(perSec float64, burst int, now func() time.Time) *limiter {
	return &limiter{perSec: rate.Limit(perSec), burst: burst, now: now, buckets: newBounded[*rate.Limiter](limiterKeys)}
}

// allow spends one token of key's bucket and reports whether there was one.
func (l *limiter) allow(key string) bool {
	ok := false
	l.buckets.with(key, func() *rate.Limiter { return rate.NewLimiter(l.perSec, l.burst) },
		func(b **rate.Limiter) { ok = (*b).AllowN(l.now(), 1) })
	return ok
}

// seen reports whether key has a bucket, without making one.
func (l *limiter) seen(key string) bool {
	sh := &l.buckets.shards[maphash.String(l.buckets.seed, key)%boundedShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	_, ok := sh.items[key]
	return ok
}

// has reports whether key's bucket has a token, without spending it.
func (l *limiter) has(key string) bool {
	ok := false
	l.buckets.with(key, func() *rate.Limiter { return rate.NewLimiter(l.perSec, l.burst) },
		func(b **rate.Limiter) { ok = (*b).TokensAt(l.now()) >= 1 })
	return ok
}

// backoff holds growing delays per key (a client address and an email):
// after a few failures each further one doubles the wait before the next
// try, up to a cap; a success clears it. Nobody but the key's own sender
// waits, so no one can lock out an email from another address.
type backoff struct {
	free  int           // failures that cost no wait
	first time.Duration // the wait after the first failure beyond free
	cap   time.Duration
	now   func() time.Time
	keys  *bounded[backoffState]
}

type backoffState struct {
	failures int
	until    time.Time
}

func newBackoff(free int, first, cap time.Duration, now func() time.Time) *backoff {
	return &backoff{free: free, first: first, cap: cap, now: now, keys: newBounded[backoffState](limiterKeys)}
}

// wait is how long key must still wait before its next try; 0: now.
func (b *backoff) wait(key string) time.Duration {
	var d time.Duration
	b.keys.with(key, func() backoffState { return backoffState{} }, func(s *backoffState) {
		d = max(0, s.until.Sub(b.now()))
	})
	return d
}

// fail records a failure of key and returns the wait it now has.
func (b *backoff) fail(key string) time.Duration {
	var d time.Duration
	b.keys.with(key, func() backoffState { return backoffState{} }, func(s *backoffState) {
		s.failures++
		if n := s.failures - b.free; n > 0 {
			d = b.cap
			if n < 32 && b.first<<(n-1) < b.cap {
				d = b.first << (n - 1)
			}
			s.until = b.now().Add(d)
		}
	})
	return d
}

// succeed clears key.
func (b *backoff) succeed(key string) { b.keys.forget(key) }

package proxy

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// responseCache keeps complete responses, bounded by their total body
// bytes (least recently used go first); an entry larger than maxEntry is
// never kept, and an entry may expire. It holds the asset cache and the
// optional micro-cache of query results.
type responseCache struct {
	mu       sync.Mutex
	max      int
	maxEntry int
	total    int
	lru      *lru.Cache[string, cacheEntry]
}

type cacheEntry struct {
	res     *sharedResponse
	stored  time.Time
	expires time.Time // zero: never
}

func newResponseCache(maxBytes, maxEntry int) *responseCache {
	c := &responseCache{max: maxBytes, maxEntry: maxEntry}
	c.lru, _ = lru.NewWithEvict[string, cacheEntry](1<<16, func(_ string, e cacheEntry) {
		c.total -= len(e.res.body)
	})
	return c
}

// get returns the response kept for key and when it was stored, unless it
// expired by now (then it is dropped).
func (c *responseCache) get(key string, now time.Time) (res *sharedResponse, stored time.Time, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.lru.Get(key)
	if !ok {
		return nil, time.Time{}, false
	}
	if !e.expires.IsZero() && !now.Before(e.expires) {
		c.lru.Remove(key)
		return nil, time.Time{}, false
	}
	return e.res, e.stored, true
}

// put keeps res for key until expires (zero: until evicted), evicting the
// least recently used entries over the byte bound.
func (c *responseCache) put(key string, res *sharedResponse, now, expires time.Time) {
	if len(res.body) > c.maxEntry || len(res.body) > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(key); ok {
		c.total -= len(old.res.body)
	}
	c.lru.Add(key, cacheEntry{res: res, stored: now, expires: expires})
	c.total += len(res.body)
	for c.total > c.max && c.lru.Len() > 0 { // Len: never spin on a drifted total
		c.lru.RemoveOldest()
	}
}

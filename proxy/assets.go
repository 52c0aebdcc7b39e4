package proxy

import (
	"net/http"
	"strings"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
)

// assetCache keeps Metabase's content-hashed /app/dist assets, so Metabase
// serves each once however many customers open a dashboard. Bounded by
// total bytes; an asset larger than maxAsset is never kept.
type assetCache struct {
	mu    sync.Mutex
	max   int
	total int
	lru   *lru.Cache[string, *sharedResponse]
}

const maxAsset = 2 << 20

func newAssetCache(maxBytes int) *assetCache {
	a := &assetCache{max: maxBytes}
	a.lru, _ = lru.NewWithEvict[string, *sharedResponse](1<<16, func(_ string, v *sharedResponse) {
		a.total -= len(v.body)
	})
	return a
}

// cacheable: hashed assets only, fetched plainly (no range, no query).
func cacheableAsset(path string, r *http.Request) bool {
	return strings.HasPrefix(path, "/app/dist/") && r.URL.RawQuery == "" &&
		r.Header.Get("Range") == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

func (a *assetCache) get(path string) (*sharedResponse, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lru.Get(path)
}

func (a *assetCache) put(path string, res *sharedResponse) {
	if res == nil || res.status != http.StatusOK || len(res.body) > maxAsset || len(res.body) > a.max || res.header.Get("Content-Encoding") != "" {
		return
	}
	res.header.Set("Cache-Control", "public, max-age=31536000, immutable")
	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.lru.Peek(path); ok {
		a.total -= len(old.body)
	}
	a.lru.Add(path, res)
	a.total += len(res.body)
	for a.total > a.max && a.lru.Len() > 0 { // Len: never spin on a drifted total
		a.lru.RemoveOldest()
	}
}

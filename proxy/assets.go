package proxy

import (
	"net/http"
	"strings"
	"time"

	"github.com/tenantgate/tenantgate/policy"
)

// assetCache keeps Metabase's content-hashed /app/dist assets, so Metabase
// serves each once however many customers open a dashboard. Bounded by
// total bytes; an asset larger than maxAsset is never kept.
type assetCache struct{ *responseCache }

const maxAsset = 2 << 20

func newAssetCache(maxBytes int) *assetCache {
	return &assetCache{newResponseCache(maxBytes, maxAsset)}
}

// cacheable: hashed assets only, fetched plainly (no range, no query).
func cacheableAsset(path string, r *http.Request) bool {
	return strings.HasPrefix(path, "/app/dist/") && isAssetPath(path) && r.URL.RawQuery == "" &&
		r.Header.Get("Range") == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead)
}

// isAssetPath reports whether path is an asset path in its canonical form
// (policy.AssetPath): the cache keeps nothing else, so no answer to a path
// another server would resolve elsewhere ("/app/..;/api/...") is ever
// stored and served as immutable.
func isAssetPath(path string) bool {
	p, ok := policy.AssetPath(path)
	return ok && p == path
}

func (a *assetCache) get(path string) (*sharedResponse, bool) {
	res, _, ok := a.responseCache.get(path, time.Time{})
	return res, ok
}

// put keeps a plain 200 answer (nil: nothing to keep), content-hashed and
// so served as immutable.
func (a *assetCache) put(path string, res *sharedResponse) {
	if res == nil || res.status != http.StatusOK || res.header.Get("Content-Encoding") != "" || !isAssetPath(path) {
		return
	}
	res.header.Set("Cache-Control", "public, max-age=31536000, immutable")
	a.responseCache.put(path, res, time.Time{}, time.Time{})
}

package proxy

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
)

// testAsset is a cacheable /app/dist answer of n bytes.
func testAsset(n int) *sharedResponse {
	return &sharedResponse{
		status: http.StatusOK,
		header: http.Header{"Content-Type": {"application/javascript"}},
		body:   bytes.Repeat([]byte("x"), n),
	}
}

// assetCacheState reads what a holds: its keys from least to most recently
// used, the byte total recomputed from the entries, and the total a keeps.
func assetCacheState(a *assetCache) (keys []string, sum, total int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	keys = a.lru.Keys()
	for _, k := range keys {
		v, _ := a.lru.Peek(k)
		sum += len(v.res.body)
	}
	return keys, sum, a.total
}

// assetCachePeek is what a holds for path (nil if nothing), leaving its
// recency alone.
func assetCachePeek(a *assetCache, path string) *sharedResponse {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, _ := a.lru.Peek(path)
	return v.res
}

// returnsWithin runs f and fails t if it has not returned in 10s (a put
// whose eviction loop never ends holds the lock and spins forever).
func returnsWithin(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not return in 10s", what)
	}
}

// checkAssetBound fails t if a holds more than max bytes of bodies, or if
// its running total disagrees with what it holds.
func checkAssetBound(t *testing.T, a *assetCache, max int, when string) {
	t.Helper()
	_, sum, total := assetCacheState(a)
	if sum > max {
		t.Errorf("%s: cache holds %d bytes, bound is %d", when, sum, max)
	}
	if total != sum {
		t.Errorf("%s: cache accounts %d bytes but holds %d", when, total, sum)
	}
}

// TestAssetCacheBound drives assetCache directly. After every step the
// bytes held never exceed maxBytes and the running total matches the
// entries; at the end the entries left, in LRU order, are exactly those
// the policy keeps: least recently used (get or put) evicted first, only
// as many as needed, and an asset larger than the cache (or than maxAsset)
// never stored and evicting nothing. A "fetch" step is what serveStatic
// does (get, and on a miss fetch from Metabase and put), so the counts
// show an evicted asset being fetched again.
func TestAssetCacheBound(t *testing.T) {
	type step struct {
		op   string // "put", or "fetch": get, and on a miss count a Metabase fetch and put
		path string
		size int
		hit  bool // fetch: want it served from the cache
	}
	put := func(path string, size int) step { return step{op: "put", path: path, size: size} }
	miss := func(path string, size int) step { return step{op: "fetch", path: path, size: size} }
	hit := func(path string, size int) step { return step{op: "fetch", path: path, size: size, hit: true} }

	many := []step{}
	for i := 0; i < 20; i++ {
		many = append(many, miss("a"+strconv.Itoa(i), 17))
	}

	tests := []struct {
		name    string
		max     int
		steps   []step
		want    []string       // keys left, least recently used first
		fetches map[string]int // Metabase fetches per path (fetch steps only)
	}{
		{
			name:  "filling exactly to the bound evicts nothing",
			max:   100,
			steps: []step{put("a", 50), put("b", 50)},
			want:  []string{"a", "b"},
		},
		{
			name:  "least recently put is evicted first",
			max:   100,
			steps: []step{put("a", 40), put("b", 40), put("c", 40)},
			want:  []string{"b", "c"},
		},
		{
			name:    "a get makes an asset recent: LRU, not FIFO",
			max:     100,
			steps:   []step{miss("a", 40), miss("b", 40), hit("a", 40), miss("c", 40), hit("a", 40), miss("b", 40)},
			want:    []string{"a", "b"}, // b's refetch evicted c, the least recent
			fetches: map[string]int{"a": 1, "b": 2, "c": 1},
		},
		{
			name:  "evicts as many as needed and no more",
			max:   100,
			steps: []step{put("a", 30), put("b", 30), put("c", 30), put("d", 70)},
			want:  []string{"c", "d"},
		},
		{
			name:  "one byte over the bound evicts",
			max:   100,
			steps: []step{put("a", 50), put("b", 51)},
			want:  []string{"b"},
		},
		{
			name:  "an asset the size of the cache replaces everything",
			max:   100,
			steps: []step{put("a", 30), put("b", 30), put("c", 100)},
			want:  []string{"c"},
		},
		{
			name:    "an asset larger than the cache is never stored and evicts nothing",
			max:     100,
			steps:   []step{miss("a", 40), miss("b", 40), miss("big", 101), miss("big", 101), hit("a", 40), hit("b", 40)},
			want:    []string{"a", "b"},
			fetches: map[string]int{"a": 1, "b": 1, "big": 2},
		},
		{
			name:    "an asset above maxAsset is never stored even when the cache could hold it",
			max:     4 * maxAsset,
			steps:   []step{miss("a", 10), miss("huge", maxAsset+1), miss("huge", maxAsset+1), miss("limit", maxAsset), hit("limit", maxAsset), hit("a", 10)},
			want:    []string{"limit", "a"},
			fetches: map[string]int{"a": 1, "huge": 2, "limit": 1},
		},
		{
			name:  "replacing with a larger body counts it once and evicts the others",
			max:   100,
			steps: []step{put("a", 40), put("b", 40), put("a", 50), put("a", 70)},
			want:  []string{"a"},
		},
		{
			name:  "replacing with a smaller body releases the old size",
			max:   100,
			steps: []step{put("a", 90), put("a", 10), put("b", 90)},
			want:  []string{"a", "b"},
		},
		{
			name:    "an evicted asset is fetched again, a kept one is not",
			max:     100,
			steps:   []step{miss("a", 40), miss("b", 40), miss("c", 40), miss("a", 40), hit("c", 40), hit("a", 40), miss("b", 40)},
			want:    []string{"a", "b"},
			fetches: map[string]int{"a": 2, "b": 2, "c": 1},
		},
		{
			name:  "a long run keeps only the newest that fit",
			max:   100,
			steps: many,
			want:  []string{"a15", "a16", "a17", "a18", "a19"}, // 5×17 = 85; 6×17 = 102
			fetches: func() map[string]int {
				m := map[string]int{}
				for i := range 20 {
					m["a"+strconv.Itoa(i)] = 1
				}
				return m
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAssetCache(tt.max)
			fetches := map[string]int{}
			for i, s := range tt.steps {
				when := fmt.Sprintf("step %d (%s %s, %d bytes)", i, s.op, s.path, s.size)
				res := testAsset(s.size)
				path := "/app/dist/" + s.path // the cache keeps asset paths only
				switch s.op {
				case "put":
					returnsWithin(t, when, func() { a.put(path, res) })
				case "fetch":
					got, ok := a.get(path)
					if ok != s.hit {
						t.Errorf("%s: cache hit = %v, want %v", when, ok, s.hit)
					}
					if ok {
						if len(got.body) != s.size {
							t.Errorf("%s: cached body is %d bytes, want %d", when, len(got.body), s.size)
						}
						break
					}
					fetches[s.path]++
					returnsWithin(t, when, func() { a.put(path, res) })
				}
				checkAssetBound(t, a, tt.max, when)
				if s.size > tt.max || s.size > maxAsset {
					if assetCachePeek(a, path) == res {
						t.Errorf("%s: an asset of %d bytes was stored (cache %d, maxAsset %d)", when, s.size, tt.max, maxAsset)
					}
				}
			}
			keys, _, _ := assetCacheState(a)
			for i, k := range keys {
				keys[i] = strings.TrimPrefix(k, "/app/dist/")
			}
			if !slices.Equal(keys, tt.want) {
				t.Errorf("cache keeps %q (least recent first), want %q", keys, tt.want)
			}
			if tt.fetches != nil && !maps.Equal(fetches, tt.fetches) {
				t.Errorf("Metabase fetches = %v, want %v", fetches, tt.fetches)
			}
		})
	}
}

// TestAssetCacheBoundConcurrent hammers one cache from several goroutines
// (run with -race): the bound and the accounting hold afterwards.
func TestAssetCacheBoundConcurrent(t *testing.T) {
	const max = 1000
	a := newAssetCache(max)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				path := "/app/dist/" + strconv.Itoa((g*7+i)%40) + ".js"
				if _, ok := a.get(path); !ok {
					a.put(path, testAsset(50+(g*31+i*17)%300))
				}
			}
		}(g)
	}
	returnsWithin(t, "concurrent gets and puts", wg.Wait)
	checkAssetBound(t, a, max, "after concurrent use")
}

// TestAssetCacheBoundEndToEnd sends /app/dist requests through the gate
// with a small protect.asset_cache_bytes, Metabase answering each path
// with a body of the size its name says, and counts what reached
// Metabase: an asset evicted by newer ones goes to Metabase again, one
// still cached does not, one larger than the cache goes every time.
func TestAssetCacheBoundEndToEnd(t *testing.T) {
	tests := []struct {
		name     string
		max      int
		requests []string       // asset names "<id>.<bytes>"
		want     map[string]int // Metabase requests per asset
	}{
		{
			name:     "oldest evicted and refetched, newer kept",
			max:      1000,
			requests: []string{"a.400", "b.400", "c.400", "a.400", "c.400", "a.400"},
			want:     map[string]int{"a.400": 2, "b.400": 1, "c.400": 1},
		},
		{
			name:     "a cache hit keeps an asset: the least recently used goes",
			max:      1000,
			requests: []string{"a.400", "b.400", "a.400", "c.400", "a.400", "b.400"},
			want:     map[string]int{"a.400": 1, "b.400": 2, "c.400": 1},
		},
		{
			name:     "one byte over the bound evicts",
			max:      1000,
			requests: []string{"a.500", "b.501", "a.500", "b.501"},
			want:     map[string]int{"a.500": 2, "b.501": 2},
		},
		{
			name:     "larger than the cache: never cached, evicts nothing",
			max:      1000,
			requests: []string{"a.400", "big.1001", "big.1001", "a.400", "full.1000", "full.1000", "a.400"},
			want:     map[string]int{"a.400": 2, "big.1001": 2, "full.1000": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *configs.Config) { c.Protect.AssetCacheBytes = tt.max })
			h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
				name, ok := strings.CutPrefix(r.URL.Path, "/app/dist/t/")
				if !ok {
					return false
				}
				_, size, _ := strings.Cut(name, ".")
				n, err := strconv.Atoi(size)
				if err != nil {
					return false
				}
				w.Header().Set("Content-Type", "application/javascript")
				w.Header().Set("Cache-Control", "public, max-age=31536000")
				w.WriteHeader(http.StatusOK)
				w.Write(bytes.Repeat([]byte(name[:1]), n))
				return true
			})
			for i, name := range tt.requests {
				var w *httptest.ResponseRecorder
				returnsWithin(t, "request "+name, func() { w = h.do("GET", "/app/dist/t/"+name, "", nil) })
				_, size, _ := strings.Cut(name, ".")
				n, _ := strconv.Atoi(size)
				if w.Code != http.StatusOK || w.Body.Len() != n || w.Body.String() != strings.Repeat(name[:1], n) {
					t.Fatalf("request %d (%s): %d, %d bytes", i, name, w.Code, w.Body.Len())
				}
				checkAssetBound(t, h.stack.Gate.assets, tt.max, fmt.Sprintf("after request %d (%s)", i, name))
			}
			got := map[string]int{}
			for _, r := range h.mb.Requests() {
				if name, ok := strings.CutPrefix(r.Path, "/app/dist/t/"); ok {
					got[name]++
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Metabase received %v, want %v", got, tt.want)
			}
		})
	}
}

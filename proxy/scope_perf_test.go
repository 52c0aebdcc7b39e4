package proxy

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
)

// TestPerRequestHeaderValuesConcurrent: the request id and X-Forwarded-For
// are backed by each request's own scopeCtx, not by the pooled scope: under
// concurrent requests from different peers, Metabase gets each request's
// own values, and the browser the id Metabase got; nothing is shared or
// overwritten (run with -race).
func TestPerRequestHeaderValuesConcurrent(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) {
		c.Protect.DisableQueryMerging = true
		c.Protect.TenantRate, c.Protect.TenantBurst, c.Protect.TenantConcurrency = 1e9, 1e9, 1e6
	})
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	h.mb.Reset()
	const n = 32
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/1", handle, 11), nil)
			r.RemoteAddr = fmt.Sprintf("203.0.113.%d:5555", i+1)
			r.AddCookie(&http.Cookie{Name: "session", Value: sess})
			w := httptest.NewRecorder()
			h.stack.Gate.ServeHTTP(w, r)
			ids[i] = w.Header().Get("X-Request-Id")
			if w.Code != http.StatusOK && w.Code != http.StatusAccepted {
				t.Errorf("request %d: status %d", i, w.Code)
			}
		}()
	}
	wg.Wait()
	got := h.mb.Requests()
	if len(got) != n {
		t.Fatalf("Metabase got %d requests, want %d", len(got), n)
	}
	byID := map[string]string{}
	for _, r := range got {
		byID[r.Header.Get("X-Request-Id")] = r.Header.Get("X-Forwarded-For")
	}
	for i, id := range ids {
		if want := fmt.Sprintf("203.0.113.%d", i+1); byID[id] != want {
			t.Errorf("request %d (id %q): Metabase got X-Forwarded-For %q, want %q", i, id, byID[id], want)
		}
	}
}

package proxy

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
)

// TestRateCountsQueriesOnly: a tenant's rate counts the requests that make
// Metabase query the warehouse, not the dashboard's JSON: at a rate of 1/s
// (burst 1, refusing at once), ten dashboard JSONs in a row all reach
// Metabase, then the first card query does and the second is refused.
func TestRateCountsQueriesOnly(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) {
		c.Protect.TenantRate, c.Protect.TenantBurst, c.Protect.TenantMaxWait = 1, 1, -1
		c.Protect.DisableQueryMerging = true
	})
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	h.mb.Reset()
	get := func(path string) int {
		r := httptest.NewRequest("GET", path, nil)
		r.AddCookie(&http.Cookie{Name: "session", Value: sess})
		w := httptest.NewRecorder()
		h.stack.Gate.ServeHTTP(w, r)
		return w.Code
	}
	for i := range 10 {
		if code := get("/api/embed/dashboard/" + handle); code != http.StatusOK {
			t.Fatalf("dashboard JSON %d: status %d, want 200 (metadata does not count against the rate)", i, code)
		}
	}
	query := "/api/embed/dashboard/" + handle + "/dashcard/11/card/1"
	if code := get(query); code != http.StatusOK && code != http.StatusAccepted {
		t.Fatalf("first query: status %d, want it served", code)
	}
	if code := get(query); code != http.StatusTooManyRequests {
		t.Errorf("second query within the second: status %d, want 429", code)
	}
	if n := len(h.mb.Requests()); n != 11 {
		t.Errorf("Metabase got %d requests, want 11 (ten JSONs, one query)", n)
	}
}

// TestMetadataKeepsInflightCap: metadata still counts against the
// in-flight cap, which shares Metabase's threads.
func TestMetadataKeepsInflightCap(t *testing.T) {
	f := newFairness(1, 1, 2, -1, 10)
	a, b := f.admitUnrated("acme"), f.admitUnrated("acme")
	if a == nil || b == nil {
		t.Fatal("two metadata requests under a cap of 2 refused")
	}
	if c := f.admitUnrated("acme"); c != nil {
		t.Errorf("a third metadata request in flight admitted over the cap of 2")
	}
	a.release()
	if c := f.admitUnrated("acme"); c == nil {
		t.Errorf("refused after a slot was released")
	}
}

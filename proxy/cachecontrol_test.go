package proxy

import (
	"net/http"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// TestEmbedAnswersAreNeverCacheable: the page, the dashboard's JSON and a
// query answer carry one tenant's data; whatever Metabase says, no shared
// cache may keep them (the value is set on the writer before the proxy
// copies Metabase's headers, and Metabase's is dropped).
func TestEmbedAnswersAreNeverCacheable(t *testing.T) {
	h := newHarness(t, nil)
	sess := session("u1", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", metabasetest.DashboardOrders)
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		return false // the stand-in answers as usual, with this header
	})
	for _, path := range []string{
		"/embed/dashboard/" + handle,
		"/api/embed/dashboard/" + handle,
		"/api/embed/dashboard/" + handle + "/dashcard/11/card/1",
	} {
		w := h.do("GET", path, sess, nil)
		if w.Code >= 300 {
			t.Errorf("%s: %d %s", path, w.Code, w.Body)
			continue
		}
		if got := w.Header().Values("Cache-Control"); len(got) != 1 || got[0] != "private, no-store" {
			t.Errorf("%s: Cache-Control = %q, want only private, no-store", path, got)
		}
	}
}

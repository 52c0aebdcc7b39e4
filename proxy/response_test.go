package proxy

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// TestUpstreamTokenNeverReachesBrowser makes Metabase misbehave: a token in
// Location, in a header and in the HTML page, and cookies.
func TestUpstreamTokenNeverReachesBrowser(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) { c.PublicPrefix = "/analytics" })
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "question", metabasetest.QuestionOrders)
	var upstream string
	misbehave := func(w http.ResponseWriter, r *http.Request) bool {
		seg := strings.Split(r.URL.Path, "/")
		upstream = strings.TrimSuffix(seg[len(seg)-1], ".csv")
		w.Header().Add("Set-Cookie", "metabase.DEVICE=abc; Path=/")
		w.Header().Set("X-Debug-Token", upstream)
		if strings.HasSuffix(r.URL.Path, ".csv") {
			w.Header().Set("Location", "http://"+r.Host+"/api/embed/card/"+upstream+"/query/csv?format_rows=true")
			w.WriteHeader(http.StatusFound)
			return true
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors *")
		w.Header().Set("X-Frame-Options", "ALLOW-FROM *")
		_, _ = w.Write([]byte(`<html><script>window.token="` + upstream + `"</script></html>`))
		return true
	}
	h.mb.SetOverride(misbehave)

	page := h.do("GET", "/analytics/embed/question/"+handle, sess, nil)
	if page.Code != http.StatusOK {
		t.Fatalf("page: %d %s", page.Code, page.Body)
	}
	if upstream == "" || upstream == handle {
		t.Fatalf("Metabase got %q, want a re-signed token", upstream)
	}
	body := page.Body.String()
	if strings.Contains(body, upstream) || !strings.Contains(body, handle) {
		t.Errorf("page body not scrubbed: %s", body)
	}
	if got := page.Header().Get("X-Debug-Token"); got != handle {
		t.Errorf("header token = %q, want the handle", got)
	}
	if c := page.Header().Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("Set-Cookie passed: %v", c)
	}
	if got := page.Header().Get("Content-Security-Policy"); got != "default-src 'self'; frame-ancestors 'self'" {
		t.Errorf("CSP = %q", got)
	}
	if got := page.Header().Get("X-Frame-Options"); got != "" {
		t.Errorf("X-Frame-Options = %q, want none (CSP decides)", got)
	}

	h2 := newHarness(t, func(c *configs.Config) {
		c.PublicPrefix = "/analytics"
		c.Policy.Resources = []configs.ResourcePolicy{{Question: metabasetest.QuestionOrders, Downloads: true}}
	})
	h2.mb.SetOverride(misbehave)
	handle2 := h2.mint(sess, "question", metabasetest.QuestionOrders)
	redir := h2.do("GET", "/analytics/embed/question/"+handle2+".csv", sess, nil)
	loc := redir.Header().Get("Location")
	if redir.Code != http.StatusFound || loc != "/analytics/api/embed/card/"+handle2+"/query/csv?format_rows=true" {
		t.Errorf("redirect = %d %q, want the gate's own path with the handle", redir.Code, loc)
	}
}

// TestHandleRenewal: an expired handle bound to the caller's live session
// keeps working; for anyone else, or past the limit, it does not.
func TestHandleRenewal(t *testing.T) {
	h := newHarness(t, nil)
	issued := time.Now().Add(-15 * time.Minute)
	k, _ := auth.NewHandleKeyring([]string{testHandleKey}, 10*time.Minute, 10, func() time.Time { return issued })
	old, _, _ := k.Seal(auth.Resource{Kind: "dashboard", ID: 1}, map[string]any{"organization_id": "acme"}, "acme", "alice")
	alice := session("alice", "acme", time.Hour)

	w := h.do("GET", "/api/embed/dashboard/"+old, alice, nil)
	fresh := w.Header().Get("X-Tenantgate-Handle")
	if w.Code != http.StatusOK || fresh == "" || fresh == old {
		t.Fatalf("API call with a renewable handle: %d, X-Tenantgate-Handle %q", w.Code, fresh)
	}
	if w := h.do("GET", "/api/embed/dashboard/"+fresh, alice, nil); w.Code != http.StatusOK || w.Header().Get("X-Tenantgate-Handle") != "" {
		t.Errorf("fresh handle: %d, renewed again %q", w.Code, w.Header().Get("X-Tenantgate-Handle"))
	}
	// The policy still decides before a renewal: a filter the page may not
	// set is refused, not redirected to a fresh handle.
	page := h.do("GET", "/embed/dashboard/"+old+"?status=paid", alice, nil)
	if page.Code != http.StatusBadRequest || reason(page) != "param-not-allowed" {
		t.Errorf("renewable handle with a forbidden filter: %d %q, want 400 param-not-allowed", page.Code, reason(page))
	}
	page = h.do("GET", "/embed/dashboard/"+old, alice, nil)
	if loc := page.Header().Get("Location"); page.Code != http.StatusFound || !strings.HasPrefix(loc, "/embed/dashboard/") || strings.Contains(loc, old) {
		t.Errorf("page reload: %d %q, want a redirect to a fresh handle", page.Code, loc)
	}
	for name, sess := range map[string]string{
		"other tenant":        session("bob", "globex", time.Hour),
		"other user":          session("anne", "acme", time.Hour),
		"expired app session": session("alice", "acme", -time.Minute),
	} {
		h.mb.Reset()
		if w := h.do("GET", "/api/embed/dashboard/"+old, sess, nil); w.Code < 400 || w.Header().Get("X-Tenantgate-Handle") != "" {
			t.Errorf("%s renewed a handle: %d", name, w.Code)
		}
		if n := len(h.mb.Requests()); n != 0 {
			t.Errorf("%s: Metabase received %d requests", name, n)
		}
	}
}

// TestUpstreamFailures: Metabase down or hanging gives a fast JSON error.
func TestUpstreamFailures(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	defer hang.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	tests := []struct {
		name, url, reason string
		status            int
		headers, whole    time.Duration // upstream.response_header_timeout and upstream.timeout
	}{
		{"connection refused", downURL, "upstream-unavailable", http.StatusBadGateway, 200 * time.Millisecond, 0},
		{"hanging past the response-header timeout", hang.URL, "upstream-timeout", http.StatusGatewayTimeout, 200 * time.Millisecond, 0},
		// The request's context carries no deadline: the transport's wait
		// for headers is what upstream.timeout bounds before the answer.
		{"hanging past the whole request's timeout", hang.URL, "upstream-timeout", http.StatusGatewayTimeout, time.Minute, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *configs.Config) {
				c.Metabase.SiteURL = tt.url
				c.Upstream.ResponseHeaderTimeout = tt.headers
				if tt.whole > 0 {
					c.Upstream.Timeout = tt.whole
				}
			})
			sess := session("alice", "acme", time.Hour)
			handle := h.mint(sess, "dashboard", 1)
			start := time.Now()
			w := h.do("GET", "/api/embed/dashboard/"+handle, sess, nil)
			if w.Code != tt.status || reason(w) != tt.reason {
				t.Errorf("got %d %q, want %d %q", w.Code, reason(w), tt.status, tt.reason)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %s: the client waited on a dead upstream", d)
			}
			if !strings.Contains(w.Header().Get("Content-Type"), "application/json") {
				t.Errorf("Content-Type = %q", w.Header().Get("Content-Type"))
			}
		})
	}
}

func TestSetupTokenDropped(t *testing.T) {
	h := newHarness(t, nil)
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"setup-token":"5f1b","site-name":"x"}`))
		return true
	})
	w := h.do("GET", "/api/session/properties", session("alice", "acme", time.Hour), nil)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "setup-token") || !strings.Contains(w.Body.String(), "site-name") {
		t.Errorf("properties: %d %s", w.Code, w.Body)
	}
	if w := h.do("GET", "/api/session/properties", "", nil); w.Code != http.StatusUnauthorized {
		t.Errorf("properties without a session: %d", w.Code)
	}
}

func TestMintAnswers(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) { c.PublicPrefix = "/analytics" })
	sess := session("alice", "acme", time.Hour)
	w := h.do("GET", "/analytics/.tenantgate/embed/dashboard/1?theme=night&bordered=false", sess, nil)
	loc := w.Header().Get("Location")
	if w.Code != http.StatusFound || !strings.HasPrefix(loc, "/analytics/embed/dashboard/") || !strings.HasSuffix(loc, "#bordered=false&theme=night&titled=true") {
		t.Fatalf("mint redirect: %d %q", w.Code, loc)
	}
	handle := strings.TrimPrefix(loc[:strings.IndexByte(loc, '#')], "/analytics/embed/dashboard/")
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(handle, ".")[1])
	if strings.Contains(string(payload), "alice") || !strings.Contains(string(payload), `"resource":{"dashboard":1}`) {
		t.Errorf("handle payload = %s", payload)
	}
	if w := h.do("GET", "/.tenantgate/embed/dashboard/1", sess, nil); w.Code != http.StatusForbidden {
		t.Errorf("mint outside the prefix: %d, want 403", w.Code)
	}
}

func TestMetricsCountDecisions(t *testing.T) {
	h := newHarness(t, nil)
	acme := session("alice", "acme", time.Hour)
	handle := h.mint(acme, "dashboard", 1)
	h.do("GET", "/api/embed/dashboard/"+handle, session("bob", "globex", time.Hour), nil)
	h.do("GET", "/api/public/card/x", acme, nil)
	want := `
# HELP tenantgate_tenant_mismatches_total Requests that named another tenant than the caller's, by where it was caught.
# TYPE tenantgate_tenant_mismatches_total counter
tenantgate_tenant_mismatches_total{kind="handle"} 1
tenantgate_tenant_mismatches_total{kind="param"} 0
tenantgate_tenant_mismatches_total{kind="token"} 0
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want), "tenantgate_tenant_mismatches_total"); err != nil {
		t.Error(err)
	}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sawUnmatched, sawMint bool
	for _, mf := range mfs {
		if mf.GetName() != "tenantgate_http_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" {
					sawUnmatched = sawUnmatched || l.GetValue() == "_unmatched"
					sawMint = sawMint || l.GetValue() == "mint"
					if strings.Contains(l.GetValue(), "/") {
						t.Errorf("route label holds a path: %q", l.GetValue())
					}
				}
			}
		}
	}
	if !sawUnmatched || !sawMint {
		t.Errorf("requests_total lacks routes: unmatched %v, mint %v", sawUnmatched, sawMint)
	}
}

// TestScrubbedBodiesAreNotCompressed: a browser asking for gzip still gets
// a scrubbed page, because the gate negotiates compression itself there.
func TestScrubbedBodiesAreNotCompressed(t *testing.T) {
	h := newHarness(t, nil)
	var gotAE string
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		gotAE = r.Header.Get("Accept-Encoding")
		return false
	})
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	w := h.do("GET", "/embed/dashboard/"+handle, sess, http.Header{"Accept-Encoding": {"br"}})
	if w.Code != http.StatusOK || w.Header().Get("Content-Encoding") != "" {
		t.Fatalf("page: %d, Content-Encoding %q", w.Code, w.Header().Get("Content-Encoding"))
	}
	if gotAE == "br" {
		t.Errorf("the browser's Accept-Encoding reached Metabase on a page the gate rewrites")
	}
}

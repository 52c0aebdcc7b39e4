package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tenantgate/tenantgate/configs"
)

// TestIntrospection runs the gate with TENANTGATE_INTROSPECT_URL: the app
// says who the caller is; a failing app fails closed.
func TestIntrospection(t *testing.T) {
	var calls atomic.Int32
	var failing atomic.Bool
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if failing.Load() {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		c, err := r.Cookie("app")
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": "u-" + c.Value, "organization_id": c.Value})
	}))
	defer app.Close()
	h := newHarness(t, func(c *configs.Config) {
		c.Session.JWTSecrets = nil
		c.Introspect.URL = app.URL
	})
	req := func(path, org string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Accept", "application/json")
		if org != "" {
			r.AddCookie(&http.Cookie{Name: "app", Value: org})
		}
		w := httptest.NewRecorder()
		h.stack.Gate.ServeHTTP(w, r)
		return w
	}
	w := req("/.tenantgate/embed/dashboard/1", "acme")
	if w.Code != http.StatusOK {
		t.Fatalf("mint via introspection: %d %s", w.Code, w.Body)
	}
	var m mintResponse
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	handle := strings.TrimPrefix(m.URL[:strings.IndexByte(m.URL, '#')], "/embed/dashboard/")
	if w := req("/api/embed/dashboard/"+handle, "acme"); w.Code != http.StatusOK {
		t.Errorf("acme with its handle: %d", w.Code)
	}
	if w := req("/api/embed/dashboard/"+handle, "globex"); w.Code != http.StatusForbidden || reason(w) != "tenant-mismatch" {
		t.Errorf("globex with acme's handle: %d %s", w.Code, reason(w))
	}
	if w := req("/api/embed/dashboard/"+handle, ""); w.Code != http.StatusUnauthorized || reason(w) != "no-session" {
		t.Errorf("no cookie: %d %s", w.Code, reason(w))
	}
	failing.Store(true)
	if w := req("/api/embed/dashboard/"+handle, "initech"); w.Code != http.StatusServiceUnavailable || reason(w) != "identity-unavailable" {
		t.Errorf("app failing: %d %s, want 503 identity-unavailable", w.Code, reason(w))
	}
	want := `
# HELP tenantgate_identity_provider_errors_total Failures of the identity provider, by source (jwks: a JWK Set fetch failed and the last good keys were kept; introspect: the endpoint failed and the caller was refused).
# TYPE tenantgate_identity_provider_errors_total counter
tenantgate_identity_provider_errors_total{source="introspect"} 1
tenantgate_identity_provider_errors_total{source="jwks"} 0
# HELP tenantgate_cache_requests_total Cache lookups, by cache and result (hit, miss).
# TYPE tenantgate_cache_requests_total counter
tenantgate_cache_requests_total{cache="introspect",result="hit"} 1
tenantgate_cache_requests_total{cache="introspect",result="miss"} 3
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want), "tenantgate_identity_provider_errors_total", "tenantgate_cache_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestAdmin(t *testing.T) {
	h := newHarness(t, nil)
	adm := httptest.NewServer(h.stack.Admin)
	defer adm.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(adm.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 64<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %s", code, body)
	}
	h.do("GET", "/api/public/x", "", nil)
	if code, body := get("/metrics"); code != http.StatusOK || !strings.Contains(body, `tenantgate_policy_decisions_total{decision="deny",reason="route-not-allowed"} 1`) {
		t.Errorf("/metrics = %d, lacks the decision:\n%.2000s", code, body)
	}
	h.stack.Gate.Drain()
	time.Sleep(1100 * time.Millisecond) // past the health-check memo
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "draining") {
		t.Errorf("/readyz while draining = %d %s", code, body)
	}
	h.mbSrv.Close()
	h2 := newHarness(t, func(c *configs.Config) { c.Metabase.SiteURL = h.mbSrv.URL })
	adm2 := httptest.NewServer(h2.stack.Admin)
	defer adm2.Close()
	resp, err := http.Get(adm2.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Metabase down = %d, want 503", resp.StatusCode)
	}
}

// TestForwardedHeaders: X-Forwarded-* and X-Request-Id are kept only from
// trusted proxies; everyone else's are replaced.
func TestForwardedHeaders(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) { c.TrustedProxies = []string{"10.0.0.0/8"} })
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	for _, tt := range []struct {
		name, remote string
		trusted      bool
	}{{"trusted", "10.1.2.3:5555", true}, {"untrusted", "203.0.113.9:5555", false}} {
		t.Run(tt.name, func(t *testing.T) {
			h.mb.Reset()
			r := httptest.NewRequest("GET", "/api/embed/dashboard/"+handle, nil)
			r.RemoteAddr = tt.remote
			r.AddCookie(&http.Cookie{Name: "session", Value: sess})
			r.Header.Set("X-Forwarded-For", "198.51.100.7")
			r.Header.Set("X-Request-Id", "from-the-client")
			w := httptest.NewRecorder()
			h.stack.Gate.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			got := h.mb.Requests()[0].Header
			if keeps := strings.Contains(got.Get("X-Forwarded-For"), "198.51.100.7"); keeps != tt.trusted {
				t.Errorf("X-Forwarded-For = %q, trusted %v", got.Get("X-Forwarded-For"), tt.trusted)
			}
			if keeps := got.Get("X-Request-Id") == "from-the-client"; keeps != tt.trusted {
				t.Errorf("X-Request-Id = %q, trusted %v", got.Get("X-Request-Id"), tt.trusted)
			}
			if w.Header().Get("X-Request-Id") != got.Get("X-Request-Id") {
				t.Errorf("response X-Request-Id %q != upstream %q", w.Header().Get("X-Request-Id"), got.Get("X-Request-Id"))
			}
		})
	}
}

// TestTenantMetricAndDecisionLog: configured tenants get their own label,
// others fold into _other; a denial's log line names the resource.
func TestTenantMetricAndDecisionLog(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) { c.Log.MetricsTenants = []string{"acme"} })
	acme := session("alice", "acme", time.Hour)
	handle := h.mint(acme, "dashboard", 1)
	h.do("GET", "/api/embed/dashboard/"+handle, acme, nil)
	h.do("GET", "/api/embed/dashboard/"+handle, session("bob", "globex", time.Hour), nil)
	h.do("GET", "/api/embed/dashboard/"+handle, session("carol", "initech", time.Hour), nil)
	want := `
# HELP tenantgate_tenant_requests_total Requests of identified callers by tenant (only the configured tenants; the rest are "_other") and outcome (allowed, denied).
# TYPE tenantgate_tenant_requests_total counter
tenantgate_tenant_requests_total{outcome="allowed",tenant="_other"} 0
tenantgate_tenant_requests_total{outcome="allowed",tenant="acme"} 2
tenantgate_tenant_requests_total{outcome="denied",tenant="_other"} 2
tenantgate_tenant_requests_total{outcome="denied",tenant="acme"} 0
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want), "tenantgate_tenant_requests_total"); err != nil {
		t.Error(err)
	}
	denials := h.logs.FilterMessage("denied").All()
	if len(denials) != 2 {
		t.Fatalf("%d denial lines, want 2", len(denials))
	}
	for _, e := range denials {
		m := e.ContextMap()
		if m["resource"] != "dashboard/1" || m["reason"] != "tenant-mismatch" || m["route"] != "embed_api" || m["tenant"] == "" || m["subject"] == "" {
			t.Errorf("denial line = %v", m)
		}
	}
}

// TestRequestHeaderAllowlist: of a browser's request headers, Metabase
// receives exactly the allowlisted ones, each with the browser's value;
// every other name (credentials, origins, routing overrides, ranges,
// hop-by-hop, near-misses of allowed names) is dropped. The rest of what
// Metabase receives is the gate's own (X-Forwarded-*, X-Request-Id) and
// the transport's (Accept-Encoding when none was sent, User-Agent).
func TestRequestHeaderAllowlist(t *testing.T) {
	h := newHarness(t, nil)
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	allowed := []string{"Accept", "Accept-Encoding", "Accept-Language", "Content-Type", "User-Agent",
		"If-None-Match", "If-Modified-Since", "X-Metabase-Client", "X-Metabase-Client-Version",
		"X-Metabase-Embedded", "X-Metabase-Locale"}
	dropped := []string{"Authorization", "X-Metabase-Session", "X-Api-Key", "X-Metabase-Anti-Csrf-Token",
		"Origin", "Referer", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Prefix", "X-Original-Host", "X-Host",
		"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Method-Override", "Range", "If-Range",
		"Te", "Expect", "Accept-Charset", "Accept-Encodings", "X-Metabase-Clients", "X-Metabase", "Content-Types",
		"Accep", "Xaccept", "X-Metabase-Locale2", "Via", "Proxy-Authorization", "X-Real-Ip", "True-Client-Ip"}
	r := httptest.NewRequest("GET", "/api/embed/dashboard/"+handle+"/dashcard/11/card/1", nil) // a card query: its body is streamed, its encoding the browser's
	r.AddCookie(&http.Cookie{Name: "session", Value: sess})
	for _, k := range append(append([]string{}, allowed...), dropped...) {
		r.Header.Set(k, "v-"+k)
	}
	r.Header.Set("Accept-Encoding", "identity") // a value the transport leaves as it is
	w := httptest.NewRecorder()
	h.stack.Gate.ServeHTTP(w, r)
	if w.Code != http.StatusAccepted { // Metabase's answer to a query
		t.Fatalf("status %d, want 202", w.Code)
	}
	got := h.mb.Requests()[len(h.mb.Requests())-1].Header
	for _, k := range allowed {
		want := "v-" + k
		if k == "Accept-Encoding" {
			want = "identity"
		}
		if got.Get(k) != want {
			t.Errorf("allowed %s: Metabase got %q, want %q", k, got.Get(k), want)
		}
	}
	gates := map[string]bool{"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Request-Id": true}
	for k, vs := range got {
		if slices.Contains(allowed, k) || gates[k] {
			continue
		}
		t.Errorf("Metabase got %s: %q, which is not on the allowlist", k, vs)
	}
	if got.Get("X-Forwarded-Host") == "v-X-Forwarded-Host" || got.Get("Cookie") != "" {
		t.Errorf("a browser's value reached Metabase: X-Forwarded-Host %q, Cookie %q", got.Get("X-Forwarded-Host"), got.Get("Cookie"))
	}
}

package metrics

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var testBuild = BuildInfo{Version: "v1.2.3", Revision: "0123abc", GoVersion: "go1.26.8"}

// record makes a fixed sequence of calls, with fixed durations, that
// touches every metric and every normalization.
func record(m *Metrics) {
	m.ObserveRequest("embed_dashboard", http.MethodGet, 200, 3*time.Millisecond)
	m.ObserveRequest("embed_dashboard", http.MethodGet, 200, 20*time.Millisecond)
	m.ObserveRequest("embed_dashboard", "get", 200, 400*time.Microsecond) // methods are case-sensitive
	m.ObserveRequest("card_query", http.MethodPost, 502, 40*time.Second)  // beyond the last bucket
	m.ObserveRequest("unmatched", "BREW", 404, 100*time.Microsecond)
	m.ObserveRequest("unmatched", http.MethodGet, 1000, time.Millisecond)

	done := m.InFlight()
	m.InFlight()
	done()
	m.InFlightInc()
	m.InFlightInc()
	m.InFlightDec()

	m.ObserveUpstream("card_query", 200, 1500*time.Millisecond)
	m.ObserveUpstream("card_query", 0, 2*time.Second)

	m.UpstreamError(UpstreamDial)
	m.UpstreamError(UpstreamTimeout)
	m.UpstreamError("tls") // outside the set: "other"

	m.AuthAttempt("jwt", "ok")
	m.AuthAttempt("jwt", "ok")
	m.AuthAttempt("introspect", "session-invalid")

	m.Decision(true, "allowed")
	m.Decision(false, "tenant-mismatch")
	m.Decision(false, "tenant-mismatch")

	m.TenantMismatch(MismatchParam)
	m.TenantMismatch("cookie") // outside the set: "other"

	m.TokenMinted(TokenEmbed)
	m.TokenMinted(TokenEmbed)
	m.TokenMinted(TokenHandle)
	m.SSOSessionEnded(SessionEnded)
	m.SSOSessionEnded(SessionEnded)
	m.SSOSessionEnded(SessionGone)

	m.CredentialRemoved(CredentialStream)

	m.RejectedToken(RejectedEmbed)
	m.CredentialRemoved(CredentialHeader)
	m.CredentialRemoved("cookie") // outside the set: "other"

	m.Cache("session", true)
	m.Cache("session", true)
	m.Cache("session", false)

	m.FairnessWait(30 * time.Millisecond)
	m.FairnessWait(700 * time.Millisecond)

	m.UnsafeResources(3)
	m.UnsafeResources(2)
	m.ProviderError("jwks")
	m.TenantRequest("acme", true) // not tracked yet: not recorded
	m.TrackTenants([]string{"acme"})
	m.TenantRequest("acme", true)
	m.TenantRequest("acme", false)
	m.TenantRequest("someone-else", true)
	m.ConfigLoaded(true, false, time.Unix(1795729000, 0))
	m.ConfigLoaded(false, true, time.Unix(1795729100, 0))
	m.ConfigLoaded(true, true, time.Unix(1795729200, 0))
}

func TestExpositionGolden(t *testing.T) {
	const golden = "testdata/metrics.golden"
	reg := prometheus.NewPedanticRegistry()
	record(New(reg, testBuild))

	if *update {
		rec := httptest.NewRecorder()
		Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if err := os.WriteFile(golden, rec.Body.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testutil.GatherAndCompare(reg, f); err != nil {
		t.Error(err)
	}
}

func TestMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, testBuild)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		got = append(got, mf.GetName())
	}
	// Vectors appear once a child exists: the closed sets are bound by New,
	// the open ones (requests, auth, decisions, cache) on first use.
	want := []string{
		"tenantgate_build_info",
		"tenantgate_config_last_reload_success_timestamp_seconds",
		"tenantgate_config_reloads_total",
		"tenantgate_fairness_wait_seconds",
		"tenantgate_http_requests_in_flight",
		"tenantgate_identity_provider_errors_total",
		"tenantgate_sso_sessions_ended_total",
		"tenantgate_tenant_mismatches_total",
		"tenantgate_tokens_minted_total",
		"tenantgate_unsafe_resources",
		"tenantgate_upstream_credentials_removed_total",
		"tenantgate_upstream_errors_total",
		"tenantgate_upstream_rejected_tokens_total",
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("metrics before any call:\n got %v\nwant %v", got, want)
	}
}

func TestLabelsStayBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, testBuild)
	for i := -10; i < 2000; i++ {
		method := fmt.Sprintf("M%d", i)
		if i%3 == 0 {
			method = http.MethodGet
		}
		m.ObserveRequest("route", method, i, time.Millisecond)
		m.ObserveUpstream("route", i, time.Millisecond)
	}
	for i := 0; i < 100; i++ {
		m.UpstreamError(fmt.Sprint("kind", i))
		m.TenantMismatch(fmt.Sprint("kind", i))
		m.TokenMinted(fmt.Sprint("kind", i))
	}

	values := labelValues(t, reg)
	tests := []struct {
		metric, label string
		max           int
	}{
		{"tenantgate_http_requests_total", "method", 2},           // GET and OTHER
		{"tenantgate_http_requests_total", "code", 500 + 2},       // 100-599, none, other
		{"tenantgate_http_request_duration_seconds", "method", 2}, // GET and OTHER
		{"tenantgate_upstream_request_duration_seconds", "code", 502},
		{"tenantgate_upstream_errors_total", "kind", 4},
		{"tenantgate_tenant_mismatches_total", "kind", 4},
		{"tenantgate_tokens_minted_total", "kind", 3},
	}
	for _, tc := range tests {
		got := values[tc.metric][tc.label]
		if len(got) > tc.max {
			t.Errorf("%s{%s} has %d values, want at most %d", tc.metric, tc.label, len(got), tc.max)
		}
	}
	for _, code := range []string{"100", "599", "none", "other"} {
		if !values["tenantgate_http_requests_total"]["code"][code] {
			t.Errorf("code %q not recorded", code)
		}
	}
	for _, code := range []string{"0", "99", "600", "-1"} {
		if values["tenantgate_http_requests_total"]["code"][code] {
			t.Errorf("code %q recorded as is", code)
		}
	}
	for _, method := range []string{"GET", "OTHER"} {
		if !values["tenantgate_http_requests_total"]["method"][method] {
			t.Errorf("method %q not recorded", method)
		}
	}
}

func TestMethodNormalization(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"GET", "GET"}, {"HEAD", "HEAD"}, {"POST", "POST"}, {"PUT", "PUT"}, {"PATCH", "PATCH"},
		{"DELETE", "DELETE"}, {"CONNECT", "CONNECT"}, {"OPTIONS", "OPTIONS"}, {"TRACE", "TRACE"},
		{"get", "OTHER"}, {"PROPFIND", "OTHER"}, {"", "OTHER"}, {"GET ", "OTHER"},
	} {
		if got := normalizeMethod(tc.in); got != tc.want {
			t.Errorf("normalizeMethod(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// labelValues returns metric name → label name → set of values.
func labelValues(t *testing.T, g prometheus.Gatherer) map[string]map[string]map[string]bool {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]map[string]bool{}
	for _, mf := range mfs {
		byLabel := map[string]map[string]bool{}
		for _, metric := range mf.GetMetric() {
			for _, lp := range metric.GetLabel() {
				if byLabel[lp.GetName()] == nil {
					byLabel[lp.GetName()] = map[string]bool{}
				}
				byLabel[lp.GetName()][lp.GetValue()] = true
			}
		}
		out[mf.GetName()] = byLabel
	}
	return out
}

func TestRepeatedCallsDoNotAllocate(t *testing.T) {
	m := New(prometheus.NewRegistry(), testBuild)
	calls := map[string]func(){
		"ObserveRequest":  func() { m.ObserveRequest("embed_dashboard", http.MethodGet, 200, time.Millisecond) },
		"InFlight":        func() { m.InFlight()() },
		"InFlightIncDec":  func() { m.InFlightInc(); m.InFlightDec() },
		"ObserveUpstream": func() { m.ObserveUpstream("card_query", 200, time.Millisecond) },
		"UpstreamError":   func() { m.UpstreamError(UpstreamTimeout) },
		"AuthAttempt":     func() { m.AuthAttempt("jwt", "ok") },
		"Decision":        func() { m.Decision(false, "tenant-mismatch") },
		"TenantMismatch":  func() { m.TenantMismatch(MismatchToken) },
		"TokenMinted":     func() { m.TokenMinted(TokenEmbed) },
		"Cache":           func() { m.Cache("session", true) },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			call() // first sight of the label set may allocate
			if got := testing.AllocsPerRun(1000, call); got != 0 {
				t.Errorf("%s allocates %v times per repeated call, want 0", name, got)
			}
		})
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	record(m) // must not panic
	if got := testing.AllocsPerRun(100, func() { m.ObserveRequest("r", "GET", 200, 0) }); got != 0 {
		t.Errorf("nil ObserveRequest allocates %v times", got)
	}
}

func TestNilRegistererRegistersNothing(t *testing.T) {
	m := New(nil, BuildInfo{})
	record(m)
	if got := testutil.ToFloat64(m.tokenKinds[TokenEmbed]); got != 2 {
		t.Errorf("embed tokens = %v, want 2", got)
	}
}

func TestBuildInfoDefaults(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, BuildInfo{})
	v := labelValues(t, reg)["tenantgate_build_info"]
	for label, want := range map[string]string{"version": "unknown", "revision": "unknown"} {
		if !v[label][want] {
			t.Errorf("build_info{%s} = %v, want %q", label, v[label], want)
		}
	}
	if len(v["goversion"]) != 1 {
		t.Errorf("build_info{goversion} = %v, want the runtime's version", v["goversion"])
	}
}

func TestNewTwiceOnOneRegistryPanics(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, testBuild)
	defer func() {
		if recover() == nil {
			t.Error("second New on the same registry did not panic")
		}
	}()
	New(reg, testBuild)
}

func TestConcurrentRecording(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, testBuild)
	const goroutines, each = 8, 500
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				m.ObserveRequest("shared", http.MethodGet, 200, time.Millisecond)
				m.ObserveRequest(fmt.Sprint("route", g), http.MethodPost, 200+i%3, time.Millisecond)
				m.Decision(i%2 == 0, "allowed")
				m.Cache("session", i%2 == 0)
				done := m.InFlight()
				done()
			}
		})
	}
	wg.Wait()
	if got, want := testutil.ToFloat64(m.requests.WithLabelValues("shared", "GET", "200")), float64(goroutines*each); got != want {
		t.Errorf("shared requests = %v, want %v", got, want)
	}
	if got := testutil.ToFloat64(m.inFlight); got != 0 {
		t.Errorf("in flight = %v, want 0", got)
	}
	if got, want := testutil.CollectAndCount(m.requests), 1+goroutines*3; got != want {
		t.Errorf("request series = %d, want %d", got, want)
	}
}

func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, testBuild).TokenMinted(TokenEmbed)
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", resp.StatusCode)
	}
	for _, want := range []string{
		`tenantgate_build_info{goversion="go1.26.8",revision="0123abc",version="v1.2.3"} 1`,
		`tenantgate_tokens_minted_total{kind="embed"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("exposition lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(string(body), "go_goroutines") {
		t.Errorf("exposition includes the default registry's collectors")
	}
}

func BenchmarkObserveRequest(b *testing.B) {
	m := New(prometheus.NewRegistry(), testBuild)
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("embed_dashboard", http.MethodGet, 200, 3*time.Millisecond)
	}
}

func BenchmarkObserveRequestParallel(b *testing.B) {
	m := New(prometheus.NewRegistry(), testBuild)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.ObserveRequest("embed_dashboard", http.MethodGet, 200, 3*time.Millisecond)
		}
	})
}

// TestReadmeListsEveryMetric: README's metrics table names every metric
// the gate exports.
func TestReadmeListsEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m := New(reg, testBuild)
	record(m) // every vector gets a child, so every metric is gathered
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if !strings.Contains(string(readme), "| `"+mf.GetName()+"` |") {
			t.Errorf("README's metrics table has no row for %s", mf.GetName())
		}
	}
}

// hotPath is the set of calls one proxied request makes, with the label
// values the proxy passes (string constants, a normalized method).
func hotPath(m *Metrics, route, method string, code int) {
	m.AuthAttempt("jwt", "ok")
	m.Cache("session", true)
	m.Decision(true, "allowed")
	m.ObserveUpstream(route, code, 40*time.Millisecond)
	m.ObserveRequest(route, method, code, 42*time.Millisecond)
}

// BenchmarkHotPath repeats one request's calls with the same labels.
func BenchmarkHotPath(b *testing.B) {
	m := New(prometheus.NewRegistry(), testBuild)
	b.ReportAllocs()
	for b.Loop() {
		hotPath(m, "embed_api", http.MethodGet, 200)
	}
}

// mixedRequests varies route, method and code from one request to the
// next, as a busy gate does, so no "same as last time" shortcut can win.
var mixedRequests = []struct {
	route, method string
	code          int
}{
	{"embed_api", http.MethodGet, 200}, {"static", http.MethodGet, 304}, {"embed_page", http.MethodHead, 200},
	{"embed_api", http.MethodGet, 202}, {"sso_api", http.MethodPost, 200}, {"mint", http.MethodGet, 403},
	{"geojson", http.MethodGet, 200}, {"static", http.MethodHead, 200}, {"_unmatched", "OTHER", 404},
	{"session_properties", http.MethodGet, 200}, {"sso_page", http.MethodGet, 302}, {"embed_sdk", http.MethodGet, 200},
	{"sso_auth", http.MethodPost, 401}, {"guest_token", http.MethodPost, 200}, {"sso_login", http.MethodGet, 302},
	{"embed_api", http.MethodGet, 502},
}

// BenchmarkHotPathMixed is BenchmarkHotPath over mixedRequests in turn.
func BenchmarkHotPathMixed(b *testing.B) {
	m := New(prometheus.NewRegistry(), testBuild)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := mixedRequests[i%len(mixedRequests)]
		hotPath(m, r.route, r.method, r.code)
		i++
	}
}

// TestConcurrentHotPathSums records the per-request calls from many
// goroutines, on keys they share and keys only one of them uses, most of
// them new when the goroutines start; every gathered value must be the
// exact sum, and no label set may appear twice.
func TestConcurrentHotPathSums(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, testBuild)
	const goroutines, each = 8, 400
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range goroutines {
		wg.Go(func() {
			<-start
			own := fmt.Sprint("route", g)
			for i := range each {
				r := mixedRequests[i%len(mixedRequests)]
				hotPath(m, r.route, r.method, r.code) // shared keys
				m.ObserveRequest(own, http.MethodPut, 200+i%5, time.Millisecond)
				m.ObserveUpstream(own, 200+i%5, time.Millisecond)
				m.AuthAttempt(own, "ok")
				m.Decision(i%2 == 0, own)
				m.Cache(own, i%3 == 0)
			}
		})
	}
	close(start)
	wg.Wait()

	perKey := map[string]float64{} // expected count of each shared request key
	for i := range each {
		r := mixedRequests[i%len(mixedRequests)]
		perKey[fmt.Sprint(r.route, r.method, r.code)] += goroutines
	}
	for _, r := range mixedRequests {
		want := perKey[fmt.Sprint(r.route, r.method, r.code)]
		if got := testutil.ToFloat64(m.requests.WithLabelValues(r.route, r.method, fmt.Sprint(r.code))); got != want {
			t.Errorf("requests{%s,%s,%d} = %v, want %v", r.route, r.method, r.code, got, want)
		}
	}
	checks := []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"auth jwt/ok", m.authAttempts.WithLabelValues("jwt", "ok"), goroutines * each},
		{"cache session/hit", m.cacheRequests.WithLabelValues("session", "hit"), goroutines * each},
		{"decision allow/allowed", m.decisions.WithLabelValues("allow", "allowed"), goroutines * each},
	}
	for g := range goroutines {
		own := fmt.Sprint("route", g)
		checks = append(checks,
			struct {
				name string
				c    prometheus.Collector
				want float64
			}{own + " auth", m.authAttempts.WithLabelValues(own, "ok"), each},
			struct {
				name string
				c    prometheus.Collector
				want float64
			}{own + " allow", m.decisions.WithLabelValues("allow", own), each / 2},
			struct {
				name string
				c    prometheus.Collector
				want float64
			}{own + " hit", m.cacheRequests.WithLabelValues(own, "hit"), (each + 2) / 3},
			struct {
				name string
				c    prometheus.Collector
				want float64
			}{own + " miss", m.cacheRequests.WithLabelValues(own, "miss"), each - (each+2)/3},
		)
		for c := 200; c < 205; c++ {
			checks = append(checks, struct {
				name string
				c    prometheus.Collector
				want float64
			}{fmt.Sprint(own, " PUT ", c), m.requests.WithLabelValues(own, "PUT", fmt.Sprint(c)), each / 5})
		}
	}
	for _, c := range checks {
		if got := testutil.ToFloat64(c.c); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}

	// Histogram sample counts: the sum over the vec is every call.
	mfs, err := reg.Gather() // fails on a duplicate label set
	if err != nil {
		t.Fatal(err)
	}
	samples := map[string]uint64{}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			if h := mm.GetHistogram(); h != nil {
				samples[mf.GetName()] += h.GetSampleCount()
			}
		}
	}
	for _, name := range []string{"tenantgate_http_request_duration_seconds", "tenantgate_upstream_request_duration_seconds"} {
		if got, want := samples[name], uint64(2*goroutines*each); got != want {
			t.Errorf("%s samples = %d, want %d", name, got, want)
		}
	}
	series := len(mixedRequests) + goroutines*5
	if got := testutil.CollectAndCount(m.requests); got != series {
		t.Errorf("request series = %d, want %d", got, series)
	}
}

type testKey struct {
	s string
	n int
}

// slot puts every key in one of two slots, so slots are fought over.
func (k testKey) slot() uint64 { return uint64(k.n & 1) }

// TestChildCacheSameChild: a key's first lookups, racing, all get the one
// child, created once; later lookups get it again; other keys get theirs.
func TestChildCacheSameChild(t *testing.T) {
	var c childCache[testKey, *int]
	var created sync.Map // key → *atomic.Int64, its create calls
	create := func(k testKey) *int {
		n, _ := created.LoadOrStore(k, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		return new(int) // a distinct pointer per call: a second create shows
	}
	const keys, goroutines = 300, 8
	got := make([][]*int, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			got[g] = make([]*int, keys)
			for i := range keys {
				// Built at run time, so equal keys do not share string data.
				got[g][i] = c.get(testKey{fmt.Sprint("k", i%100), i / 100}, create)
			}
		})
	}
	wg.Wait()
	for i := range keys {
		want := c.get(testKey{fmt.Sprint("k", i%100), i / 100}, create)
		for g := range goroutines {
			if got[g][i] != want {
				t.Fatalf("key %d: goroutine %d got another child", i, g)
			}
		}
		for j := range i {
			if got[0][j] == want {
				t.Fatalf("keys %d and %d share a child", j, i)
			}
		}
	}
	created.Range(func(k, n any) bool {
		if n := n.(*atomic.Int64).Load(); n != 1 {
			t.Errorf("%v created %d times, want once", k, n)
		}
		return true
	})
}

// TestHotPathDoesNotAllocate: once every label set of mixedRequests has
// been seen, a request's calls allocate nothing, however the keys vary.
func TestHotPathDoesNotAllocate(t *testing.T) {
	m := New(prometheus.NewRegistry(), testBuild)
	for _, r := range mixedRequests {
		hotPath(m, r.route, r.method, r.code)
	}
	i := 0
	if got := testing.AllocsPerRun(1000, func() {
		r := mixedRequests[i%len(mixedRequests)]
		hotPath(m, r.route, r.method, r.code)
		i++
	}); got != 0 {
		t.Errorf("warm hot path allocates %v times per request, want 0", got)
	}
}

// TestChildCacheCollisionsDoNotAllocate: warm keys that share a slot are
// found through the map and put back in the slot, still without allocating.
func TestChildCacheCollisionsDoNotAllocate(t *testing.T) {
	var c childCache[testKey, *int]
	create := func(testKey) *int { return new(int) }
	keys := []testKey{{"a", 0}, {"b", 0}, {"c", 2}} // all in testKey's slot 0
	want := map[testKey]*int{}
	for _, k := range keys {
		want[k] = c.get(k, create)
	}
	i := 0
	if got := testing.AllocsPerRun(1000, func() {
		k := keys[i%len(keys)]
		if c.get(k, create) != want[k] {
			t.Fatalf("%v: another child", k)
		}
		i++
	}); got != 0 {
		t.Errorf("colliding warm keys allocate %v times per lookup, want 0", got)
	}
}

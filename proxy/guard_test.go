package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/policy"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// guarded is a harness whose gate audits the stand-in: the first audit ran
// in Build, the interval is too long to fire during a test, so audits run
// when the test calls Refresh.
func guarded(t *testing.T, tweak func(*configs.Config)) *harness {
	t.Helper()
	return newHarness(t, func(c *configs.Config) {
		c.Metabase.APIKey = testMBAPIKey
		c.Audit.Interval = 10 * time.Minute // never fires during a test
		c.Audit.MaxStaleness = 10 * time.Minute
		if tweak != nil {
			tweak(c)
		}
	})
}

// fakeClock is a settable clock for the guard.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func (h *harness) refresh() error            { return h.stack.Guard.Refresh(context.Background()) }
func (h *harness) unsafeGauge() float64      { return gauge(h, "tenantgate_unsafe_resources") }
func embedAPI(prefix, handle string) string  { return prefix + "/api/embed/dashboard/" + handle }
func embedPage(prefix, handle string) string { return prefix + "/embed/dashboard/" + handle }
func mintPath(prefix string, id int) string {
	return fmt.Sprintf("%s/.tenantgate/embed/dashboard/%d", prefix, id)
}
func jsonAccept() http.Header { return http.Header{"Accept": {"application/json"}} }
func dashcardQuery(prefix, handle string, dashcard, card int) string {
	return fmt.Sprintf("%s/api/embed/dashboard/%s/dashcard/%d/card/%d", prefix, handle, dashcard, card)
}

func gauge(h *harness, name string) float64 {
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	h.t.Fatalf("no metric %s", name)
	return 0
}

// embedsOf counts the /embed and /api/embed requests Metabase received
// for dashboard id.
func embedsOf(mb *metabasetest.Server, id int) int {
	n := 0
	for _, r := range mb.Requests() {
		res, _ := r.Claims["resource"].(map[string]any)
		if r.Token != "" && fmt.Sprint(res["dashboard"]) == fmt.Sprint(id) {
			n++
		}
	}
	return n
}

// handleFor mints a handle for dashboard id at a gate without a guard that
// shares the handle key, as a replica without the guard, or the gate
// before an editor broke the dashboard, would have.
func handleFor(t *testing.T, sess string, id int) string {
	t.Helper()
	return newHarness(t, nil).mint(sess, "dashboard", id)
}

func readyz(t *testing.T, h *harness) (int, readiness) {
	t.Helper()
	w := httptest.NewRecorder()
	h.stack.Admin.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var r readiness
	if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
		t.Fatalf("/readyz body %q: %v", w.Body, err)
	}
	return w.Code, r
}

func TestGuardBlocksUnwiredDashboardEndToEnd(t *testing.T) {
	h := guarded(t, nil)
	sess := session("alice", "acme", time.Hour)
	leakyHandle := handleFor(t, sess, metabasetest.DashboardLeaky)
	p := h.cfg.PublicPrefix

	type step struct {
		name       string
		method     string
		target     string
		hdr        http.Header
		wantStatus int
		wantReason string
	}
	blocked := []step{
		{"mint", "GET", mintPath(p, metabasetest.DashboardLeaky), jsonAccept(), 403, "resource-unsafe"},
		{"mint as a page", "GET", mintPath(p, metabasetest.DashboardLeaky), http.Header{"Accept": {"text/html"}}, 403, "resource-unsafe"},
		{"embed page", "GET", embedPage(p, leakyHandle), nil, 403, "resource-unsafe"},
		{"dashboard API", "GET", embedAPI(p, leakyHandle), nil, 403, "resource-unsafe"},
		{"unwired card query", "GET", dashcardQuery(p, leakyHandle, metabasetest.DashcardLeakyAllOrders, metabasetest.QuestionAllOrdersCount), nil, 403, "resource-unsafe"},
		{"wired card query", "GET", dashcardQuery(p, leakyHandle, metabasetest.DashcardLeakyTable, metabasetest.QuestionOrders), nil, 403, "resource-unsafe"},
		{"clean dashboard still mints", "GET", mintPath(p, metabasetest.DashboardOrders), jsonAccept(), 200, ""},
		{"editable tenant dashboard", "GET", mintPath(p, metabasetest.DashboardEditableTenant), jsonAccept(), 403, "resource-unsafe"},
		{"unpublished dashboard was not audited", "GET", mintPath(p, metabasetest.DashboardUnpublished), jsonAccept(), 403, "resource-unsafe"},
	}
	run := func(steps []step) {
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				w := h.do(s.method, s.target, sess, s.hdr)
				if w.Code != s.wantStatus || reason(w) != s.wantReason {
					t.Errorf("%s %s = %d %q, want %d %q", s.method, s.name, w.Code, reason(w), s.wantStatus, s.wantReason)
				}
			})
		}
	}

	t.Run("before the fix", func(t *testing.T) {
		run(blocked)
		if n := embedsOf(h.mb, metabasetest.DashboardLeaky); n != 0 {
			t.Errorf("Metabase received %d embed requests for the leaky dashboard, want 0", n)
		}
		if got := h.unsafeGauge(); got != 4 {
			t.Errorf("unsafe resources = %v, want 4 (dashboards 2, 3, 6, question 5)", got)
		}
		found := false
		for _, e := range h.logs.FilterMessage("denied").All() {
			m := e.ContextMap()
			if m["reason"] == string(policy.ReasonResourceUnsafe) && strings.Contains(fmt.Sprint(m["detail"]), "dashboard 2: dashcard-not-wired (dashcard 24)") {
				found = true
			}
		}
		if !found {
			t.Error("no denied log line names the finding (dashcard-not-wired, dashcard 24)")
		}
		if h.logs.FilterMessage("audit: resource unsafe, the gate refuses it").Len() != 4 {
			t.Error("the audit did not log each unsafe resource")
		}
	})

	if err := h.mb.WireDashcard(metabasetest.DashcardLeakyAllOrders, metabasetest.ParamOrganization, "organization_id"); err != nil {
		t.Fatal(err)
	}
	t.Run("fixed in Metabase, before the next audit", func(t *testing.T) {
		run(blocked[:1])
	})
	if err := h.refresh(); err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	t.Run("after the next audit", func(t *testing.T) {
		run([]step{
			{"mint", "GET", mintPath(p, metabasetest.DashboardLeaky), jsonAccept(), 200, ""},
			{"dashboard API", "GET", embedAPI(p, leakyHandle), nil, 200, ""},
			{"formerly unwired card", "GET", dashcardQuery(p, leakyHandle, metabasetest.DashcardLeakyAllOrders, metabasetest.QuestionAllOrdersCount), nil, 202, ""},
			{"editable tenant still blocked", "GET", mintPath(p, metabasetest.DashboardEditableTenant), jsonAccept(), 403, "resource-unsafe"},
		})
		if got := h.unsafeGauge(); got != 3 {
			t.Errorf("unsafe resources = %v, want 3", got)
		}
		// What Metabase received: the card now counts only acme's orders.
		var counted bool
		for _, r := range h.mb.Requests() {
			if strings.Contains(r.Path, fmt.Sprintf("/dashcard/%d/", metabasetest.DashcardLeakyAllOrders)) && r.Status == 202 {
				params, _ := r.Claims["params"].(map[string]any)
				counted = params["organization_id"] == "acme"
			}
		}
		if !counted {
			t.Error("Metabase did not receive the fixed card's query locked to acme")
		}
	})
}

func TestGuardLastVerdictAndStaleness(t *testing.T) {
	h := guarded(t, nil)
	clock := &fakeClock{}
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	clock.set(start)
	h.stack.Guard.setNow(clock.now)
	if err := h.refresh(); err != nil { // a verdict stamped with the fake clock
		t.Fatal(err)
	}
	sess := session("alice", "acme", time.Hour)
	cleanHandle := h.mint(sess, "dashboard", metabasetest.DashboardOrders)
	p := h.cfg.PublicPrefix
	adminDown := func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasPrefix(r.URL.Path, "/api/embed/") || strings.HasPrefix(r.URL.Path, "/embed/") || r.URL.Path == "/api/health" {
			return false
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("Metabase is still initializing. Please sit tight..."))
		return true
	}

	tests := []struct {
		name       string
		at         time.Duration // since the last successful audit
		adminDown  bool
		wantMint   int // dashboard 1
		wantAPI    int // dashboard 1 through an earlier handle
		wantLeaky  int // dashboard 2
		wantStale  bool
		wantDetail string
	}{
		{"fresh verdict", 0, false, 200, 200, 403, false, "dashcard-not-wired"},
		{"admin API down, verdict 5m old", 5 * time.Minute, true, 200, 200, 403, false, "dashcard-not-wired"},
		{"admin API down, verdict at the limit", 10 * time.Minute, true, 200, 200, 403, false, "dashcard-not-wired"},
		{"admin API down, verdict too old", 10*time.Minute + time.Second, true, 403, 403, 403, true, "TENANTGATE_AUDIT_MAX_STALENESS"},
		{"admin API back", 11 * time.Minute, false, 200, 200, 403, false, "dashcard-not-wired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.adminDown {
				h.mb.SetOverride(adminDown)
			} else {
				h.mb.SetOverride(nil)
			}
			clock.set(start.Add(tt.at))
			err := h.refresh()
			if tt.adminDown != (err != nil) {
				t.Fatalf("Refresh = %v, want an error only while the admin API is down", err)
			}
			if !tt.adminDown {
				start = clock.now() // the new verdict's time
			}
			embedsBefore := embedsOf(h.mb, metabasetest.DashboardOrders)
			if w := h.do("GET", mintPath(p, metabasetest.DashboardOrders), sess, jsonAccept()); w.Code != tt.wantMint {
				t.Errorf("mint dashboard 1 = %d %q, want %d", w.Code, reason(w), tt.wantMint)
			}
			w := h.do("GET", embedAPI(p, cleanHandle), sess, nil)
			if w.Code != tt.wantAPI {
				t.Errorf("dashboard 1 API = %d %q, want %d", w.Code, reason(w), tt.wantAPI)
			}
			if got := embedsOf(h.mb, metabasetest.DashboardOrders) - embedsBefore; (tt.wantAPI == 200) != (got == 1) {
				t.Errorf("Metabase received %d embed requests for dashboard 1", got)
			}
			if w := h.do("GET", mintPath(p, metabasetest.DashboardLeaky), sess, jsonAccept()); w.Code != tt.wantLeaky || reason(w) != "resource-unsafe" {
				t.Errorf("mint dashboard 2 = %d %q, want %d resource-unsafe", w.Code, reason(w), tt.wantLeaky)
			}
			entries := h.logs.FilterMessage("denied").All()
			if last := entries[len(entries)-1].ContextMap(); !strings.Contains(fmt.Sprint(last["detail"]), tt.wantDetail) {
				t.Errorf("last denial detail = %q, want it to mention %q", last["detail"], tt.wantDetail)
			}
			code, rz := readyz(t, h)
			if rz.Audit == nil || rz.Audit.Stale != tt.wantStale || rz.Audit.LastSuccess == nil {
				t.Fatalf("/readyz audit = %+v, want stale %v with a last success", rz.Audit, tt.wantStale)
			}
			if code != http.StatusOK {
				t.Errorf("/readyz = %d, want 200: the guard does not make the gate unready", code)
			}
			if tt.adminDown != (rz.Audit.LastError != "") {
				t.Errorf("/readyz last_error = %q while admin down = %v", rz.Audit.LastError, tt.adminDown)
			}
			if got := strings.Join(rz.Audit.Unsafe, ","); got != "dashboard 2,dashboard 3,dashboard 6,question 5" {
				t.Errorf("/readyz unsafe_resources = %q", got)
			}
		})
	}
}

func TestGuardFailsClosedBeforeAnyAudit(t *testing.T) {
	tests := []struct {
		name      string
		tweak     func(*configs.Config)
		override  func(http.ResponseWriter, *http.Request) bool
		wantError string
	}{
		{"wrong API key", func(c *configs.Config) { c.Metabase.APIKey = "mb_not-the-key" }, nil, "401"},
		{"admin API failing", nil, func(w http.ResponseWriter, r *http.Request) bool {
			if strings.HasPrefix(r.URL.Path, "/api/dashboard/") {
				w.WriteHeader(http.StatusInternalServerError)
				return true
			}
			return false
		}, "500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mb *metabasetest.Server
			h := guarded(t, func(c *configs.Config) {
				if tt.tweak != nil {
					tt.tweak(c)
				}
			})
			mb = h.mb
			if tt.override != nil {
				mb.SetOverride(tt.override)
				// The harness audited before the override: start over.
				h.stack.Guard.mu.Lock()
				h.stack.Guard.report = nil
				h.stack.Guard.mu.Unlock()
				if err := h.refresh(); err == nil {
					t.Fatal("Refresh = nil, want an error")
				}
			}
			sess := session("alice", "acme", time.Hour)
			w := h.do("GET", mintPath(h.cfg.PublicPrefix, metabasetest.DashboardOrders), sess, jsonAccept())
			if w.Code != 403 || reason(w) != "resource-unsafe" {
				t.Errorf("mint = %d %q, want 403 resource-unsafe", w.Code, reason(w))
			}
			_, rz := readyz(t, h)
			if rz.Audit == nil || rz.Audit.LastSuccess != nil || !rz.Audit.Stale || !strings.Contains(rz.Audit.LastError, tt.wantError) {
				t.Errorf("/readyz audit = %+v, want no success, stale, an error with %s", rz.Audit, tt.wantError)
			}
			if embedsOf(mb, metabasetest.DashboardOrders) != 0 {
				t.Error("Metabase received an embed request")
			}
		})
	}
}

func TestNoGuardWorksAsBeforeAndWarnsOnce(t *testing.T) {
	h := newHarness(t, nil)
	if h.stack.Guard != nil {
		t.Fatal("a guard without an API key")
	}
	if n := h.logs.FilterMessageSnippet("no METABASE_API_KEY").Len(); n != 1 {
		t.Errorf("warnings about the missing API key = %d, want 1", n)
	}
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", metabasetest.DashboardLeaky)
	if w := h.do("GET", embedAPI(h.cfg.PublicPrefix, handle), sess, nil); w.Code != 200 {
		t.Errorf("leaky dashboard without a guard = %d, want 200 (as before)", w.Code)
	}
	if _, rz := readyz(t, h); rz.Audit != nil {
		t.Errorf("/readyz audit = %+v, want absent", rz.Audit)
	}
	if got := h.unsafeGauge(); got != 0 {
		t.Errorf("unsafe resources = %v, want 0", got)
	}
}

// guardedSSO is newSSOHarness with the audit guard on: the stand-in knows
// the API key, the gate audits it (the first audit runs in Build), and
// audits again when the test calls refresh.
func guardedSSO(t *testing.T, tweak func(*configs.Config)) *harness {
	t.Helper()
	h := &harness{t: t, mb: metabasetest.New(metabasetest.Options{SecretKey: testMBKey, APIKey: testMBAPIKey, Sandboxing: true,
		SSO: metabasetest.SSOOptions{SharedSecret: testSSOSecret, IdentityProviderURI: "http://app.example/sso", GroupSync: true}})}
	h.mbSrv = httptest.NewServer(h.mb)
	t.Cleanup(h.mbSrv.Close)
	cfg := &configs.Config{}
	cfg.Metabase.SiteURL = h.mbSrv.URL
	cfg.Metabase.EmbeddingSecretKey = testMBKey
	cfg.Metabase.APIKey = testMBAPIKey
	cfg.Session.JWTSecrets = []configs.Secret{testSessionKey}
	cfg.Handles.Secrets = []configs.Secret{testHandleKey}
	cfg.FrameAncestors = []string{"'self'"}
	cfg.PublicPrefix = testSSOPrefix
	cfg.SSO = configs.SSOConfig{JWTSharedSecret: testSSOSecret, SealingKeys: []configs.Secret{testSealKey},
		GroupMappings: map[string]string{appGroupCustom: embeddedGroup}, Dataset: true}
	cfg.ApplyDefaults()
	cfg.Audit.Interval = 10 * time.Minute // never fires during a test
	cfg.Audit.MaxStaleness = 10 * time.Minute
	if tweak != nil {
		tweak(cfg)
	}
	h.start(cfg)
	return h
}

// ssoCalls counts the requests Metabase received under an SSO session.
func ssoCalls(mb *metabasetest.Server) int {
	n := 0
	for _, r := range mb.Requests() {
		if r.Header.Get("X-Metabase-Session") != "" {
			n++
		}
	}
	return n
}

// TestGuardRefusesSSOWhenGroupsReadUnfiltered: Metabase's permissions are
// additive, so once All Users may view the orders table unrestricted,
// every SSO user reads every tenant's orders whatever the embedded group's
// sandbox says. The audit finds it from the permission graph, with or
// without SSO groups configured, and from then on the gate refuses the
// whole SSO API: Metabase receives no query. Static embeds, which run under
// no user, are not concerned.
func TestGuardRefusesSSOWhenGroupsReadUnfiltered(t *testing.T) {
	for _, variant := range []struct {
		name  string
		tweak func(*configs.Config)
	}{
		{"mapped to the sandboxed group", nil},
		{"no SSO groups configured", func(c *configs.Config) { c.SSO.GroupMappings = nil }},
	} {
		t.Run(variant.name, func(t *testing.T) {
			h := guardedSSO(t, variant.tweak)
			// The sample's planted hole (customers open to the embedded
			// group) is closed first, so that only All Users matters.
			if err := h.mb.AddSandbox(metabasetest.GroupEmbedded, metabasetest.TableCustomers, "organization_id"); err != nil {
				t.Fatal(err)
			}
			if err := h.refresh(); err != nil {
				t.Fatal(err)
			}
			sess := ssoSession("alice", "acme", time.Hour)
			cookie := cookieHeader(h.signIn(sess, "/"))
			sdk := sdkHeader(h.sdkSignIn(sess))
			p := testSSOPrefix
			countCard := func(hdr http.Header) *httptest.ResponseRecorder {
				return h.send("POST", p+"/api/card/3/query", sess, hdr, "{}")
			}
			all := len(metabasetest.Orders())
			if w := countCard(cookie); variant.tweak == nil && (w.Code != 202 || fmt.Sprint(queryRows(t, w)) != "[[10]]") {
				t.Fatalf("before the grant, acme's count = %d %.200s, want 202 [[10]]", w.Code, w.Body)
			}

			if err := h.mb.SetViewData(metabasetest.GroupAllUsers, metabasetest.TableOrders, metabasetest.ViewUnrestricted); err != nil {
				t.Fatal(err)
			}
			// The hole is real: until the next audit, Metabase answers
			// every tenant's orders.
			if w := countCard(cookie); w.Code != 202 || fmt.Sprint(queryRows(t, w)) != fmt.Sprintf("[[%d]]", all) {
				t.Fatalf("after the grant, before the audit: %d %.200s, want 202 [[%d]]", w.Code, w.Body, all)
			}
			if err := h.refresh(); err != nil {
				t.Fatal(err)
			}
			before := ssoCalls(h.mb)
			attacks := []struct {
				name, method, path string
				hdr                http.Header
				body               string
			}{
				{"card query, cookie", "POST", "/api/card/3/query", cookie, "{}"},
				{"card query, SDK", "POST", "/api/card/3/query", sdk, "{}"},
				{"dashcard query", "POST", "/api/dashboard/2/dashcard/24/card/3/query", cookie, "{}"},
				{"ad-hoc MBQL over orders", "POST", "/api/dataset", sdk, `{"database":1,"type":"query","query":{"source-table":10}}`},
				{"dashboard JSON", "GET", "/api/dashboard/1", cookie, ""},
				{"card JSON", "GET", "/api/card/3", sdk, ""},
				{"table metadata", "GET", "/api/table/10/query_metadata", cookie, ""},
				{"current user", "GET", "/api/user/current", sdk, ""},
			}
			for _, a := range attacks {
				t.Run(a.name, func(t *testing.T) {
					w := h.send(a.method, p+a.path, sess, a.hdr, a.body)
					if w.Code != 403 || reason(w) != string(policy.ReasonResourceUnsafe) {
						t.Errorf("%s %s = %d %q, want 403 resource-unsafe", a.method, a.path, w.Code, reason(w))
					}
				})
			}
			if n := ssoCalls(h.mb) - before; n != 0 {
				t.Errorf("Metabase received %d SSO requests after the audit found the grant, want 0", n)
			}
			if w := h.send("GET", mintPath(p, metabasetest.DashboardOrders), sess, jsonAccept(), ""); w.Code != 200 {
				t.Errorf("static embed mint = %d %s, want 200: group permissions do not concern static embeds", w.Code, w.Body)
			}
			if _, rz := readyz(t, h); strings.Join(rz.Audit.SSOUnsafe, ";") != "table 10, group 1" {
				t.Errorf("/readyz sso_unsafe = %q, want table 10, group 1", rz.Audit.SSOUnsafe)
			}
			found := false
			for _, e := range h.logs.FilterMessage("denied").All() {
				m := e.ContextMap()
				found = found || strings.Contains(fmt.Sprint(m["detail"]), "table-unrestricted (table 10, group 1)")
			}
			if !found {
				t.Error("no denied log line names the finding (table-unrestricted, table 10, group 1)")
			}

			// Blocking All Users again, then the next audit, reopens SSO.
			if err := h.mb.SetViewData(metabasetest.GroupAllUsers, 0, metabasetest.ViewBlocked); err != nil {
				t.Fatal(err)
			}
			if err := h.refresh(); err != nil {
				t.Fatal(err)
			}
			if w := countCard(sdk); w.Code == 403 && reason(w) == string(policy.ReasonResourceUnsafe) {
				t.Errorf("after the fix and the audit: %d %q, want the call passed to Metabase", w.Code, reason(w))
			}
		})
	}
}

// TestGuardRefusesSSOWithoutAVerdict: before any successful audit, and
// when the last one is too old, the SSO API is refused like every embed.
func TestGuardRefusesSSOWithoutAVerdict(t *testing.T) {
	h := guardedSSO(t, nil)
	if err := h.mb.AddSandbox(metabasetest.GroupEmbedded, metabasetest.TableCustomers, "organization_id"); err != nil {
		t.Fatal(err)
	}
	if err := h.refresh(); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{}
	clock.set(time.Now())
	h.stack.Guard.setNow(clock.now)
	if err := h.refresh(); err != nil {
		t.Fatal(err)
	}
	sess := ssoSession("alice", "acme", time.Hour)
	cookie := cookieHeader(h.signIn(sess, "/"))
	call := func() *httptest.ResponseRecorder {
		return h.send("POST", testSSOPrefix+"/api/card/3/query", sess, cookie, "{}")
	}
	if w := call(); w.Code != 202 {
		t.Fatalf("fresh clean audit: %d %s, want 202", w.Code, w.Body)
	}
	clock.advance(11 * time.Minute)
	if w := call(); w.Code != 403 || reason(w) != string(policy.ReasonResourceUnsafe) {
		t.Errorf("stale audit: %d %q, want 403 resource-unsafe", w.Code, reason(w))
	}
	h.stack.Guard.mu.Lock()
	h.stack.Guard.report = nil
	h.stack.Guard.mu.Unlock()
	if w := call(); w.Code != 403 || reason(w) != string(policy.ReasonResourceUnsafe) {
		t.Errorf("no audit yet: %d %q, want 403 resource-unsafe", w.Code, reason(w))
	}
}

package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// otherMBKey is a valid embedding secret that is not the stand-in's.
const otherMBKey = "0000000000000000000000000000000000000000000000000000000000000000"

// TestWrongEmbeddingSecret: with MB_EMBEDDING_SECRET_KEY not Metabase's,
// every chart is refused by Metabase as corrupt or manipulated. The gate
// answers its own upstream-rejected-token (never Metabase's raw text, never
// "allowed" in the log), warns, counts, and /readyz fails naming the key
// (issue 14).
func TestWrongEmbeddingSecret(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) { c.Metabase.EmbeddingSecretKey = otherMBKey })
	sess := session("u1", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", metabasetest.DashboardOrders)
	for _, path := range []string{
		"/api/embed/dashboard/" + handle,
		"/api/embed/dashboard/" + handle + "/dashcard/11/card/1",
	} {
		w := h.do("GET", path, sess, nil)
		if w.Code != http.StatusBadGateway || reason(w) != "upstream-rejected-token" {
			t.Errorf("%s: %d %s, want 502 upstream-rejected-token", path, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "corrupt") {
			t.Errorf("%s: Metabase's raw message reached the browser: %s", path, w.Body)
		}
	}
	if n := counterValue(t, h, "tenantgate_upstream_rejected_tokens_total", "credential", "embed"); n != 2 {
		t.Errorf("rejected_tokens_total{credential=embed} = %v, want 2", n)
	}
	warned := 0
	for _, e := range h.logs.All() {
		if e.Message == "Metabase refused the gate's token" {
			warned++
		}
		if e.Message == "request" && e.ContextMap()["reason"] == "allowed" && e.ContextMap()["route"] == routeEmbedAPI {
			t.Errorf("an access line says allowed for a refused chart: %v", e.ContextMap())
		}
	}
	if warned != 2 {
		t.Errorf("%d warning lines, want 2", warned)
	}
	code, rz := readyz(t, h)
	if code != http.StatusServiceUnavailable || !strings.Contains(rz.Checks["embedding_secret"], "refuses tokens signed with MB_EMBEDDING_SECRET_KEY") {
		t.Errorf("/readyz = %d %+v, want 503 naming MB_EMBEDDING_SECRET_KEY", code, rz.Checks)
	}
}

// TestOtherMetabase400sPass: a 400 that is not about the key (a parameter
// rule, a missing object) reaches the browser as Metabase answered it.
func TestOtherMetabase400sPass(t *testing.T) {
	h := newHarness(t, nil)
	sess := session("u1", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", metabasetest.DashboardOrders)
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("Unknown parameter :colour."))
		return true
	})
	w := h.do("GET", "/api/embed/dashboard/"+handle+"/dashcard/11/card/1", sess, nil)
	if w.Code != http.StatusBadRequest || w.Body.String() != "Unknown parameter :colour." {
		t.Errorf("got %d %q, want Metabase's own 400", w.Code, w.Body)
	}
	if n := counterValue(t, h, "tenantgate_upstream_rejected_tokens_total", "credential", "embed"); n != 0 {
		t.Errorf("rejected_tokens_total = %v, want 0", n)
	}
}

// TestReadyzChecksKeys: /readyz tells Metabase's "not found" (the key
// verified) apart from a wrong key, no key and embedding off, for both of
// the gate's Metabase keys; the probe sends the public host, so a
// Metabase without MB_SITE_URL does not adopt the gate's view of it.
func TestReadyzChecksKeys(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mb         metabasetest.Options
		sso        bool
		gateSSOKey string
		check      string
		want       string
	}{
		{"right key", metabasetest.Options{SecretKey: testMBKey}, false, "", "embedding_secret", "ok"},
		{"wrong key", metabasetest.Options{SecretKey: otherMBKey}, false, "", "embedding_secret", "refuses tokens signed with MB_EMBEDDING_SECRET_KEY"},
		{"no key in Metabase", metabasetest.Options{}, false, "", "embedding_secret", "Metabase has no embedding secret key"},
		{"static embedding off", metabasetest.Options{SecretKey: testMBKey, StaticEmbeddingDisabled: true}, false, "", "embedding_secret", "static (guest) embedding is off"},
		{"right SSO key", metabasetest.Options{SecretKey: testMBKey}, true, testSSOSecret, "jwt_shared_secret", "ok"},
		{"wrong SSO key", metabasetest.Options{SecretKey: testMBKey}, true, "another-shared-secret-of-sixty-four-bytes-0123456789abcdef012345", "jwt_shared_secret", "refuses SSO JWTs signed with MB_JWT_SHARED_SECRET"},
		{"SSO off in Metabase", metabasetest.Options{SecretKey: testMBKey, SSO: metabasetest.SSOOptions{}}, true, testSSOSecret, "jwt_shared_secret", "JWT SSO is off in Metabase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mb := tc.mb
			if tc.sso && tc.name != "SSO off in Metabase" {
				mb.SSO = metabasetest.SSOOptions{SharedSecret: testSSOSecret}
			}
			h := &harness{t: t, mb: metabasetest.New(mb)}
			h.mbSrv = httptest.NewServer(h.mb)
			t.Cleanup(h.mbSrv.Close)
			cfg := &configs.Config{}
			cfg.Metabase.SiteURL = h.mbSrv.URL
			cfg.Metabase.EmbeddingSecretKey = testMBKey
			cfg.Session.JWTSecrets = []configs.Secret{testSessionKey}
			cfg.Handles.Secrets = []configs.Secret{testHandleKey}
			cfg.PublicURL = "https://app.example.com"
			if tc.sso {
				cfg.SSO = configs.SSOConfig{JWTSharedSecret: configs.Secret(tc.gateSSOKey), SealingKeys: []configs.Secret{testSealKey}}
			}
			cfg.ApplyDefaults()
			h.start(cfg)
			code, rz := readyz(t, h)
			if got := rz.Checks[tc.check]; !strings.Contains(got, tc.want) {
				t.Errorf("/readyz %s = %q, want %q", tc.check, got, tc.want)
			}
			if wantCode := map[bool]int{true: 200, false: 503}[tc.want == "ok"]; code != wantCode {
				t.Errorf("/readyz = %d, want %d", code, wantCode)
			}
			// Metabase reads the host alone (maybe-set-site-url), with http://.
			if got := h.mb.SiteURL(); got != "http://app.example.com" {
				t.Errorf("Metabase's site URL after the probe = %q, want the public host's", got)
			}
			b, _ := json.Marshal(rz)
			for _, secret := range []string{testMBKey, otherMBKey, testSSOSecret} {
				if strings.Contains(string(b), secret) {
					t.Errorf("/readyz quotes a secret: %s", b)
				}
			}
		})
	}
}

// TestWrongSSOSecret: with MB_JWT_SHARED_SECRET not Metabase's, Metabase
// refuses every SSO JWT as corrupt or manipulated. The sign-in (full app
// and SDK) answers upstream-rejected-token, counted as credential sso,
// with a warning; Metabase's text never reaches the browser.
func TestWrongSSOSecret(t *testing.T) {
	h := newSSOHarness(t, func(c *configs.Config) {
		c.SSO.JWTSharedSecret = "not-metabases-shared-secret-0123456789abcdef012345"
	})
	alice := ssoSession("alice", "acme", time.Hour)
	w := h.send("GET", testSSOPrefix+"/.tenantgate/sso?return_to=%2Fdashboard%2F1", alice, nil, "")
	if w.Code != http.StatusBadGateway || reason(w) != "upstream-rejected-token" || strings.Contains(w.Body.String(), "corrupt") {
		t.Errorf("interactive sign-in: %d %s, want 502 upstream-rejected-token", w.Code, w.Body)
	}
	sdk := http.Header{"X-Metabase-Client": {"embedding-sdk-react"}}
	tw := h.send("GET", testSSOPrefix+"/.tenantgate/sdk/jwt?response=json", alice, sdk, "")
	var tk struct{ JWT string }
	if err := json.Unmarshal(tw.Body.Bytes(), &tk); err != nil || tk.JWT == "" {
		t.Fatalf("provider: %d %s", tw.Code, tw.Body)
	}
	w = h.send("GET", testSSOPrefix+"/auth/sso?jwt="+tk.JWT, alice, sdk, "")
	if w.Code != http.StatusBadGateway || reason(w) != "upstream-rejected-token" || strings.Contains(w.Body.String(), "corrupt") {
		t.Errorf("SDK exchange: %d %s, want 502 upstream-rejected-token", w.Code, w.Body)
	}
	if n := counterValue(t, h, "tenantgate_upstream_rejected_tokens_total", "credential", "sso"); n != 2 {
		t.Errorf("rejected_tokens_total{credential=sso} = %v, want 2", n)
	}
	code, rz := readyz(t, h)
	if code != http.StatusServiceUnavailable || !strings.Contains(rz.Checks["jwt_shared_secret"], "MB_JWT_SHARED_SECRET") {
		t.Errorf("/readyz = %d %+v, want 503 naming MB_JWT_SHARED_SECRET", code, rz.Checks)
	}
}

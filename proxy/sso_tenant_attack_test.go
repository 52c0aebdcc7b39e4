package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// spoofingSession is alice's app session in acme that also carries
// Metabase's tenant claims for globex, as a hostile identity provider or a
// careless app might.
func spoofingSession() string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "email": "alice@example.com", "organization_id": "acme", "groups": []string{appGroupCustom}, "region": "eu",
		"@tenant": "globex", "@tenant.attributes": map[string]any{"organization_id": "globex"}, "@tenant.slug": "globex",
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(testSessionKey))
	if err != nil {
		panic(err)
	}
	return s
}

// TestSSOTenantSpoofing: through the SDK handshake, by GET and by POST,
// @tenant always comes from the caller's tenant: an app session's own
// @tenant claims, an @tenant in /auth/sso's query or in its JSON body, and
// a ticket of one organization spent in another never put the caller in
// another Metabase tenant or reach Metabase at all.
func TestSSOTenantSpoofing(t *testing.T) {
	h := newSSOHarnessMB(t, metabasetest.SSOOptions{Tenants: true}, func(c *configs.Config) { c.SSO.Tenants = true })
	spoof := spoofingSession()
	sdkPost := http.Header{"X-Metabase-Client": {sdkClient}, "Content-Type": {"application/json"}}
	sdkGet := http.Header{"X-Metabase-Client": {sdkClient}}

	t.Run("the session's own @tenant claims never reach Metabase", func(t *testing.T) {
		h.t = t
		for _, byPost := range []bool{false, true} {
			h.mb.Reset()
			tk := h.sdkTicket(spoof)
			var w *httptest.ResponseRecorder
			if byPost {
				w = h.send("POST", testSSOPrefix+"/auth/sso", spoof, sdkPost, `{"jwt":`+strconv.Quote(tk)+`}`)
			} else {
				w = h.send("GET", testSSOPrefix+"/auth/sso?jwt="+url.QueryEscape(tk), spoof, sdkGet, "")
			}
			if w.Code != http.StatusOK {
				t.Fatalf("sign-in (post %v): %d %s", byPost, w.Code, w.Body)
			}
			ex := ssoExchanges(t, h)
			_, claims := verifyHS256(t, jwtOf(t, ex[0]), testSSOSecret)
			ta, _ := claims["@tenant.attributes"].(map[string]any)
			if claims["@tenant"] != "acme" || ta["organization_id"] != "acme" || claims["@tenant.slug"] != nil || claims["organization_id"] != "acme" {
				t.Errorf("exchanged claims %v", claims)
			}
		}
		if u, ok := h.mb.User("alice+acme@tenantgate.invalid"); !ok || u.Tenant != "acme" {
			t.Errorf("Metabase user %+v", u)
		}
		if _, ok := h.mb.Tenant("globex"); ok {
			t.Error("a spoofed @tenant created tenant globex in Metabase")
		}
	})

	alice := ssoSession("alice", "acme", time.Hour)
	aliceInGlobex := ssoSession("alice", "globex", time.Hour)
	tests := []struct {
		name, sess, method, target string
		hdr                        http.Header
		body                       func() string
		wantStatus                 int
		wantReason                 string
	}{
		{"@tenant in the query", alice, "GET", "", sdkGet, nil, 400, "param-not-allowed"},
		{"@tenant in the POST body", alice, "POST", "/auth/sso", sdkPost, func() string {
			return `{"jwt":` + strconv.Quote(h.sdkTicket(alice)) + `,"@tenant":"globex"}`
		}, 400, "malformed-request"},
		{"acme's ticket spent in globex (org switch)", aliceInGlobex, "POST", "/auth/sso", sdkPost, func() string {
			return `{"jwt":` + strconv.Quote(h.sdkTicket(alice)) + `}`
		}, 403, "tenant-mismatch"},
		{"an SSO JWT naming @tenant globex, forged with no key", alice, "POST", "/auth/sso", sdkPost, func() string {
			tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"email": "alice+acme@tenantgate.invalid", "@tenant": "globex",
				"exp": time.Now().Add(time.Minute).Unix()}).SignedString([]byte("not-the-shared-secret-0123456789abcdef"))
			return `{"jwt":` + strconv.Quote(tok) + `}`
		}, 403, "sso-token-invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			target := tt.target
			if target == "" {
				target = "/auth/sso?jwt=" + url.QueryEscape(h.sdkTicket(tt.sess)) + "&%40tenant=globex"
			}
			body := ""
			if tt.body != nil {
				body = tt.body()
			}
			h.mb.Reset()
			w := h.send(tt.method, testSSOPrefix+target, tt.sess, tt.hdr, body)
			if w.Code != tt.wantStatus || reason(w) != tt.wantReason {
				t.Errorf("got %d %s, want %d %s", w.Code, reason(w), tt.wantStatus, tt.wantReason)
			}
			if n := len(h.mb.Requests()); n != 0 {
				t.Errorf("a refused spoof reached Metabase %d times", n)
			}
		})
	}
}

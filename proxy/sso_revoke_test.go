package proxy

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
)

// backdate re-seals a sealed value as issued ago earlier: what a session
// issued then looks like.
func backdate(t *testing.T, purpose, sealed string, ago time.Duration) string {
	t.Helper()
	sealer, err := auth.NewSealer([]string{testSealKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sealer.OpenSession(purpose, sealed)
	if err != nil {
		t.Fatal(err)
	}
	s.IssuedAt -= int64(ago / time.Second)
	out, err := sealer.SealSession(purpose, *s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSSORevocation: after a reload with sso.revoke, every sealed cookie,
// SDK handle, ticket and embed handle a revocation covers is refused at
// once (session-revoked) and nothing of the caller's reaches Metabase but
// the logout of its Metabase session, which the gate ends itself, once; a
// revocation still to come keeps the tenant out of new sign-ins and mints;
// what it does not cover (another tenant, a session issued after) passes.
func TestSSORevocation(t *testing.T) {
	h := newSSOHarness(t, nil)
	alice, bob := ssoSession("alice", "acme", time.Hour), ssoSession("bob", "globex", time.Hour)
	aliceCookie := h.signIn(alice, "/dashboard/1")
	aliceSDK := h.sdkSignIn(alice)
	aliceTicket := h.sdkTicket(alice)
	aliceHandle := h.mint(alice, "dashboard", 1)
	bobOld := backdate(t, "cookie", h.signIn(bob, "/dashboard/1"), 2*time.Hour)
	keyOf := func(purpose, sealed string) string {
		sealer, _ := auth.NewSealer([]string{testSealKey}, nil)
		s, err := sealer.OpenSession(purpose, sealed)
		if err != nil {
			t.Fatal(err)
		}
		return s.Key
	}
	aliceKeys := []string{keyOf("cookie", aliceCookie), keyOf("sdk", aliceSDK)}

	// The reload (SIGHUP): acme is offboarded (a time to come keeps it
	// out), bob logs out everywhere (a time past).
	now := time.Now().UTC()
	cfg := *h.cfg
	cfg.SSO.Revoke = []configs.Revocation{
		{Tenant: "acme", Before: now.Add(time.Hour).Format(time.RFC3339)},
		{Subject: "bob", Before: now.Add(-time.Hour).Format(time.RFC3339)},
	}
	h.start(&cfg)
	bobNew := h.signIn(bob, "/dashboard/1") // issued after bob's revocation

	post := func(tk string) string { return `{"jwt":` + strconv.Quote(tk) + `}` }
	sdkPost := http.Header{"X-Metabase-Client": {sdkClient}, "Content-Type": {"application/json"}}
	tests := []struct {
		name, sess, method, target string
		hdr                        http.Header
		body                       string
		wantStatus                 int
		wantReason                 string
		wantDeletes                int // DELETE /api/session Metabase receives
	}{
		{"revoked cookie, API", alice, "GET", "/api/user/current", cookieHeader(aliceCookie), "", 401, "session-revoked", 1},
		{"revoked cookie again: its session is ended once", alice, "GET", "/api/card/1", cookieHeader(aliceCookie), "", 401, "session-revoked", 0},
		{"revoked SDK handle", alice, "POST", "/api/card/1/query", sdkHeader(aliceSDK), "{}", 401, "session-revoked", 1},
		{"revoked cookie presented by another tenant", bob, "GET", "/api/user/current", cookieHeader(aliceCookie), "", 401, "session-revoked", 0},
		{"revoked ticket, POST", alice, "POST", "/auth/sso", sdkPost, post(aliceTicket), 401, "session-revoked", 0},
		{"revoked embed handle", alice, "GET", "/api/embed/dashboard/" + aliceHandle, nil, "", 401, "session-revoked", 0},
		{"kept out: a new sign-in", alice, "GET", "/.tenantgate/sso?return_to=/dashboard/1", nil, "", 401, "session-revoked", 0},
		{"kept out: a new ticket", alice, "GET", "/.tenantgate/sdk/jwt?response=json", nil, "", 401, "session-revoked", 0},
		{"kept out: a new embed handle", alice, "GET", "/.tenantgate/embed/dashboard/1", http.Header{"Accept": {"application/json"}}, "", 401, "session-revoked", 0},
		{"kept out: a guest token (embed.js)", alice, "POST", "/.tenantgate/guest/token?response=json", http.Header{"Content-Type": {"application/json"}},
			`{"entityType":"dashboard","entityId":1}`, 401, "session-revoked", 0},
		{"logged out everywhere: bob's old cookie", bob, "GET", "/api/user/current", cookieHeader(bobOld), "", 401, "session-revoked", 1},
		{"control: bob's new cookie", bob, "GET", "/api/user/current", cookieHeader(bobNew), "", 200, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			h.mb.Reset()
			w := h.send(tt.method, testSSOPrefix+tt.target, tt.sess, tt.hdr, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantReason != "" && reason(w) != tt.wantReason {
				t.Errorf("reason = %q, want %q", reason(w), tt.wantReason)
			}
			deletes := 0
			for _, r := range h.mb.Requests() {
				switch {
				case r.Method == "DELETE" && r.Path == "/api/session":
					deletes++
				case tt.wantStatus != 200:
					t.Errorf("a refused request reached Metabase: %s %s", r.Method, r.Path)
				}
			}
			if deletes != tt.wantDeletes {
				t.Errorf("Metabase got %d logouts, want %d", deletes, tt.wantDeletes)
			}
		})
	}
	for _, k := range aliceKeys {
		if _, alive := h.mb.SessionUser(k); alive {
			t.Error("a revoked sealed session's Metabase session is still alive")
		}
	}
	if got := counterValue(t, h, "tenantgate_sso_sessions_ended_total", "result", "ended"); got != 3 {
		t.Errorf("sessions ended = %v, want 3", got)
	}
	// A page load with the revoked cookie clears it and goes through the
	// sign-in, which keeps acme out.
	w := h.send("GET", testSSOPrefix+"/dashboard/1", alice, cookieHeader(aliceCookie), "")
	if w.Code != http.StatusFound || h.logs.FilterField(zap.String("reason", "session-revoked")).Len() == 0 {
		t.Errorf("page with a revoked cookie: %d, Location %q", w.Code, w.Header().Get("Location"))
	}
}

// TestSSORevocationLogoutFails: when Metabase fails the logout, the revoked
// session is refused all the same, the failure is counted and logged, and
// the request never waits past the logout's bound.
func TestSSORevocationLogoutFails(t *testing.T) {
	h := newSSOHarness(t, nil)
	alice := ssoSession("alice", "acme", time.Hour)
	cookie := h.signIn(alice, "/dashboard/1")
	cfg := *h.cfg
	cfg.SSO.Revoke = []configs.Revocation{{Subject: "alice", Before: time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}}
	h.start(&cfg)
	h.mb.Reset()
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusInternalServerError)
			return true
		}
		return false
	})
	w := h.send("GET", testSSOPrefix+"/api/user/current", alice, cookieHeader(cookie), "")
	if w.Code != http.StatusUnauthorized || reason(w) != "session-revoked" {
		t.Fatalf("revoked cookie with a failing logout: %d %s", w.Code, w.Body)
	}
	if got := counterValue(t, h, "tenantgate_sso_sessions_ended_total", "result", "failed"); got != 1 {
		t.Errorf("failed logouts = %v, want 1", got)
	}
	if h.logs.FilterMessageSnippet("ending a revoked Metabase session failed").Len() != 1 {
		t.Error("the failed logout was not logged")
	}
	for _, r := range h.mb.Requests() {
		if r.Method != http.MethodDelete {
			t.Errorf("Metabase received %s %s for a revoked session", r.Method, r.Path)
		}
	}
}

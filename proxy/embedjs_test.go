package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// Modular embedding (embed.js) through the gate: the iframe page, the
// script, and the calls the host page and the iframe make in each mode
// (metabasetest/embedjs.go has the protocol).

const embedJSClient = "embedding-simple"

// newEmbedJSHarness is the SSO harness with the static-embedding
// resources embed.js's guest mode shows.
func newEmbedJSHarness(t *testing.T) *harness {
	t.Helper()
	return newSSOHarness(t, func(c *configs.Config) {
		c.Policy.Resources = []configs.ResourcePolicy{{Dashboard: metabasetest.DashboardOrders}, {Question: metabasetest.QuestionOrders}}
	})
}

// TestEmbedSDKPage: the iframe page is served at exactly /embed/sdk/v1 to
// a signed-in caller, framing narrowed and not stored, with embed.js's
// counter as its only query; anything else in its URL is refused before
// Metabase.
func TestEmbedSDKPage(t *testing.T) {
	h := newEmbedJSHarness(t)
	alice := ssoSession("alice", "acme", time.Hour)
	handle := h.mint(alice, "question", metabasetest.QuestionOrders)
	p := testSSOPrefix + "/embed/sdk/v1"
	tests := []struct {
		name, method, target string
		sess                 string
		wantStatus           int
		wantReason           string
		wantQuery            string // what Metabase received, when it is asked
	}{
		{"embed.js's iframe", "GET", p + "?embed-js-identifier=0", alice, 200, "", "embed-js-identifier=0"},
		{"a later iframe", "GET", p + "?embed-js-identifier=41", alice, 200, "", "embed-js-identifier=41"},
		{"no query", "GET", p, alice, 200, "", ""},
		{"HEAD", "HEAD", p + "?embed-js-identifier=1", alice, 200, "", "embed-js-identifier=1"},
		{"no session", "GET", p + "?embed-js-identifier=0", "", 401, "no-session", ""},
		{"another key", "GET", p + "?embed-js-identifier=0&x=1", alice, 400, "param-not-allowed", ""},
		{"a token in the query", "GET", p + "?token=" + handle, alice, 400, "param-not-allowed", ""},
		{"the identifier twice", "GET", p + "?embed-js-identifier=0&embed-js-identifier=1", alice, 400, "param-not-allowed", ""},
		{"a leading zero", "GET", p + "?embed-js-identifier=01", alice, 400, "param-not-allowed", ""},
		{"an escape", "GET", p + "?embed-js-identifier=%30", alice, 400, "param-not-allowed", ""},
		{"a semicolon", "GET", p + "?embed-js-identifier=0;x=1", alice, 400, "param-not-allowed", ""},
		{"a longer path", "GET", p + "/x", alice, 403, "route-not-allowed", ""},
		{"a handle below it", "GET", p + "/" + handle, alice, 403, "route-not-allowed", ""},
		{"a trailing slash", "GET", p + "/", alice, 400, "malformed-request", ""},
		{"a path parameter", "GET", p + ";jsessionid=1", alice, 400, "malformed-request", ""},
		{"dot segments after it", "GET", p + "/../../api/user/current", alice, 400, "malformed-request", ""},
		{"Tomcat's dot segment", "GET", p + "/..;/..;/api/user/current", alice, 400, "malformed-request", ""},
		{"another case", "GET", testSSOPrefix + "/embed/sdk/V1", alice, 403, "route-not-allowed", ""},
		{"another version", "GET", testSSOPrefix + "/embed/sdk/v2", alice, 403, "route-not-allowed", ""},
		{"POST", "POST", p, alice, 403, "route-not-allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.mb.Requests())
			w := h.do(tt.method, tt.target, tt.sess, nil)
			if w.Code != tt.wantStatus || (tt.wantReason != "" && reason(w) != tt.wantReason) {
				t.Fatalf("%s %s: %d %q, want %d %q: %.200s", tt.method, tt.target, w.Code, reason(w), tt.wantStatus, tt.wantReason, w.Body)
			}
			got := h.mb.Requests()[before:]
			if tt.wantStatus != 200 {
				for _, r := range got {
					t.Errorf("refused, yet Metabase received %s %s?%s", r.Method, r.Path, r.RawQuery)
				}
				return
			}
			if len(got) != 1 || got[0].Path != "/embed/sdk/v1" || got[0].RawQuery != tt.wantQuery || got[0].Header.Get("Cookie") != "" {
				t.Fatalf("Metabase received %+v, want one GET /embed/sdk/v1?%s without cookies", got, tt.wantQuery)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self'") || strings.Contains(csp, "frame-ancestors *") {
				t.Errorf("CSP %q, want frame-ancestors narrowed to 'self' (TENANTGATE_FRAME_ANCESTORS)", csp)
			}
			if cc := w.Header().Get("Cache-Control"); cc != "private, no-store" {
				t.Errorf("Cache-Control %q, want private, no-store", cc)
			}
			if tt.method == "GET" && !strings.Contains(w.Body.String(), "metabase.embed.iframeReady") {
				t.Errorf("the page is not modular embedding's iframe: %.200s", w.Body)
			}
		})
	}
}

// TestEmbedJSScript: /app/embed.js passes as Metabase serves it, from
// Metabase each time (it is not content-hashed, so the gate does not keep
// it as an immutable asset).
func TestEmbedJSScript(t *testing.T) {
	h := newEmbedJSHarness(t)
	for i := range 2 {
		before := len(h.mb.Requests())
		w := h.do("GET", testSSOPrefix+"/app/embed.js", "", nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"metabase-question"`) || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") {
			t.Fatalf("GET /app/embed.js: %d %q %.100s", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		if cc := w.Header().Get("Cache-Control"); strings.Contains(cc, "immutable") || strings.Contains(cc, "max-age=31536000") {
			t.Errorf("fetch %d: Cache-Control %q: embed.js is not hashed and must not be cached far-future", i, cc)
		}
		if n := len(h.mb.Requests()) - before; n != 1 {
			t.Errorf("fetch %d: Metabase received %d requests, want 1 (no cached copy)", i, n)
		}
	}
}

// embedJSHandshake runs the host page's side of embed.js's SSO mode for
// sess, as the script does: the discovery, the provider it names, then
// POST /auth/sso {"jwt"}, each with X-Metabase-Client embedding-simple. It
// returns the session's id, which the iframe sends as X-Metabase-Session.
func (h *harness) embedJSHandshake(sess string) string {
	h.t.Helper()
	client := http.Header{"X-Metabase-Client": {embedJSClient}}
	w := h.send("GET", testSSOPrefix+"/auth/sso", sess, client, "")
	var found struct{ URL, Method string }
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &found) != nil || found.Method != "jwt" {
		h.t.Fatalf("discovery: %d %s", w.Code, w.Body)
	}
	provider, ok := strings.CutPrefix(found.URL, testPublicURL)
	if !ok {
		h.t.Fatalf("discovery answered %q, not an absolute URL on %s", found.URL, testPublicURL)
	}
	w = h.send("GET", provider+"?response=json", sess, nil, "")
	var tk struct{ JWT string }
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &tk) != nil || tk.JWT == "" {
		h.t.Fatalf("the JWT provider: %d %s", w.Code, w.Body)
	}
	body, _ := json.Marshal(map[string]string{"jwt": tk.JWT})
	w = h.send("POST", testSSOPrefix+"/auth/sso", sess, http.Header{"X-Metabase-Client": {embedJSClient}, "Content-Type": {"application/json"}}, string(body))
	var s sdkSession
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &s) != nil || s.Status != "ok" || s.ID == "" || s.Exp == 0 {
		h.t.Fatalf("POST /auth/sso: %d %s", w.Code, w.Body)
	}
	return s.ID
}

func iframeHeader(id string) http.Header {
	return http.Header{"X-Metabase-Session": {id}, "X-Metabase-Client": {embedJSClient}, "Content-Type": {"application/json"}}
}

// TestEmbedJSSSO: embed.js's SSO mode. Each user's iframe reaches Metabase
// with the session of that user in their organization only; another
// user's session id, sent from the iframe, is refused before Metabase.
func TestEmbedJSSSO(t *testing.T) {
	h := newEmbedJSHarness(t)
	q := strconv.Itoa(metabasetest.QuestionOrdersQuery)
	users := []struct{ subject, tenant, sess, id string }{
		{subject: "alice", tenant: "acme"}, {subject: "bob", tenant: "globex"},
	}
	for i := range users {
		u := &users[i]
		u.sess = ssoSession(u.subject, u.tenant, time.Hour)
		before := len(h.mb.Requests())
		u.id = h.embedJSHandshake(u.sess)
		exchanges := 0
		for _, r := range h.mb.Requests()[before:] {
			if r.Path == "/auth/sso" {
				exchanges++
				if c := r.Header.Get("X-Metabase-Client"); c != embedJSClient {
					t.Errorf("%s: the gate's exchange reached Metabase as client %q, want %s", u.subject, c, embedJSClient)
				}
			}
		}
		if exchanges != 1 {
			t.Errorf("%s: Metabase received %d exchanges, want 1", u.subject, exchanges)
		}
		before = len(h.mb.Requests())
		for _, call := range []struct{ method, path, body string }{
			{"GET", "/api/user/current", ""}, {"GET", "/api/session/properties", ""},
			{"GET", "/api/card/" + q, ""}, {"GET", "/api/card/" + q + "/query_metadata", ""}, {"POST", "/api/card/" + q + "/query", "{}"},
			{"GET", fmt.Sprintf("/api/dashboard/%d", metabasetest.DashboardSDK), ""},
			{"POST", fmt.Sprintf("/api/dashboard/%d/dashcard/%d/card/%d/query", metabasetest.DashboardSDK, metabasetest.DashcardSDKTable, metabasetest.QuestionOrdersQuery), `{"parameters":[]}`},
		} {
			w := h.send(call.method, testSSOPrefix+call.path, u.sess, iframeHeader(u.id), call.body)
			if w.Code != 200 && w.Code != 202 {
				t.Fatalf("%s: %s %s: %d %s", u.subject, call.method, call.path, w.Code, w.Body)
			}
			if strings.HasSuffix(call.path, "/query") {
				for _, row := range queryRows(t, w) {
					if !rowOf(row, u.tenant) {
						t.Errorf("%s (%s) got a row of another organization from %s: %v", u.subject, u.tenant, call.path, row)
					}
				}
			}
		}
		for _, r := range h.mb.Requests()[before:] {
			key := r.Header.Get("X-Metabase-Session")
			if r.Path == "/api/session/properties" && key == "" {
				continue // the gate's own anonymous settings
			}
			mu, ok := h.mb.SessionUser(key)
			if !ok || mu.Attributes["organization_id"] != u.tenant || !strings.HasPrefix(mu.Email, u.subject+"+") {
				t.Errorf("%s (%s): %s %s reached Metabase as %+v", u.subject, u.tenant, r.Method, r.Path, mu)
			}
		}
	}
	// bob's iframe sends alice's session id: refused, and Metabase is not
	// asked.
	alice, bob := users[0], users[1]
	before := len(h.mb.Requests())
	w := h.send("POST", testSSOPrefix+"/api/card/"+q+"/query", bob.sess, iframeHeader(alice.id), "{}")
	if w.Code != 401 || reason(w) != "sso-session-mismatch" {
		t.Errorf("bob with alice's session id: %d %q, want 401 sso-session-mismatch", w.Code, reason(w))
	}
	// The iframe's page is no way around it: it takes no session in its URL.
	w = h.do("GET", testSSOPrefix+"/embed/sdk/v1?session="+alice.id, bob.sess, nil)
	if w.Code != 400 || reason(w) != "param-not-allowed" {
		t.Errorf("the iframe page with a session in its query: %d %q, want 400 param-not-allowed", w.Code, reason(w))
	}
	for _, r := range h.mb.Requests()[before:] {
		t.Errorf("refused, yet Metabase received %s %s", r.Method, r.Path)
	}
}

// rowOf reports whether an orders row belongs to tenant: its
// organization_id column holds it, or its customer is tenant's.
func rowOf(row []any, tenant string) bool {
	for _, o := range metabasetest.Orders() {
		for _, v := range row {
			if s, ok := v.(string); ok && s == o.Customer {
				return o.OrganizationID == tenant
			}
		}
	}
	for _, v := range row {
		if s, ok := v.(string); ok && s == tenant {
			return true
		}
	}
	return false
}

// TestEmbedJSGuest: embed.js's guest mode. The element's token is a handle
// the host page got from the gate's mint endpoint; the iframe's
// /api/embed calls reach Metabase with a token the gate signed, locked to
// the caller's organization. Another organization's handle is refused
// before Metabase.
func TestEmbedJSGuest(t *testing.T) {
	h := newEmbedJSHarness(t)
	alice, bob := ssoSession("alice", "acme", time.Hour), ssoSession("bob", "globex", time.Hour)
	mintToken := func(sess, kind string, id int) string {
		w := h.do("GET", fmt.Sprintf("%s/.tenantgate/embed/%s/%d", testSSOPrefix, kind, id), sess, http.Header{"Accept": {"application/json"}})
		var m struct{ URL, Token string }
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &m) != nil || m.Token == "" || !strings.Contains(m.URL, "/"+m.Token+"#") {
			t.Fatalf("mint %s %d: %d %s, want a token that is the URL's handle", kind, id, w.Code, w.Body)
		}
		return m.Token
	}
	for _, u := range []struct{ name, sess, tenant string }{{"alice", alice, "acme"}, {"bob", bob, "globex"}} {
		q := mintToken(u.sess, "question", metabasetest.QuestionOrders)
		d := mintToken(u.sess, "dashboard", metabasetest.DashboardOrders)
		hdr := http.Header{"X-Metabase-Client": {embedJSClient}}
		before := len(h.mb.Requests())
		for _, path := range []string{"/api/embed/card/" + q, "/api/embed/card/" + q + "/query", "/api/embed/dashboard/" + d,
			fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/%d", d, metabasetest.DashcardOrdersTable, metabasetest.QuestionOrders)} {
			w := h.do("GET", testSSOPrefix+path, u.sess, hdr)
			if w.Code != 200 && w.Code != 202 {
				t.Fatalf("%s: GET %s: %d %s", u.name, path, w.Code, w.Body)
			}
			if strings.Contains(path, "/query") || strings.Contains(path, "/dashcard/") {
				for _, row := range queryRows(t, w) {
					if !rowOf(row, u.tenant) {
						t.Errorf("%s (%s) got a row of another organization from %s: %v", u.name, u.tenant, path, row)
					}
				}
			}
			if strings.Contains(w.Body.String(), h.cfg.Metabase.EmbeddingSecretKey.Reveal()) {
				t.Errorf("%s: the embedding secret in the answer to %s", u.name, path)
			}
		}
		got := h.mb.Requests()[before:]
		if len(got) != 4 {
			t.Fatalf("%s: Metabase received %d requests, want 4", u.name, len(got))
		}
		for _, r := range got {
			params, _ := r.Claims["params"].(map[string]any)
			if locked := fmt.Sprint(params["organization_id"]); r.Token == q || r.Token == d || locked != u.tenant && locked != "["+u.tenant+"]" {
				t.Errorf("%s (%s): %s reached Metabase with claims %v, want a token the gate signed for %s", u.name, u.tenant, r.Path, r.Claims, u.tenant)
			}
		}
	}
	// embed.js's token provider (guestEmbedProviderUri at the gate): the
	// handle it answers works for its caller's organization only.
	provided := func(sess string) string {
		w := h.send("POST", testSSOPrefix+"/.tenantgate/guest/token?response=json", sess, http.Header{"Content-Type": {"application/json"}},
			fmt.Sprintf(`{"entityType":"question","entityId":%d}`, metabasetest.QuestionOrders))
		var g struct{ JWT string }
		if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &g) != nil || g.JWT == "" {
			t.Fatalf("the guest token provider: %d %s", w.Code, w.Body)
		}
		return g.JWT
	}
	before := len(h.mb.Requests())
	w := h.do("GET", testSSOPrefix+"/api/embed/card/"+provided(alice)+"/query", alice, http.Header{"X-Metabase-Client": {embedJSClient}})
	if w.Code != 200 && w.Code != 202 {
		t.Fatalf("alice with the provider's handle: %d %s", w.Code, w.Body)
	}
	for _, row := range queryRows(t, w) {
		if !rowOf(row, "acme") {
			t.Errorf("alice (acme) got a row of another organization through the provider's handle: %v", row)
		}
	}
	if got := h.mb.Requests()[before:]; len(got) != 1 || fmt.Sprint(got[0].Claims["params"]) != "map[organization_id:acme]" {
		t.Errorf("the provider's handle reached Metabase as %+v, want one token the gate signed for acme", got)
	}

	// bob's page places alice's handles in guest elements.
	aliceQ := mintToken(alice, "question", metabasetest.QuestionOrders)
	aliceP := provided(alice)
	before = len(h.mb.Requests())
	for _, path := range []string{"/api/embed/card/" + aliceQ, "/api/embed/card/" + aliceQ + "/query", "/api/embed/card/" + aliceP + "/query"} {
		w := h.do("GET", testSSOPrefix+path, bob, http.Header{"X-Metabase-Client": {embedJSClient}})
		if w.Code != 403 || reason(w) != "tenant-mismatch" {
			t.Errorf("bob with alice's guest handle, %s: %d %q, want 403 tenant-mismatch", path, w.Code, reason(w))
		}
	}
	for _, r := range h.mb.Requests()[before:] {
		t.Errorf("refused, yet Metabase received %s %s", r.Method, r.Path)
	}
}

// TestEmbedJSCrossMode: what one mode hands the iframe does not open the
// other mode's door. A guest handle sent as the SSO session, or a sealed
// SSO session placed as a guest token, is refused before Metabase.
func TestEmbedJSCrossMode(t *testing.T) {
	h := newEmbedJSHarness(t)
	alice := ssoSession("alice", "acme", time.Hour)
	id := h.embedJSHandshake(alice)
	guest := h.mint(alice, "question", metabasetest.QuestionOrders)
	q := strconv.Itoa(metabasetest.QuestionOrdersQuery)
	tests := []struct {
		name, method, path string
		hdr                http.Header
		body               string
		wantStatus         int
		wantReason         string
	}{
		{"a guest handle as the session", "POST", "/api/card/" + q + "/query", iframeHeader(guest), "{}", 401, "sso-session-invalid"},
		{"the session as a guest token", "GET", "/api/embed/card/" + id + "/query", http.Header{"X-Metabase-Client": {embedJSClient}}, "", 403, "handle-invalid"},
		{"the session in the iframe page's query", "GET", "/embed/sdk/v1?embed-js-identifier=0&session=" + id, nil, "", 400, "param-not-allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.mb.Requests())
			w := h.send(tt.method, testSSOPrefix+tt.path, alice, tt.hdr, tt.body)
			if w.Code != tt.wantStatus || reason(w) != tt.wantReason {
				t.Errorf("%s %s: %d %q, want %d %q: %.200s", tt.method, tt.path, w.Code, reason(w), tt.wantStatus, tt.wantReason, w.Body)
			}
			for _, r := range h.mb.Requests()[before:] {
				t.Errorf("refused, yet Metabase received %s %s", r.Method, r.Path)
			}
		})
	}
}

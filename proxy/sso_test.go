package proxy

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// verifyHS256 checks a JWT with a hand-rolled HMAC-SHA256 over the signing
// input (no JWT library), and returns its header and claims.
func verifyHS256(t *testing.T, tok, secret string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT has %d parts", len(parts))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		t.Fatalf("JWT signature does not verify with MB_JWT_SHARED_SECRET")
	}
	for i, into := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.UseNumber()
		if err := dec.Decode(into); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

// ssoExchanges returns the SSO JWTs the stand-in received at /auth/sso.
func ssoExchanges(t *testing.T, h *harness) []metabasetest.Request {
	t.Helper()
	var out []metabasetest.Request
	for _, r := range h.mb.Requests() {
		if r.Path == "/auth/sso" {
			out = append(out, r)
		}
	}
	return out
}

func jwtOf(t *testing.T, r metabasetest.Request) string {
	t.Helper()
	tok := exchangedJWT(r)
	if tok == "" {
		t.Fatalf("%s /auth/sso carried no jwt (query %q, body %q)", r.Method, r.RawQuery, r.Body)
	}
	return tok
}

// exchangedJWT is the SSO JWT of an /auth/sso request the stand-in
// received: a POST's JSON body, or a GET's query.
func exchangedJWT(r metabasetest.Request) string {
	if r.Method == http.MethodPost {
		var b struct{ JWT string }
		_ = json.Unmarshal([]byte(r.Body), &b)
		return b.JWT
	}
	q, _ := url.ParseQuery(r.RawQuery)
	return q.Get("jwt")
}

// statusCounts is what the revenue-by-status card shows a tenant.
func statusCounts(tenant string) map[string]int {
	out := map[string]int{}
	for _, o := range metabasetest.Orders() {
		if o.OrganizationID == tenant {
			out[o.Status]++
		}
	}
	return out
}

func countsOf(t *testing.T, rows [][]any) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range rows {
		n, _ := r[1].(float64)
		out[r[0].(string)] = int(n)
	}
	return out
}

// assertUpstreamSessions checks every request that reached Metabase with a
// session: no client cookie or key, and the injected session is one of a
// Metabase user of the given tenant and email.
func assertUpstreamSessions(t *testing.T, h *harness, tenant, email string) int {
	t.Helper()
	n := 0
	for _, r := range h.mb.Requests() {
		if r.Path == "/auth/sso" {
			continue
		}
		for _, k := range []string{"Cookie", "X-Api-Key", "Authorization"} {
			if v := r.Header.Get(k); v != "" {
				t.Errorf("Metabase received %s: %q on %s", k, v, r.Path)
			}
		}
		key := r.Header.Get("X-Metabase-Session")
		if key == "" {
			continue
		}
		n++
		u, ok := h.mb.SessionUser(key)
		if !ok {
			t.Errorf("Metabase received a dead session on %s", r.Path)
			continue
		}
		if u.Attributes["organization_id"] != tenant || u.Email != email {
			t.Errorf("Metabase received the session of %s (organization_id %q) on %s, want %s of %q", u.Email, u.Attributes["organization_id"], r.Path, email, tenant)
		}
	}
	return n
}

func TestSSOInteractiveFlow(t *testing.T) {
	h := newSSOHarness(t, nil)
	alice := ssoSession("alice", "acme", time.Hour)

	// 1. Sign-in: a 302 back under the gate, the sealed cookie, and the
	// exchange done server side.
	w := h.send("GET", testSSOPrefix+"/.tenantgate/sso?return_to=%2Fdashboard%2F1", alice, nil, "")
	if w.Code != http.StatusFound || w.Header().Get("Location") != testSSOPrefix+"/dashboard/1" {
		t.Fatalf("sign-in: %d Location %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	set := w.Header().Get("Set-Cookie")
	for _, want := range []string{ssoCookieName + "=", "Path=/analytics/", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %q", set, want)
		}
	}
	if strings.Contains(set, "metabase.") {
		t.Errorf("Metabase's cookie reached the browser: %q", set)
	}
	sealed := sealedCookie(t, w)
	ex := ssoExchanges(t, h)
	if len(ex) != 1 {
		t.Fatalf("Metabase saw %d SSO exchanges, want 1", len(ex))
	}
	if ex[0].Header.Get("X-Metabase-Client") != "" || ex[0].Header.Get("Cookie") != "" {
		t.Errorf("browser-flow exchange carried %v", ex[0].Header)
	}
	if q, _ := url.ParseQuery(ex[0].RawQuery); q.Get("return_to") != "/dashboard/1" {
		t.Errorf("return_to sent to Metabase = %q", q.Get("return_to"))
	}
	if ex[0].Status != http.StatusFound {
		t.Errorf("Metabase answered the exchange %d, want 302", ex[0].Status)
	}

	// 2. The SSO JWT verifies independently and carries exactly the
	// configured claims.
	hdr, claims := verifyHS256(t, jwtOf(t, ex[0]), testSSOSecret)
	if hdr["alg"] != "HS256" {
		t.Errorf("alg = %v", hdr["alg"])
	}
	var keys []string
	for k := range claims {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if got, want := strings.Join(keys, ","), "email,exp,first_name,groups,iat,jti,organization_id,region"; got != want {
		t.Errorf("claims %s, want %s", got, want)
	}
	if claims["email"] != "alice+acme@tenantgate.invalid" || claims["organization_id"] != "acme" || claims["region"] != "eu" || claims["first_name"] != "Alice" {
		t.Errorf("claims %v", claims)
	}
	if g, _ := claims["groups"].([]any); len(g) != 1 || g[0] != embeddedGroup {
		t.Errorf("groups = %v, want only %q (unmapped app groups dropped)", claims["groups"], embeddedGroup)
	}
	iat, _ := claims["iat"].(json.Number).Int64()
	exp, _ := claims["exp"].(json.Number).Int64()
	if now := time.Now().Unix(); iat < now-5 || iat > now+1 || exp-iat != 60 {
		t.Errorf("iat %d exp %d: want now and now+60", iat, exp)
	}
	if jti, _ := claims["jti"].(string); len(jti) != 32 {
		t.Errorf("jti = %q", jti)
	}
	user, ok := h.mb.User("alice+acme@tenantgate.invalid")
	if !ok || user.Attributes["organization_id"] != "acme" || !slices.Contains(user.GroupIDs, metabasetest.GroupEmbedded) || user.Superuser() {
		t.Fatalf("Metabase user %+v", user)
	}

	// 3. The app's page, its API, the data: acme's only.
	h.mb.Reset()
	w = h.send("GET", testSSOPrefix+"/dashboard/1", alice, cookieHeader(sealed), "")
	if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Security-Policy"), "frame-ancestors 'self'") || w.Header().Get("X-Frame-Options") != "" {
		t.Errorf("page: %d CSP %q XFO %q", w.Code, w.Header().Get("Content-Security-Policy"), w.Header().Get("X-Frame-Options"))
	}
	w = h.send("GET", testSSOPrefix+"/api/user/current", alice, cookieHeader(sealed), "")
	var me struct {
		Email       string            `json:"email"`
		Attrs       map[string]string `json:"jwt_attributes"`
		IsSuperuser bool              `json:"is_superuser"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &me) != nil || me.Email != "alice+acme@tenantgate.invalid" || me.Attrs["organization_id"] != "acme" || me.IsSuperuser {
		t.Errorf("user/current: %d %s", w.Code, w.Body)
	}
	w = h.send("POST", testSSOPrefix+"/api/dashboard/1/dashcard/12/card/2/query", alice, cookieHeader(sealed), `{"parameters":[]}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("dashcard query: %d %s", w.Code, w.Body)
	}
	if got, want := countsOf(t, queryRows(t, w)), statusCounts("acme"); !mapsEqual(got, want) {
		t.Errorf("revenue by status = %v, want acme's %v", got, want)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "private, no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	w = h.send("POST", testSSOPrefix+"/api/card/3/query", alice, cookieHeader(sealed), `{}`)
	if rows := queryRows(t, w); len(rows) != 1 || rows[0][0] != float64(10) {
		t.Errorf("count = %v, want acme's 10", rows)
	}
	if n := assertUpstreamSessions(t, h, "acme", "alice+acme@tenantgate.invalid"); n != 4 {
		t.Errorf("%d requests reached Metabase with a session, want 4", n)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSSOSDKFlow(t *testing.T) {
	h := newSSOHarness(t, nil)
	bob := ssoSession("bob", "globex", time.Hour)

	// Discovery is answered by the gate, pointing at its JWT provider.
	w := h.send("GET", testSSOPrefix+"/auth/sso?preferred_method=jwt", bob, http.Header{"X-Metabase-Client": {sdkClient}}, "")
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"method":"jwt","url":"https://app.example/analytics/.tenantgate/sdk/jwt"}` {
		t.Errorf("discovery: %d %s", w.Code, w.Body)
	}
	if n := len(h.mb.Requests()); n != 0 {
		t.Errorf("discovery reached Metabase %d times", n)
	}
	handle := h.sdkSignIn(bob)
	ex := ssoExchanges(t, h)
	if len(ex) != 1 || ex[0].Header.Get("X-Metabase-Client") != sdkClient || ex[0].Status != http.StatusOK {
		t.Fatalf("SDK exchanges: %+v", ex)
	}
	if q, _ := url.ParseQuery(ex[0].RawQuery); q.Has("return_to") {
		t.Errorf("SDK exchange sent return_to")
	}
	_, claims := verifyHS256(t, jwtOf(t, ex[0]), testSSOSecret)
	if claims["email"] != "bob+globex@tenantgate.invalid" || claims["organization_id"] != "globex" || claims["exp"] == nil {
		t.Errorf("claims %v", claims)
	}
	if slices.Contains(h.mb.SessionKeys(), handle) {
		t.Fatal("the SDK's id is Metabase's session key")
	}

	h.mb.Reset()
	w = h.send("GET", testSSOPrefix+"/api/user/current", bob, sdkHeader(handle), "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"bob+globex@tenantgate.invalid"`) {
		t.Errorf("user/current: %d %s", w.Code, w.Body)
	}
	w = h.send("GET", testSSOPrefix+"/api/session/properties", bob, sdkHeader(handle), "")
	if w.Code != http.StatusOK {
		t.Errorf("session/properties: %d", w.Code)
	}
	w = h.send("POST", testSSOPrefix+"/api/dashboard/1/dashcard/12/card/2/query", bob, sdkHeader(handle), `{}`)
	if got, want := countsOf(t, queryRows(t, w)), statusCounts("globex"); !mapsEqual(got, want) {
		t.Errorf("revenue by status = %v, want globex's %v", got, want)
	}
	for _, r := range h.mb.Requests() {
		if r.Header.Get("X-Metabase-Client") != sdkClient && r.Path != "/api/session/properties" {
			t.Errorf("%s: X-Metabase-Client = %q", r.Path, r.Header.Get("X-Metabase-Client"))
		}
	}
	if n := assertUpstreamSessions(t, h, "globex", "bob+globex@tenantgate.invalid"); n != 2 {
		t.Errorf("%d requests reached Metabase with a session, want 2", n)
	}
}

// A user who switches organization in the app gets a fresh sign-in and,
// with a per-(user, organization) email template, another Metabase user;
// the old session is never used for the new tenant.
func TestSSOOrganizationSwitch(t *testing.T) {
	h := newSSOHarness(t, func(c *configs.Config) { c.SSO.EmailTemplate = "{{ .Subject }}+{{ .Tenant }}@sso.example" })
	inAcme := ssoSession("alice", "acme", time.Hour)
	inGlobex := ssoSession("alice", "globex", time.Hour)
	acmeCookie := h.signIn(inAcme, "/dashboard/1")
	acmeKeys := h.mb.SessionKeys()

	h.mb.Reset()
	// The page load with the acme cookie, now in globex: a fresh sign-in.
	w := h.send("GET", testSSOPrefix+"/dashboard/1", inGlobex, cookieHeader(acmeCookie), "")
	if w.Code != http.StatusFound || w.Header().Get("Location") != testSSOPrefix+"/.tenantgate/sso?return_to=%2Fdashboard%2F1" {
		t.Fatalf("page with a stale cookie: %d %q", w.Code, w.Header().Get("Location"))
	}
	if !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("stale cookie not cleared: %q", w.Header().Get("Set-Cookie"))
	}
	// An API call with it: 401, never forwarded.
	w = h.send("POST", testSSOPrefix+"/api/card/3/query", inGlobex, cookieHeader(acmeCookie), `{}`)
	if w.Code != http.StatusUnauthorized || reason(w) != "sso-session-mismatch" {
		t.Errorf("API with a stale cookie: %d %s", w.Code, w.Body)
	}
	if n := len(h.mb.Requests()); n != 0 {
		t.Fatalf("the stale session reached Metabase %d times", n)
	}
	globexCookie := h.signIn(inGlobex, "/dashboard/1")
	u, ok := h.mb.User("alice+globex@sso.example")
	if !ok || u.Attributes["organization_id"] != "globex" {
		t.Fatalf("globex user %+v", u)
	}
	if old, _ := h.mb.User("alice+acme@sso.example"); old.Attributes["organization_id"] != "acme" {
		t.Errorf("the acme user's attributes changed: %+v", old)
	}
	w = h.send("POST", testSSOPrefix+"/api/card/3/query", inGlobex, cookieHeader(globexCookie), `{}`)
	if rows := queryRows(t, w); len(rows) != 1 || rows[0][0] != float64(statusTotal("globex")) {
		t.Errorf("count = %v, want globex's", rows)
	}
	assertUpstreamSessions(t, h, "globex", "alice+globex@sso.example")
	for _, r := range h.mb.Requests() {
		if slices.Contains(acmeKeys, r.Header.Get("X-Metabase-Session")) {
			t.Errorf("the acme session reached Metabase on %s", r.Path)
		}
	}
}

func statusTotal(tenant string) int {
	n := 0
	for _, c := range statusCounts(tenant) {
		n += c
	}
	return n
}

// When Metabase ends the session, an API call answers 401 and a page load
// signs in again.
func TestSSOMetabaseSessionEnded(t *testing.T) {
	h := newSSOHarness(t, nil)
	alice := ssoSession("alice", "acme", time.Hour)
	sealed := h.signIn(alice, "/")
	h.mb.EndSessions()
	w := h.send("GET", testSSOPrefix+"/api/user/current", alice, cookieHeader(sealed), "")
	if w.Code != http.StatusUnauthorized || reason(w) != "sso-session-expired" || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("API after Metabase's 401: %d %s %q", w.Code, w.Body, w.Header().Get("Set-Cookie"))
	}
	// The stand-in serves the app's page to anyone (as Metabase does), so a
	// 401 page load is simulated.
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/question/7" {
			http.Error(w, "Unauthenticated", http.StatusUnauthorized)
			return true
		}
		return false
	})
	w = h.send("GET", testSSOPrefix+"/question/7?a=1", alice, cookieHeader(sealed), "")
	if w.Code != http.StatusFound || w.Header().Get("Location") != testSSOPrefix+"/.tenantgate/sso?return_to=%2Fquestion%2F7%3Fa%3D1" {
		t.Errorf("page after Metabase's 401: %d %q %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	// An expired app session never uses the sealed one: sign in first.
	w = h.send("GET", testSSOPrefix+"/api/user/current", ssoSession("alice", "acme", -time.Minute), cookieHeader(sealed), "")
	if w.Code != http.StatusUnauthorized || reason(w) != "session-expired" {
		t.Errorf("expired app session: %d %s", w.Code, w.Body)
	}
}

func TestSSOSealedSessionBoundToAppSessionExpiry(t *testing.T) {
	h := newSSOHarness(t, nil)
	short := ssoSession("alice", "acme", 90*time.Second)
	w := h.send("GET", testSSOPrefix+"/.tenantgate/sso", short, nil, "")
	c := w.Result().Cookies()
	if w.Code != http.StatusFound || len(c) != 1 {
		t.Fatalf("sign-in: %d %v", w.Code, c)
	}
	if d := time.Until(c[0].Expires); d > 91*time.Second || d < 80*time.Second {
		t.Errorf("cookie expires in %s, want the app session's 90s", d)
	}
	sealer, err := auth.NewSealer([]string{testSealKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := sealer.OpenSession("cookie", c[0].Value)
	if err != nil || time.Until(sess.Expiry()) > 91*time.Second || sess.Tenant != "acme" || sess.Subject != "alice" {
		t.Errorf("sealed session %+v, %v", sess, err)
	}
}

func TestSSODataset(t *testing.T) {
	h := newSSOHarness(t, func(c *configs.Config) { c.SSO.Dataset = true })
	alice := ssoSession("alice", "acme", time.Hour)
	sealed := h.signIn(alice, "/")
	w := h.send("POST", testSSOPrefix+"/api/dataset", alice, cookieHeader(sealed), `{"database":1,"type":"query","query":{"source-table":10}}`)
	rows := queryRows(t, w)
	if len(rows) != 10 {
		t.Errorf("%d rows, want acme's 10", len(rows))
	}
	for _, r := range rows {
		if r[1] != "acme" {
			t.Errorf("row of %v", r[1])
		}
	}
	// A filter on another tenant finds nothing: the sandbox still applies.
	w = h.send("POST", testSSOPrefix+"/api/dataset", alice, cookieHeader(sealed), `{"database":1,"type":"query","query":{"source-table":10,"filter":["=",["field",102,null],"globex"]}}`)
	if rows := queryRows(t, w); len(rows) != 0 {
		t.Errorf("%d globex rows for acme", len(rows))
	}
	// Native SQL is refused to sandboxed users by Metabase.
	w = h.send("POST", testSSOPrefix+"/api/dataset", alice, cookieHeader(sealed), `{"database":1,"type":"native","native":{"query":"select * from orders"}}`)
	if w.Code != http.StatusForbidden {
		t.Errorf("native query: %d", w.Code)
	}
	assertUpstreamSessions(t, h, "acme", "alice+acme@tenantgate.invalid")
}

func TestSSOCookieAttributes(t *testing.T) {
	h := newSSOHarness(t, func(c *configs.Config) { c.SSO.CookieSameSite = "none"; c.SSO.Partitioned = true })
	w := h.send("GET", testSSOPrefix+"/.tenantgate/sso", ssoSession("alice", "acme", time.Hour), nil, "")
	set := w.Header().Get("Set-Cookie")
	for _, want := range []string{"SameSite=None", "Secure", "Partitioned", "HttpOnly"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %s", set, want)
		}
	}
}

// The email template decides who the Metabase user is; a session whose
// template gives no address is refused before Metabase is asked.
func TestSSOEmailTemplateWithoutAddress(t *testing.T) {
	h := newSSOHarness(t, func(c *configs.Config) {
		c.SSO.EmailTemplate = "{{ .Claims.work_email }}.{{ .Subject }}+{{ .Tenant }}@sso.example"
	})
	w := h.send("GET", testSSOPrefix+"/.tenantgate/sso", ssoSession("alice", "acme", time.Hour), nil, "")
	if w.Code != http.StatusForbidden || reason(w) != "claim-missing" {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	if n := len(h.mb.Requests()); n != 0 {
		t.Errorf("Metabase asked %d times", n)
	}
}

// With SSO off, none of its routes exist.
func TestSSOOffRoutesRefused(t *testing.T) {
	h := newHarness(t, nil)
	for _, target := range []string{"/.tenantgate/sso", "/.tenantgate/sdk/jwt?response=json", "/api/user/current", "/dashboard/1"} {
		w := h.do("GET", target, session("alice", "acme", time.Hour), http.Header{"X-Metabase-Client": {sdkClient}})
		if w.Code != http.StatusForbidden || reason(w) != "route-not-allowed" {
			t.Errorf("%s: %d %s", target, w.Code, w.Body)
		}
	}
	w := h.do("GET", "/auth/sso", session("alice", "acme", time.Hour), http.Header{"X-Metabase-Client": {sdkClient}})
	if w.Code != http.StatusForbidden {
		t.Errorf("/auth/sso: %d", w.Code)
	}
}

// TestSSOQueriesAreNeverShared: an SSO user's answer depends on the
// Metabase user (sandboxes, permissions), so neither merging nor the
// micro-cache ever share it: identical queries, sequential or concurrent,
// each reach Metabase.
func TestSSOQueriesAreNeverShared(t *testing.T) {
	h := newSSOHarness(t, func(c *configs.Config) { c.Protect.MicroCacheTTL = 5 * time.Second })
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/card/3/query" {
			time.Sleep(30 * time.Millisecond) // long enough for concurrent calls to overlap
		}
		return false
	})
	alice := ssoSession("alice", "acme", time.Hour)
	sealed := h.signIn(alice, "/dashboard/1")
	queries := func() int {
		n := 0
		for _, r := range h.mb.Requests() {
			if r.Path == "/api/card/3/query" {
				n++
			}
		}
		return n
	}
	ask := func() {
		w := h.send("POST", testSSOPrefix+"/api/card/3/query", alice, cookieHeader(sealed), `{}`)
		queryRows(t, w)
		if m := w.Header().Get("X-Tenantgate-Merged"); m != "" {
			t.Errorf("an SSO answer was shared (X-Tenantgate-Merged: %s)", m)
		}
	}
	for i := 0; i < 3; i++ {
		ask()
	}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); ask() }()
	}
	wg.Wait()
	if n := queries(); n != 13 {
		t.Errorf("Metabase ran %d of 13 identical SSO queries: some were shared", n)
	}
}

// TestSDKDiscoveryOrigin: the discovery's url is absolute, on the public
// origin from configuration or a trusted proxy's forwarding headers, never
// the client's Host or a spoofed header; with neither it fails closed.
func TestSDKDiscoveryOrigin(t *testing.T) {
	const trusted, outside = "10.1.2.3:5000", "192.0.2.7:5000"
	tests := []struct {
		name       string
		publicURL  string
		remote     string
		hdr        http.Header
		wantStatus int
		wantURL    string
	}{
		{"public URL", testPublicURL, outside, nil, 200, testPublicURL + "/analytics/.tenantgate/sdk/jwt"},
		{"public URL beats a trusted proxy's headers", testPublicURL, trusted,
			http.Header{"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"other.example"}}, 200, testPublicURL + "/analytics/.tenantgate/sdk/jwt"},
		{"trusted proxy's headers", "", trusted,
			http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"BI.example:8443"}}, 200, "https://bi.example:8443/analytics/.tenantgate/sdk/jwt"},
		{"trusted proxy, IPv6 host", "", trusted,
			http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"[2001:db8::1]:443"}}, 200, "https://[2001:db8::1]:443/analytics/.tenantgate/sdk/jwt"},
		{"no public URL, client's Host only", "", outside, http.Header{"Host": {"evil.example"}}, 500, ""},
		{"spoofed headers from outside", "", outside,
			http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"}}, 500, ""},
		{"trusted proxy, no proto", "", trusted, http.Header{"X-Forwarded-Host": {"bi.example"}}, 500, ""},
		{"trusted proxy, two hosts", "", trusted,
			http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"bi.example", "evil.example"}}, 500, ""},
		{"trusted proxy, host with a path", "", trusted,
			http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example/x"}}, 500, ""},
		{"trusted proxy, host with user info", "", trusted,
			http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"bi.example@evil.example"}}, 500, ""},
		{"trusted proxy, bad port", "", trusted,
			http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"bi.example:0"}}, 500, ""},
		{"trusted proxy, javascript proto", "", trusted,
			http.Header{"X-Forwarded-Proto": {"javascript"}, "X-Forwarded-Host": {"bi.example"}}, 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newSSOHarness(t, func(c *configs.Config) { c.PublicURL, c.TrustedProxies = tt.publicURL, []string{"10.0.0.0/8"} })
			r := httptest.NewRequest("GET", testSSOPrefix+"/auth/sso?preferred_method=jwt", nil)
			r.RemoteAddr = tt.remote
			for k, vs := range tt.hdr {
				if k == "Host" {
					r.Host = vs[0]
					continue
				}
				r.Header[k] = vs
			}
			r.Header.Set("X-Metabase-Client", sdkClient)
			r.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: ssoSession("bob", "globex", time.Hour)})
			w := httptest.NewRecorder()
			h.stack.Gate.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus != 200 {
				if got := reason(w); got != "public-url-unknown" {
					t.Errorf("reason = %q, want public-url-unknown", got)
				}
				if tt.publicURL == "" && h.logs.FilterMessageSnippet("no TENANTGATE_PUBLIC_URL: the SDK's discovery").Len() != 1 {
					t.Error("no start-up warning about the missing public URL")
				}
				return
			}
			var got struct{ URL, Method string }
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.URL != tt.wantURL || got.Method != "jwt" {
				t.Errorf("discovery = %s, want url %s", w.Body, tt.wantURL)
			}
			if _, err := url.Parse(got.URL); err != nil || !strings.HasPrefix(got.URL, "http") {
				t.Errorf("url %q is not absolute", got.URL)
			}
		})
	}
}

// sdkTicket asks the gate's JWT provider for a ticket for sess.
func (h *harness) sdkTicket(sess string) string {
	h.t.Helper()
	w := h.send("GET", testSSOPrefix+"/.tenantgate/sdk/jwt?response=json", sess, nil, "")
	var tk struct{ JWT string }
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &tk) != nil || tk.JWT == "" {
		h.t.Fatalf("JWT provider: %d %s", w.Code, w.Body)
	}
	return tk.JWT
}

// TestSSOAuthPOST: POST /auth/sso with {"jwt": ticket}, as the 2026 SDK
// sends it, takes the same checks as GET, a strict body, and a ticket
// only once (by POST or GET); nothing refused reaches Metabase.
func TestSSOAuthPOST(t *testing.T) {
	h := newSSOHarness(t, nil)
	alice, bob := ssoSession("alice", "acme", time.Hour), ssoSession("bob", "globex", time.Hour)
	sdk := func(ct string) http.Header {
		hd := http.Header{"X-Metabase-Client": {sdkClient}}
		if ct != "" {
			hd.Set("Content-Type", ct)
		}
		return hd
	}
	body := func(tk string) string { b, _ := json.Marshal(map[string]string{"jwt": tk}); return string(b) }
	spent := h.sdkTicket(alice)
	if w := h.send("POST", testSSOPrefix+"/auth/sso", alice, sdk("application/json"), body(spent)); w.Code != http.StatusOK {
		t.Fatalf("first use of a ticket: %d %s", w.Code, w.Body)
	}
	tests := []struct {
		name       string
		sess       string
		target     string
		hdr        http.Header
		body       func() string
		wantStatus int
		wantReason string
	}{
		{"own ticket", alice, "/auth/sso", sdk("application/json"), func() string { return body(h.sdkTicket(alice)) }, 200, ""},
		{"own ticket, charset utf-8, embed.js", alice, "/auth/sso",
			http.Header{"X-Metabase-Client": {"embedding-simple"}, "Content-Type": {"application/json; charset=UTF-8"}},
			func() string { return " {\"jwt\" : " + strconv.Quote(h.sdkTicket(alice)) + "}\n" }, 200, ""},
		{"replayed ticket by POST", alice, "/auth/sso", sdk("application/json"), func() string { return body(spent) }, 403, "sso-token-invalid"},
		{"replayed ticket by GET", alice, "/auth/sso?jwt=" + url.QueryEscape(spent), sdk(""), func() string { return "" }, 403, "sso-token-invalid"},
		{"another tenant's ticket", bob, "/auth/sso", sdk("application/json"), func() string { return body(h.sdkTicket(alice)) }, 403, "tenant-mismatch"},
		{"a ticket in the query too", alice, "/auth/sso?jwt=x", sdk("application/json"), func() string { return body(h.sdkTicket(alice)) }, 400, "param-not-allowed"},
		{"from a browser", alice, "/auth/sso", http.Header{"Content-Type": {"application/json"}}, func() string { return body(h.sdkTicket(alice)) }, 403, "route-not-allowed"},
		{"no Content-Type", alice, "/auth/sso", sdk(""), func() string { return body(h.sdkTicket(alice)) }, 400, "malformed-request"},
		{"form Content-Type", alice, "/auth/sso", sdk("application/x-www-form-urlencoded"), func() string { return "jwt=" + h.sdkTicket(alice) }, 400, "malformed-request"},
		{"other charset", alice, "/auth/sso", sdk("application/json; charset=utf-16"), func() string { return body(h.sdkTicket(alice)) }, 400, "malformed-request"},
		{"unknown key", alice, "/auth/sso", sdk("application/json"), func() string {
			return `{"jwt":` + strconv.Quote(h.sdkTicket(alice)) + `,"return_to":"/"}`
		}, 400, "malformed-request"},
		{"two jwt keys", alice, "/auth/sso", sdk("application/json"), func() string {
			return `{"jwt":` + strconv.Quote(h.sdkTicket(alice)) + `,"jwt":` + strconv.Quote(h.sdkTicket(bob)) + `}`
		}, 400, "malformed-request"},
		{"jwt not a string", alice, "/auth/sso", sdk("application/json"), func() string { return `{"jwt":{"t":"x"}}` }, 400, "malformed-request"},
		{"empty jwt", alice, "/auth/sso", sdk("application/json"), func() string { return `{"jwt":""}` }, 400, "malformed-request"},
		{"empty object", alice, "/auth/sso", sdk("application/json"), func() string { return `{}` }, 400, "malformed-request"},
		{"a second value after it", alice, "/auth/sso", sdk("application/json"), func() string { return body(h.sdkTicket(alice)) + "{}" }, 400, "malformed-request"},
		{"an array", alice, "/auth/sso", sdk("application/json"), func() string { return `[` + body(h.sdkTicket(alice)) + `]` }, 400, "malformed-request"},
		{"too large", alice, "/auth/sso", sdk("application/json"), func() string { return `{"jwt":"` + strings.Repeat("A", 9000) + `"}` }, 431, "request-too-large"},
		{"a forged ticket", alice, "/auth/sso", sdk("application/json"), func() string { return body("eyJhbGciOiJIUzI1NiJ9.e30.sig") }, 403, "sso-token-invalid"},
		{"no app session", "", "/auth/sso", sdk("application/json"), func() string { return body(h.sdkTicket(alice)) }, 401, "no-session"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			b := tt.body()
			h.mb.Reset()
			method := "POST"
			if b == "" {
				method = "GET"
			}
			w := h.send(method, testSSOPrefix+tt.target, tt.sess, tt.hdr, b)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			ex := ssoExchanges(t, h)
			if tt.wantStatus != 200 {
				if got := reason(w); got != tt.wantReason {
					t.Errorf("reason = %q, want %q", got, tt.wantReason)
				}
				if len(ex) != 0 {
					t.Errorf("a refused POST reached Metabase's /auth/sso %d times", len(ex))
				}
				return
			}
			var s sdkSession
			if json.Unmarshal(w.Body.Bytes(), &s) != nil || s.Status != "ok" || s.ID == "" || s.Exp == 0 {
				t.Errorf("session answer %s", w.Body)
			}
			if len(ex) != 1 {
				t.Errorf("exchanges = %d, want 1", len(ex))
			}
		})
	}
}

// TestSSOExchangeMethod: the gate's own SDK exchange posts the SSO JWT in a
// JSON body (never in Metabase's URL) when Metabase serves POST, and falls
// back to GET for a Metabase that refuses it (auto: once, then GET only);
// the interactive sign-in always uses GET.
func TestSSOExchangeMethod(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		refusePOST bool
		want       [][]string // per SDK sign-in, the methods of its exchanges
		wantOK     bool
		wantWarn   int
	}{
		{"auto, current Metabase", "auto", false, [][]string{{"POST"}, {"POST"}}, true, 0},
		{"auto, Metabase before 2026", "auto", true, [][]string{{"POST", "GET"}, {"GET"}}, true, 1},
		{"post, current Metabase", "post", false, [][]string{{"POST"}, {"POST"}}, true, 0},
		{"post, Metabase before 2026", "post", true, [][]string{{"POST"}, {"POST"}}, false, 0},
		{"get, current Metabase", "get", false, [][]string{{"GET"}, {"GET"}}, true, 0},
		{"auto, Metabase of 2025 (the hash era: a 302 with the cookie)", "auto", true, [][]string{{"POST", "GET"}, {"GET"}}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mb := metabasetest.SSOOptions{RefusePOST: tt.refusePOST, HashEra: strings.Contains(tt.name, "hash era")}
			h := newSSOHarnessMB(t, mb, func(c *configs.Config) { c.SSO.ExchangeMethod = tt.method })
			bob := ssoSession("bob", "globex", time.Hour)
			for i, want := range tt.want {
				h.mb.Reset()
				tk := h.sdkTicket(bob)
				w := h.send("POST", testSSOPrefix+"/auth/sso", bob, http.Header{"X-Metabase-Client": {sdkClient}, "Content-Type": {"application/json"}},
					`{"jwt":`+strconv.Quote(tk)+`}`)
				if (w.Code == http.StatusOK) != tt.wantOK {
					t.Fatalf("sign-in %d: %d %s", i, w.Code, w.Body)
				}
				if !tt.wantOK && reason(w) != "sso-exchange-failed" {
					t.Errorf("reason = %q, want sso-exchange-failed", reason(w))
				}
				var got []string
				for _, ex := range ssoExchanges(t, h) {
					got = append(got, ex.Method)
					if ex.Method == "POST" && (ex.RawQuery != "" || ex.Header.Get("Content-Type") != "application/json") {
						t.Errorf("POST exchange with query %q, Content-Type %q", ex.RawQuery, ex.Header.Get("Content-Type"))
					}
					if _, claims := verifyHS256(t, jwtOf(t, ex), testSSOSecret); claims["organization_id"] != "globex" {
						t.Errorf("exchanged claims %v", claims)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("sign-in %d: exchanges %v, want %v", i, got, want)
				}
				if tt.wantOK { // the handle works: Metabase's session is the caller's
					var sess sdkSession
					_ = json.Unmarshal(w.Body.Bytes(), &sess)
					if w := h.send("GET", testSSOPrefix+"/api/user/current", bob, sdkHeader(sess.ID), ""); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "bob+globex@") {
						t.Errorf("sign-in %d: the handle gives %d %s", i, w.Code, w.Body)
					}
				}
			}
			if n := h.logs.FilterMessageSnippet("Metabase refuses POST /auth/sso").Len(); n != tt.wantWarn {
				t.Errorf("%d fallback warnings, want %d", n, tt.wantWarn)
			}
			// The interactive sign-in needs Metabase's 302: always GET.
			h.mb.Reset()
			h.signIn(bob, "/dashboard/1")
			if ex := ssoExchanges(t, h); len(ex) != 1 || ex[0].Method != "GET" || !strings.Contains(ex[0].RawQuery, "return_to=") {
				t.Errorf("interactive exchange %+v", ex)
			}
		})
	}
}

// TestSSOClients: the handshake serves the React SDK (embedding-sdk-react)
// and embed.js (embedding-simple) and hands Metabase the same client, so
// Metabase applies that flavour's switch; any other X-Metabase-Client is
// refused before Metabase.
func TestSSOClients(t *testing.T) {
	tests := []struct {
		name, client string
		mb           metabasetest.SSOOptions
		wantStatus   int
		wantReason   string
	}{
		{"React SDK", "embedding-sdk-react", metabasetest.SSOOptions{}, 200, ""},
		{"embed.js", "embedding-simple", metabasetest.SSOOptions{}, 200, ""},
		{"embed.js, off in Metabase", "embedding-simple", metabasetest.SSOOptions{SimpleDisabled: true}, 502, "sso-exchange-failed"},
		{"React SDK, off in Metabase", "embedding-sdk-react", metabasetest.SSOOptions{SDKDisabled: true}, 502, "sso-exchange-failed"},
		{"no client (the browser flow)", "", metabasetest.SSOOptions{}, 403, "route-not-allowed"},
		{"another client", "embedding-iframe", metabasetest.SSOOptions{}, 403, "route-not-allowed"},
		{"a client in another case", "Embedding-SDK-React", metabasetest.SSOOptions{}, 403, "route-not-allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newSSOHarnessMB(t, tt.mb, nil)
			bob := ssoSession("bob", "globex", time.Hour)
			hdr := http.Header{"Content-Type": {"application/json"}, "X-Metabase-Client-Version": {"0.55.5"}}
			if tt.client != "" {
				hdr.Set("X-Metabase-Client", tt.client)
			}
			disc := h.send("GET", testSSOPrefix+"/auth/sso?preferred_method=jwt", bob, hdr, "")
			w := h.send("POST", testSSOPrefix+"/auth/sso", bob, hdr, `{"jwt":`+strconv.Quote(h.sdkTicket(bob))+`}`)
			if w.Code != tt.wantStatus || (tt.wantReason != "" && reason(w) != tt.wantReason) {
				t.Fatalf("exchange: %d %s, want %d %s", w.Code, reason(w), tt.wantStatus, tt.wantReason)
			}
			ex := ssoExchanges(t, h)
			if tt.wantStatus == 403 {
				if disc.Code != 403 || len(ex) != 0 {
					t.Errorf("discovery %d, %d exchanges with Metabase", disc.Code, len(ex))
				}
				return
			}
			if disc.Code != 200 {
				t.Errorf("discovery: %d %s", disc.Code, disc.Body)
			}
			if len(ex) != 1 || ex[0].Header.Get("X-Metabase-Client") != tt.client || ex[0].Header.Get("X-Metabase-Client-Version") != "0.55.5" {
				t.Errorf("Metabase's exchanges %+v", ex)
			}
		})
	}
}

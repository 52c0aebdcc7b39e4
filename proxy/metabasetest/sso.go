package metabasetest

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// JWT SSO, sessions and the part of the authenticated API that interactive
// embedding and the embedding SDK use (contract §3, §4, §5): GET /auth/sso
// in its browser and SDK variants, a session store with Metabase's lookup
// order, GET /api/user/current, GET /api/card/{id}, POST
// /api/card/{id}/query, GET /api/dashboard/{id}, POST
// /api/dashboard/{id}/dashcard/{dc}/card/{c}/query and POST /api/dataset,
// with sandboxing of the orders table by a user attribute.

// SSOOptions configure the stand-in's JWT SSO. The zero value is a Metabase
// without JWT SSO: /auth/sso answers 400 error-sso-disabled.
type SSOOptions struct {
	// SharedSecret is jwt-shared-secret; the HMAC key is its UTF-8 bytes.
	// Empty: JWT SSO is not enabled.
	SharedSecret string
	// IdentityProviderURI is jwt-identity-provider-uri.
	IdentityProviderURI string
	// GroupSync is jwt-group-sync: with a groups claim, memberships follow
	// it (through GroupMappings, or by group name without mappings).
	GroupSync bool
	// GroupMappings is jwt-group-mappings: JWT group name → group ids.
	GroupMappings map[string][]int
	// ProvisioningDisabled turns jwt-user-provisioning-enabled? off:
	// unknown emails are refused.
	ProvisioningDisabled bool
	// SDKDisabled turns the React SDK off (402 on its /auth/sso calls);
	// SimpleDisabled the same for embed.js.
	SDKDisabled, SimpleDisabled bool
	// MaxSessionAge is MB_MAX_SESSION_AGE; 0 means 14 days.
	MaxSessionAge time.Duration
	// Tenants is the use-tenants setting (first-class tenants, Pro/EE):
	// a JWT's @tenant (a slug) puts its user in that tenant, created on
	// first use with the JWT's @tenant.attributes. Off, a JWT that names a
	// tenant is refused.
	Tenants bool
	// RefusePOST is Metabase before 2026: POST /auth/sso is refused for
	// JWT (501 error-post-jwt-not-valid), GET is the only exchange
	// (ssopost.go).
	RefusePOST bool
	// HashEra is Metabase ≈0.53–0.56 (2025): the SDK's discovery also
	// answers a single-use "hash", and the JSON session answer comes only
	// to a request that sends it back in X-Metabase-SDK-JWT-Hash; without
	// it the SDK's exchange gets the browser flow's 302 and cookie
	// (ssopost.go). Such a Metabase also refuses POST: set RefusePOST.
	HashEra bool
}

// Texts of SSO and the session API.
const (
	msgSSODisabled      = "SSO has not been enabled and/or configured"
	msgInvalidRedirect  = "Invalid redirect URL"
	msgMissingEmail     = "JWT token missing email claim"
	msgTooOld           = "Token is older than max-age (180)"
	msgAlgMismatch      = "Algorithm mismatch"
	msgNoPermission     = "You don't have permissions to do that."
	msgSDKDisabled      = "Embedding SDK for React is disabled. Enable it in the embedding settings."
	msgSimpleDisabled   = "You need to turn on modular embedding in the embedding settings."
	msgNoAccount        = "Sorry, but you'll need a metabase-stand-in account to view this page. Please contact your administrator."
	msgTenantsDisabled  = "Tenants and tenant users are disabled."
	msgTenantNotString  = "Value of `@tenant` must be a string"
	msgTenantInternal   = "Cannot add tenant claim to internal user"
	msgTenantRequired   = "Tenant claim required for external user"
	msgTenantMismatch   = "Tenant ID mismatch with existing user"
	msgTenantSlug       = "Invalid tenant slug"
	ssoMaxAge           = 180
	defaultMaxSessionMB = 14 * 24 * time.Hour
)

// SSOUser is a Metabase user the stand-in provisioned through SSO.
type SSOUser struct {
	ID                  int
	Email               string
	FirstName, LastName string
	// Attributes are the user's jwt_attributes, replaced at every login.
	Attributes map[string]string
	// LoginAttributes are attributes an admin set by hand
	// (login_attributes); since Metabase PR 61458 they beat the JWT's.
	LoginAttributes map[string]string
	// GroupIDs are the groups besides All Users, sorted.
	GroupIDs []int
	// Tenant is the slug of the user's tenant; "" for an internal user.
	Tenant string
	// Effective are the attributes sandboxes read when the copy was made:
	// the tenant's attributes and @tenant.slug, overridden by Attributes.
	// Metabase reads them at request time, so a later sign-in that rewrites
	// Attributes changes what every session of the user sees.
	Effective map[string]string
}

// TenantInfo is a first-class tenant the stand-in created through SSO.
type TenantInfo struct {
	Slug string
	// Attributes are set when the tenant is created; a later JWT adds
	// keys the tenant lacks and never overwrites a value.
	Attributes map[string]string
}

// Superuser reports membership of the Administrators group.
func (u SSOUser) Superuser() bool { return slices.Contains(u.GroupIDs, GroupAdministrators) }

type ssoSession struct {
	userID  int
	created time.Time
}

// ssoState is the user, tenant and session store; its zero value is empty.
type ssoState struct {
	mu       sync.Mutex
	users    []*SSOUser
	tenants  map[string]*TenantInfo
	sessions map[string]ssoSession
	issued   []string
	hashes   map[string]bool // the hash era's discovery hashes (ssopost.go)
}

func (st *ssoState) userByEmail(email string) *SSOUser {
	for _, u := range st.users {
		if strings.EqualFold(u.Email, email) {
			return u
		}
	}
	return nil
}

func (st *ssoState) userByID(id int) *SSOUser {
	for _, u := range st.users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

// copyUserLocked copies u with its effective attributes as of now, the way
// Metabase's add-attributes merges them per request: tenant attributes
// (with @tenant.slug), then jwt_attributes, then login_attributes on top.
func (s *Server) copyUserLocked(u *SSOUser) SSOUser {
	c := *u
	c.Attributes = maps.Clone(u.Attributes)
	if c.Attributes == nil {
		c.Attributes = map[string]string{}
	}
	c.LoginAttributes = maps.Clone(u.LoginAttributes)
	c.GroupIDs = slices.Clone(u.GroupIDs)
	c.Effective = map[string]string{}
	if t := s.sso.tenants[u.Tenant]; s.opts.SSO.Tenants && t != nil {
		maps.Copy(c.Effective, t.Attributes)
		c.Effective["@tenant.slug"] = t.Slug
	}
	maps.Copy(c.Effective, u.Attributes)
	maps.Copy(c.Effective, u.LoginAttributes)
	return c
}

// SetLoginAttributes sets the attributes an admin gives the user of email
// by hand, as PUT /api/user/{id} does; they beat the JWT's at every
// request. It reports whether the user exists.
func (s *Server) SetLoginAttributes(email string, attrs map[string]string) bool {
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	u := s.sso.userByEmail(email)
	if u != nil {
		u.LoginAttributes = maps.Clone(attrs)
	}
	return u != nil
}

// User returns the SSO user with email (any case).
func (s *Server) User(email string) (SSOUser, bool) {
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	if u := s.sso.userByEmail(email); u != nil {
		return s.copyUserLocked(u), true
	}
	return SSOUser{}, false
}

// Users returns every SSO user, in creation order.
func (s *Server) Users() []SSOUser {
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	out := make([]SSOUser, 0, len(s.sso.users))
	for _, u := range s.sso.users {
		out = append(out, s.copyUserLocked(u))
	}
	return out
}

// Tenant returns the tenant with slug.
func (s *Server) Tenant(slug string) (TenantInfo, bool) {
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	if t := s.sso.tenants[slug]; t != nil {
		return TenantInfo{Slug: t.Slug, Attributes: maps.Clone(t.Attributes)}, true
	}
	return TenantInfo{}, false
}

// SessionUser returns the user a session key belongs to, if the session is
// alive.
func (s *Server) SessionUser(key string) (SSOUser, bool) {
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	if u := s.sessionUserLocked(key); u != nil {
		return s.copyUserLocked(u), true
	}
	return SSOUser{}, false
}

// SessionKeys returns every session key the stand-in ever issued, so tests
// can check that none reached a browser.
func (s *Server) SessionKeys() []string {
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	return slices.Clone(s.sso.issued)
}

// EndSessions ends every session, as an idle timeout or a logout would:
// from then on they answer 401 Unauthenticated.
func (s *Server) EndSessions() {
	s.sso.mu.Lock()
	s.sso.sessions = nil
	s.sso.mu.Unlock()
}

func (s *Server) sessionUserLocked(key string) *SSOUser {
	sess, ok := s.sso.sessions[key]
	if !ok {
		return nil
	}
	age := s.opts.SSO.MaxSessionAge
	if age == 0 {
		age = defaultMaxSessionMB
	}
	if s.now().Sub(sess.created) >= age {
		return nil
	}
	return s.sso.userByID(sess.userID)
}

// sessionKey finds the session key of r in Metabase's order: the embedded
// cookie (only with the anti-CSRF header), then metabase.SESSION, then the
// X-Metabase-Session header. The first one present is the one used, valid
// or not: a stray cookie beats a good header.
func sessionKey(r *http.Request) (string, bool) {
	if c, err := r.Cookie("metabase.EMBEDDED_SESSION"); err == nil && r.Header.Get("X-Metabase-Anti-Csrf-Token") != "" {
		// The stand-in never issues embedded sessions (password login from
		// an iframe), so this key is never valid; it still wins the lookup.
		return "embedded:" + c.Value, true
	}
	if c, err := r.Cookie("metabase.SESSION"); err == nil {
		return c.Value, true
	}
	if v := r.Header.Get("X-Metabase-Session"); v != "" {
		return v, true
	}
	return "", false
}

// serveSSO answers /auth/sso, the app's pages and the session API; it
// reports false for everything else (the static-embedding surface and the
// API-key admin API).
func (s *Server) serveSSO(w http.ResponseWriter, r *http.Request, path string) bool {
	switch {
	case path == "/auth/sso":
		s.serveAuthSSO(w, r)
		return true
	case strings.HasPrefix(path, "/api/"):
		return s.serveSessionAPI(w, r, path)
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && appPage(path) && s.opts.SSO.SharedSecret != "":
		// The app is a single page served to anyone; it finds out who is
		// signed in from /api/user/current. Without SSO the stand-in models
		// static embedding only, and the app's pages are not found.
		nonce := newNonce()
		s.securityHeaders(w.Header(), false, nonce)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `<!doctype html><html><head><meta charset="utf-8"><title>Metabase</title></head><body><div id="root"></div><script nonce="`+nonce+`">window.MetabaseBootstrap={};</script></body></html>`)
		return true
	}
	return false
}

// appPage reports whether path is a page of the full Metabase app.
func appPage(path string) bool {
	if path == "/" || path == "/search" {
		return true
	}
	for _, p := range []string{"/dashboard/", "/question/", "/collection/"} {
		if strings.HasPrefix(path, p) && len(path) > len(p) {
			return true
		}
	}
	return false
}

// serveAuthSSO is GET /auth/sso with JWT as the only SSO method.
func (s *Server) serveAuthSSO(w http.ResponseWriter, r *http.Request) {
	o := s.opts.SSO
	h := w.Header()
	s.securityHeaders(h, false, "")
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodGet:
	case http.MethodPost:
		if !s.acceptSSOPost(w, r) { // ssopost.go
			return
		}
	default:
		writeText(w, http.StatusNotFound, msgNoEndpoint)
		return
	}
	if o.SharedSecret == "" {
		writeSSOError(w, http.StatusBadRequest, msgSSODisabled, "error-sso-disabled")
		return
	}
	client := r.Header.Get("X-Metabase-Client")
	sdk := client == "embedding-sdk-react" || client == "embedding-simple"
	switch {
	case client == "embedding-sdk-react" && o.SDKDisabled:
		writeSSOError(w, http.StatusPaymentRequired, msgSDKDisabled, "error-embedding-sdk-disabled")
		return
	case client == "embedding-simple" && o.SimpleDisabled:
		writeSSOError(w, http.StatusPaymentRequired, msgSimpleDisabled, "error-embedding-simple-disabled")
		return
	}
	q := ssoParams(r) // the query, and a POST's JSON body (ssopost.go)
	jwt := q.Get("jwt")
	if jwt == "" {
		if sdk {
			writeJSON(w, http.StatusOK, s.withHash(map[string]any{"url": o.IdentityProviderURI, "method": "jwt"})) // ssopost.go
			return
		}
		loc := o.IdentityProviderURI
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		h.Set("Location", loc+sep+"return_to="+url.QueryEscape(q.Get("redirect")))
		w.WriteHeader(http.StatusFound)
		return
	}
	returnTo := "/"
	if !sdk {
		rt := q.Get("return_to")
		if rt != "" {
			u, err := url.Parse(rt)
			if err != nil || (u.IsAbs() || u.Host != "") && u.Hostname() != s.siteHost() { // check-sso-redirect: the site URL's host
				writeText(w, http.StatusBadRequest, msgInvalidRedirect)
				return
			}
			returnTo = rt
		}
	}
	claims, msg := s.verifySSOJWT(jwt)
	if msg != "" {
		writeText(w, http.StatusUnauthorized, msg)
		return
	}
	if !validTenantClaim(claims) {
		writeText(w, http.StatusBadRequest, msgTenantNotString)
		return
	}
	email, _ := claims["email"].(string)
	if email == "" {
		writeText(w, http.StatusUnauthorized, msgMissingEmail)
		return
	}
	key, status, msg := s.login(email, claims)
	if status != 0 {
		writeText(w, status, msg)
		return
	}
	if sdk && s.hashAccepted(r) { // ssopost.go: a Metabase of the hash era needs the discovery's hash
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "id": key, "exp": claims["exp"], "iat": claims["iat"]})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "metabase.SESSION", Value: key, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.SetCookie(w, &http.Cookie{Name: "metabase.TIMEOUT", Value: "alive", Path: "/", SameSite: http.SameSiteLaxMode, MaxAge: 1209600})
	if _, err := r.Cookie("metabase.DEVICE"); err != nil {
		http.SetCookie(w, &http.Cookie{Name: "metabase.DEVICE", Value: newUUID(), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 630720000})
	}
	h.Set("Location", returnTo)
	w.WriteHeader(http.StatusFound)
}

// writeSSOError is the JSON error of /auth/sso, readable by the SDK from
// any origin.
func writeSSOError(w http.ResponseWriter, status int, msg, code string) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeJSON(w, status, map[string]any{"message": msg, "status": code})
}

// verifySSOJWT checks an SSO JWT as buddy's unsign with max-age 180 does:
// the header must say HS256, the signature must verify with the shared
// secret, exp (exp <= now is expired) and nbf are checked without leeway,
// and an iat older than 180 s is refused (no iat, no age check). It returns
// the claims, numbers as json.Number, or the 401 message.
func (s *Server) verifySSOJWT(tok string) (map[string]any, string) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, msgCorrupt
	}
	hb, err := strictBase64(parts[0])
	if err != nil {
		return nil, msgCorruptPayload
	}
	var header map[string]any
	if decodeFirst(hb, &header) != nil {
		return nil, msgCorruptPayload
	}
	if header["alg"] != "HS256" {
		return nil, msgAlgMismatch
	}
	sig, err := strictBase64(parts[2])
	if err != nil || !hmac.Equal(sig, mac(s.opts.SSO.SharedSecret, parts[0]+"."+parts[1])) {
		return nil, msgCorrupt
	}
	pb, err := strictBase64(parts[1])
	if err != nil {
		return nil, msgCorruptPayload
	}
	var claims map[string]any
	if decodeFirst(pb, &claims) != nil || claims == nil {
		return nil, msgCorruptPayload
	}
	now := s.now().Unix()
	num := func(k string) (int64, bool, string) {
		v, ok := claims[k]
		if !ok || v == nil {
			return 0, false, ""
		}
		n, isNum := v.(json.Number)
		f, err := strconv.ParseFloat(string(n), 64)
		if !isNum || err != nil {
			return 0, false, classCastToNumber(v)
		}
		return int64(f), true, ""
	}
	if exp, ok, bad := num("exp"); bad != "" {
		return nil, bad
	} else if ok && exp <= now {
		return nil, fmt.Sprintf("Token is expired (%d)", exp)
	}
	if nbf, ok, bad := num("nbf"); bad != "" {
		return nil, bad
	} else if ok && now < nbf {
		return nil, fmt.Sprintf("Token is not yet valid (%d)", nbf)
	}
	if iat, ok, bad := num("iat"); bad != "" {
		return nil, bad
	} else if ok && now-iat > ssoMaxAge {
		return nil, msgTooOld
	}
	return claims, ""
}

// registeredClaims and mappedClaims never become user attributes.
var (
	registeredClaims = []string{"iss", "iat", "sub", "aud", "exp", "nbf", "jti"}
	mappedClaims     = []string{"email", "first_name", "last_name", "groups"}
)

// login provisions or updates the user of email from claims and opens a
// session, as Metabase's JWT provider does: users are keyed by email (any
// case), and an existing user's names and jwt_attributes are replaced by
// the JWT's. It returns the session key, or the status and text of the
// refusal: unknown user with provisioning off, or a tenant claim that does
// not fit (tenants off; an internal user given a tenant; a tenant user
// without one or under another tenant).
func (s *Server) login(email string, claims map[string]any) (key string, status int, msg string) {
	st := &s.sso
	st.mu.Lock()
	defer st.mu.Unlock()
	slug := tenantSlug(claims)
	u := st.userByEmail(email)
	if u == nil && s.opts.SSO.ProvisioningDisabled {
		return "", http.StatusUnauthorized, msgNoAccount
	}
	if status, msg := s.checkTenantLocked(u, slug); status != 0 {
		return "", status, msg
	}
	if slug != "" {
		if _, exists := st.tenants[slug]; !exists && !tenantSlugRE.MatchString(slug) {
			return "", http.StatusBadRequest, msgTenantSlug
		}
		s.upsertTenantLocked(slug, claims["@tenant.attributes"])
	}
	if u == nil {
		u = &SSOUser{ID: 100 + len(st.users), Email: email, Tenant: slug}
		st.users = append(st.users, u)
	}
	if v, ok := claims["first_name"].(string); ok {
		u.FirstName = v
	}
	if v, ok := claims["last_name"].(string); ok {
		u.LastName = v
	}
	attrs := map[string]any{}
	for k, v := range claims {
		if !slices.Contains(registeredClaims, k) && !slices.Contains(mappedClaims, k) {
			attrs[k] = v
		}
	}
	u.Attributes = stringifyAttributes(attrs)
	if names, isList := claims["groups"].([]any); isList && s.opts.SSO.GroupSync {
		u.GroupIDs = s.syncGroups(u.GroupIDs, names)
	}
	key = newUUID()
	if st.sessions == nil {
		st.sessions = map[string]ssoSession{}
	}
	st.sessions[key] = ssoSession{userID: u.ID, created: s.now()}
	st.issued = append(st.issued, key)
	return key, 0, ""
}

// tenantSlugRE is Metabase's Tenant slug.
var tenantSlugRE = regexp.MustCompile(`^[-_a-z0-9]{1,255}$`)

// tenantSlug is the JWT's @tenant as text ("" when absent); validTenantClaim
// has already refused a value that is neither a string nor an integer.
func tenantSlug(claims map[string]any) string {
	switch v := claims["@tenant"].(type) {
	case string:
		return v
	case json.Number:
		return string(v)
	}
	return ""
}

// validTenantClaim reports whether @tenant is absent, a string or an
// integer, the only values Metabase accepts (else 400).
func validTenantClaim(claims map[string]any) bool {
	switch v := claims["@tenant"].(type) {
	case nil, string:
		return true
	case json.Number:
		return isDigits(strings.TrimPrefix(string(v), "-"))
	}
	return false
}

// checkTenantLocked refuses a sign-in whose tenant claim does not fit the
// user, with Metabase's 403s.
func (s *Server) checkTenantLocked(u *SSOUser, slug string) (int, string) {
	if !s.opts.SSO.Tenants {
		if slug != "" || (u != nil && u.Tenant != "") {
			return http.StatusForbidden, msgTenantsDisabled
		}
		return 0, ""
	}
	switch {
	case u == nil:
	case slug != "" && u.Tenant == "":
		return http.StatusForbidden, msgTenantInternal
	case slug == "" && u.Tenant != "":
		return http.StatusForbidden, msgTenantRequired
	case slug != u.Tenant:
		return http.StatusForbidden, msgTenantMismatch
	}
	return 0, ""
}

// upsertTenantLocked creates the tenant with the JWT's tenant attributes,
// or adds to an existing one only the keys it lacks: existing values win.
func (s *Server) upsertTenantLocked(slug string, raw any) {
	st := &s.sso
	var attrs map[string]string
	if m, ok := raw.(map[string]any); ok {
		attrs = stringifyAttributes(m)
	}
	if st.tenants == nil {
		st.tenants = map[string]*TenantInfo{}
	}
	t := st.tenants[slug]
	if t == nil {
		st.tenants[slug] = &TenantInfo{Slug: slug, Attributes: attrs}
		return
	}
	for k, v := range attrs {
		if _, has := t.Attributes[k]; !has {
			if t.Attributes == nil {
				t.Attributes = map[string]string{}
			}
			t.Attributes[k] = v
		}
	}
}

// stringifyAttributes keeps what Metabase keeps of JWT attributes: strings
// as they are, numbers and booleans as text; arrays, objects, null and keys
// beginning with @ are dropped.
func stringifyAttributes(in map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range in {
		if strings.HasPrefix(k, "@") {
			continue
		}
		switch x := v.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = clojureNumber(x)
		case bool:
			out[k] = strconv.FormatBool(x)
		}
	}
	return out
}

// syncGroups sets the memberships the groups claim governs: among the
// mapped groups with mappings, else among every group by name.
func (s *Server) syncGroups(current []int, names []any) []int {
	var want []int
	governed := map[int]bool{}
	mappings := s.opts.SSO.GroupMappings
	for _, ids := range mappings {
		for _, id := range ids {
			governed[id] = true
		}
	}
	for _, n := range names {
		name, _ := n.(string)
		if len(mappings) > 0 {
			want = append(want, mappings[name]...)
			continue
		}
		for _, g := range groups {
			if g.Name == name && g.ID != GroupAllUsers {
				want = append(want, g.ID)
			}
		}
	}
	if len(mappings) == 0 {
		for _, g := range groups {
			governed[g.ID] = true
		}
	}
	out := slices.DeleteFunc(slices.Clone(current), func(id int) bool { return governed[id] })
	out = append(out, want...)
	slices.Sort(out)
	return slices.Compact(out)
}

func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// sessionRoutes need a signed-in user; without one they answer 401.
func sessionRoute(path string) bool {
	rest := strings.TrimPrefix(path, "/api")
	for _, p := range []string{"/user", "/dataset", "/collection", "/search", "/field", "/setting", "/permissions", "/api-key", "/mt"} {
		if rest == p || strings.HasPrefix(rest, p+"/") {
			return true
		}
	}
	return false
}

// serveSessionAPI answers the API for a session user. A request with no
// session key, or an invalid one and a valid X-API-Key, is left to the
// admin API (false).
func (s *Server) serveSessionAPI(w http.ResponseWriter, r *http.Request, path string) bool {
	if strings.HasPrefix(path, "/api/embed/") || path == "/api/health" || path == "/api/session/properties" || r.Method == http.MethodOptions {
		return false
	}
	if s.serveLogout(w, r, path) { // DELETE /api/session (ssopost.go)
		return true
	}
	key, present := sessionKey(r)
	s.sso.mu.Lock()
	var user *SSOUser
	if present {
		if u := s.sessionUserLocked(key); u != nil {
			c := s.copyUserLocked(u)
			user = &c
		}
	}
	s.sso.mu.Unlock()
	if user == nil {
		if s.authorized(r) || (!present && !sessionRoute(path)) {
			return false
		}
		s.securityHeaders(w.Header(), false, "")
		w.Header().Set("X-Metabase-Version", Version)
		writeText(w, http.StatusUnauthorized, msgUnauthenticated)
		return true
	}
	s.securityHeaders(w.Header(), false, "")
	w.Header().Set("X-Metabase-Version", Version)
	ct := s.content()
	segs := strings.Split(strings.TrimPrefix(path, "/api/"), "/")
	id, _ := strconv.Atoi(at(segs, 1))
	numeric := isDigits(at(segs, 1))
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case get && path == "/api/user/current":
		writeJSON(w, http.StatusOK, user.json())
	case get && len(segs) == 2 && segs[0] == "card" && numeric:
		if c := ct.card(id); c != nil {
			writeJSON(w, http.StatusOK, c.adminJSON())
		} else {
			writeText(w, http.StatusNotFound, msgNotFound)
		}
	case post && len(segs) == 3 && segs[0] == "card" && numeric && segs[2] == "query":
		c := ct.card(id)
		if c == nil || c.Archived {
			writeText(w, http.StatusNotFound, msgNotFound)
			return true
		}
		s.runForUser(w, user, ct, c, nil)
	case get && len(segs) == 2 && segs[0] == "dashboard" && numeric:
		if d := ct.dashboard(id); d != nil {
			writeJSON(w, http.StatusOK, d.adminJSON(ct))
		} else {
			writeText(w, http.StatusNotFound, msgNotFound)
		}
	case post && len(segs) == 7 && segs[0] == "dashboard" && numeric && segs[2] == "dashcard" && segs[4] == "card" && segs[6] == "query":
		d := ct.dashboard(id)
		dcID, _ := strconv.Atoi(segs[3])
		cardID, _ := strconv.Atoi(segs[5])
		if d == nil || d.Archived {
			writeText(w, http.StatusNotFound, msgNotFound)
			return true
		}
		_, c, err := d.dashcardCard(dcID, cardID, ct)
		if err != nil || c == nil {
			writeText(w, http.StatusNotFound, msgNotFound)
			return true
		}
		s.runForUser(w, user, ct, c, nil)
	case post && path == "/api/dataset":
		s.serveDataset(w, r, user, ct)
	case s.serveSDKAPI(w, r, user, ct, segs): // sdk.go
	default:
		if _, admin := adminArea(path); admin || sessionRoute(path) {
			writeText(w, http.StatusForbidden, msgNoPermission)
			return true
		}
		writeText(w, http.StatusNotFound, msgNoEndpoint)
	}
	return true
}

func (u *SSOUser) json() map[string]any {
	ids := []int{GroupAllUsers}
	ids = append(ids, u.GroupIDs...)
	memberships := []any{}
	for _, id := range ids {
		memberships = append(memberships, map[string]any{"id": id})
	}
	return map[string]any{"id": u.ID, "email": u.Email, "first_name": nullable(u.FirstName), "last_name": nullable(u.LastName),
		"common_name": strings.TrimSpace(u.FirstName + " " + u.LastName), "is_superuser": u.Superuser(), "is_active": true,
		"sso_source": "jwt", "login_attributes": nonNil(u.LoginAttributes), "jwt_attributes": u.Attributes, "attributes": u.Effective,
		"user_group_memberships": memberships, "locale": nil}
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// rowFilter is the row-level security of user on the orders table: none
// for a superuser or a member of a group (All Users included) that may
// view the table unrestricted; the sandbox's attribute filter for a member of a
// sandboxed group; no access (nil, false) for anyone else. A sandboxed user
// without the attribute gets the error message Metabase answers.
func (s *Server) rowFilter(u *SSOUser, ct *content) (filters []filter, errMsg string, ok bool) {
	return s.tableFilter(u, ct, TableOrders)
}

// tableFilter is rowFilter for any table of the sample database.
func (s *Server) tableFilter(u *SSOUser, ct *content, tableID int) (filters []filter, errMsg string, ok bool) {
	if u.Superuser() || ct.readsUnfiltered(u.GroupIDs, tableID) {
		return nil, "", true // permissions are additive: a grant beats any sandbox (permissions.go)
	}
	t, _ := ct.tableByID(tableID)
	for _, sb := range ct.sandboxes {
		if sb.TableID != tableID || !slices.Contains(u.GroupIDs, sb.GroupID) {
			continue
		}
		v, has := u.Effective[sb.Attribute]
		if !has {
			return nil, fmt.Sprintf("Query requires user attribute `%s`", sb.Attribute), true
		}
		for _, f := range t.Fields {
			if f.ID == sb.FieldID {
				return []filter{{field: f.Name, values: []any{v}}}, "", true
			}
		}
	}
	return nil, "", false
}

// runForUser runs card c for user under its sandbox, with extra filters.
// Sandboxed users may not run native (SQL) questions, as in Metabase.
func (s *Server) runForUser(w http.ResponseWriter, u *SSOUser, ct *content, c *card, extra []filter) {
	filters, errMsg, ok := s.rowFilter(u, ct)
	if !ok || (c.Native && !u.Superuser()) {
		writeText(w, http.StatusForbidden, msgNoPermission)
		return
	}
	if errMsg != "" {
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "failed", "error": errMsg, "data": map[string]any{"rows": []any{}, "cols": []any{}}})
		return
	}
	writeAPIResult(w, c.run(append(filters, extra...), false), nil)
}

// serveDataset is POST /api/dataset for an MBQL query over one table,
// {"database": 1, "type": "query", "query": {"source-table": 10, "filter":
// ["=", ["field", id, null], value...]}}; a native query needs a superuser.
func (s *Server) serveDataset(w http.ResponseWriter, r *http.Request, u *SSOUser, ct *content) {
	var q struct {
		Database int    `json:"database"`
		Type     string `json:"type"`
		Query    struct {
			SourceTable int   `json:"source-table"`
			Filter      []any `json:"filter"`
		} `json:"query"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if decodeFirst(body, &q) != nil || q.Database != DatabaseID {
		writeText(w, http.StatusBadRequest, msgInvalidQuery)
		return
	}
	if q.Type != "query" {
		if !u.Superuser() {
			writeText(w, http.StatusForbidden, msgNoPermission)
			return
		}
		writeText(w, http.StatusBadRequest, msgInvalidQuery)
		return
	}
	if q.Query.SourceTable == TableCustomers {
		s.serveCustomers(w, u, ct)
		return
	}
	if q.Query.SourceTable != TableOrders {
		writeText(w, http.StatusForbidden, msgNoPermission)
		return
	}
	var extra []filter
	if len(q.Query.Filter) >= 3 && q.Query.Filter[0] == "=" {
		ref, _ := q.Query.Filter[1].([]any)
		if len(ref) >= 2 {
			if n, ok := ref[1].(json.Number); ok {
				fid, _ := n.Int64()
				for _, f := range fields {
					if int64(f.ID) == fid {
						extra = append(extra, filter{field: f.Name, values: q.Query.Filter[2:]})
					}
				}
			}
		}
	}
	s.runForUser(w, u, ct, &card{Name: "Orders", Kind: kindRows}, extra)
}

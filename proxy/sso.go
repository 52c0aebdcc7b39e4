package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/policy"
)

// Interactive embedding and the embedding SDK (issue 3). The gate mints
// Metabase's JWT SSO tokens itself and exchanges them with Metabase server
// side; the Metabase session key that comes back never reaches a browser.
// The browser holds it sealed (AES-GCM): in a cookie for the full-app
// iframe, or as the SDK's session "id". Every request opens it, checks it
// against the caller's current app session (tenant, subject, the Metabase
// identity it renders, expiry), and only then injects the real key as
// X-Metabase-Session, after every client cookie and Metabase credential
// header has been stripped.

// Route names of the SSO routes.
const (
	routeSSOLogin = "sso_login" // GET /.tenantgate/sso: interactive sign-in
	routeSDKJWT   = "sdk_jwt"   // GET /.tenantgate/sdk/jwt: the SDK's JWT provider
	routeSSOAuth  = "sso_auth"  // GET /auth/sso: the SDK's handshake, answered by the gate
	routeSSOAPI   = "sso_api"   // the Metabase API an SSO user may reach
	routeSSOPage  = "sso_page"  // the full app's pages
)

// ssoCookieName is the sealed session cookie. The gate strips every Cookie
// header before Metabase (forwardedHeaders), this one included, and
// removes it from what the identity source sees.
const ssoCookieName = "tenantgate_sso"

// ssoSessionMax caps a sealed session's life when the app session has no
// exp of its own (introspection), or a longer one.
const ssoSessionMax = 12 * time.Hour

// ssoMaxBody bounds the JSON bodies of the SSO query endpoints.
const ssoMaxBody = 1 << 20

// The X-Metabase-Client values of the SDK (React) and embed.js.
var sdkClients = map[string]bool{"embedding-sdk-react": true, "embedding-simple": true}

// errSSOSessionEnded: Metabase answered 401 to a request made with a
// sealed session, so that session has ended on Metabase's side.
var errSSOSessionEnded = errors.New("Metabase answered 401: the Metabase session has ended")

// ssoGate is the gate's SSO state: built once, immutable.
type ssoGate struct {
	minter      *auth.SSOMinter
	sealer      *auth.Sealer
	client      *http.Client
	sameSite    http.SameSite
	partitioned bool
	dataset     bool
	cookiePath  string
	// origin is TENANTGATE_PUBLIC_URL ("" when unset), for the absolute
	// URL of the SDK's discovery.
	origin string
}

func newSSOGate(cfg *configs.Config, rt http.RoundTripper, prefix string) (*ssoGate, error) {
	c := cfg.SSO
	minter, err := auth.NewSSOMinter(auth.SSOOptions{
		Secret: c.JWTSharedSecret.Reveal(), EmailTemplate: c.EmailTemplate, GroupMappings: c.GroupMappings,
		TenantAttribute: cfg.Tenant.Param, Attributes: c.Attributes, Tenants: c.Tenants, TenantAttributes: c.TenantAttributes,
	})
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(c.SealingKeys))
	for i, k := range c.SealingKeys {
		keys[i] = k.Reveal()
	}
	sealer, err := auth.NewSealer(keys, nil)
	if err != nil {
		return nil, err
	}
	s := &ssoGate{minter: minter, sealer: sealer, partitioned: c.Partitioned, dataset: c.Dataset, cookiePath: prefix + "/",
		origin: cfg.PublicURL}
	switch c.CookieSameSite {
	case "strict":
		s.sameSite = http.SameSiteStrictMode
	case "none":
		s.sameSite = http.SameSiteNoneMode
	default:
		s.sameSite = http.SameSiteLaxMode
	}
	// The exchange reads Metabase's 302 and its Set-Cookie; it never
	// follows the redirect.
	s.client = &http.Client{Transport: rt, Timeout: cfg.Upstream.ResponseHeaderTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s, nil
}

// ssoRoutes adds the SSO routes; they come after every other route, so the
// static-embedding paths keep their handlers.
func (g *Gate) ssoRoutes(m *mux.Router) {
	get := []string{http.MethodGet}
	m.Handle("/.tenantgate/sso", g.named(routeSSOLogin, g.serveSSOLogin)).Methods(get...)
	m.Handle("/.tenantgate/sdk/jwt", g.named(routeSDKJWT, g.serveSDKJWT)).Methods(get...)
	m.Handle("/auth/sso", g.named(routeSSOAuth, g.serveSSOAuth)).Methods(get...)
	m.PathPrefix("/api/").Handler(g.named(routeSSOAPI, g.serveSSOAPI))
	for _, p := range []string{"/dashboard/", "/question/", "/collection/"} {
		m.PathPrefix(p).Handler(g.named(routeSSOPage, g.serveSSOPage)).Methods(http.MethodGet, http.MethodHead)
	}
	m.Handle("/search", g.named(routeSSOPage, g.serveSSOPage)).Methods(http.MethodGet, http.MethodHead)
}

// identifySSO is identify without the sealed cookie: an introspection
// endpoint is sent the app's cookies, never the gate's.
func (g *Gate) identifySSO(w http.ResponseWriter, r *http.Request) *auth.Identity {
	if _, err := r.Cookie(ssoCookieName); err != nil {
		return g.identify(w, r)
	}
	r2 := r.Clone(r.Context())
	r2.Header.Del("Cookie")
	for _, c := range r.Cookies() {
		if c.Name != ssoCookieName {
			r2.AddCookie(c)
		}
	}
	return g.identify(w, r2)
}

// serveSSOLogin answers GET /.tenantgate/sso?return_to=/dashboard/42: sign
// the caller in to Metabase server side, seal the session into the cookie,
// and send the browser to return_to under the gate.
func (g *Gate) serveSSOLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, vs := range q {
		if k != "return_to" || len(vs) != 1 {
			g.deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "sso takes only one return_to"})
			return
		}
	}
	returnTo := "/"
	if q.Has("return_to") {
		var ok bool
		if returnTo, ok = safeReturnTo(q.Get("return_to")); !ok {
			g.deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "return_to must be a relative path under the gate"})
			return
		}
	}
	who := g.identifySSO(w, r)
	if who == nil {
		return
	}
	sealed, exp, d := g.signIn(r, who, "", auth.SealCookie, returnTo)
	g.decided(r, d)
	if !d.Allow {
		g.deny(w, r, d)
		return
	}
	http.SetCookie(w, g.ssoCookie(r, sealed, exp))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", g.prefix+returnTo)
	w.WriteHeader(http.StatusFound)
}

// safeReturnTo accepts a path under the gate: absolute, no scheme or host,
// no "//" or backslash (which browsers read as another host), no dot
// segments, encoded slashes or dots, or control characters.
func safeReturnTo(s string) (string, bool) {
	if len(s) > 2048 || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\#") {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return "", false
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return "", false
	}
	p := strings.ToLower(u.EscapedPath())
	if strings.Contains(p, "%2f") || strings.Contains(p, "%2e") || strings.Contains(p, "%5c") {
		return "", false
	}
	for _, seg := range strings.Split(p, "/")[1:] {
		if seg == "." || seg == ".." {
			return "", false
		}
	}
	return s, true
}

// ssoCookie is the sealed session cookie: HttpOnly, Secure over TLS (and
// always when SameSite=None or Partitioned, which browsers require),
// scoped to the gate's prefix.
func (g *Gate) ssoCookie(r *http.Request, value string, exp time.Time) *http.Cookie {
	c := &http.Cookie{Name: ssoCookieName, Value: value, Path: g.sso.cookiePath, HttpOnly: true,
		SameSite: g.sso.sameSite, Partitioned: g.sso.partitioned,
		Secure: g.secureRequest(r) || g.sso.sameSite == http.SameSiteNoneMode || g.sso.partitioned}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = exp.UTC()
	}
	return c
}

// secureRequest reports whether the browser reached the gate over TLS.
func (g *Gate) secureRequest(r *http.Request) bool {
	return r.TLS != nil || (g.fromTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

// signIn mints an SSO JWT for who, exchanges it with Metabase (client ""
// for the browser flow, else the SDK's X-Metabase-Client) and seals the
// session for purpose, bound to who. It returns the sealed value and its
// expiry, or a denial.
func (g *Gate) signIn(r *http.Request, who *auth.Identity, client, purpose, returnTo string) (string, time.Time, policy.Decision) {
	tok, claims, err := g.sso.minter.Mint(who)
	if d, refused := mintRefusal(err); refused {
		return "", time.Time{}, d
	}
	if err != nil {
		return "", time.Time{}, policy.Decision{Reason: policy.ReasonInternal, Detail: err.Error()}
	}
	key, err := g.exchange(r.Context(), scopeOf(r).requestID, tok, client, r.Header.Get("X-Metabase-Client-Version"), returnTo)
	if err != nil {
		return "", time.Time{}, policy.Decision{Reason: policy.ReasonSSOExchangeFailed, Detail: err.Error()}
	}
	now := g.now()
	exp := now.Add(ssoSessionMax)
	if who.Source == "jwt" && !who.Expiry.IsZero() && who.Expiry.Before(exp) {
		exp = who.Expiry
	}
	email, _ := claims["email"].(string)
	sealed, err := g.sso.sealer.SealSession(purpose, auth.SSOSession{Key: key, Tenant: who.Tenant, Subject: who.Subject,
		Email: email, IssuedAt: now.Unix(), ExpiresAt: exp.Unix()})
	if err != nil {
		return "", time.Time{}, policy.Decision{Reason: policy.ReasonInternal, Detail: err.Error()}
	}
	return sealed, exp, policy.Decision{Allow: true, Reason: policy.ReasonAllowed}
}

// mintRefusal maps the minter's identity errors to denials.
func mintRefusal(err error) (policy.Decision, bool) {
	switch {
	case errors.Is(err, auth.ErrSSOReserved):
		return policy.Decision{Reason: policy.ReasonReservedValue, Detail: err.Error()}, true
	case errors.Is(err, auth.ErrSSOIdentity):
		return policy.Decision{Reason: policy.ReasonClaimMissing, Detail: err.Error()}, true
	}
	return policy.Decision{}, false
}

// exchange calls Metabase's GET /auth/sso with the SSO JWT and returns the
// session key: from the metabase.SESSION cookie of its 302 (browser flow),
// or from the JSON id (SDK flow). Errors never quote the JWT.
func (g *Gate) exchange(ctx context.Context, requestID, jwt, client, version, returnTo string) (string, error) {
	u := *g.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + "/auth/sso"
	u.RawPath = ""
	q := url.Values{"jwt": {jwt}}
	if client == "" {
		q.Set("return_to", returnTo)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", errors.New("building the SSO request")
	}
	req.Header.Set("X-Request-Id", requestID)
	if client != "" {
		req.Header.Set("X-Metabase-Client", client)
		if version != "" && len(version) <= 64 {
			req.Header.Set("X-Metabase-Client-Version", version)
		}
	}
	resp, err := g.sso.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text holds the URL, hence the JWT
			err = ue.Err
		}
		return "", fmt.Errorf("SSO exchange with Metabase: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if client == "" {
		if resp.StatusCode != http.StatusFound {
			return "", fmt.Errorf("Metabase answered %d to the SSO exchange: %.200q", resp.StatusCode, body)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "metabase.SESSION" && c.Value != "" {
				return c.Value, nil
			}
		}
		return "", errors.New("Metabase's SSO answer set no metabase.SESSION cookie")
	}
	var res struct {
		Status string `json:"status"`
		ID     string `json:"id"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Status != "ok" || res.ID == "" {
		return "", fmt.Errorf("Metabase answered %d to the SDK's SSO exchange without a session: %.200q", resp.StatusCode, body)
	}
	return res.ID, nil
}

type sdkJWTResponse struct {
	JWT string `json:"jwt"`
}

// serveSDKJWT is the SDK's JWT provider (GET /.tenantgate/sdk/jwt
// ?response=json): a short-lived ticket sealed for the caller. It holds no
// Metabase credential: the gate mints the real SSO JWT when the ticket
// comes back to /auth/sso, for the caller of that request.
func (g *Gate) serveSDKJWT(w http.ResponseWriter, r *http.Request) {
	for k, vs := range r.URL.Query() {
		if k != "response" || len(vs) != 1 || vs[0] != "json" {
			g.deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "the JWT provider takes only response=json"})
			return
		}
	}
	who := g.identifySSO(w, r)
	if who == nil {
		return
	}
	email, err := g.sso.minter.Email(who)
	if d, refused := mintRefusal(err); refused {
		g.deny(w, r, d)
		return
	}
	if err != nil {
		g.fail(w, r, err)
		return
	}
	now := g.now()
	ticket, err := g.sso.sealer.SealSession(auth.SealTicket, auth.SSOSession{Tenant: who.Tenant, Subject: who.Subject,
		Email: email, IssuedAt: now.Unix(), ExpiresAt: now.Add(auth.SSOTokenLifetime).Unix()})
	if err != nil {
		g.fail(w, r, err)
		return
	}
	g.decided(r, policy.Decision{Allow: true, Reason: policy.ReasonAllowed})
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, sdkJWTResponse{JWT: ticket})
}

type sdkSession struct {
	Status string `json:"status"`
	ID     string `json:"id"`
	Exp    int64  `json:"exp"`
	Iat    int64  `json:"iat"`
}

// serveSSOAuth answers the SDK's GET /auth/sso as Metabase would: without
// jwt the discovery {"url", "method"}; with a ticket the gate issued to this
// caller, a sealed session handle as the "id". The browser flow (no
// X-Metabase-Client) is refused: the gate signs browsers in itself.
func (g *Gate) serveSSOAuth(w http.ResponseWriter, r *http.Request) {
	client := r.Header.Get("X-Metabase-Client")
	if !sdkClients[client] {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "/auth/sso from a browser: the gate signs in server side"})
		return
	}
	q := r.URL.Query()
	for k, vs := range q {
		ok := len(vs) == 1 && (k == "jwt" || (k == "preferred_method" && vs[0] == "jwt"))
		if !ok {
			g.deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "/auth/sso takes jwt and preferred_method=jwt"})
			return
		}
	}
	who := g.identifySSO(w, r)
	if who == nil {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	ticket := q.Get("jwt")
	if ticket == "" {
		origin, d := g.publicOrigin(r)
		if !d.Allow {
			g.deny(w, r, d)
			return
		}
		g.decided(r, d)
		writeJSON(w, http.StatusOK, map[string]string{"url": origin + g.prefix + "/.tenantgate/sdk/jwt", "method": "jwt"})
		return
	}
	t, err := g.sso.sealer.OpenSession(auth.SealTicket, ticket)
	if err != nil {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonSSOTokenInvalid, Detail: "SDK ticket: " + err.Error()})
		return
	}
	if d := g.bindingDecision(t, who, policy.ReasonTenantMismatch, policy.ReasonSubjectMismatch, "token"); !d.Allow {
		g.deny(w, r, d)
		return
	}
	sealed, exp, d := g.signIn(r, who, client, auth.SealSDK, "")
	g.decided(r, d)
	if !d.Allow {
		g.deny(w, r, d)
		return
	}
	writeJSON(w, http.StatusOK, sdkSession{Status: "ok", ID: sealed, Exp: exp.Unix(), Iat: g.now().Unix()})
}

// publicOrigin is the origin browsers reach the gate at, for the absolute
// URL the SDK's discovery must answer (the 0.55 SDK calls new URL(url)
// with no base, so a relative one breaks it): TENANTGATE_PUBLIC_URL, else
// X-Forwarded-Proto and -Host when a trusted proxy set them, one valid value
// each. Never the client's Host: a page could then send the SDK's next
// request (with the app's cookies) to an origin of its choosing. With
// neither it fails closed, public-url-unknown.
func (g *Gate) publicOrigin(r *http.Request) (string, policy.Decision) {
	if g.sso.origin != "" {
		return g.sso.origin, policy.Decision{Allow: true, Reason: policy.ReasonAllowed}
	}
	if g.fromTrustedProxy(r) {
		proto, host := r.Header.Values("X-Forwarded-Proto"), r.Header.Values("X-Forwarded-Host")
		if len(proto) == 1 && len(host) == 1 && (proto[0] == "http" || proto[0] == "https") && validHost(host[0]) {
			return proto[0] + "://" + strings.ToLower(host[0]), policy.Decision{Allow: true, Reason: policy.ReasonAllowed}
		}
	}
	return "", policy.Decision{Reason: policy.ReasonPublicURLUnknown,
		Detail: "the SDK's discovery needs the gate's public origin: set TENANTGATE_PUBLIC_URL, or have a trusted proxy (TENANTGATE_TRUSTED_PROXIES) send one X-Forwarded-Proto and X-Forwarded-Host"}
}

// validHost accepts a DNS name or IPv4 address with an optional port, or a
// bracketed IPv6 address with one: nothing that could end the origin early
// (no "/", "@", "?", "#", "\\" or spaces).
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 || net.ParseIP(h[1:end]) == nil {
			return false
		}
		name, port = "", h[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i:]
	}
	if port != "" {
		n, err := strconv.Atoi(port[1:])
		if err != nil || n < 1 || n > 65535 || port[1] == '0' {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return name != "" || strings.HasPrefix(h, "[")
}

// bindingDecision checks a sealed value's binding against the caller: its
// tenant, its subject, and the Metabase identity the caller's session
// renders now. The last one is what keeps a session to the Metabase user it
// was opened for: Metabase reads a user's attributes at request time, so a
// session is safe only while the caller would still sign in as that user
// (issue 12). A caller whose session renders no identity fails it too.
func (g *Gate) bindingDecision(s *auth.SSOSession, who *auth.Identity, tenantReason, subjectReason policy.Reason, mismatch string) policy.Decision {
	email, err := g.sso.minter.Email(who)
	tenantOK, subjectOK, emailOK := s.BoundTo(who.Tenant, who.Subject, email)
	switch {
	case !tenantOK:
		return policy.Decision{Reason: tenantReason, Mismatch: mismatch, Detail: "sealed for another tenant"}
	case !subjectOK:
		return policy.Decision{Reason: subjectReason, Detail: "sealed for another user"}
	case err != nil:
		return policy.Decision{Reason: subjectReason, Detail: "the caller's session gives no Metabase identity: " + err.Error()}
	case !emailOK:
		return policy.Decision{Reason: subjectReason, Detail: "sealed for another Metabase identity"}
	}
	return policy.Decision{Allow: true, Reason: policy.ReasonAllowed}
}

// ssoSession opens the caller's Metabase session: the SDK's handle in
// X-Metabase-Session if present, else the interactive cookie (pages use
// the cookie only). It reports whether the cookie was used.
func (g *Gate) ssoSession(r *http.Request, who *auth.Identity, cookieOnly bool) (*auth.SSOSession, bool, policy.Decision) {
	purpose, val := "", ""
	if hs := r.Header.Values("X-Metabase-Session"); len(hs) > 0 && !cookieOnly {
		if len(hs) > 1 {
			return nil, false, policy.Decision{Reason: policy.ReasonSSOSessionInvalid, Detail: "two X-Metabase-Session headers"}
		}
		purpose, val = auth.SealSDK, hs[0]
	} else if c, err := r.Cookie(ssoCookieName); err == nil {
		purpose, val = auth.SealCookie, c.Value
	} else {
		return nil, false, policy.Decision{Reason: policy.ReasonSSORequired, Detail: "no sealed Metabase session"}
	}
	fromCookie := purpose == auth.SealCookie
	sess, err := g.sso.sealer.OpenSession(purpose, val)
	switch {
	case errors.Is(err, auth.ErrSealExpired):
		return nil, fromCookie, policy.Decision{Reason: policy.ReasonSSOSessionExpired, Detail: err.Error()}
	case err != nil:
		return nil, fromCookie, policy.Decision{Reason: policy.ReasonSSOSessionInvalid, Detail: purpose + ": " + err.Error()}
	}
	return sess, fromCookie, g.bindingDecision(sess, who, policy.ReasonSSOSessionMismatch, policy.ReasonSSOSessionMismatch, "handle")
}

// serveSSOAPI passes an SSO user's call to the Metabase API when the
// allowlist allows it and the caller's sealed session opens and is bound
// to the caller; Metabase then sees only the injected session.
func (g *Gate) serveSSOAPI(w http.ResponseWriter, r *http.Request) {
	path := g.stripPrefix(r)
	if strings.HasPrefix(path, "/api/embed/") {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonMethodNotAllowed, Detail: "method not allowed on this route"})
		return
	}
	if d := policy.SSOAPI(r.Method, path, g.sso.dataset); !d.Allow {
		g.deny(w, r, d)
		return
	}
	// Forward the path and query rebuilt from what was parsed, never the
	// client's bytes.
	f, err := policy.ForwardablePath(path, 0)
	if err != nil || f.Route != policy.RouteSSOAPI {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "not on the SSO API allowlist"})
		return
	}
	query, err := policy.CleanQuery(r.URL.RawQuery)
	if err != nil {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonMalformedRequest, Detail: "SSO API query: " + err.Error()})
		return
	}
	who := g.identifySSO(w, r)
	if who == nil {
		return
	}
	if d := g.ssoGuarded(); !d.Allow { // the audit's verdict on group permissions (guard.go)
		g.deny(w, r, d)
		return
	}
	sess, fromCookie, d := g.ssoSession(r, who, false)
	g.decided(r, d)
	if !d.Allow {
		if fromCookie && d.Reason != policy.ReasonSSORequired {
			http.SetCookie(w, g.ssoCookie(r, "", time.Time{}))
		}
		g.deny(w, r, d)
		return
	}
	s := scopeOf(r)
	s.kind = kindSSOAPI
	s.mbSession, s.upToken, s.handle, s.ssoFromCookie = sess.Key, sess.Key, "", fromCookie
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, ssoMaxBody)
	}
	g.forwardFair(w, r, who, f.Path, query)
}

// serveSSOPage serves a page of the full app to a caller with a sealed
// session bound to them; any other caller is sent through a fresh sign-in
// (/.tenantgate/sso), never to an old session.
func (g *Gate) serveSSOPage(w http.ResponseWriter, r *http.Request) {
	f, err := policy.ForwardablePath(g.stripPrefix(r), 0)
	if err != nil || f.Route != policy.RouteSSOPage {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "not a page of the app"})
		return
	}
	query, err := policy.CleanQuery(r.URL.RawQuery)
	if err != nil {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonMalformedRequest, Detail: "page query: " + err.Error()})
		return
	}
	path := f.Path // rebuilt from what was parsed, as is query
	s := scopeOf(r)
	s.kind = kindSSOPage
	s.ssoReturn = path
	if query != "" {
		s.ssoReturn += "?" + query
	}
	who := g.identifySSO(w, r)
	if who == nil {
		return
	}
	sess, fromCookie, d := g.ssoSession(r, who, true)
	if !d.Allow {
		g.log.Info("sso: signing in afresh", zap.String("request_id", s.requestID), zap.String("reason", string(d.Reason)),
			zap.String("detail", d.Detail), zap.String("tenant", who.Tenant), zap.String("subject", who.Subject))
		if d.Mismatch != "" {
			g.metrics.TenantMismatch(d.Mismatch)
		}
		g.redirectToSignIn(w, r, fromCookie)
		return
	}
	g.decided(r, d)
	s.mbSession, s.upToken, s.handle, s.ssoFromCookie = sess.Key, sess.Key, "", fromCookie
	g.forwardFair(w, r, who, path, query)
}

// redirectToSignIn sends a page load through /.tenantgate/sso and back.
func (g *Gate) redirectToSignIn(w http.ResponseWriter, r *http.Request, clearCookie bool) {
	if clearCookie {
		http.SetCookie(w, g.ssoCookie(r, "", time.Time{}))
	}
	ret := scopeOf(r).ssoReturn
	if _, ok := safeReturnTo(ret); !ok {
		ret = "/"
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", g.prefix+"/.tenantgate/sso?"+url.Values{"return_to": {ret}}.Encode())
	w.WriteHeader(http.StatusFound)
}

// modifySSOResponse narrows framing of the app's pages and keeps answers
// out of shared caches. A 401 means Metabase ended the session: the error
// handler then signs a page load in again, or answers an API call 401.
func (g *Gate) modifySSOResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusUnauthorized {
		return errSSOSessionEnded
	}
	h := resp.Header
	h.Set("Cache-Control", "private, no-store")
	if scopeOf(resp.Request).kind == kindSSOPage {
		h.Set("Content-Security-Policy", replaceFrameAncestors(h.Get("Content-Security-Policy"), g.csp))
		h.Del("X-Frame-Options")
	}
	return nil
}

// ssoSessionEnded answers a request whose Metabase session Metabase
// refused: a page load signs in again, an API call gets 401
// sso-session-expired (the SDK or the app then signs in again).
func (g *Gate) ssoSessionEnded(w http.ResponseWriter, r *http.Request) {
	s := scopeOf(r)
	if s.kind == kindSSOPage && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		g.redirectToSignIn(w, r, true)
		return
	}
	if s.ssoFromCookie {
		http.SetCookie(w, g.ssoCookie(r, "", time.Time{}))
	}
	g.deny(w, r, policy.Decision{Reason: policy.ReasonSSOSessionExpired, Detail: errSSOSessionEnded.Error()})
}

package sso

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/policy"
)

// Interactive embedding: the full Metabase app in an iframe. The gate signs
// the caller in server side (serveLogin), holds Metabase's session key in
// the sealed cookie, and serves the app's pages and allowed API calls only
// to the caller the cookie was sealed for.

// serveLogin answers GET /.tenantgate/sso?return_to=/dashboard/42: sign
// the caller in to Metabase server side, seal the session into the cookie,
// and send the browser to return_to under the gate.
func (s *Surface) serveLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k, vs := range q {
		if k != "return_to" || len(vs) != 1 {
			s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "sso takes only one return_to"})
			return
		}
	}
	returnTo := "/"
	if q.Has("return_to") {
		var ok bool
		if returnTo, ok = safeReturnTo(q.Get("return_to")); !ok {
			s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "return_to must be a relative path under the gate"})
			return
		}
	}
	who := s.identify(w, r)
	if who == nil {
		return
	}
	sealed, exp, d := s.signIn(r, who, "", auth.SealCookie, returnTo)
	s.host.Decided(r, d)
	if !d.Allow {
		s.host.Deny(w, r, d)
		return
	}
	http.SetCookie(w, s.cookie(r, sealed, exp))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", s.prefix+returnTo)
	w.WriteHeader(http.StatusFound)
}

// safeReturnTo accepts a path under the gate: absolute, no scheme or host,
// no "//" or backslash (which browsers read as another host), no dot
// segments, encoded slashes or dots, or control characters.
func safeReturnTo(p string) (string, bool) {
	if len(p) > 2048 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\#") {
		return "", false
	}
	for i := 0; i < len(p); i++ {
		if p[i] <= ' ' || p[i] == 0x7f {
			return "", false
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return "", false
	}
	e := strings.ToLower(u.EscapedPath())
	if strings.Contains(e, "%2f") || strings.Contains(e, "%2e") || strings.Contains(e, "%5c") {
		return "", false
	}
	for _, seg := range strings.Split(e, "/")[1:] {
		if seg == "." || seg == ".." {
			return "", false
		}
	}
	return p, true
}

// serveAPI passes an SSO user's call to the Metabase API when the
// allowlist allows it and the caller's sealed session opens and is bound
// to the caller; Metabase then sees only the injected session.
func (s *Surface) serveAPI(w http.ResponseWriter, r *http.Request) {
	path := s.host.Path(r)
	if strings.HasPrefix(path, "/api/embed/") {
		s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonMethodNotAllowed, Detail: "method not allowed on this route"})
		return
	}
	if d := policy.SSOAPI(r.Method, path, s.dataset); !d.Allow {
		s.host.Deny(w, r, d)
		return
	}
	// Forward the path and query rebuilt from what was parsed, never the
	// client's bytes.
	f, err := policy.ForwardablePath(path, 0)
	if err != nil || f.Route != policy.RouteSSOAPI {
		s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "not on the SSO API allowlist"})
		return
	}
	query, err := policy.CleanQuery(r.URL.RawQuery)
	if err != nil {
		s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonMalformedRequest, Detail: "SSO API query: " + err.Error()})
		return
	}
	who := s.identify(w, r)
	if who == nil {
		return
	}
	if d := s.host.Guarded(); !d.Allow { // the audit's verdict on group permissions
		s.host.Deny(w, r, d)
		return
	}
	sess, fromCookie, d := s.session(r, who, false)
	s.host.Decided(r, d)
	if !d.Allow {
		if fromCookie && d.Reason != policy.ReasonSSORequired {
			http.SetCookie(w, s.cookie(r, "", time.Time{}))
		}
		s.host.Deny(w, r, d)
		return
	}
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, maxAPIBody)
	}
	s.host.Forward(w, r, who, Forward{Key: sess.Key, FromCookie: fromCookie, Path: f.Path, Query: query})
}

// servePage serves a page of the full app to a caller with a sealed
// session bound to them; any other caller is sent through a fresh sign-in
// (/.tenantgate/sso), never to an old session.
func (s *Surface) servePage(w http.ResponseWriter, r *http.Request) {
	f, err := policy.ForwardablePath(s.host.Path(r), 0)
	if err != nil || f.Route != policy.RouteSSOPage {
		s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "not a page of the app"})
		return
	}
	query, err := policy.CleanQuery(r.URL.RawQuery)
	if err != nil {
		s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonMalformedRequest, Detail: "page query: " + err.Error()})
		return
	}
	path := f.Path // rebuilt from what was parsed, as is query
	ret := path
	if query != "" {
		ret += "?" + query
	}
	who := s.identify(w, r)
	if who == nil {
		return
	}
	sess, fromCookie, d := s.session(r, who, true)
	if !d.Allow {
		s.log.Info("sso: signing in afresh", zap.String("request_id", s.host.RequestID(r)), zap.String("reason", string(d.Reason)),
			zap.String("detail", d.Detail), zap.String("tenant", who.Tenant), zap.String("subject", who.Subject))
		if d.Mismatch != "" {
			s.metrics.TenantMismatch(d.Mismatch)
		}
		s.redirectToSignIn(w, r, fromCookie, ret)
		return
	}
	s.host.Decided(r, d)
	s.host.Forward(w, r, who, Forward{Page: true, Key: sess.Key, FromCookie: fromCookie, Path: path, Query: query, Return: ret})
}

// redirectToSignIn sends a page load through /.tenantgate/sso and back to
// ret.
func (s *Surface) redirectToSignIn(w http.ResponseWriter, r *http.Request, clearCookie bool, ret string) {
	if clearCookie {
		http.SetCookie(w, s.cookie(r, "", time.Time{}))
	}
	if _, ok := safeReturnTo(ret); !ok {
		ret = "/"
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", s.prefix+"/.tenantgate/sso?"+url.Values{"return_to": {ret}}.Encode())
	w.WriteHeader(http.StatusFound)
}

// SessionEnded answers a request fw sent whose Metabase session Metabase
// refused (ErrSessionEnded): a page load signs in again, an API call gets
// 401 sso-session-expired (the SDK or the app then signs in again).
func (s *Surface) SessionEnded(w http.ResponseWriter, r *http.Request, fw Forward) {
	if fw.Page && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		s.redirectToSignIn(w, r, true, fw.Return)
		return
	}
	if fw.FromCookie {
		http.SetCookie(w, s.cookie(r, "", time.Time{}))
	}
	s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonSSOSessionExpired, Detail: ErrSessionEnded.Error()})
}

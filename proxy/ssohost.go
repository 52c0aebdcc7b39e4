package proxy

import (
	"net/http"
	"strings"
	"time"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/policy"
	"github.com/tenantgate/tenantgate/proxy/sso"
)

// Interactive embedding and the embedding SDK live in package sso; this
// file is the gate's side of it: the Host the surface is lent, and the
// response hooks the gate's ReverseProxy calls for SSO requests.

// The SSO route names, for pageLoad and the router.
const (
	routeSSOLogin   = sso.RouteLogin
	routeSSOPage    = sso.RoutePage
	routeGuestToken = sso.RouteGuest
)

// ssoHost lends the SSO surface the gate's identity, denials and proxy.
type ssoHost struct{ g *Gate }

var (
	_ sso.Host      = ssoHost{}
	_ sso.GuestHost = ssoHost{}
)

func (h ssoHost) Identify(w http.ResponseWriter, r *http.Request) *auth.Identity {
	return h.g.identify(w, r)
}
func (h ssoHost) Decided(r *http.Request, d policy.Decision) { h.g.decided(r, d) }
func (h ssoHost) Deny(w http.ResponseWriter, r *http.Request, d policy.Decision) {
	h.g.deny(w, r, d)
}
func (h ssoHost) Fail(w http.ResponseWriter, r *http.Request, err error) { h.g.fail(w, r, err) }
func (h ssoHost) Guarded() policy.Decision                               { return h.g.ssoGuarded() }
func (h ssoHost) Path(r *http.Request) string                            { return h.g.stripPrefix(r) }
func (h ssoHost) RequestID(r *http.Request) string                       { return scopeOf(r).requestID }
func (h ssoHost) FromTrustedProxy(r *http.Request) bool                  { return h.g.fromTrustedProxy(r) }
func (h ssoHost) Secure(r *http.Request) bool                            { return h.g.secureRequest(r) }

// Forward records the session the surface opened in the request scope,
// where rewrite injects it, and proxies under per-tenant fairness.
func (h ssoHost) Forward(w http.ResponseWriter, r *http.Request, who *auth.Identity, fw sso.Forward) {
	s := scopeOf(r)
	s.kind = kindSSOAPI
	if fw.Page {
		s.kind = kindSSOPage
	}
	s.mbSession, s.upToken, s.handle, s.ssoFromCookie, s.ssoReturn = fw.Key, fw.Key, "", fw.FromCookie, fw.Return
	h.g.forwardFair(w, r, who, fw.Path, fw.Query)
}

// MintHandle is serveMint's decision and sealing, for embed.js's guest
// token provider: revocation, the policy's mint decision for who and res,
// the audit guard, then a handle bound to who.
func (h ssoHost) MintHandle(r *http.Request, who *auth.Identity, res auth.Resource) (string, time.Time, policy.Decision, error) {
	g := h.g
	scopeOf(r).resource = res
	if d := policy.Revoked(g.revoked, who.Tenant, who.Subject, g.now()); !d.Allow {
		return "", time.Time{}, d, nil
	}
	grant, d := g.policy.Mint(who, res)
	if d = g.guarded(res, d); !d.Allow {
		return "", time.Time{}, d, nil
	}
	handle, exp, err := g.handles.Seal(res, grant.Params, who.Tenant, who.Subject)
	if err != nil {
		return "", time.Time{}, policy.Decision{}, err
	}
	g.metrics.TokenMinted("handle")
	return handle, exp, d, nil
}

// secureRequest reports whether the browser reached the gate over TLS.
func (g *Gate) secureRequest(r *http.Request) bool {
	return r.TLS != nil || (g.fromTrustedProxy(r) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

// modifySSOResponse narrows framing of the app's pages and keeps answers
// out of shared caches. A 401 means Metabase ended the session: the error
// handler then signs a page load in again, or answers an API call 401.
func (g *Gate) modifySSOResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusUnauthorized {
		return sso.ErrSessionEnded
	}
	h := resp.Header
	h.Set("Cache-Control", "private, no-store")
	if scopeOf(resp.Request).kind == kindSSOPage {
		h.Set("Content-Security-Policy", replaceFrameAncestors(h.Get("Content-Security-Policy"), g.csp))
		h.Del("X-Frame-Options")
	}
	return nil
}

// ssoSessionEnded hands a request whose Metabase session Metabase refused
// back to the surface.
func (g *Gate) ssoSessionEnded(w http.ResponseWriter, r *http.Request) {
	s := scopeOf(r)
	g.sso.SessionEnded(w, r, sso.Forward{Page: s.kind == kindSSOPage, FromCookie: s.ssoFromCookie, Return: s.ssoReturn})
}

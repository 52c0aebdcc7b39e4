package proxy

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/internal/swar"
	"github.com/tenantgate/tenantgate/policy"
)

// scope is the one request-scoped struct the gate keeps in the context.
// Handlers fill it in; the observe middleware reads it for the access log
// and metrics once the request is done.
type scope struct {
	requestID string
	// requestIDs is []string{requestID}, shared by the response header and
	// the upstream request header (both only read it).
	requestIDs []string
	route      string
	escPath    string // r.URL.EscapedPath(), computed once by observe
	identity   *auth.Identity
	resource   auth.Resource // what the request is about, once known (for the decision log)
	decision   policy.Decision
	decided    bool

	// Set by the embed handler for the upstream leg.
	kind       routeKind
	upToken    string    // token sent to Metabase (scrubbed from responses)
	handle     string    // handle the browser holds in its place
	renewed    string    // a fresh handle for an expired one
	upstreamAt int       // status Metabase answered, 0 if none
	upStart    time.Time // when the upstream round trip began
	// Where forward sends the request: the path below Metabase's (escaped
	// and not) and the query.
	upPath, upRawPath, upQuery string

	// Set by the SSO handlers: the Metabase session key opened from the
	// caller's sealed cookie or handle (injected upstream after the strip),
	// and the page to sign in again for when Metabase says it has ended.
	mbSession     string
	ssoReturn     string
	ssoFromCookie bool // the session came from the sealed cookie (cleared when it ends)
}

type routeKind int

const (
	kindOther routeKind = iota
	kindEmbedPage
	kindEmbedAPI
	kindStatic
	kindProperties
	kindSSOPage
	kindSSOAPI
)

type scopeKey struct{}

func scopeOf(r *http.Request) *scope {
	s, _ := r.Context().Value(scopeKey{}).(*scope)
	if s == nil {
		return &scope{}
	}
	return s
}

// withScope attaches s to r, and the whole request's deadline when timeout
// is positive (Metabase's leg included: forward passes r on as it is). One
// copy of the request serves both; cancel releases the deadline's timer.
func withScope(r *http.Request, s *scope, timeout time.Duration) (_ *http.Request, cancel context.CancelFunc) {
	ctx := context.WithValue(r.Context(), scopeKey{}, s)
	cancel = func() {}
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	return r.WithContext(ctx), cancel
}

// escapedPath is r.URL.EscapedPath(), computed once per request.
func escapedPath(r *http.Request) string {
	if s, ok := r.Context().Value(scopeKey{}).(*scope); ok && s.escPath != "" {
		return s.escPath
	}
	return urlEscapedPath(r.URL)
}

// urlEscapedPath is u.EscapedPath() without its escape scan, slow per
// byte, in the common case: a path of unreserved characters and slashes
// is its own escaped form.
func urlEscapedPath(u *url.URL) string {
	if u.RawPath == "" && plainPath(u.Path) {
		return u.Path
	}
	return u.EscapedPath()
}

// plainPath reports whether p is unreserved bytes and "/" only, eight
// bytes at a time.
func plainPath(p string) bool { return swar.IsURLPlain(p) }

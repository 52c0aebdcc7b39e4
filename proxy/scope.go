package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unsafe"

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
	// the upstream request header (both only read it); xff is the
	// X-Forwarded-For value's backing. Both are in the scopeCtx, not in
	// the pooled scope.
	requestIDs []string
	xff        *[1]string
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

// scopeCtx is the request's context below the deadline: its parent plus
// the scope, and the backing of the per-request header values the gate
// shares between the response, the outbound request and the log (request
// id, X-Forwarded-For). It is one allocation, as context.WithValue was,
// and it is never pooled: the transport's goroutines may still read the
// outbound header after the handler returns, and these values live as
// long as anything references them.
type scopeCtx struct {
	context.Context
	s      *scope
	ridBuf [40]byte  // the generated request id's bytes, never written again
	rid    [1]string // X-Request-Id, on the response and to Metabase
	xff    [1]string // X-Forwarded-For to Metabase
}

func (c *scopeCtx) Value(k any) any {
	if _, ok := k.(scopeKey); ok {
		return c.s
	}
	return c.Context.Value(k)
}

// newRequestID is a per-process random prefix and a counter, in c's own
// bytes (so the string costs no allocation of its own).
func (c *scopeCtx) newRequestID() string {
	n := strconv.AppendUint(append(append(c.ridBuf[:0], ridPrefix...), '-'), ridCounter.Add(1), 36)
	return unsafe.String(&n[0], len(n))
}

// withScope attaches s to r, with s's request id and forwarding values
// backed by the context (setRequestID), and the whole request's deadline
// when timeout is positive (Metabase's leg included: forward passes r on
// as it is). One copy of the request serves both; cancel releases the
// deadline's timer.
func withScope(r *http.Request, c *scopeCtx, timeout time.Duration) (_ *http.Request, cancel context.CancelFunc) {
	c.Context = r.Context()
	var ctx context.Context = c
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

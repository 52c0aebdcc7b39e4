package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/internal/bytescan"
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
	// scanned is escPath and what one scan of its bytes found (the path
	// checks and the embed parser reuse it instead of scanning again).
	scanned  policy.ScannedPath
	identity *auth.Identity
	subject  string        // a refused caller's verified subject, when identity is nil
	resource auth.Resource // what the request is about, once known (for the decision log)
	decision policy.Decision
	decided  bool

	// Set by the embed handler for the upstream leg.
	kind       routeKind
	unrated    bool   // metadata: not counted against the tenant's rate (countsAgainstRate)
	upToken    string // token sent to Metabase (scrubbed from responses)
	handle     string // handle the browser holds in its place
	renewed    string // a fresh handle for an expired one
	upstreamAt int    // status Metabase answered, 0 if none
	// upstreamBroken: Metabase's body ended in an error (a reset, or cut at
	// the deadline): the answer is not whole (answeredWhole).
	upstreamBroken bool
	upStart        time.Time // when the upstream round trip began
	// Where forward sends the request: the path below Metabase's (escaped
	// and not) and the query.
	upPath, upRawPath, upQuery string

	// Set by the SSO handlers: the Metabase session key opened from the
	// caller's sealed cookie or handle (injected upstream after the strip),
	// and the page to sign in again for when Metabase says it has ended.
	mbSession     string
	ssoReturn     string
	ssoFromCookie bool // the session came from the sealed cookie (cleared when it ends)

	// ctx is the request's scopeCtx (its deadline watches Metabase's body).
	ctx *scopeCtx

	// scan streams Metabase's body past the credential scanner (see
	// scanStream); kept here so a response costs no allocation for it.
	scan credentialScanner
}

type routeKind int

const (
	kindOther routeKind = iota
	kindEmbedPage
	kindEmbedAPI
	kindEmbedInfo // GET /api/embed/{card|dashboard}/{token}: its JSON is rewritten
	kindStatic
	kindProperties
	kindSSOPage
	kindSSOAPI
)

type scopeKey struct{}

func scopeOf(r *http.Request) *scope {
	if c, ok := r.Context().(*scopeCtx); ok {
		return c.s // the request as observe passed it on: no Value walk
	}
	s, _ := r.Context().Value(scopeKey{}).(*scope)
	if s == nil {
		return &scope{}
	}
	return s
}

// scopeCtx is the request's context: its parent plus the scope, the
// upstream deadline, and the backing of the per-request header values the
// gate shares between the response, the outbound request and the log
// (request id, X-Forwarded-For). It is never pooled: the transport's
// goroutines and contexts derived from it may outlive the handler, and
// these values live as long as anything references them.
//
// Its cancellation is the parent's (the client going away), nothing more:
// no cancelCtx of the gate's own per request, so the transport's context
// hangs off the server's as it does for a bare proxy (no allocation, no
// children map, no cancel walk). The upstream deadline is kept without it:
// the transport waits for Metabase's headers at most min(response header
// timeout, timeout) (newTransport), and the one deadline watcher
// (runDeadlines) closes Metabase's body at the deadline, which cuts a
// stream stalled mid-body: the transport closes the connection and the
// read in progress fails (TestUpstreamCutMidStream/stall).
type scopeCtx struct {
	context.Context // the request's own context
	s               *scope
	deadline        time.Time // zero: no upstream deadline
	prev, next      *scopeCtx // in the watcher's list while listed
	listed          bool

	mu      sync.Mutex
	expired bool      // the watcher found it past its deadline
	body    io.Closer // Metabase's body, once the answer arrived (watchBody)

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

// errPastDeadline is Metabase's answer arriving after the request's
// upstream deadline: a timeout (504) to classifyUpstream.
var errPastDeadline = fmt.Errorf("Metabase's answer came after the upstream deadline (upstream.timeout): %w", context.DeadlineExceeded)

// watchBody gives the deadline watcher Metabase's body to close at the
// deadline. Past it already, the body is closed now and errPastDeadline
// returned.
func (c *scopeCtx) watchBody(b io.Closer) error {
	if c == nil || c.deadline.IsZero() || b == nil {
		return nil
	}
	c.mu.Lock()
	c.body = b
	expired := c.expired
	c.mu.Unlock()
	if expired {
		_ = b.Close()
		return errPastDeadline
	}
	return nil
}

// cut is the watcher's: the deadline has passed. The body, if it arrived,
// is closed (a transport body's Close is idempotent and safe beside a
// read; after the request ended it does nothing).
func (c *scopeCtx) cut() {
	c.mu.Lock()
	c.expired = true
	b := c.body
	c.mu.Unlock()
	if b != nil {
		_ = b.Close()
	}
}

// newRequestID is a per-process random prefix and a counter, in c's own
// bytes (so the string costs no allocation of its own).
func (c *scopeCtx) newRequestID() string {
	n := strconv.AppendUint(append(append(c.ridBuf[:0], ridPrefix...), '-'), ridCounter.Add(1), 36)
	return unsafe.String(&n[0], len(n))
}

// withScope attaches c (and its scope) to r, with the whole request's
// deadline, timeout after start, when timeout is positive (Metabase's leg
// included: forward passes r on as it is). One copy of the request serves
// both; release the deadline with c.release when the request ends.
func withScope(r *http.Request, c *scopeCtx, start time.Time, timeout time.Duration) *http.Request {
	c.Context = r.Context()
	c.s.ctx = c
	if timeout > 0 {
		c.deadline = start.Add(timeout)
		watchDeadline(c)
	}
	return r.WithContext(c)
}

// release ends the request's deadline: out of the watcher's list.
func (c *scopeCtx) release() {
	if !c.deadline.IsZero() {
		unwatchDeadline(c)
	}
}

// deadlineTick is how often the watcher looks for requests past their
// deadline: a request is cut at most this late.
const deadlineTick = 25 * time.Millisecond

// deadlines lists the requests in flight that have a deadline. One
// goroutine (runDeadlines) walks it every deadlineTick while it is not
// empty, and exits after two idle ticks.
var deadlines struct {
	mu      sync.Mutex
	head    *scopeCtx
	running bool
}

func watchDeadline(c *scopeCtx) {
	l := &deadlines
	l.mu.Lock()
	c.prev, c.next, c.listed = nil, l.head, true
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		go runDeadlines()
	}
}

func unwatchDeadline(c *scopeCtx) {
	deadlines.mu.Lock()
	unlinkDeadline(c)
	deadlines.mu.Unlock()
}

// unlinkDeadline takes c off the list; deadlines.mu is held.
func unlinkDeadline(c *scopeCtx) {
	if !c.listed {
		return
	}
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		deadlines.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next, c.listed = nil, nil, false
}

func runDeadlines() {
	t := time.NewTicker(deadlineTick)
	defer t.Stop()
	var expired []*scopeCtx
	idle := 0
	for range t.C {
		now := time.Now()
		l := &deadlines
		l.mu.Lock()
		for c := l.head; c != nil; {
			next := c.next
			if !now.Before(c.deadline) {
				unlinkDeadline(c)
				expired = append(expired, c)
			}
			c = next
		}
		if l.head != nil {
			idle = 0
		} else if idle++; idle >= 2 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		for i, c := range expired {
			c.cut()
			expired[i] = nil
		}
		expired = expired[:0]
	}
}

// escapedPath is r.URL.EscapedPath(), computed once per request.
func escapedPath(r *http.Request) string {
	if c, ok := r.Context().(*scopeCtx); ok && c.s.escPath != "" {
		return c.s.escPath
	}
	if s, ok := r.Context().Value(scopeKey{}).(*scope); ok && s.escPath != "" {
		return s.escPath
	}
	return urlEscapedPath(r.URL)
}

// urlEscapedPath is u.EscapedPath() without its escape scan, slow per
// byte, in the common case: a path of unreserved characters and slashes
// is its own escaped form.
// scanRequestPath is the request's escaped path, scanned once: a path with
// no escapes and only [A-Za-z0-9_.-/] bytes is its own escaped form, so
// one scan gives both that and what the path checks need.
func scanRequestPath(u *url.URL) policy.ScannedPath {
	if u.RawPath == "" {
		if sp := policy.ScanPath(u.Path); sp.Plain() {
			return sp
		}
	}
	return policy.ScanPath(urlEscapedPath(u))
}

// scannedPath is the request's scanned escaped path below the public
// prefix: the scope's, or scanned now for a request without one.
func (g *Gate) scannedPath(r *http.Request) policy.ScannedPath {
	if c, ok := r.Context().(*scopeCtx); ok && c.s.escPath != "" && c.s.scanned.String() == c.s.escPath {
		return c.s.scanned.TrimPrefix(g.prefix)
	}
	return policy.ScanPath(g.stripPrefix(r))
}

func urlEscapedPath(u *url.URL) string {
	if u.RawPath == "" && plainPath(u.Path) {
		return u.Path
	}
	return u.EscapedPath()
}

// plainPath reports whether p is unreserved bytes and "/" only, eight
// bytes at a time.
func plainPath(p string) bool { return bytescan.IsURLPlain(p) }

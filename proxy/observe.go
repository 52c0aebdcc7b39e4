package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/policy"
)

// statusWriter records the status and size of a response. It forwards
// Flush, so Metabase's streamed 202 query results stay streamed.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observation is what one request's bookkeeping needs, pooled.
type observation struct {
	sw     statusWriter
	sc     scope
	fields [10]zap.Field // the access line's fields, without a slice per request
}

var observed = sync.Pool{New: func() any { return &observation{} }}

// requestIDs are a per-process random prefix and a counter: unique, cheap,
// and they reveal nothing.
var (
	ridPrefix = func() string {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}()
	ridCounter atomic.Uint64
)

// observe wraps the whole router (gorilla/mux runs Use middleware only on
// matched routes, so a 404 would go uncounted): request id, path sanity,
// metrics, and one access log line.
func (g *Gate) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o := observed.Get().(*observation)
		o.sw = statusWriter{ResponseWriter: w}
		o.sc = scope{route: routeUnmatched}
		sw, s := &o.sw, &o.sc
		c := &scopeCtx{s: s}
		// The trust check first: without trusted proxies (the usual case)
		// the header is not even looked up.
		if id := trustedRequestID(g, r); id != "" {
			s.requestID = id
		} else {
			s.requestID = c.newRequestID()
		}
		c.rid[0] = s.requestID
		s.requestIDs, s.xff = c.rid[:], &c.xff
		sw.Header()["X-Request-Id"] = s.requestIDs
		s.scanned = scanRequestPath(r.URL)
		s.escPath = s.scanned.String()
		g.metrics.InFlightInc()
		r = withScope(r, c, start, g.cfg.Upstream.Timeout)
		// Book-keeping runs even when the reverse proxy aborts a cut
		// stream with panic(http.ErrAbortHandler), which net/http expects.
		defer func() {
			c.release()
			g.metrics.InFlightDec()
			end := time.Now() // one clock read: the duration and the line's time
			g.record(r, sw, s, end.Sub(start), end, o.fields[:0])
			if v := recover(); v != nil {
				panic(v)
			}
			*o = observation{}
			observed.Put(o)
		}()
		if reason, detail := g.sane(r, s); reason != "" {
			g.deny(sw, r, policy.Decision{Reason: reason, Detail: detail})
			return
		}
		next.ServeHTTP(sw, r)
	})
}

// trustedRequestID is the X-Request-Id a trusted proxy sent (at most 128
// bytes), or "".
func trustedRequestID(g *Gate, r *http.Request) string {
	if len(g.trusted) == 0 || !g.fromTrustedProxy(r) {
		return ""
	}
	if id := r.Header.Get("X-Request-Id"); len(id) <= 128 {
		return id
	}
	return ""
}

// record counts the request and writes its one access log line: appended
// straight into the log's buffer when the logger is NewLogger's without
// sampling (accessCore), else through zap.
func (g *Gate) record(r *http.Request, sw *statusWriter, s *scope, d time.Duration, end time.Time, fields []zap.Field) {
	if sw.status == 0 {
		sw.status = http.StatusOK
	}
	g.metrics.ObserveRequest(s.route, r.Method, sw.status, d)
	if s.identity != nil {
		g.metrics.TenantRequest(s.identity.Tenant, sw.status < 400)
	}
	path := s.scanned
	switch {
	case s.escPath == "":
		path = policy.ScanPath(escapedPath(r))
	case path.String() != s.escPath:
		path = policy.ScanPath(s.escPath) // a scope observe did not fill
	}
	if ac, ok := g.log.Core().(*accessCore); ok {
		var tenant, subject string
		if s.identity != nil {
			tenant, subject = s.identity.Tenant, s.identity.Subject
		}
		var reason string
		if s.decided {
			reason = string(s.decision.Reason)
		}
		o := accessLines.Get().(*accessLine)
		at := end
		if ac.now != nil {
			at = ac.now()
		}
		o.b = appendAccessLine(o.b[:0], at, s.requestID, s.route, r.Method, path, sw.status, sw.bytes,
			d.Microseconds(), s.identity != nil, tenant, subject, reason)
		_, _ = ac.out.Write(o.b) // as zap's ioCore: a failed write is the writer's to report
		if cap(o.b) <= 4<<10 {
			accessLines.Put(o)
		}
		return
	}
	if ce := g.log.Check(zap.InfoLevel, "request"); ce != nil {
		fields = append(fields,
			zap.String("request_id", s.requestID),
			zap.String("route", s.route),
			zap.String("method", r.Method),
			zap.String("path", redactPath(path.String())),
			zap.Int("status", sw.status),
			zap.Int64("bytes", sw.bytes),
			zap.Int64("duration_us", d.Microseconds()), // an integer: a float costs the line a microsecond
		)
		if s.identity != nil {
			fields = append(fields, zap.String("tenant", s.identity.Tenant), zap.String("subject", s.identity.Subject))
		} else if s.subject != "" {
			fields = append(fields, zap.String("subject", s.subject))
		}
		if s.decided {
			fields = append(fields, zap.String("reason", string(s.decision.Reason)))
		}
		ce.Write(fields...)
	}
}

// accessLine is a pooled buffer for one access line; lines longer than
// 4 KiB (long refused paths) are not kept.
type accessLine struct{ b []byte }

var accessLines = sync.Pool{New: func() any { return &accessLine{b: make([]byte, 0, 512)} }}

// sane refuses, before any route sees it, a path outside the allowlist
// every route shares (policy.CleanPath: bytes [A-Za-z0-9_.-] and "/",
// escapes only in a values search prefix, no empty or dot segment), so a
// ";param", an escape or a backslash that some server would resolve
// differently from us never reaches a route's parser; and oversize paths
// and queries. A table lookup per byte, no allocation.
func (g *Gate) sane(r *http.Request, s *scope) (policy.Reason, string) {
	if len(s.escPath)+len(r.URL.RawQuery) > g.cfg.Limits.MaxTokenBytes*2 {
		return policy.ReasonRequestTooLarge, "path and query longer than allowed"
	}
	if err := s.scanned.Clean(g.prefix); err != nil {
		return policy.ReasonMalformedRequest, err.Error()
	}
	return "", ""
}

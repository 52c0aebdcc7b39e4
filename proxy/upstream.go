package proxy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/policy"
	"github.com/tenantgate/tenantgate/proxy/sso"
)

// newTransport is tuned for one upstream: many idle connections, bounded
// dial and response-header waits, and a read buffer that takes a typical
// answer (JSON rows, tens of KiB) in one system call, not in 4 KiB steps.
func newTransport(c configs.UpstreamConfig) *http.Transport {
	d := &net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second}
	headers := c.ResponseHeaderTimeout
	if c.Timeout > 0 && (headers <= 0 || c.Timeout < headers) {
		// The whole request's deadline bounds the wait for headers too:
		// the request's context carries no deadline (scopeCtx).
		headers = c.Timeout
	}
	return &http.Transport{
		Proxy:                 nil, // never an environment proxy between the gate and Metabase
		DialContext:           d.DialContext,
		MaxIdleConns:          c.MaxIdleConnsPerHost * 2,
		MaxIdleConnsPerHost:   c.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: headers,
		TLSHandshakeTimeout:   c.DialTimeout,
		ExpectContinueTimeout: time.Second,
		ReadBufferSize:        TransportReadBufferSize,
	}
}

// TransportReadBufferSize is each upstream connection's read buffer (at
// most MaxIdleConnsPerHost of them idle). Exported so the load test and
// the benchmarks give the bare proxy the same transport.
const TransportReadBufferSize = 32 << 10

// bufferPool lends the reverse proxy its 32 KiB copy buffers. A buffered
// channel rather than a sync.Pool: Put of a slice into a sync.Pool
// allocates its box on every request.
type bufferPool struct{ c chan []byte }

func (b *bufferPool) Get() []byte {
	select {
	case x := <-b.c:
		return x
	default:
		return make([]byte, 32*1024)
	}
}

func (b *bufferPool) Put(x []byte) {
	select {
	case b.c <- x:
	default: // full: let the GC have it
	}
}

func newBufferPool() *bufferPool { return &bufferPool{c: make(chan []byte, 1024)} }

// newReverseProxy builds the one reverse proxy to Metabase, over rt
// wrapped so that no protocol switch ever reaches it (upgrade.go).
func (g *Gate) newReverseProxy(rt http.RoundTripper) *httputil.ReverseProxy {
	g.fw = g.newForwarding()
	return &httputil.ReverseProxy{
		Rewrite:        func(pr *httputil.ProxyRequest) { g.rewrite(pr, &g.fw) },
		Transport:      noSwitchTransport{rt},
		BufferPool:     newBufferPool(),
		ModifyResponse: g.modifyResponse,
		ErrorHandler:   g.upstreamError,
		ErrorLog:       nil,
	}
}

// forward sends an allowed request to Metabase at path?query (escaped, no
// public prefix). The decision is already made; rewrite only re-targets,
// from the scope: the request itself is passed on as it is (no copy), and
// its context already carries the upstream deadline (see observe).
func (g *Gate) forward(w http.ResponseWriter, r *http.Request, path, query string) {
	s := scopeOf(r)
	s.upRawPath, s.upQuery = path, query
	if strings.IndexByte(path, '%') < 0 {
		s.upPath = path // nothing escaped: skip the copy PathUnescape would scan
	} else if p, err := url.PathUnescape(path); err == nil {
		s.upPath = p
	} else {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonMalformedRequest, Detail: "path does not unescape"})
		return
	}
	if s.kind == kindEmbedPage || s.kind == kindEmbedAPI || s.kind == kindEmbedInfo {
		// Set here, before the reverse proxy copies Metabase's headers
		// (modifyResponse drops Metabase's own), so the copy does not
		// rebuild a slice for it.
		w.Header()["Cache-Control"] = privateNoStore
	}
	s.upStart = time.Now()
	g.proxy.ServeHTTP(w, r)
}

// upstreamError turns a failed round trip into a fast JSON 502/504.
func (g *Gate) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, sso.ErrSessionEnded) {
		g.ssoSessionEnded(w, r)
		return
	}
	if errors.Is(err, errUpstreamRejectedToken) {
		s := scopeOf(r)
		// The policy allowed it, but what the browser got is this refusal:
		// the access line says so, not "allowed".
		s.decided, s.decision = true, policy.Decision{Reason: policy.ReasonUpstreamRejectedToken}
		g.log.Warn("Metabase refused the gate's token", zap.String("request_id", s.requestID), zap.String("route", s.route),
			zap.String("problem", err.Error()))
		g.deny(w, r, policy.Decision{Reason: policy.ReasonUpstreamRejectedToken, Detail: err.Error()})
		return
	}
	kind, reason := classifyUpstream(r, err)
	g.metrics.UpstreamError(kind)
	g.metrics.ObserveUpstream(scopeOf(r).route, 0, time.Since(scopeOf(r).upStart))
	if kind == "canceled" {
		// The client went away; nobody reads an answer. 499 is for the log.
		scopeOf(r).upstreamAt = 499
		w.WriteHeader(499)
		return
	}
	s := scopeOf(r)
	s.decided = true // the request was allowed; the failure is upstream
	g.deny(w, r, policy.Decision{Reason: reason, Detail: err.Error()})
}

func classifyUpstream(r *http.Request, err error) (string, policy.Reason) {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.Canceled) && r.Context().Err() == context.Canceled:
		return "canceled", policy.ReasonUpstreamUnavailable
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return "timeout", policy.ReasonUpstreamTimeout
	case errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &oe) && oe.Op == "dial"):
		return "dial", policy.ReasonUpstreamUnavailable
	default:
		return "other", policy.ReasonUpstreamUnavailable
	}
}

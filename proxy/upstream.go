package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/policy"
)

// newTransport is tuned for one upstream: many idle connections, bounded
// dial and response-header waits, and a read buffer that takes a typical
// answer (JSON rows, tens of KiB) in one system call, not in 4 KiB steps.
func newTransport(c configs.UpstreamConfig) *http.Transport {
	d := &net.Dialer{Timeout: c.DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 nil, // never an environment proxy between the gate and Metabase
		DialContext:           d.DialContext,
		MaxIdleConns:          c.MaxIdleConnsPerHost * 2,
		MaxIdleConnsPerHost:   c.MaxIdleConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: c.ResponseHeaderTimeout,
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

func (g *Gate) newReverseProxy(rt http.RoundTripper) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      rt,
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
	s.upStart = time.Now()
	g.proxy.ServeHTTP(w, r)
}

// Request headers that carry credentials for Metabase or for the app. A
// browser must never choose them (strip, then inject).
var strippedRequestHeaders = []string{
	"Cookie", "Authorization", "X-Metabase-Session", "X-Api-Key", "X-Metabase-Apikey",
	"X-Metabase-Anti-Csrf-Token", "X-Metabase-Sdk-Jwt-Hash", "X-Real-Ip", "True-Client-Ip",
	"X-Request-Id",
}

// rewrite targets Metabase. It is pure: it reads the inbound request and
// writes the outbound one, nothing else.
func (g *Gate) rewrite(pr *httputil.ProxyRequest) {
	s := scopeOf(pr.In)
	// What SetURL does, without re-deriving the upstream's paths per
	// request, and keeping the escaped form we checked.
	out := pr.Out.URL
	out.Scheme, out.Host = g.upstream.Scheme, g.upstream.Host
	out.Path = g.upPath + s.upPath
	out.RawPath = g.upRawPath + s.upRawPath
	out.RawQuery = s.upQuery
	pr.Out.Host = ""
	for _, h := range strippedRequestHeaders {
		delete(pr.Out.Header, h) // canonical keys: see init
	}
	if k := s.mbSession; k != "" {
		// Inject only after the strip: Metabase's cookie beats its header,
		// so the strip of every client cookie is what makes this the one
		// session Metabase uses. The key comes from the sealed cookie or
		// handle the SSO handler opened and bound, never from the client.
		pr.Out.Header.Set("X-Metabase-Session", k)
	}
	if k := s.kind; k == kindEmbedPage || k == kindProperties {
		// These bodies are read and rewritten: let the transport negotiate
		// (and undo) compression instead of the browser.
		pr.Out.Header.Del("Accept-Encoding")
	}
	if g.fromTrustedProxy(pr.In) {
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
			if v := pr.In.Header.Values(h); len(v) > 0 {
				pr.Out.Header[h] = v
			}
		}
	}
	setXForwarded(pr)
	if s.requestIDs == nil {
		s.requestIDs = []string{s.requestID}
	}
	pr.Out.Header["X-Request-Id"] = s.requestIDs
}

// setXForwarded is httputil.ProxyRequest.SetXForwarded with the proto
// values shared instead of allocated per request.
func setXForwarded(pr *httputil.ProxyRequest) {
	h := pr.Out.Header
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		h["X-Forwarded-For"] = []string{ip}
	} else {
		delete(h, "X-Forwarded-For")
	}
	h["X-Forwarded-Host"] = []string{pr.In.Host}
	if pr.In.TLS == nil {
		h["X-Forwarded-Proto"] = protoHTTP
	} else {
		h["X-Forwarded-Proto"] = protoHTTPS
	}
}

var protoHTTP, protoHTTPS = []string{"http"}, []string{"https"}

func init() {
	for i, h := range strippedRequestHeaders {
		strippedRequestHeaders[i] = http.CanonicalHeaderKey(h)
	}
}

func (g *Gate) fromTrustedProxy(r *http.Request) bool {
	if len(g.trusted) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	for _, n := range g.trusted {
		if ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// privateNoStore is shared by every response that sets it: net/http only
// reads header values, and nothing here appends to them.
var privateNoStore = []string{"private, no-store"}

// modifyResponse keeps Metabase's answers from undoing the gate's work:
// no cookies, no upstream token in a header, a redirect or a page, framing
// narrowed to the configured origins.
func (g *Gate) modifyResponse(resp *http.Response) error {
	s := scopeOf(resp.Request)
	s.upstreamAt = resp.StatusCode
	g.metrics.ObserveUpstream(s.route, resp.StatusCode, time.Since(s.upStart))
	h := resp.Header
	delete(h, "Set-Cookie") // canonical keys: the map ops skip canonicalising
	if loc := h["Location"]; len(loc) > 0 && loc[0] != "" {
		h.Set("Location", g.rewriteLocation(loc[0], s))
	}
	if s.upToken != "" {
		for k, vs := range h {
			for i, v := range vs {
				if strings.Contains(v, s.upToken) {
					vs[i] = strings.ReplaceAll(v, s.upToken, s.handle)
					h[k] = vs
				}
			}
		}
	}
	switch s.kind {
	case kindEmbedPage:
		h.Set("Content-Security-Policy", replaceFrameAncestors(h.Get("Content-Security-Policy"), g.csp))
		h.Del("X-Frame-Options")
		h["Cache-Control"] = privateNoStore
		if s.upToken != "" && strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			return scrubBody(resp, s.upToken, s.handle)
		}
	case kindEmbedAPI:
		h["Cache-Control"] = privateNoStore
		if s.renewed != "" {
			h.Set("X-Tenantgate-Handle", s.renewed)
		}
	case kindProperties:
		return dropSetupToken(resp)
	case kindSSOPage, kindSSOAPI:
		return g.modifySSOResponse(resp)
	}
	return nil
}

// rewriteLocation maps a redirect into Metabase onto the gate: same path
// under the public prefix, the handle in place of the token. A redirect
// anywhere else is left alone (it carries no token: scrubbed below).
func (g *Gate) rewriteLocation(loc string, s *scope) string {
	if s.upToken != "" {
		loc = strings.ReplaceAll(loc, s.upToken, s.handle)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return g.prefix + "/"
	}
	if u.IsAbs() {
		if u.Host != g.upstream.Host {
			return loc
		}
		u.Scheme, u.Host, u.User = "", "", nil
	}
	base := strings.TrimSuffix(g.upstream.Path, "/")
	if strings.HasPrefix(u.Path, "/") {
		u.Path = g.prefix + strings.TrimPrefix(u.Path, base)
		u.RawPath = ""
	}
	return u.String()
}

// maxScrub bounds the HTML page read into memory for token scrubbing.
const maxScrub = 8 << 20

// scrubBody replaces the upstream token by the handle in a small body
// (the embed page), so the browser never learns a token Metabase accepts.
func scrubBody(resp *http.Response, tok, handle string) error {
	if resp.Header.Get("Content-Encoding") != "" {
		return errors.New("embed page arrived encoded; refusing to pass it unscrubbed")
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxScrub+1))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading embed page to scrub it: %w", err)
	}
	if len(b) > maxScrub {
		return errors.New("embed page larger than 8 MiB; refusing to pass it unscrubbed")
	}
	setBody(resp, bytes.ReplaceAll(b, []byte(tok), []byte(handle)))
	return nil
}

// setBody replaces a response's body with b, headers to match.
func setBody(resp *http.Response, b []byte) {
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	resp.Header.Del("Content-Encoding")
}

// dropSetupToken removes "setup-token" from /api/session/properties: it
// is the first step of CVE-2023-38646 and no browser needs it.
func dropSetupToken(resp *http.Response) error {
	if resp.Header.Get("Content-Encoding") != "" {
		return errors.New("session properties arrived encoded; refusing to pass them unfiltered")
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxScrub+1))
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("reading session properties: %w", err)
	}
	var m map[string]json.RawMessage
	if len(b) > maxScrub || json.Unmarshal(b, &m) != nil {
		return errors.New("session properties are not a JSON object; refusing to pass them")
	}
	if _, ok := m["setup-token"]; ok {
		delete(m, "setup-token")
		if b, err = json.Marshal(m); err != nil {
			return fmt.Errorf("re-encoding session properties: %w", err)
		}
	}
	setBody(resp, b)
	return nil
}

// replaceFrameAncestors swaps Metabase's frame-ancestors (it sends "*" on
// embed pages) for ours, keeping its other directives.
func replaceFrameAncestors(csp, ours string) string {
	if csp == "" {
		return ours
	}
	parts := strings.Split(csp, ";")
	out := parts[:0]
	for _, p := range parts {
		t := strings.TrimSpace(p)
		if t == "" || strings.HasPrefix(strings.ToLower(t), "frame-ancestors") {
			continue
		}
		out = append(out, t)
	}
	return strings.Join(append(out, ours), "; ")
}

// upstreamError turns a failed round trip into a fast JSON 502/504.
func (g *Gate) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, errSSOSessionEnded) {
		g.ssoSessionEnded(w, r)
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

package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
)

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
	if k := s.kind; k == kindEmbedPage || k == kindProperties || k == kindEmbedInfo {
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

package proxy

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"go.uber.org/zap"
)

// forwardedHeader names the only request headers of a browser that reach
// Metabase (allowlist: accept what is known, drop the rest). They are
// content negotiation, conditional requests for assets, the body's type
// for the SSO API's JSON calls, and the headers Metabase's frontend and the
// SDK send (X-Metabase-Client and -Client-Version, X-Metabase-Embedded,
// X-Metabase-Locale). Everything else is dropped, whatever its spelling,
// including:
//   - credentials (Cookie, Authorization, X-Metabase-Session, X-Api-Key,
//     the anti-CSRF token): the gate injects the one session Metabase may
//     use, after the drop;
//   - Origin, X-Forwarded-*, Forwarded, X-Original-Host, X-Host, Referer:
//     when MB_SITE_URL is unset, Metabase adopts the first request's
//     Origin, else its X-Forwarded-Host, as its site URL and builds
//     redirects from it (maybe-set-site-url); the gate sends its own
//     X-Forwarded-* instead (setXForwarded);
//   - X-Original-URL, X-Rewrite-URL, X-HTTP-Method-Override and its kin:
//     a server that honours them would route another path or method than
//     the one the gate checked;
//   - Upgrade, Connection, HTTP2-Settings, TE, Expect: hop-by-hop and
//     protocol switches (see upgrade.go);
//   - Range and If-Range: no route serves partial content, and a cached
//     asset must be a whole one.
//
// A switch, not a map: it compares lengths and then bytes, where a map
// hashes every header name of every request.
func forwardedHeader(k string) bool {
	switch k {
	case "Accept", "Accept-Encoding", "Accept-Language",
		"Content-Type", "User-Agent",
		"If-None-Match", "If-Modified-Since",
		"X-Metabase-Client", "X-Metabase-Client-Version",
		"X-Metabase-Embedded", "X-Metabase-Locale":
		return true
	}
	return false
}

// forwarding is what the gate tells Metabase about the browser's side,
// built once: the public host, and the public scheme when it is known.
type forwarding struct {
	host  []string // X-Forwarded-Host
	proto []string // X-Forwarded-Proto; nil: from the connection (or a trusted proxy)
}

// newForwarding derives the X-Forwarded-Host and -Proto values from the
// public URL (validated as an origin). Without one, Metabase is sent its
// own host: never a client's choice, and a warning says what to set.
func (g *Gate) newForwarding() forwarding {
	if pub := g.cfg.PublicURL; pub != "" {
		if u, err := url.Parse(pub); err == nil && u.Host != "" {
			return forwarding{host: []string{u.Host}, proto: []string{u.Scheme}}
		}
	}
	g.log.Warn("no TENANTGATE_PUBLIC_URL: Metabase is sent its own host as X-Forwarded-Host, never the client's; set it to the origin browsers reach the gate at, and set Metabase's site URL (MB_SITE_URL) to that origin plus the prefix",
		zap.String("x_forwarded_host", g.upstream.Host))
	return forwarding{host: []string{g.upstream.Host}}
}

// rewrite targets Metabase. It is pure: it reads the inbound request and
// writes the outbound one, nothing else.
func (g *Gate) rewrite(pr *httputil.ProxyRequest, fw *forwarding) {
	s := scopeOf(pr.In)
	// What SetURL does, without re-deriving the upstream's paths per
	// request, and keeping the escaped form we checked.
	out := pr.Out.URL
	out.Scheme, out.Host = g.upstream.Scheme, g.upstream.Host
	out.Path = g.upPath + s.upPath
	out.RawPath = g.upRawPath + s.upRawPath
	out.RawQuery = s.upQuery
	pr.Out.Host = ""
	h := pr.Out.Header
	for k := range h {
		if !forwardedHeader(k) { // canonical keys; a key net/http left as sent is dropped
			delete(h, k)
		}
	}
	if k := s.mbSession; k != "" {
		// Inject only after the drop: Metabase's cookie beats its header,
		// so dropping every client cookie is what makes this the one
		// session Metabase uses. The key comes from the sealed cookie or
		// handle the SSO handler opened and bound, never from the client.
		h.Set("X-Metabase-Session", k)
	}
	if k := s.kind; k == kindEmbedPage || k == kindProperties || k == kindEmbedInfo {
		// These bodies are read and rewritten: let the transport negotiate
		// (and undo) compression instead of the browser.
		delete(h, "Accept-Encoding")
	}
	g.setXForwarded(pr, s, fw)
	if s.requestIDs == nil {
		s.requestIDs = []string{s.requestID}
	}
	h["X-Request-Id"] = s.requestIDs
}

// setXForwarded sets X-Forwarded-For (a trusted proxy's chain, then the
// peer), X-Forwarded-Host (the public host, never the client's Host) and
// X-Forwarded-Proto (the public scheme; without a public URL, a trusted
// proxy's http or https, else the connection's). Values are shared, not
// allocated per request: net/http only reads them; X-Forwarded-For's slice
// is backed by the request's scopeCtx (s.xff).
func (g *Gate) setXForwarded(pr *httputil.ProxyRequest, s *scope, fw *forwarding) {
	h := pr.Out.Header
	trusted := g.fromTrustedProxy(pr.In)
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		if prior := pr.In.Header["X-Forwarded-For"]; trusted && len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		if s.xff != nil {
			if s.xff[0] != ip { // a second leg of the same request only reads it
				s.xff[0] = ip
			}
			h["X-Forwarded-For"] = s.xff[:]
		} else {
			h["X-Forwarded-For"] = []string{ip}
		}
	}
	h["X-Forwarded-Host"] = fw.host
	switch {
	case fw.proto != nil:
		h["X-Forwarded-Proto"] = fw.proto
	case trusted && isProto(pr.In.Header["X-Forwarded-Proto"], "https"):
		h["X-Forwarded-Proto"] = protoHTTPS
	case trusted && isProto(pr.In.Header["X-Forwarded-Proto"], "http"):
		h["X-Forwarded-Proto"] = protoHTTP
	case pr.In.TLS == nil:
		h["X-Forwarded-Proto"] = protoHTTP
	default:
		h["X-Forwarded-Proto"] = protoHTTPS
	}
}

// isProto reports whether a forwarded proto header is exactly one value,
// p (any case).
func isProto(v []string, p string) bool { return len(v) == 1 && strings.EqualFold(v[0], p) }

var protoHTTP, protoHTTPS = []string{"http"}, []string{"https"}

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

package proxy

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/metrics"
)

// errUpstreamCredential: Metabase's answer carried a Metabase credential
// where the gate reads it before sending anything (a header, a body it
// reads whole), so the answer is refused (502 upstream-unavailable).
var errUpstreamCredential = errors.New("Metabase's answer carries a Metabase credential; refused")

// Places a credential was found, as the metric and the log name them.
const (
	whereHeader = metrics.CredentialHeader
	whereBody   = metrics.CredentialBody
	whereStream = metrics.CredentialStream
)

// credentialRemoved logs and counts a credential kept from the browser. The
// log holds a short hash of it, never the credential.
func (g *Gate) credentialRemoved(s *scope, where, kind string, cred []byte) {
	g.metrics.CredentialRemoved(where)
	sum := sha256.Sum256(cred)
	g.log.Warn("Metabase's answer carried a Metabase credential; kept from the browser",
		zap.String("request_id", s.requestID), zap.String("route", s.route), zap.String("where", where),
		zap.String("credential", kind), zap.String("credential_sha256", hex.EncodeToString(sum[:4])))
}

// checkHeaders swaps the token the gate sent, where Metabase echoes it (an
// export redirect), for the browser's handle, and refuses a response whose
// headers (Location included) then hold a Metabase credential, or a UUID
// in a header named like a session. One pass over the headers does both:
// each value is swapped before it is checked.
func (g *Gate) checkHeaders(h http.Header, s *scope) error {
	session := s.scan.f.session
	swap := s.upToken != "" && s.handle != ""
	for k, vs := range h {
		named := sessionNamed(k) // once per name, not per value
		for i, v := range vs {
			if swap && strings.Contains(v, s.upToken) {
				v = strings.ReplaceAll(v, s.upToken, s.handle)
				vs[i] = v
			}
			if strings.IndexByte(v, '%') >= 0 {
				// A URL's reader decodes it: look at what it decodes to.
				if u, err := url.PathUnescape(v); err == nil {
					v = u
				}
			}
			if strings.Contains(v, "eyJ") || (len(session) > 0 && strings.Contains(v, s.mbSession)) {
				if hit, ok := s.scan.f.find([]byte(v), 0); ok {
					g.credentialRemoved(s, whereHeader, hit.kind, []byte(v[hit.start:hit.end]))
					return fmt.Errorf("header %s: %w", k, errUpstreamCredential)
				}
			}
			if named {
				if i := uuidIndex(v); i >= 0 {
					g.credentialRemoved(s, whereHeader, "session", []byte(v[i:i+36]))
					return fmt.Errorf("header %s holds a session id: %w", k, errUpstreamCredential)
				}
			}
		}
	}
	return nil
}

// checkBody refuses a body read whole that holds a Metabase credential.
func (g *Gate) checkBody(b []byte, s *scope) error {
	if hit, ok := s.scan.f.find(b, 0); ok {
		g.credentialRemoved(s, whereBody, hit.kind, b[hit.start:hit.end])
		return fmt.Errorf("body: %w", errUpstreamCredential)
	}
	return nil
}

// scanStream makes the body stream through the credential scanner, the
// scanner in the request's scope (no allocation). A gzip body is decoded
// on the way (the browser gets it plain: compressed bytes cannot be
// scanned); any other encoding is refused.
func (g *Gate) scanStream(resp *http.Response, s *scope) error {
	if resp.Body == nil || resp.Body == http.NoBody {
		return nil
	}
	src := resp.Body
	switch enc := resp.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		src = &lazyGzip{src: resp.Body}
		resp.Header.Del("Content-Encoding")
		resp.Header.Del("Content-Length")
		resp.ContentLength = -1
		resp.Uncompressed = true
	default:
		resp.Body.Close()
		return fmt.Errorf("Metabase's answer is encoded %q, which the gate cannot scan for credentials; refused", enc)
	}
	s.scan.src, s.scan.g, s.scan.s = src, g, s
	resp.Body = &s.scan
	return nil
}

// lazyGzip decodes a gzip body from its first read (an empty body, a HEAD
// answer, has no gzip header to read when the response arrives).
type lazyGzip struct {
	src io.ReadCloser
	zr  *gzip.Reader
}

func (z *lazyGzip) Read(p []byte) (int, error) {
	if z.zr == nil {
		zr, err := gzip.NewReader(z.src)
		if err != nil {
			return 0, fmt.Errorf("decoding Metabase's gzip answer: %w", err)
		}
		z.zr = zr
	}
	return z.zr.Read(p)
}

func (z *lazyGzip) Close() error { return z.src.Close() }

// uuidIndex is where the first UUID-shaped run (8-4-4-4-12 hex digits) in v
// starts, or -1: the shape of a Metabase session key.
func uuidIndex(v string) int {
	for i := 0; i+36 <= len(v); i++ {
		if isUUID(v[i : i+36]) {
			return i
		}
	}
	return -1
}

func isUUID(v string) bool {
	for i := 0; i < 36; i++ {
		c := v[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// sessionNamed reports whether a header name says it carries a session or
// a cookie (X-Metabase-Session, a Set-Cookie variant), in any case.
func sessionNamed(k string) bool {
	switch k {
	case "Content-Type", "Content-Length", "Date", "Cache-Control", "X-Request-Id", "Vary", "Etag",
		"Last-Modified", "Expires", "Content-Encoding", "X-Content-Type-Options", "Strict-Transport-Security",
		"Content-Security-Policy", "X-Frame-Options", "X-Xss-Protection", "Referrer-Policy", "Location":
		return false // the names Metabase's answers carry, canonical (no scan)
	}
	// One pass for both words: only an 's' or a 'c' (either case) can
	// begin one, and most names have few.
	for i := 0; i+len("cookie") <= len(k); i++ {
		switch k[i] | 0x20 {
		case 's':
			if i+len("session") <= len(k) && hasPrefixFold(k[i:], "session") {
				return true
			}
		case 'c':
			if hasPrefixFold(k[i:], "cookie") {
				return true
			}
		}
	}
	return false
}

// hasPrefixFold reports whether s begins with lower (lower-case ASCII),
// ignoring ASCII case.
func hasPrefixFold(s, lower string) bool {
	for j := 0; j < len(lower); j++ {
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[j] {
			return false
		}
	}
	return true
}

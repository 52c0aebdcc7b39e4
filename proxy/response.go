package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// privateNoStore is shared by every response that sets it: net/http only
// reads header values, and nothing here appends to them.
var privateNoStore = []string{"private, no-store"}

// modifyResponse keeps Metabase's answers from undoing the gate's work:
// no cookies, no Metabase credential in a header, a redirect or a body,
// no filter values the policy does not list, framing narrowed to the
// configured origins.
func (g *Gate) modifyResponse(resp *http.Response) error {
	s := scopeOf(resp.Request)
	if err := s.ctx.watchBody(resp.Body); err != nil {
		return err
	}
	s.upstreamAt = resp.StatusCode
	g.metrics.ObserveUpstream(s.route, resp.StatusCode, time.Since(s.upStart))
	h := resp.Header
	delete(h, "Set-Cookie") // canonical keys: the map ops skip canonicalising
	if loc := h["Location"]; len(loc) > 0 && loc[0] != "" {
		h.Set("Location", g.rewriteLocation(loc[0], s))
	}
	s.scan.f = credentialFinder{det: g.creds}
	if s.mbSession != "" {
		s.scan.f.session = []byte(s.mbSession)
	}
	if s.upToken != "" && s.upToken == s.handle {
		s.scan.f.own = []byte(s.upToken) // pass-through: the browser's own token
	}
	if err := g.checkHeaders(h, s); err != nil {
		return err
	}
	if s.kind == kindEmbedAPI || s.kind == kindEmbedInfo {
		if err := g.rejectedToken(resp); err != nil {
			return err
		}
	}
	switch s.kind {
	case kindEmbedPage:
		h.Set("Content-Security-Policy", replaceFrameAncestors(h.Get("Content-Security-Policy"), g.csp))
		h.Del("X-Frame-Options")
		delete(h, "Cache-Control") // private, no-store is already on the writer (forward)
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			return g.scrubPage(resp, s)
		}
	case kindEmbedAPI, kindEmbedInfo:
		delete(h, "Cache-Control") // private, no-store is already on the writer (forward)
		if s.renewed != "" {
			h.Set("X-Tenantgate-Handle", s.renewed)
		}
		if s.kind == kindEmbedInfo && resp.StatusCode == http.StatusOK {
			return g.dropParamValues(resp, s)
		}
	case kindProperties:
		return g.dropSetupToken(resp, s)
	case kindSSOPage, kindSSOAPI:
		if err := g.modifySSOResponse(resp); err != nil {
			return err
		}
	}
	return g.scanStream(resp, s)
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

// maxScrub bounds a body read into memory to be rewritten (the embed
// page, the public settings, the embed JSON).
const maxScrub = 8 << 20

// scrubPage replaces the upstream token by the handle in the embed page,
// so the browser never learns a token Metabase accepts, and refuses a page
// that holds any other Metabase credential.
func (g *Gate) scrubPage(resp *http.Response, s *scope) error {
	b, err := readWhole(resp, "embed page")
	if err != nil {
		return err
	}
	if s.upToken != "" {
		b = bytes.ReplaceAll(b, []byte(s.upToken), []byte(s.handle))
	}
	if err := g.checkBody(b, s); err != nil {
		return err
	}
	setBody(resp, b)
	return nil
}

// readWhole reads a small body to rewrite it, undoing gzip; a body larger
// than maxScrub, or in another encoding, is refused (what the gate cannot
// read it cannot check).
func readWhole(resp *http.Response, what string) ([]byte, error) {
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	switch enc := resp.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("%s arrived gzip but does not decode (%v); refusing to pass it unchecked", what, err)
		}
		body = zr
	default:
		return nil, fmt.Errorf("%s arrived encoded %q; refusing to pass it unchecked", what, enc)
	}
	b, err := io.ReadAll(io.LimitReader(body, maxScrub+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s to check it: %w", what, err)
	}
	if len(b) > maxScrub {
		return nil, fmt.Errorf("%s larger than 8 MiB; refusing to pass it unchecked", what)
	}
	return b, nil
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
func (g *Gate) dropSetupToken(resp *http.Response, s *scope) error {
	b, err := readWhole(resp, "session properties")
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return errors.New("session properties are not a JSON object; refusing to pass them")
	}
	if _, ok := m["setup-token"]; ok {
		delete(m, "setup-token")
		if b, err = json.Marshal(m); err != nil {
			return fmt.Errorf("re-encoding session properties: %w", err)
		}
	}
	if err := g.checkBody(b, s); err != nil {
		return err
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

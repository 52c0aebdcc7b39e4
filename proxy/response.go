package proxy

import (
	"bytes"
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
		delete(h, "Cache-Control") // private, no-store is already on the writer (forward)
		if s.upToken != "" && strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			return scrubBody(resp, s.upToken, s.handle)
		}
	case kindEmbedAPI:
		delete(h, "Cache-Control") // private, no-store is already on the writer (forward)
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

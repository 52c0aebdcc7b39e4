package metabasetest

import (
	"crypto/rand"
	"errors"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Version is what the stand-in reports in X-Metabase-Version.
const Version = "v0.56.0"

// Options configures a Server. The zero value is a Metabase whose embedding
// secret is not set.
type Options struct {
	// SecretKey is the embedding secret, 64 hex chars. The HMAC key is the
	// UTF-8 bytes of this string, not the decoded bytes. Empty: every token
	// is refused with "The embedding secret key has not been set." (after
	// the header's alg checks, as in Metabase).
	SecretKey string
	// Now is the clock for exp and nbf and for export file names; nil
	// means time.Now.
	Now func() time.Time
	// StaticEmbeddingDisabled turns static (guest) embedding off globally:
	// every verified token is refused with "Embedding is not enabled.".
	StaticEmbeddingDisabled bool
	// APIKey is the one API key (of the Administrators group) the admin
	// read API accepts in X-API-Key. Empty: no key is valid, every admin
	// request answers 401 Unauthenticated.
	APIKey string
	// Sandboxing turns on the Enterprise "sandboxes" feature: /api/mt/gtap
	// answers, and the public settings' token-features say so. Off, it
	// answers 403 as Metabase does without the feature.
	Sandboxing bool
	// PublicSharingDisabled turns public sharing off: the public link
	// listings answer 400 "Public sharing is not enabled.".
	PublicSharingDisabled bool
	// SSO configures JWT SSO and the session API (see sso.go); the zero
	// value has JWT SSO off.
	SSO SSOOptions
	// SiteURL is MB_SITE_URL. Empty: the first request sets the site URL
	// from its headers (siteurl.go).
	SiteURL string
	// LegacyPathParams puts a legacy path normaliser in front (see
	// pathnorm.go): each segment's ";params" is removed, then dot segments
	// are resolved, before routing. Requests are recorded as received.
	LegacyPathParams bool
}

// Request is what the stand-in recorded of one request it received.
type Request struct {
	Method   string
	Path     string      // r.URL.EscapedPath()
	RawQuery string      // r.URL.RawQuery
	Header   http.Header // a clone of the request's header
	// Token is the token path segment of an /embed/* or /api/embed/*
	// request ("" otherwise), whether or not it is valid.
	Token string
	// Claims is Token's decoded payload when its HS256 signature verifies
	// with the secret (expiry and claims not checked); nil otherwise.
	Claims map[string]any
	// Body is the body of a POST /auth/sso (where the SDK's JWT rides
	// since 2026), at most 64 KiB; empty for any other request.
	Body string
	// Status is the status the stand-in answered, set when the response
	// header is written (0 until then).
	Status int
}

// Server is a stand-in for Metabase's static-embedding surface: the
// /api/embed API with its token and parameter rules, the /embed pages, the
// health and public-settings endpoints and a few static assets. It records
// every request. Use it as an http.Handler, usually under httptest.
type Server struct {
	opts     Options
	mu       sync.Mutex
	reqs     []*Request
	override atomic.Pointer[func(http.ResponseWriter, *http.Request) bool]
	failing  atomic.Pointer[string] // error_type of failing queries; nil: they run

	// data is the served content; changes (cmu held) store a new copy.
	data atomic.Pointer[content]
	cmu  sync.Mutex

	sso  ssoState     // SSO users and sessions
	site siteURLState // the site URL adopted from the first request
}

var _ http.Handler = (*Server)(nil)

// New returns a Server serving the sample content with opts.
func New(opts Options) *Server {
	s := &Server{opts: opts}
	s.data.Store(sampleContent())
	return s
}

// content is the current snapshot of the served content.
func (s *Server) content() *content { return s.data.Load() }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// Requests returns a copy of every request received since New or the last
// Reset, in arrival order. It is safe for concurrent use.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = *r
		out[i].Header = r.Header.Clone()
		out[i].Claims = maps.Clone(r.Claims)
	}
	return out
}

// Reset forgets the recorded requests.
func (s *Server) Reset() {
	s.mu.Lock()
	s.reqs = nil
	s.mu.Unlock()
}

// SetOverride installs f (nil removes it). When set, f runs first for every
// request; if it returns true the stand-in does nothing else, so f must have
// written the whole response. The request is recorded either way. Tests use
// it to make Metabase misbehave (Set-Cookie, a Location carrying a token,
// 5xx). Safe to call while serving.
func (s *Server) SetOverride(f func(w http.ResponseWriter, r *http.Request) bool) {
	if f == nil {
		s.override.Store(nil)
		return
	}
	s.override.Store(&f)
}

// FailQueries makes every embedded card and dashcard query fail as Metabase
// answers a query the warehouse could not run: 202 (the status goes out
// before the query ends), then a body with status "failed", the generic
// message embeds get, and errorType (e.g. "db"). "" makes queries run
// again. Exports are not affected. Safe to call while serving.
func (s *Server) FailQueries(errorType string) {
	if errorType == "" {
		s.failing.Store(nil)
		return
	}
	s.failing.Store(&errorType)
}

// ServeHTTP records r, then answers it like Metabase would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	rec := &Request{
		Method:   r.Method,
		Path:     path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Token:    tokenSegment(path),
		Body:     readSSOBody(r, path),
	}
	if rec.Token != "" {
		rec.Claims = s.verifiedClaims(rec.Token)
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, rec)
	s.mu.Unlock()
	s.maybeSetSiteURL(r)

	sw := &statusWriter{ResponseWriter: w, onStatus: func(code int) {
		s.mu.Lock()
		rec.Status = code
		s.mu.Unlock()
	}}
	if f := s.override.Load(); f != nil && (*f)(sw, r) {
		return
	}
	if s.opts.LegacyPathParams {
		path = legacyNormalize(path)
	}
	s.serve(sw, r, path)
}

// statusWriter records the status as soon as the header goes out, so a
// client that has read a response always finds its status recorded.
type statusWriter struct {
	http.ResponseWriter
	onStatus func(int)
	wrote    bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.wrote = true
		w.onStatus(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets query results stream.
func (w *statusWriter) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap serves http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// tokenSegment finds the token in an /embed/* or /api/embed/* path by its
// position, whether or not it would route.
func tokenSegment(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/embed/"):
		segs := strings.Split(strings.TrimPrefix(path, "/api/embed/"), "/")
		if len(segs) >= 2 && (segs[0] == modelCard || segs[0] == modelDashboard) {
			return segs[1]
		}
		if len(segs) >= 3 && (segs[0] == "pivot" || segs[0] == "tiles") && (segs[1] == modelCard || segs[1] == modelDashboard) {
			return segs[2]
		}
	case strings.HasPrefix(path, "/embed/dashboard/"), strings.HasPrefix(path, "/embed/question/"):
		segs := strings.Split(path, "/")
		if len(segs) == 4 {
			if tok, _, ok := exportRedirect(segs[3]); ok && segs[2] == "question" {
				return tok
			}
			return segs[3]
		}
	}
	return ""
}

// exportRedirect splits "{token}.{csv|json|xlsx}".
func exportRedirect(seg string) (token, format string, ok bool) {
	i := strings.LastIndexByte(seg, '.')
	if i <= 0 {
		return "", "", false
	}
	if _, known := exportTypes[seg[i+1:]]; !known {
		return "", "", false
	}
	return seg[:i], seg[i+1:], true
}

// serve routes a request once it is recorded.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, path string) {
	if s.serveSSO(w, r, path) || s.serveEmbedSDK(w, r, path) { // embedjs.go
		return
	}
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	if strings.HasPrefix(path, "/api/") {
		s.securityHeaders(w.Header(), false, "")
		w.Header().Set("X-Metabase-Version", Version)
		if r.Method == http.MethodOptions {
			// Metabase answers every API preflight.
			w.WriteHeader(http.StatusOK)
			return
		}
		if rest, ok := strings.CutPrefix(path, "/api/embed/"); ok {
			if err := s.serveEmbedAPI(w, r, rest); err != nil {
				var ae *apiError
				if !errors.As(err, &ae) {
					ae = &apiError{http.StatusBadRequest, err.Error()}
				}
				writeText(w, ae.status, ae.msg)
			}
			return
		}
		if rest, ok := adminArea(path); ok {
			s.serveAdminAPI(w, r, rest)
			return
		}
		switch {
		case get && path == "/api/health":
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		case get && path == "/api/session/properties":
			writeJSON(w, http.StatusOK, s.publicSettings(r))
		default:
			writeText(w, http.StatusNotFound, msgNoEndpoint)
		}
		return
	}
	if rest, ok := strings.CutPrefix(path, "/embed/"); ok && get {
		if seg, isQuestion := strings.CutPrefix(rest, "question/"); isQuestion && !strings.Contains(seg, "/") {
			if token, format, ok := exportRedirect(seg); ok {
				s.securityHeaders(w.Header(), true, "")
				loc := s.siteLink("/api/embed/card/" + token + "/query/" + format)
				if r.URL.RawQuery != "" || r.URL.ForceQuery {
					loc += "?" + r.URL.RawQuery
				}
				w.Header().Set("Location", loc)
				w.WriteHeader(http.StatusFound)
				return
			}
		}
		// Any /embed/* page is the embed app; the token is not looked at
		// here, the page's script sends it to /api/embed.
		nonce := newNonce()
		s.securityHeaders(w.Header(), true, nonce)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(strings.ReplaceAll(embedPage, "{{nonce}}", nonce)))
		return
	}
	if get {
		if asset, ok := staticAssets[path]; ok {
			s.securityHeaders(w.Header(), false, "")
			if strings.HasPrefix(path, "/app/dist/") {
				w.Header().Set("Cache-Control", "public, max-age=31536000")
				w.Header().Del("Expires")
			}
			w.Header().Set("Content-Type", asset.contentType)
			w.WriteHeader(http.StatusOK)
			w.Write(asset.body())
			return
		}
	}
	s.securityHeaders(w.Header(), false, "")
	writeText(w, http.StatusNotFound, msgNotFound)
}

// securityHeaders sets what Metabase's security middleware sets. Only
// /embed pages may be framed, by anyone.
func (s *Server) securityHeaders(h http.Header, embed bool, nonce string) {
	frameAncestors := "'none'"
	if embed {
		frameAncestors = "*"
	} else {
		h.Set("X-Frame-Options", "DENY")
	}
	script := "'self' 'unsafe-eval'"
	if nonce != "" {
		script += " 'nonce-" + nonce + "'"
	}
	h.Set("Content-Security-Policy", "default-src 'none'; script-src "+script+"; child-src 'self'; "+
		"style-src 'self' 'unsafe-inline'; frame-src 'self'; font-src *; img-src * 'self' data:; "+
		"connect-src 'self'; manifest-src 'self'; frame-ancestors "+frameAncestors+";")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	h.Set("X-XSS-Protection", "1; mode=block")
	h.Set("X-Permitted-Cross-Domain-Policies", "none")
	h.Set("Cache-Control", "max-age=0, no-cache, must-revalidate, proxy-revalidate")
	h.Set("Expires", "Tue, 03 Jul 2001 06:00:00 GMT")
	h.Set("Last-Modified", s.now().UTC().Format(http.TimeFormat))
}

// publicSettings is a small GET /api/session/properties, with the keys an
// embed or an auditor reads. The setup token is null: setup is done.
func (s *Server) publicSettings(r *http.Request) map[string]any {
	m := map[string]any{
		"version":                           map[string]any{"tag": Version, "hash": "standin", "date": "2026-01-01"},
		"site-name":                         "Metabase stand-in",
		"site-url":                          nilIfEmpty(s.SiteURL()),
		"site-locale":                       "en",
		"application-name":                  "Metabase",
		"available-locales":                 [][]string{{"en", "English"}},
		"has-user-setup":                    true,
		"setup-token":                       nil,
		"anon-tracking-enabled":             false,
		"enable-embedding-interactive":      false,
		"embedding-app-origins-interactive": nil,
	}
	maps.Copy(m, s.embeddingSettings()) // sdk.go
	return m
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(msg))
}

// newNonce is a per-response CSP script nonce, as newest Metabase builds
// send.
func newNonce() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

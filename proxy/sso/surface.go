package sso

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/policy"
)

// Route names of the SSO routes: the values of the route label and log
// field.
const (
	RouteLogin  = "sso_login"   // GET /.tenantgate/sso: interactive sign-in
	RouteSDKJWT = "sdk_jwt"     // GET /.tenantgate/sdk/jwt: the SDK's JWT provider
	RouteAuth   = "sso_auth"    // GET and POST /auth/sso: the SDK's handshake, answered by the gate
	RouteAPI    = "sso_api"     // the Metabase API an SSO user may reach
	RoutePage   = "sso_page"    // the full app's pages
	RouteGuest  = "guest_token" // POST /.tenantgate/guest/token: embed.js's guest token provider (guest.go)
)

// CookieName is the sealed session cookie. The gate strips every Cookie
// header before Metabase, this one included, and removes it from what the
// identity source sees.
const CookieName = "tenantgate_sso"

// sessionMax caps a sealed session's life when the app session has no exp
// of its own (introspection), or a longer one.
const sessionMax = 12 * time.Hour

// maxAPIBody bounds the JSON bodies of the SSO query endpoints.
const maxAPIBody = 1 << 20

// The X-Metabase-Client values of the SDK (React) and embed.js (modular
// embedding); any other is refused.
var sdkClients = map[string]bool{"embedding-sdk-react": true, "embedding-simple": true}

// ErrSessionEnded is what Surface.ModifyResponse returns when Metabase
// answered 401 to a request made with a sealed session: that session has
// ended on Metabase's side. The gate's error handler hands it to
// Surface.SessionEnded.
var ErrSessionEnded = errors.New("Metabase answered 401: the Metabase session has ended")

// Caller is the part of the gate every handler here needs: who is asking,
// and the one place that answers denials. Its methods must not retain r.
type Caller interface {
	// Identify resolves the caller's app session. On nil it has answered
	// the request already (a denial).
	Identify(w http.ResponseWriter, r *http.Request) *auth.Identity
	// Decided records r's policy decision (once per request); Deny answers
	// a denial (and records it); Fail answers "could not decide".
	Decided(r *http.Request, d policy.Decision)
	Deny(w http.ResponseWriter, r *http.Request, d policy.Decision)
	Fail(w http.ResponseWriter, r *http.Request, err error)
}

// Host is what the surface needs from the gate that mounts it. Its methods
// must not retain r.
type Host interface {
	Caller
	// Forward proxies r to Metabase as who, with fw's session injected
	// after every client credential is stripped.
	Forward(w http.ResponseWriter, r *http.Request, who *auth.Identity, fw Forward)
	// Guarded is the audit guard's verdict on SSO API calls.
	Guarded() policy.Decision
	// Path is r's escaped path below the public prefix.
	Path(r *http.Request) string
	// RequestID is r's request id, sent on to Metabase.
	RequestID(r *http.Request) string
	// FromTrustedProxy reports whether r's peer is a trusted proxy, whose
	// X-Forwarded-* headers may be believed.
	FromTrustedProxy(r *http.Request) bool
	// Secure reports whether the browser reached the gate over TLS.
	Secure(r *http.Request) bool
}

// Forward is how the gate sends an SSO request to Metabase.
type Forward struct {
	// Page: a page of the full app (framing narrowed), else an API call.
	Page bool
	// Key is the Metabase session key, opened from a sealed value bound to
	// the caller.
	Key string
	// FromCookie: Key came from the sealed cookie (cleared when it ends).
	FromCookie bool
	// Path and Query are rebuilt from what was parsed, never the client's
	// bytes. Return is the page to sign in again for (pages only).
	Path, Query, Return string
}

// Options are what a Surface is built from; all are required except Now
// and Transport.
type Options struct {
	Config    *configs.Config
	Host      Host
	Metrics   *metrics.Metrics
	Logger    *zap.Logger
	Upstream  *url.URL // Metabase's site URL
	Transport http.RoundTripper
	Now       func() time.Time
	// Prefix is the public prefix without its trailing slash.
	Prefix string
	// Revocations are sso.revoke, parsed.
	Revocations []policy.Revocation
}

// Surface is the SSO and SDK surface of one gate: built once by New,
// immutable but for its ticket memory.
type Surface struct {
	host        Host
	log         *zap.Logger
	metrics     *metrics.Metrics
	now         func() time.Time
	upstream    *url.URL
	prefix      string
	minter      *auth.SSOMinter
	sealer      *auth.Sealer
	client      *http.Client
	sameSite    http.SameSite
	partitioned bool
	dataset     bool
	cookiePath  string
	// origin is TENANTGATE_PUBLIC_URL ("" when unset), for the absolute
	// URL of the SDK's discovery.
	origin string
	// tickets remembers the SDK tickets already exchanged.
	tickets *ticketCache
	// method is sso.exchange_method; postRefused is set (auto) once
	// Metabase refused a JWT POST.
	method      string
	postRefused atomic.Bool
	// revocations are sso.revoke, parsed; ended the Metabase sessions this
	// gate ended for them.
	revocations []policy.Revocation
	ended       endedKeys
}

// New builds the surface from o.Config.SSO.
func New(o Options) (*Surface, error) {
	if o.Config == nil || o.Host == nil || o.Metrics == nil || o.Logger == nil || o.Upstream == nil {
		return nil, errors.New("sso.New: Config, Host, Metrics, Logger and Upstream are required")
	}
	cfg := o.Config
	c := cfg.SSO
	minter, err := auth.NewSSOMinter(auth.SSOOptions{
		Secret: c.JWTSharedSecret.Reveal(), EmailTemplate: c.EmailTemplate, GroupMappings: c.GroupMappings,
		TenantAttribute: cfg.Tenant.Param, Attributes: c.Attributes, Tenants: c.Tenants, TenantAttributes: c.TenantAttributes,
	})
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(c.SealingKeys))
	for i, k := range c.SealingKeys {
		keys[i] = k.Reveal()
	}
	sealer, err := auth.NewSealer(keys, nil)
	if err != nil {
		return nil, err
	}
	s := &Surface{host: o.Host, log: o.Logger, metrics: o.Metrics, now: o.Now, upstream: o.Upstream, prefix: o.Prefix,
		minter: minter, sealer: sealer, partitioned: c.Partitioned, dataset: c.Dataset, cookiePath: o.Prefix + "/",
		origin: cfg.PublicURL, tickets: newTicketCache(ticketCacheMax), method: c.ExchangeMethod,
		revocations: o.Revocations}
	if s.method == "" {
		s.method = methodAuto
	}
	if s.now == nil {
		s.now = time.Now
	}
	switch c.CookieSameSite {
	case "strict":
		s.sameSite = http.SameSiteStrictMode
	case "none":
		s.sameSite = http.SameSiteNoneMode
	default:
		s.sameSite = http.SameSiteLaxMode
	}
	rt := o.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	// The exchange reads Metabase's 302 and its Set-Cookie; it never
	// follows the redirect.
	s.client = &http.Client{Transport: rt, Timeout: cfg.Upstream.ResponseHeaderTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if cfg.PublicURL == "" {
		s.log.Warn("no TENANTGATE_PUBLIC_URL: the SDK's discovery answers public-url-unknown unless a trusted proxy sends X-Forwarded-Proto and X-Forwarded-Host; set it to the origin browsers reach the gate at")
	}
	return s, nil
}

// Routes adds the SSO routes to m; named wraps a handler with its route
// name. They come after the gate's other routes, so the static-embedding
// paths keep their handlers.
func (s *Surface) Routes(m *mux.Router, named func(string, http.HandlerFunc) http.Handler) {
	get := []string{http.MethodGet}
	m.Handle("/.tenantgate/sso", named(RouteLogin, s.serveLogin)).Methods(get...)
	m.Handle("/.tenantgate/sdk/jwt", named(RouteSDKJWT, s.serveSDKJWT)).Methods(get...)
	m.Handle("/auth/sso", named(RouteAuth, s.serveAuth)).Methods(http.MethodGet, http.MethodPost)
	m.PathPrefix("/api/").Handler(named(RouteAPI, s.serveAPI))
	for _, p := range []string{"/dashboard/", "/question/", "/collection/"} {
		m.PathPrefix(p).Handler(named(RoutePage, s.servePage)).Methods(http.MethodGet, http.MethodHead)
	}
	m.Handle("/search", named(RoutePage, s.servePage)).Methods(http.MethodGet, http.MethodHead)
}

// identify is Host.Identify without the sealed cookie: an introspection
// endpoint is sent the app's cookies, never the gate's.
func (s *Surface) identify(w http.ResponseWriter, r *http.Request) *auth.Identity {
	if _, err := r.Cookie(CookieName); err != nil {
		return s.host.Identify(w, r)
	}
	r2 := r.Clone(r.Context())
	r2.Header.Del("Cookie")
	for _, c := range r.Cookies() {
		if c.Name != CookieName {
			r2.AddCookie(c)
		}
	}
	return s.host.Identify(w, r2)
}

var allowed = policy.Decision{Allow: true, Reason: policy.ReasonAllowed}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

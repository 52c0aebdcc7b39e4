package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/policy"
	"github.com/tenantgate/tenantgate/proxy/sso"
)

// Options are the parts a Gate is built from. All are required except
// Transport (a tuned http.Transport is built from the config), Now and
// Guard.
type Options struct {
	Config  *configs.Config
	Auth    auth.Authenticator
	Handles *auth.HandleKeyring
	Signer  *auth.EmbedSigner
	Policy  *policy.Engine
	Metrics *metrics.Metrics
	Logger  *zap.Logger

	Transport http.RoundTripper
	Now       func() time.Time
	// Guard refuses resources the last audit of Metabase found unsafe; nil
	// means no guard (no METABASE_API_KEY): the gate cannot see how
	// dashboards are wired, and says so once at start.
	Guard *Guard
}

// Gate is the public http.Handler: every browser request to Metabase goes
// through it. Build it with New.
type Gate struct {
	cfg      *configs.Config
	auth     auth.Authenticator
	handles  *auth.HandleKeyring
	signer   *auth.EmbedSigner
	policy   *policy.Engine
	metrics  *metrics.Metrics
	log      *zap.Logger
	now      func() time.Time
	upstream *url.URL
	// upPath and upRawPath are the upstream's base path without its
	// trailing slash, computed once for rewrite.
	upPath, upRawPath string
	prefix            string
	trusted           []*net.IPNet
	csp               string

	merge  *merger // nil when merging is off
	fair   *fairness
	assets *assetCache
	guard  *Guard       // nil: no audit of Metabase
	sso    *sso.Surface // nil: SSO off (no MB_JWT_SHARED_SECRET)
	// revoked are sso.revoke: they refuse embed handles too (handlers.go),
	// SSO or not.
	revoked []policy.Revocation
	creds   *auth.CredentialDetector
	keys    keyProbe   // the last check of the gate's keys against Metabase
	fw      forwarding // what Metabase is told of the browser's side

	admin   *Admin
	proxy   *httputil.ReverseProxy
	handler http.Handler
}

var _ http.Handler = (*Gate)(nil)

// Route names: the only values of the route label and log field.
const (
	routeMint       = "mint"
	routeEmbedPage  = "embed_page"
	routeEmbedAPI   = "embed_api"
	routeStatic     = "static"
	routeProperties = "session_properties"
	routeGeoJSON    = "geojson"
	routeUnmatched  = "_unmatched"
)

// New builds a Gate.
func New(o Options) (*Gate, error) {
	if o.Config == nil || o.Auth == nil || o.Handles == nil || o.Signer == nil || o.Policy == nil || o.Metrics == nil || o.Logger == nil {
		return nil, errors.New("proxy.New: Config, Auth, Handles, Signer, Policy, Metrics and Logger are required")
	}
	up, err := url.Parse(o.Config.Metabase.SiteURL)
	if err != nil {
		return nil, fmt.Errorf("proxy.New: parsing METABASE_SITE_URL: %w", err)
	}
	g := &Gate{
		cfg: o.Config, auth: o.Auth, handles: o.Handles, signer: o.Signer, policy: o.Policy,
		metrics: o.Metrics, log: o.Logger, now: o.Now, upstream: up,
		prefix: strings.TrimSuffix(o.Config.PublicPrefix, "/"),
	}
	if g.now == nil {
		g.now = time.Now
	}
	g.upPath = strings.TrimSuffix(up.Path, "/")
	g.upRawPath = strings.TrimSuffix(up.EscapedPath(), "/")
	for _, c := range o.Config.TrustedProxies {
		n, err := parseCIDROrIP(c)
		if err != nil {
			return nil, fmt.Errorf("proxy.New: trusted proxy %q: %w", c, err)
		}
		g.trusted = append(g.trusted, n)
	}
	for i, rv := range o.Config.SSO.Revoke {
		before, err := rv.BeforeTime()
		if err != nil {
			return nil, fmt.Errorf("proxy.New: sso.revoke[%d]: %w", i, err)
		}
		g.revoked = append(g.revoked, policy.Revocation{Tenant: rv.Tenant, Subject: rv.Subject, Before: before})
	}
	g.csp = "frame-ancestors " + frameAncestors(o.Config.FrameAncestors)
	g.creds = auth.NewCredentialDetector(o.Config.Metabase.EmbeddingSecretKey.Reveal(), o.Config.SSO.JWTSharedSecret.Reveal())
	rt := o.Transport
	if rt == nil {
		rt = newTransport(o.Config.Upstream)
	}
	g.proxy = g.newReverseProxy(rt)
	if o.Config.SSO.Enabled() {
		g.sso, err = sso.New(sso.Options{Config: o.Config, Host: ssoHost{g}, Metrics: o.Metrics, Logger: o.Logger,
			Upstream: up, Transport: rt, Now: g.now, Prefix: g.prefix, Revocations: g.revoked})
		if err != nil {
			return nil, fmt.Errorf("proxy.New: %w", err)
		}
	}
	pc := o.Config.Protect
	if !pc.DisableQueryMerging {
		g.merge = newMerger(pc.MergeMaxBytes, pc.MicroCacheTTL, pc.MicroCacheBytes)
	}
	g.fair = newFairness(pc.TenantRate, pc.TenantBurst, pc.TenantConcurrency, pc.TenantMaxWait, o.Config.Session.CacheSize)
	g.assets = newAssetCache(pc.AssetCacheBytes)
	g.guard = o.Guard
	if g.guard == nil {
		g.log.Warn("no METABASE_API_KEY: the gate cannot see how dashboards are wired, so it cannot refuse one whose card ignores the tenant (metabase#59677); set it to turn the audit guard on")
	}
	g.handler = g.observe(g.refuseUpgrades(g.router()))
	return g, nil
}

// frameAncestors denies framing by default: an embed is framed only by
// origins the operator named.
func frameAncestors(origins []string) string {
	if len(origins) == 0 {
		return "'none'"
	}
	return strings.Join(origins, " ")
}

func parseCIDROrIP(s string) (*net.IPNet, error) {
	if !strings.Contains(s, "/") {
		ip := net.ParseIP(s)
		if ip == nil {
			return nil, errors.New("not an IP or CIDR")
		}
		bits := 32
		if ip.To4() == nil {
			bits = 128
		}
		return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
	}
	_, n, err := net.ParseCIDR(s)
	return n, err
}

// ServeHTTP serves one browser request.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// router names every route the gate serves. Everything else is refused:
// the allowlist is the contract's §6 and §7, deny by default.
func (g *Gate) router() http.Handler {
	root := mux.NewRouter().UseEncodedPath().SkipClean(true)
	m := root
	if g.prefix != "" {
		m = root.PathPrefix(g.prefix).Subrouter()
	}
	// Most frequent first: mux tries routes in order. The paths do not
	// overlap, so the order changes nothing else.
	m.PathPrefix("/api/embed/").Handler(g.named(routeEmbedAPI, g.serveEmbed)).Methods(http.MethodGet)
	m.PathPrefix("/app/").Handler(g.named(routeStatic, g.serveStatic)).Methods(http.MethodGet, http.MethodHead)
	m.Handle(policy.EmbedSDKPath, g.named(routeEmbedSDK, g.serveEmbedSDK)).Methods(http.MethodGet, http.MethodHead) // before the prefix it shares
	m.PathPrefix("/embed/").Handler(g.named(routeEmbedPage, g.serveEmbed)).Methods(http.MethodGet, http.MethodHead)
	m.Handle("/.tenantgate/embed/{kind:dashboard|question}/{id:[1-9][0-9]{0,8}}", g.named(routeMint, g.serveMint)).Methods(http.MethodGet)
	m.Handle("/.tenantgate/guest/token", g.named(routeGuestToken, sso.Guest{Host: ssoHost{g}}.ServeHTTP)).Methods(http.MethodPost)
	m.Handle("/favicon.ico", g.named(routeStatic, g.serveStatic)).Methods(http.MethodGet, http.MethodHead)
	m.Handle("/api/session/properties", g.named(routeProperties, g.serveProperties)).Methods(http.MethodGet)
	m.Handle("/api/geojson/{key:[A-Za-z0-9_-]+}", g.named(routeGeoJSON, g.serveGeoJSON)).Methods(http.MethodGet)
	if g.sso != nil {
		g.sso.Routes(m, g.named) // after the routes above, which keep their paths
	}
	notAllowed := func(reason policy.Reason, detail string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := scopeOf(r)
			s.route = routeUnmatched
			g.deny(w, r, policy.Decision{Reason: reason, Detail: detail})
		})
	}
	root.NotFoundHandler = notAllowed(policy.ReasonRouteNotAllowed, "path is not on the allowlist")
	root.MethodNotAllowedHandler = notAllowed(policy.ReasonMethodNotAllowed, "method not allowed on this route")
	if m != root {
		m.NotFoundHandler = root.NotFoundHandler
		m.MethodNotAllowedHandler = root.MethodNotAllowedHandler
	}
	// Every chart's query is a GET under /api/embed/: answer it without
	// mux's route walk and its context copies. Same match as the route
	// above; anything else goes through mux.
	embedAPI := g.named(routeEmbedAPI, g.serveEmbed)
	apiPrefix := g.prefix + "/api/embed/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(escapedPath(r), apiPrefix) {
			embedAPI.ServeHTTP(w, r)
			return
		}
		root.ServeHTTP(w, r)
	})
}

// named records the route name in the request scope before the handler runs.
func (g *Gate) named(name string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scopeOf(r).route = name
		h(w, r)
	})
}

// stripPrefix returns the escaped path below the public prefix.
func (g *Gate) stripPrefix(r *http.Request) string {
	return strings.TrimPrefix(escapedPath(r), g.prefix)
}

package configs

import (
	"errors"
	"fmt"
	"iter"
	"maps"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Mode is what the configuration is validated for.
type Mode int

const (
	// ModeServe is production: every rule applies.
	ModeServe Mode = iota
	// ModeDemo is a single local process: TENANTGATE_HANDLE_SECRET may be
	// unset (the caller then uses a random per-process key).
	ModeDemo
	// ModeAudit is `tenantgate audit`, which only reads Metabase's admin
	// API: METABASE_SITE_URL and METABASE_API_KEY are required, the tenant
	// parameter and the policy are checked, and the gate's own keys and
	// identity source are not needed.
	ModeAudit
)

// Bounds that Validate enforces.
const (
	maxTokenTTL      = time.Hour
	minHandleTTL     = time.Minute
	maxHandleTTL     = 24 * time.Hour
	maxTenantMaxWait = 30 * time.Second
	maxMicroCacheTTL = 30 * time.Second
	minHMACKeyBytes  = 32
)

// Validate checks c, which should already hold its defaults (Load and
// ApplyDefaults fill them), and returns a *ValidationError listing every
// problem, or nil. Each problem names the setting by its environment
// variable and YAML key and says what to do. Validate never quotes a secret.
func (c *Config) Validate(mode Mode) error {
	var p problems
	if mode == ModeAudit {
		c.validateAudit(&p)
		c.validateNames(&p)
		c.validatePolicy(&p)
		return p.err()
	}
	c.validateMetabase(&p)
	c.validateIdentity(&p)
	c.validateHandles(&p, mode)
	c.validateServer(&p)
	c.validateDurations(&p)
	c.validateSizes(&p)
	c.validateNames(&p)
	c.validatePolicy(&p)
	c.validateSSO(&p)
	return p.err()
}

func (c *Config) validateMetabase(p *problems) {
	if c.Metabase.SiteURL == "" {
		p.addf("METABASE_SITE_URL (metabase.site_url) is required: set it to the address the gate reaches Metabase at, e.g. http://metabase:3000")
	} else {
		checkHTTPURL(p, "METABASE_SITE_URL (metabase.site_url)", c.Metabase.SiteURL)
	}
	c.validateAPIKey(p)

	key := c.Metabase.EmbeddingSecretKey.Reveal()
	switch {
	case key == "":
		p.addf("MB_EMBEDDING_SECRET_KEY (metabase.embedding_secret_key) is required: copy the embedding secret key from Metabase (Admin settings > Embedding) into MB_EMBEDDING_SECRET_KEY or the file named by MB_EMBEDDING_SECRET_KEY_FILE")
	case len(key) != 64 || !isHex(key):
		p.addf("MB_EMBEDDING_SECRET_KEY (metabase.embedding_secret_key) must be Metabase's embedding secret key, a hexadecimal-encoded 256-bit key (a 64-character string), but the value given %s: copy the key from Metabase (Admin settings > Embedding) unchanged",
			hexProblem(key))
	}
}

// validateAudit checks what `tenantgate audit` needs to read Metabase's
// admin API.
func (c *Config) validateAudit(p *problems) {
	if c.Metabase.SiteURL == "" {
		p.addf("METABASE_SITE_URL (metabase.site_url) is required: set it to the address Metabase's admin API is reached at, e.g. http://metabase:3000")
	} else {
		checkHTTPURL(p, "METABASE_SITE_URL (metabase.site_url)", c.Metabase.SiteURL)
	}
	if c.Metabase.APIKey == "" {
		p.addf("METABASE_API_KEY (metabase.api_key) is required to audit: create an API key in the Administrators group (Admin settings > Authentication > API keys) and put it in METABASE_API_KEY or the file named by METABASE_API_KEY_FILE")
	}
	c.validateAPIKey(p)
}

// validateAPIKey rejects a key that could not be sent as a header value.
func (c *Config) validateAPIKey(p *problems) {
	if k := c.Metabase.APIKey.Reveal(); strings.ContainsFunc(k, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		p.addf("METABASE_API_KEY (metabase.api_key) contains spaces or control characters: copy the key from Metabase unchanged")
	}
}

func (c *Config) validateIdentity(p *problems) {
	s := &c.Session
	hasJWT := len(s.JWTSecrets) > 0 || s.JWKSURL != ""
	hasIntrospect := c.Introspect.URL != ""
	switch {
	case !hasJWT && !hasIntrospect:
		p.addf("no identity source is configured: set TENANTGATE_SESSION_JWT_SECRET (session.jwt_secrets, HS256 keys) or TENANTGATE_SESSION_JWKS_URL (session.jwks_url) to verify the app's session JWT, or TENANTGATE_INTROSPECT_URL (introspect.url) to ask the app who the caller is")
	case hasJWT && hasIntrospect:
		p.addf("TENANTGATE_INTROSPECT_URL (introspect.url) and a session JWT source (TENANTGATE_SESSION_JWT_SECRET or TENANTGATE_SESSION_JWKS_URL) are both set: choose one identity source and unset the other")
	}
	if s.JWKSURL != "" {
		checkHTTPURL(p, "TENANTGATE_SESSION_JWKS_URL (session.jwks_url)", s.JWKSURL)
	}
	if c.Introspect.URL != "" {
		checkHTTPURL(p, "TENANTGATE_INTROSPECT_URL (introspect.url)", c.Introspect.URL)
	}
	for i, k := range s.JWTSecrets {
		name := fmt.Sprintf("TENANTGATE_SESSION_JWT_SECRET (session.jwt_secrets[%d])", i)
		checkHMACKey(p, name, "an HS256 key", k)
		if k != "" && k == c.Metabase.EmbeddingSecretKey {
			p.addf("%s equals MB_EMBEDDING_SECRET_KEY: the app's session key and Metabase's embedding key must differ, or a token meant for one would verify at the other", name)
		}
	}
}

func (c *Config) validateHandles(p *problems, mode Mode) {
	h := &c.Handles
	if len(h.Secrets) == 0 && mode == ModeServe {
		p.addf("TENANTGATE_HANDLE_SECRET (handles.secrets) is required: serve refuses to start without it: a random per-process key would break a second replica. Set it (or TENANTGATE_HANDLE_SECRET_FILE) to at least %d random bytes, the same on every replica", minHMACKeyBytes)
	}
	for i, k := range h.Secrets {
		name := fmt.Sprintf("TENANTGATE_HANDLE_SECRET (handles.secrets[%d])", i)
		checkHMACKey(p, name, "a handle signing key", k)
		if k == "" {
			continue
		}
		if k == c.Metabase.EmbeddingSecretKey {
			p.addf("%s equals MB_EMBEDDING_SECRET_KEY: a handle would then be a valid Metabase embed token that bypasses the gate; generate a separate handle secret", name)
		}
		for j, s := range c.Session.JWTSecrets {
			if k == s {
				p.addf("%s equals TENANTGATE_SESSION_JWT_SECRET (session.jwt_secrets[%d]): a handle would then verify as a session; generate a separate handle secret", name, j)
			}
		}
	}
}

func (c *Config) validateServer(p *problems) {
	checkListen(p, "TENANTGATE_LISTEN (listen)", c.Listen)
	checkListen(p, "TENANTGATE_ADMIN_LISTEN (admin_listen)", c.AdminListen)
	if sameListener(c.Listen, c.AdminListen) {
		p.addf("TENANTGATE_LISTEN (listen) and TENANTGATE_ADMIN_LISTEN (admin_listen) both use %q: give the admin listener (metrics, health) its own port", c.Listen)
	}
	checkPrefix(p, c.PublicPrefix)
	checkPublicURL(p, c.PublicURL)
	for i, a := range c.FrameAncestors {
		checkFrameAncestor(p, i, a)
	}
	for i, t := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(t); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(t); err == nil {
			continue
		}
		p.addf("TENANTGATE_TRUSTED_PROXIES (trusted_proxies[%d]) %q is neither an IP address nor a CIDR such as 10.0.0.0/8: list the addresses of the load balancers in front of the gate", i, t)
	}
}

func (c *Config) validateDurations(p *problems) {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"TENANTGATE_SHUTDOWN_GRACE (shutdown_grace)", c.ShutdownGrace},
		{"TENANTGATE_METABASE_TOKEN_TTL (metabase.token_ttl)", c.Metabase.TokenTTL},
		{"TENANTGATE_SESSION_JWKS_REFRESH (session.jwks_refresh)", c.Session.JWKSRefresh},
		{"TENANTGATE_SESSION_LEEWAY (session.leeway)", c.Session.Leeway},
		{"TENANTGATE_INTROSPECT_TTL (introspect.ttl)", c.Introspect.TTL},
		{"TENANTGATE_INTROSPECT_TIMEOUT (introspect.timeout)", c.Introspect.Timeout},
		{"TENANTGATE_HANDLE_TTL (handles.ttl)", c.Handles.TTL},
		{"TENANTGATE_HANDLE_RENEW_MAX (handles.renew_max)", c.Handles.RenewMax},
		{"TENANTGATE_UPSTREAM_DIAL_TIMEOUT (upstream.dial_timeout)", c.Upstream.DialTimeout},
		{"TENANTGATE_UPSTREAM_RESPONSE_HEADER_TIMEOUT (upstream.response_header_timeout)", c.Upstream.ResponseHeaderTimeout},
		{"TENANTGATE_UPSTREAM_TIMEOUT (upstream.timeout)", c.Upstream.Timeout},
		{"TENANTGATE_PASS_THROUGH_MAX_LIFETIME (pass_through.max_lifetime)", c.PassThrough.MaxLifetime},
		{"TENANTGATE_AUDIT_INTERVAL (audit.interval)", c.Audit.Interval},
		{"TENANTGATE_AUDIT_MAX_STALENESS (audit.max_staleness)", c.Audit.MaxStaleness},
		{"TENANTGATE_READ_HEADER_TIMEOUT (limits.read_header_timeout)", c.Limits.ReadHeaderTimeout},
	} {
		if d.v <= 0 {
			p.addf("%s is %s: it must be a positive duration such as 30s, or unset for the default", d.name, d.v)
		}
	}
	if a := c.Audit; a.Interval > 0 && a.MaxStaleness > 0 && a.MaxStaleness < a.Interval {
		p.addf("TENANTGATE_AUDIT_MAX_STALENESS (audit.max_staleness) %s is shorter than TENANTGATE_AUDIT_INTERVAL (audit.interval) %s: every verdict would go stale before the next audit; set it to a few intervals", a.MaxStaleness, a.Interval)
	}
	if pc := c.Protect; pc.MicroCacheTTL < 0 || pc.MicroCacheTTL > maxMicroCacheTTL {
		p.addf("TENANTGATE_MICRO_CACHE_TTL (protect.micro_cache_ttl) is %s: it must be between 0 (off) and %s; the cache is meant to absorb a herd of identical requests, not to serve stale data", pc.MicroCacheTTL, maxMicroCacheTTL)
	} else if pc.MicroCacheTTL > 0 && pc.DisableQueryMerging {
		p.addf("TENANTGATE_MICRO_CACHE_TTL (protect.micro_cache_ttl) is set but TENANTGATE_DISABLE_QUERY_MERGING (protect.disable_query_merging) is true: the micro-cache keeps merged answers, so turn merging on or the cache off")
	}
	if w := c.Protect.TenantMaxWait; w > maxTenantMaxWait {
		p.addf("TENANTGATE_TENANT_MAX_WAIT (protect.tenant_max_wait) is %s: it must be at most %s (a waiting request holds its connection); a negative value refuses at once", w, maxTenantMaxWait)
	} else if g := c.ShutdownGrace; g > 0 && w >= g {
		p.addf("TENANTGATE_TENANT_MAX_WAIT (protect.tenant_max_wait) %s is not shorter than TENANTGATE_SHUTDOWN_GRACE (shutdown_grace) %s: a request waiting its turn at shutdown would be cut; shorten the wait or lengthen the grace", w, g)
	}
	if c.Metabase.TokenTTL > maxTokenTTL {
		p.addf("TENANTGATE_METABASE_TOKEN_TTL (metabase.token_ttl) is %s: it must be at most %s, since a Metabase token cannot be revoked before it expires", c.Metabase.TokenTTL, maxTokenTTL)
	}
	h := &c.Handles
	if h.TTL > 0 && (h.TTL < minHandleTTL || h.TTL > maxHandleTTL) {
		p.addf("TENANTGATE_HANDLE_TTL (handles.ttl) is %s: it must be between %s and %s", h.TTL, minHandleTTL, maxHandleTTL)
	}
	if h.TTL > 0 && h.RenewMax > 0 && h.RenewMax < h.TTL {
		p.addf("TENANTGATE_HANDLE_RENEW_MAX (handles.renew_max) is %s, shorter than TENANTGATE_HANDLE_TTL (handles.ttl) %s: set it to at least the handle TTL", h.RenewMax, h.TTL)
	}
}

func (c *Config) validateSizes(p *problems) {
	for _, n := range []struct {
		name string
		v    int
	}{
		{"TENANTGATE_SESSION_CACHE_SIZE (session.cache_size)", c.Session.CacheSize},
		{"TENANTGATE_INTROSPECT_CACHE_SIZE (introspect.cache_size)", c.Introspect.CacheSize},
		{"TENANTGATE_UPSTREAM_MAX_IDLE_CONNS_PER_HOST (upstream.max_idle_conns_per_host)", c.Upstream.MaxIdleConnsPerHost},
		{"TENANTGATE_MAX_TOKEN_BYTES (limits.max_token_bytes)", c.Limits.MaxTokenBytes},
		{"TENANTGATE_MAX_HEADER_BYTES (limits.max_header_bytes)", c.Limits.MaxHeaderBytes},
		{"TENANTGATE_MERGE_MAX_BYTES (protect.merge_max_bytes)", c.Protect.MergeMaxBytes},
		{"TENANTGATE_TENANT_RATE (protect.tenant_rate)", c.Protect.TenantRate},
		{"TENANTGATE_TENANT_BURST (protect.tenant_burst)", c.Protect.TenantBurst},
		{"TENANTGATE_TENANT_CONCURRENCY (protect.tenant_concurrency)", c.Protect.TenantConcurrency},
		{"TENANTGATE_ASSET_CACHE_BYTES (protect.asset_cache_bytes)", c.Protect.AssetCacheBytes},
		{"TENANTGATE_MICRO_CACHE_BYTES (protect.micro_cache_bytes)", c.Protect.MicroCacheBytes},
	} {
		if n.v <= 0 {
			p.addf("%s is %d: it must be a positive number, or unset for the default", n.name, n.v)
		}
	}
	if l := c.Limits; l.MaxTokenBytes > 0 && l.MaxHeaderBytes > 0 && l.MaxTokenBytes > l.MaxHeaderBytes {
		p.addf("TENANTGATE_MAX_TOKEN_BYTES (limits.max_token_bytes) %d exceeds TENANTGATE_MAX_HEADER_BYTES (limits.max_header_bytes) %d: a token travels in the request line or a header, so raise the header limit or lower the token limit", l.MaxTokenBytes, l.MaxHeaderBytes)
	}
}

func (c *Config) validateNames(p *problems) {
	if !isToken(c.Session.Cookie) {
		p.addf("TENANTGATE_SESSION_COOKIE (session.cookie) %q is not a valid cookie name (no spaces, quotes or separators such as ; , =): set the name the app's session cookie has", c.Session.Cookie)
	}
	if strings.TrimSpace(c.Tenant.Claim) == "" {
		p.addf("TENANTGATE_TENANT_CLAIM (tenant.claim) is blank: name the session claim that holds the tenant, or unset it for %q", defaultTenantClaim)
	}
	if strings.TrimSpace(c.Tenant.Param) == "" {
		p.addf("TENANTGATE_TENANT_PARAM (tenant.param) is blank: name the Metabase parameter slug that filters by tenant, or unset it for %q", defaultTenantParam)
	}
	switch sub := c.Session.SubjectClaim; {
	case strings.TrimSpace(sub) == "":
		p.addf("TENANTGATE_SESSION_SUBJECT_CLAIM (session.subject_claim) is blank: name the session claim that identifies the user, or unset it for %q", defaultSessionSubjectClaim)
	case sub == c.Tenant.Claim:
		p.addf("TENANTGATE_SESSION_SUBJECT_CLAIM (session.subject_claim) is %q, the tenant claim: every user of a tenant would be one user (one embed binding, one Metabase account); name the claim that identifies the user", sub)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		p.addf("TENANTGATE_LOG_LEVEL (log.level) %q is not a log level: use debug, info, warn or error", c.Log.Level)
	}
}

func (c *Config) validatePolicy(p *problems) {
	type resourceID struct {
		kind string
		id   int
	}
	seen := make(map[resourceID]int)
	tenantParam := c.Tenant.Param
	for i := range c.Policy.Resources {
		r := &c.Policy.Resources[i]
		name := fmt.Sprintf("policy.resources[%d]", i)
		var id resourceID
		switch {
		case r.Dashboard != 0 && r.Question != 0:
			p.addf("%s sets both dashboard (%d) and question (%d): give each its own entry", name, r.Dashboard, r.Question)
		case r.Dashboard == 0 && r.Question == 0:
			p.addf("%s sets neither dashboard nor question: set exactly one to the Metabase id it governs", name)
		case r.Dashboard < 0 || r.Question < 0:
			p.addf("%s has a negative id: Metabase ids are positive numbers", name)
		case r.Dashboard > 0:
			id = resourceID{"dashboard", r.Dashboard}
		default:
			id = resourceID{"question", r.Question}
		}
		if id.id > 0 {
			name = fmt.Sprintf("%s (%s %d)", name, id.kind, id.id)
			if j, dup := seen[id]; dup {
				p.addf("%s repeats policy.resources[%d]: merge the two entries into one", name, j)
			} else {
				seen[id] = i
			}
		}

		for j, t := range r.Tenants {
			if strings.TrimSpace(t) == "" {
				p.addf("%s: tenants[%d] is empty: list tenant ids, or omit tenants to allow every tenant", name, j)
			}
		}
		for claim, values := range sortedMap(r.RequireClaims) {
			if strings.TrimSpace(claim) == "" {
				p.addf("%s: require_claims has an empty claim name", name)
			}
			if len(values) == 0 {
				p.addf("%s: require_claims.%s lists no values, so it would deny every request: list the accepted values or remove it", name, claim)
			}
		}
		for slug, text := range sortedMap(r.LockedParams) {
			switch {
			case strings.TrimSpace(slug) == "":
				p.addf("%s: locked_params has an empty parameter slug", name)
			case slug == tenantParam:
				p.addf("%s: locked_params.%s is the tenant parameter, which the gate always locks to the caller's tenant: remove it", name, slug)
			}
			if strings.TrimSpace(text) == "" {
				p.addf("%s: locked_params.%s is empty, so it would deny every request: give a template such as \"{{ .Claims.region }}\"", name, slug)
				continue
			}
			if _, err := template.New(slug).Option("missingkey=error").Parse(text); err != nil {
				p.addf("%s: locked_params.%s is not a valid template: %w", name, slug, err)
			}
		}
		editable := make(map[string]bool, len(r.EditableParams))
		for j, slug := range r.EditableParams {
			switch {
			case strings.TrimSpace(slug) == "":
				p.addf("%s: editable_params[%d] is empty", name, j)
			case slug == tenantParam:
				p.addf("%s: editable_params lists %q, the tenant parameter: the browser may never set it; remove it", name, slug)
			case hasKey(r.LockedParams, slug):
				p.addf("%s: editable_params lists %q, which locked_params also locks: a parameter is either locked or editable, remove it from one", name, slug)
			case editable[slug]:
				p.addf("%s: editable_params lists %q twice", name, slug)
			}
			editable[slug] = true
		}
		for j, v := range r.ValueListings {
			if strings.TrimSpace(v) == "" {
				p.addf("%s: value_listings[%d] is empty: list Metabase parameter ids", name, j)
			}
		}
	}
}

// checkHTTPURL reports v unless it is an absolute http(s) URL with a host
// and no credentials, query or fragment. It quotes v only with any password
// redacted.
func checkHTTPURL(p *problems, name, v string) {
	u, err := url.Parse(v)
	if err != nil {
		// url.Error quotes the whole URL; keep only the reason.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		p.addf("%s is not a URL (%w): set an absolute http:// or https:// URL", name, err)
		return
	}
	switch {
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "":
		p.addf("%s %q must be an absolute http:// or https:// URL with a host, e.g. https://metabase.internal:3000", name, u.Redacted())
	case u.User != nil:
		p.addf("%s must not contain a user name or password", name)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(v, "#"):
		p.addf("%s %q must not have a query or fragment: remove everything from the '?' or '#'", name, u.Redacted())
	}
}

// checkHMACKey reports a key shorter than minHMACKeyBytes without quoting it.
func checkHMACKey(p *problems, name, what string, k Secret) {
	switch n := len(k.Reveal()); {
	case n == 0:
		p.addf("%s is empty: remove the empty entry", name)
	case n < minHMACKeyBytes:
		p.addf("%s is %d bytes: %s must be at least %d bytes; generate one with `openssl rand -hex 32`", name, n, what, minHMACKeyBytes)
	}
}

func checkListen(p *problems, name, addr string) {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		p.addf("%s %q is not a listen address: use host:port or :port, e.g. :8080", name, addr)
	}
}

// sameListener reports whether two listen addresses would collide: the same
// port on the same host, or on any host when either binds every interface.
func sameListener(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil {
		return a == b
	}
	if pa != pb {
		return false
	}
	return ha == hb || isWildcardHost(ha) || isWildcardHost(hb)
}

func isWildcardHost(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }

// checkPrefix reports a public prefix that is not "" or a clean absolute
// path such as "/analytics". The prefix is matched against request paths,
// so anything a client could spell two ways ("..", "//", escapes) is refused.
func checkPrefix(p *problems, prefix string) {
	if prefix == "" {
		return
	}
	const name = "TENANTGATE_PUBLIC_PREFIX (public_prefix)"
	var why []string
	if !strings.HasPrefix(prefix, "/") {
		why = append(why, `start with "/"`)
	}
	if strings.HasSuffix(prefix, "/") {
		why = append(why, `not end with "/"`)
	}
	if strings.Contains(prefix, "..") {
		why = append(why, `not contain ".."`)
	}
	if strings.Contains(prefix, "//") {
		why = append(why, `not contain "//"`)
	}
	if strings.Contains(prefix+"/", "/./") {
		why = append(why, `not contain a "." segment`)
	}
	for _, r := range prefix {
		if !isUnreservedPathRune(r) {
			why = append(why, "use only letters, digits and - . _ ~ /")
			break
		}
	}
	if len(why) > 0 {
		p.addf("%s %q must be empty or a path such as /analytics: it must %s", name, prefix, strings.Join(why, ", "))
	}
}

// checkPublicURL reports a public URL that is not "" or an origin. It is
// written into X-Forwarded-Host and X-Forwarded-Proto, which Metabase may
// adopt as its site URL, so only what isOrigin accepts goes through.
func checkPublicURL(p *problems, v string) {
	if v == "" || isOrigin(v) {
		return
	}
	p.addf("TENANTGATE_PUBLIC_URL (public_url) %q is not an origin: use scheme://host[:port] with http or https and nothing after the host (no path, no trailing slash, no user, query or fragment), e.g. https://app.example.com; the path goes in TENANTGATE_PUBLIC_PREFIX", redactUserinfo(v))
}

// redactUserinfo keeps a password someone put in a URL out of a message.
func redactUserinfo(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	return v
}

func isUnreservedPathRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '.' || r == '_' || r == '~' || r == '/'
}

// checkFrameAncestor reports a CSP frame-ancestors source other than 'self'
// or a plain origin. The values are written into a header, so anything that
// could end the directive (";", ",", spaces) is refused by construction.
func checkFrameAncestor(p *problems, i int, a string) {
	name := fmt.Sprintf("TENANTGATE_FRAME_ANCESTORS (frame_ancestors[%d])", i)
	switch a {
	case "'self'":
		return
	case "'none'", "none":
		p.addf("%s is 'none': leave frame_ancestors empty for 'none' (the default)", name)
		return
	case "self":
		p.addf("%s is self without quotes: write 'self'", name)
		return
	}
	if !isOrigin(a) {
		p.addf("%s %q is not an origin: use scheme://host[:port] with http or https and nothing after the host (no path, no trailing slash), e.g. https://app.example.com, or 'self'", name, a)
	}
}

// isOrigin reports whether a is exactly scheme://host[:port] with scheme
// http or https. Only the characters an origin needs are accepted, so no
// percent-encoding or separator can reach the Content-Security-Policy header.
func isOrigin(a string) bool {
	for i := 0; i < len(a); i++ {
		c := a[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-:/[]", c) >= 0) {
			return false
		}
	}
	u, err := url.Parse(a)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || a != u.Scheme+"://"+u.Host {
		return false
	}
	if strings.HasSuffix(u.Host, ":") {
		return false
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return false
		}
	}
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		addr, err := netip.ParseAddr(host)
		return err == nil && addr.Is6()
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	return isHostname(host)
}

// isHostname reports whether h is a DNS name: dot-separated labels of
// letters, digits and inner hyphens.
func isHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// isToken reports whether s is an RFC 7230 token, the grammar of a cookie name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// hexProblem describes what is wrong with a would-be 64-hex key without
// quoting it.
func hexProblem(k string) string {
	switch {
	case strings.TrimSpace(k) != k:
		return "has leading or trailing whitespace"
	case len(k) != 64 && isHex(k):
		return fmt.Sprintf("has %d characters", len(k))
	case len(k) != 64:
		return fmt.Sprintf("has %d characters, some not hexadecimal", len(k))
	default:
		return "contains characters other than 0-9 and a-f"
	}
}

// sortedMap ranges over m in key order, so problems come out in a stable order.
func sortedMap[V any](m map[string]V) iter.Seq2[string, V] {
	return func(yield func(string, V) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

package configs

import "time"

// Secret is a string that never prints: fmt, zap and YAML/JSON encoders see
// "[redacted]" so a secret cannot reach a log line by accident.
type Secret string

// String returns a fixed placeholder instead of the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString keeps %#v from printing the secret.
func (s Secret) GoString() string { return s.String() }

// MarshalText keeps JSON/YAML encoders from printing the secret.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret's bytes; call it only where the key is used.
func (s Secret) Reveal() string { return string(s) }

// Config is tenantgate's whole configuration. Every scalar field can be set
// from YAML and overridden by the environment variable named in its comment;
// every Secret also from the file named by that variable plus "_FILE".
type Config struct {
	Listen         string        `yaml:"listen"`          // TENANTGATE_LISTEN, default ":8080"
	AdminListen    string        `yaml:"admin_listen"`    // TENANTGATE_ADMIN_LISTEN, default ":9090"
	PublicPrefix   string        `yaml:"public_prefix"`   // TENANTGATE_PUBLIC_PREFIX, default "" (e.g. "/analytics")
	PublicURL      string        `yaml:"public_url"`      // TENANTGATE_PUBLIC_URL, default "": the gate's origin as browsers see it (e.g. "https://app.example.com"), the only X-Forwarded-Host/-Proto Metabase gets
	FrameAncestors []string      `yaml:"frame_ancestors"` // TENANTGATE_FRAME_ANCESTORS, space-separated; default none ('none')
	TrustedProxies []string      `yaml:"trusted_proxies"` // TENANTGATE_TRUSTED_PROXIES, comma-separated CIDRs whose X-Forwarded-* are kept
	ShutdownGrace  time.Duration `yaml:"shutdown_grace"`  // TENANTGATE_SHUTDOWN_GRACE, default 30s

	Metabase    MetabaseConfig    `yaml:"metabase"`
	Session     SessionConfig     `yaml:"session"`
	Introspect  IntrospectConfig  `yaml:"introspect"`
	Handles     HandleConfig      `yaml:"handles"`
	Tenant      TenantConfig      `yaml:"tenant"`
	Upstream    UpstreamConfig    `yaml:"upstream"`
	PassThrough PassThroughConfig `yaml:"pass_through"`
	Limits      LimitsConfig      `yaml:"limits"`
	Protect     ProtectConfig     `yaml:"protect"`
	Log         LogConfig         `yaml:"log"`
	Audit       AuditConfig       `yaml:"audit"`
	SSO         SSOConfig         `yaml:"sso"`
	Policy      PolicyConfig      `yaml:"policy"`
}

// MetabaseConfig describes the upstream Metabase.
type MetabaseConfig struct {
	SiteURL            string        `yaml:"site_url"`             // METABASE_SITE_URL (required)
	EmbeddingSecretKey Secret        `yaml:"embedding_secret_key"` // MB_EMBEDDING_SECRET_KEY (required, 64 hex chars)
	TokenTTL           time.Duration `yaml:"token_ttl"`            // TENANTGATE_METABASE_TOKEN_TTL, default 10m: exp of re-signed Metabase tokens
	// APIKey lets the gate and `tenantgate audit` read Metabase's admin API
	// (X-API-Key) to check how dashboards are wired. Empty: no run-time guard.
	APIKey Secret `yaml:"api_key"` // METABASE_API_KEY, an API key of the Administrators group
}

// SessionConfig describes how the app's session JWT is found and verified.
type SessionConfig struct {
	Cookie      string        `yaml:"cookie"`       // TENANTGATE_SESSION_COOKIE, default "session"
	JWTSecrets  []Secret      `yaml:"jwt_secrets"`  // TENANTGATE_SESSION_JWT_SECRET, comma-separated HS256 keys
	JWKSURL     string        `yaml:"jwks_url"`     // TENANTGATE_SESSION_JWKS_URL
	JWKSRefresh time.Duration `yaml:"jwks_refresh"` // TENANTGATE_SESSION_JWKS_REFRESH, default 5m
	Issuer      string        `yaml:"issuer"`       // TENANTGATE_SESSION_ISSUER
	Audience    string        `yaml:"audience"`     // TENANTGATE_SESSION_AUDIENCE
	Leeway      time.Duration `yaml:"leeway"`       // TENANTGATE_SESSION_LEEWAY, default 30s
	CacheSize   int           `yaml:"cache_size"`   // TENANTGATE_SESSION_CACHE_SIZE, default 10000 verified sessions (and handles, signed tokens, policy answers)
	// SubjectClaim names the claim of the session JWT (or the introspection
	// answer) that identifies the user; a session without it is refused
	// (subject-missing), since handles and SSO sessions are bound to it.
	SubjectClaim string `yaml:"subject_claim"` // TENANTGATE_SESSION_SUBJECT_CLAIM, default "sub"
}

// IntrospectConfig describes the app endpoint that says who a caller is.
type IntrospectConfig struct {
	URL       string        `yaml:"url"`        // TENANTGATE_INTROSPECT_URL
	TTL       time.Duration `yaml:"ttl"`        // TENANTGATE_INTROSPECT_TTL, default 30s
	Timeout   time.Duration `yaml:"timeout"`    // TENANTGATE_INTROSPECT_TIMEOUT, default 2s
	CacheSize int           `yaml:"cache_size"` // TENANTGATE_INTROSPECT_CACHE_SIZE, default 10000
}

// HandleConfig describes the gate's own embed handles.
type HandleConfig struct {
	Secrets  []Secret      `yaml:"secrets"`   // TENANTGATE_HANDLE_SECRET, comma-separated; first signs, all verify
	TTL      time.Duration `yaml:"ttl"`       // TENANTGATE_HANDLE_TTL, default 10m
	RenewMax time.Duration `yaml:"renew_max"` // TENANTGATE_HANDLE_RENEW_MAX, default 12h: an expired handle is renewed only this long after it was issued
}

// TenantConfig names the tenant in identities and in Metabase.
type TenantConfig struct {
	Claim string `yaml:"claim"` // TENANTGATE_TENANT_CLAIM, default "organization_id"
	Param string `yaml:"param"` // TENANTGATE_TENANT_PARAM, default "organization_id"
}

// UpstreamConfig bounds the connection to Metabase.
type UpstreamConfig struct {
	DialTimeout           time.Duration `yaml:"dial_timeout"`            // TENANTGATE_UPSTREAM_DIAL_TIMEOUT, default 5s
	ResponseHeaderTimeout time.Duration `yaml:"response_header_timeout"` // TENANTGATE_UPSTREAM_RESPONSE_HEADER_TIMEOUT, default 60s
	Timeout               time.Duration `yaml:"timeout"`                 // TENANTGATE_UPSTREAM_TIMEOUT, default 10m (whole request, streams included)
	MaxIdleConnsPerHost   int           `yaml:"max_idle_conns_per_host"` // TENANTGATE_UPSTREAM_MAX_IDLE_CONNS_PER_HOST, default 256
}

// PassThroughConfig lets a backend that already mints Metabase tokens keep doing so.
type PassThroughConfig struct {
	Enabled     bool          `yaml:"enabled"`      // TENANTGATE_PASS_THROUGH, default false
	MaxLifetime time.Duration `yaml:"max_lifetime"` // TENANTGATE_PASS_THROUGH_MAX_LIFETIME, default 10m
}

// LimitsConfig bounds what a client may send.
type LimitsConfig struct {
	MaxTokenBytes  int `yaml:"max_token_bytes"`  // TENANTGATE_MAX_TOKEN_BYTES, default 4096
	MaxHeaderBytes int `yaml:"max_header_bytes"` // TENANTGATE_MAX_HEADER_BYTES, default 32768
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request line and headers (slowloris); the connection is then closed.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"` // TENANTGATE_READ_HEADER_TIMEOUT, default 10s
}

// ProtectConfig shields Metabase and the warehouse: identical concurrent
// static-embed queries merged, per-tenant fairness, static assets cached.
type ProtectConfig struct {
	DisableQueryMerging bool `yaml:"disable_query_merging"` // TENANTGATE_DISABLE_QUERY_MERGING, default false (merging on)
	MergeMaxBytes       int  `yaml:"merge_max_bytes"`       // TENANTGATE_MERGE_MAX_BYTES, default 4194304: larger answers are never shared
	TenantRate          int  `yaml:"tenant_rate"`           // TENANTGATE_TENANT_RATE, default 200 per second per tenant: requests that make Metabase query the warehouse (queries, exports, filter values, tiles)
	TenantBurst         int  `yaml:"tenant_burst"`          // TENANTGATE_TENANT_BURST, default 400
	TenantConcurrency   int  `yaml:"tenant_concurrency"`    // TENANTGATE_TENANT_CONCURRENCY, default 64 requests per tenant in flight to Metabase
	AssetCacheBytes     int  `yaml:"asset_cache_bytes"`     // TENANTGATE_ASSET_CACHE_BYTES, default 67108864 (64 MiB) of /app/dist assets
	// TenantMaxWait is how long a request over its tenant's rate may wait
	// for its turn before it is refused; negative: refuse at once.
	TenantMaxWait time.Duration `yaml:"tenant_max_wait"` // TENANTGATE_TENANT_MAX_WAIT, default 1s, at most 30s
	// MicroCacheTTL keeps each merged static-embed query answer that long
	// for identical requests that come just after; 0 (default) turns it off.
	MicroCacheTTL   time.Duration `yaml:"micro_cache_ttl"`   // TENANTGATE_MICRO_CACHE_TTL, default 0 (off), at most 30s
	MicroCacheBytes int           `yaml:"micro_cache_bytes"` // TENANTGATE_MICRO_CACHE_BYTES, default 67108864 (64 MiB)
}

// AuditConfig sets the run-time guard, which audits Metabase's dashboards
// and questions when metabase.api_key is set.
type AuditConfig struct {
	Interval     time.Duration `yaml:"interval"`      // TENANTGATE_AUDIT_INTERVAL, default 60s between audits
	MaxStaleness time.Duration `yaml:"max_staleness"` // TENANTGATE_AUDIT_MAX_STALENESS, default 10m: an older verdict no longer counts, the resource is refused
}

// SSOConfig turns on interactive embedding and the embedding SDK: the gate
// mints Metabase's JWT SSO tokens and keeps the Metabase sessions sealed,
// bound to the caller. SSO is off unless jwt_shared_secret is set.
type SSOConfig struct {
	JWTSharedSecret Secret            `yaml:"jwt_shared_secret"` // MB_JWT_SHARED_SECRET, Metabase's JWT shared secret (used as UTF-8 bytes); unset: SSO off
	EmailTemplate   string            `yaml:"email_template"`    // TENANTGATE_SSO_EMAIL_TEMPLATE, default "{{ .Subject }}+{{ .Tenant }}@tenantgate.invalid": the Metabase identity, one per user and tenant (see ParseEmailTemplate)
	GroupMappings   map[string]string `yaml:"group_mappings"`    // TENANTGATE_SSO_GROUP_MAPPINGS, comma-separated app=Metabase pairs: app group → Metabase group name (never Administrators)
	Attributes      []string          `yaml:"attributes"`        // TENANTGATE_SSO_ATTRIBUTES, comma-separated identity claims sent as user attributes
	SealingKeys     []Secret          `yaml:"sealing_keys"`      // TENANTGATE_SSO_SEALING_KEY, comma-separated, each ≥ 32 bytes; first seals, all open
	CookieSameSite  string            `yaml:"cookie_samesite"`   // TENANTGATE_SSO_COOKIE_SAMESITE, default "lax": lax, strict or none
	Partitioned     bool              `yaml:"partitioned"`       // TENANTGATE_SSO_PARTITIONED, default false: CHIPS cookie for third-party iframes (needs samesite none)
	Dataset         bool              `yaml:"dataset"`           // TENANTGATE_SSO_DATASET, default false: allow POST /api/dataset (only when sandboxes cover every table)
	// Tenants sends Metabase's first-class tenant (@tenant, the tenant as a
	// slug, and @tenant.attributes) in every SSO JWT; Metabase must have
	// tenants turned on, or it refuses every sign-in.
	Tenants          bool     `yaml:"tenants"`           // TENANTGATE_SSO_TENANTS, default false
	TenantAttributes []string `yaml:"tenant_attributes"` // TENANTGATE_SSO_TENANT_ATTRIBUTES, comma-separated identity claims sent as @tenant.attributes (with the tenant parameter); Metabase keeps a tenant's first values
	// ExchangeMethod is how the gate hands the SDK's SSO JWT to Metabase:
	// post (a JSON body, out of Metabase's access log; Metabase since
	// 2026), get (?jwt=, any Metabase), or auto (post, and get for the
	// rest of the process once Metabase refuses a JWT POST).
	ExchangeMethod string `yaml:"exchange_method"` // TENANTGATE_SSO_EXCHANGE_METHOD, default "auto"
	// Revoke refuses every sealed session, SDK ticket and embed handle of a
	// tenant or a subject issued before a time ("log out everywhere").
	// Reloaded on SIGHUP, so every replica agrees without shared state.
	Revoke []Revocation `yaml:"revoke"` // TENANTGATE_SSO_REVOKE, comma-separated tenant:ID@TIME or subject:ID@TIME (RFC 3339)
}

// Enabled reports whether SSO is configured.
func (c SSOConfig) Enabled() bool { return c.JWTSharedSecret != "" }

// LogConfig sets the zap logger.
type LogConfig struct {
	Level string `yaml:"level"` // TENANTGATE_LOG_LEVEL, default "info"
	// Sampling thins access lines under load (the first 100 per second of
	// each kind, then one in 100); denial and decision lines are never sampled.
	Sampling bool `yaml:"sampling"` // TENANTGATE_LOG_SAMPLING, default false
	// MetricsTenants are the tenants that get their own value of the tenant
	// label of tenantgate_tenant_requests_total; every other tenant is
	// "_other". Empty: that metric is not recorded (bounded cardinality).
	MetricsTenants []string `yaml:"metrics_tenants"` // TENANTGATE_METRICS_TENANTS, comma-separated
}

// PolicyConfig is the resource policy. With no resources listed, every
// dashboard and question may be embedded by every tenant with only the
// tenant parameter locked; with any listed, only those may be embedded.
// It is read from YAML only (no environment override).
type PolicyConfig struct {
	Resources []ResourcePolicy `yaml:"resources"`
}

// ResourcePolicy widens or narrows what one dashboard or question allows.
// Exactly one of Dashboard and Question is set.
type ResourcePolicy struct {
	Dashboard int `yaml:"dashboard"`
	Question  int `yaml:"question"`
	// Tenants that may embed it; empty means every tenant.
	Tenants []string `yaml:"tenants"`
	// RequireClaims: identity claim → accepted values (string form); all must match.
	RequireClaims map[string][]string `yaml:"require_claims"`
	// LockedParams: Metabase slug → text/template over the identity,
	// e.g. "{{ .Claims.region }}". An empty result denies the request.
	LockedParams map[string]string `yaml:"locked_params"`
	// EditableParams: slugs the browser may set (must be "enabled" in Metabase).
	EditableParams []string `yaml:"editable_params"`
	// Downloads allows the csv/json/xlsx export endpoints.
	Downloads bool `yaml:"downloads"`
	// ValueListings: parameter ids (not slugs) whose values may be listed
	// (/params/{id}/values|search|remapping). Metabase's listings ignore
	// locked params, so a listed parameter shows other tenants' values.
	ValueListings []string `yaml:"value_listings"`
}

package configs

import "time"

// The defaults ApplyDefaults fills in; config.go's comments and the
// example file state the same values.
const (
	defaultListen                = ":8080"
	defaultAdminListen           = ":9090"
	defaultShutdownGrace         = 30 * time.Second
	defaultMetabaseTokenTTL      = 10 * time.Minute
	defaultSessionCookie         = "session"
	defaultJWKSRefresh           = 5 * time.Minute
	defaultSessionLeeway         = 30 * time.Second
	defaultSessionCacheSize      = 10000
	defaultIntrospectTTL         = 30 * time.Second
	defaultIntrospectTimeout     = 2 * time.Second
	defaultIntrospectCacheSize   = 10000
	defaultHandleTTL             = 10 * time.Minute
	defaultHandleRenewMax        = 12 * time.Hour
	defaultTenantClaim           = "organization_id"
	defaultTenantParam           = "organization_id"
	defaultUpstreamDialTimeout   = 5 * time.Second
	defaultUpstreamHeaderTimeout = 60 * time.Second
	defaultUpstreamTimeout       = 10 * time.Minute
	defaultMaxIdleConnsPerHost   = 256
	defaultPassThroughLifetime   = 10 * time.Minute
	defaultMaxTokenBytes         = 4096
	defaultMaxHeaderBytes        = 32768
	defaultReadHeaderTimeout     = 10 * time.Second
	defaultLogLevel              = "info"
	defaultAuditInterval         = 60 * time.Second
	defaultAuditMaxStaleness     = 10 * time.Minute
	defaultMergeMaxBytes         = 4 << 20
	defaultTenantRate            = 200
	defaultTenantBurst           = 400
	defaultTenantConcurrency     = 64
	defaultTenantMaxWait         = time.Second
	defaultMicroCacheBytes       = 64 << 20
	defaultAssetCacheBytes       = 64 << 20
	defaultSSOEmailTemplate      = "{{ .Subject }}+{{ .Tenant }}@tenantgate.invalid"
	defaultSessionSubjectClaim   = "sub"
	defaultSSOCookieSameSite     = "lax"
	defaultSSOExchangeMethod     = "auto"
)

// ApplyDefaults sets every zero-valued setting that has a default to that
// default; a zero duration or number therefore means "the default", and a
// negative one is left for Validate to reject. Load calls it; call it
// yourself only for a Config built in code.
func (c *Config) ApplyDefaults() {
	str(&c.Listen, defaultListen)
	str(&c.AdminListen, defaultAdminListen)
	dur(&c.ShutdownGrace, defaultShutdownGrace)

	dur(&c.Metabase.TokenTTL, defaultMetabaseTokenTTL)

	str(&c.Session.Cookie, defaultSessionCookie)
	dur(&c.Session.JWKSRefresh, defaultJWKSRefresh)
	dur(&c.Session.Leeway, defaultSessionLeeway)
	num(&c.Session.CacheSize, defaultSessionCacheSize)
	str(&c.Session.SubjectClaim, defaultSessionSubjectClaim)

	dur(&c.Introspect.TTL, defaultIntrospectTTL)
	dur(&c.Introspect.Timeout, defaultIntrospectTimeout)
	num(&c.Introspect.CacheSize, defaultIntrospectCacheSize)

	dur(&c.Handles.TTL, defaultHandleTTL)
	dur(&c.Handles.RenewMax, defaultHandleRenewMax)

	str(&c.Tenant.Claim, defaultTenantClaim)
	str(&c.Tenant.Param, defaultTenantParam)

	dur(&c.Upstream.DialTimeout, defaultUpstreamDialTimeout)
	dur(&c.Upstream.ResponseHeaderTimeout, defaultUpstreamHeaderTimeout)
	dur(&c.Upstream.Timeout, defaultUpstreamTimeout)
	num(&c.Upstream.MaxIdleConnsPerHost, defaultMaxIdleConnsPerHost)

	dur(&c.PassThrough.MaxLifetime, defaultPassThroughLifetime)

	num(&c.Limits.MaxTokenBytes, defaultMaxTokenBytes)
	num(&c.Limits.MaxHeaderBytes, defaultMaxHeaderBytes)
	dur(&c.Limits.ReadHeaderTimeout, defaultReadHeaderTimeout)

	num(&c.Protect.MergeMaxBytes, defaultMergeMaxBytes)
	num(&c.Protect.TenantRate, defaultTenantRate)
	num(&c.Protect.TenantBurst, defaultTenantBurst)
	num(&c.Protect.TenantConcurrency, defaultTenantConcurrency)
	dur(&c.Protect.TenantMaxWait, defaultTenantMaxWait)
	num(&c.Protect.MicroCacheBytes, defaultMicroCacheBytes)
	num(&c.Protect.AssetCacheBytes, defaultAssetCacheBytes)

	str(&c.Log.Level, defaultLogLevel)

	dur(&c.Audit.Interval, defaultAuditInterval)
	dur(&c.Audit.MaxStaleness, defaultAuditMaxStaleness)

	str(&c.SSO.EmailTemplate, defaultSSOEmailTemplate)
	str(&c.SSO.CookieSameSite, defaultSSOCookieSameSite)
	str(&c.SSO.ExchangeMethod, defaultSSOExchangeMethod)
}

func str(p *string, d string) {
	if *p == "" {
		*p = d
	}
}

func dur(p *time.Duration, d time.Duration) {
	if *p == 0 {
		*p = d
	}
}

func num(p *int, d int) {
	if *p == 0 {
		*p = d
	}
}

package configs

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestValidConfigPasses(t *testing.T) {
	tests := []struct {
		name   string
		mode   Mode
		mutate func(*Config)
	}{
		{"minimal", ModeServe, func(*Config) {}},
		{"JWKS instead of HS256", ModeServe, func(c *Config) { c.Session.JWTSecrets = nil; c.Session.JWKSURL = "https://idp.example.com/jwks.json" }},
		{"HS256 and JWKS together", ModeServe, func(c *Config) { c.Session.JWKSURL = "http://idp:8080/jwks" }},
		{"introspection only", ModeServe, func(c *Config) { c.Session.JWTSecrets = nil; c.Introspect.URL = "http://app:3000/api/whoami" }},
		{"site URL with a path", ModeServe, func(c *Config) { c.Metabase.SiteURL = "https://example.com/metabase/" }},
		{"upper-case hex key", ModeServe, func(c *Config) { c.Metabase.EmbeddingSecretKey = Secret(strings.ToUpper(testEmbedKey)) }},
		{"demo without handle secret", ModeDemo, func(c *Config) { c.Handles.Secrets = nil }},
		{"several handle secrets", ModeServe, func(c *Config) { c.Handles.Secrets = []Secret{testHandle, testHandle + "-old"} }},
		{"prefix", ModeServe, func(c *Config) { c.PublicPrefix = "/analytics/v1.2_x~y" }},
		{"public URL", ModeServe, func(c *Config) { c.PublicURL = "https://app.example.com" }},
		{"public URL with port, over http", ModeServe, func(c *Config) { c.PublicURL = "http://127.0.0.1:8080" }},
		{"frame ancestors", ModeServe, func(c *Config) {
			c.FrameAncestors = []string{"'self'", "https://app.example.com", "http://localhost:3000", "https://[::1]:8443", "http://127.0.0.1"}
		}},
		{"trusted proxies", ModeServe, func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "192.168.1.1", "fd00::/8", "::1"} }},
		{"distinct listen hosts on one port", ModeServe, func(c *Config) { c.Listen = "10.0.0.1:8080"; c.AdminListen = "127.0.0.1:8080" }},
		{"bounds inclusive", ModeServe, func(c *Config) {
			c.Metabase.TokenTTL = time.Hour
			c.Handles.TTL = time.Minute
			c.Handles.RenewMax = time.Minute
		}},
		{"handle TTL 24h", ModeServe, func(c *Config) { c.Handles.TTL = 24 * time.Hour; c.Handles.RenewMax = 24 * time.Hour }},
		{"log levels", ModeServe, func(c *Config) { c.Log.Level = "debug" }},
		{"policy", ModeServe, func(c *Config) {
			c.Policy.Resources = []ResourcePolicy{
				{Dashboard: 1, Tenants: []string{"a"}, RequireClaims: map[string][]string{"role": {"x"}},
					LockedParams: map[string]string{"region": "{{ .Claims.region }}"}, EditableParams: []string{"date"},
					ValueListings: []string{"abc"}},
				{Question: 1}, // the same id as a dashboard is another resource
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(c)
			if err := c.Validate(tc.mode); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRules(t *testing.T) {
	const shortKey = "tooshort-secret"
	tests := []struct {
		name   string
		mode   Mode
		mutate func(*Config)
		want   []string // one substring per expected problem
	}{
		// Metabase.
		{"site URL missing", ModeServe, func(c *Config) { c.Metabase.SiteURL = "" }, []string{"METABASE_SITE_URL (metabase.site_url) is required"}},
		{"site URL relative", ModeServe, func(c *Config) { c.Metabase.SiteURL = "metabase:3000" }, []string{"METABASE_SITE_URL (metabase.site_url) \"metabase:3000\" must be an absolute http:// or https:// URL"}},
		{"site URL without host", ModeServe, func(c *Config) { c.Metabase.SiteURL = "/metabase" }, []string{"must be an absolute http:// or https:// URL"}},
		{"site URL ftp", ModeServe, func(c *Config) { c.Metabase.SiteURL = "ftp://metabase" }, []string{"must be an absolute http:// or https:// URL"}},
		{"site URL with query", ModeServe, func(c *Config) { c.Metabase.SiteURL = "http://metabase?x=1" }, []string{"must not have a query or fragment"}},
		{"site URL with fragment", ModeServe, func(c *Config) { c.Metabase.SiteURL = "http://metabase#top" }, []string{"must not have a query or fragment"}},
		{"site URL with empty fragment", ModeServe, func(c *Config) { c.Metabase.SiteURL = "http://metabase#" }, []string{"must not have a query or fragment"}},
		{"site URL with credentials", ModeServe, func(c *Config) { c.Metabase.SiteURL = "http://admin:hunter2@metabase" }, []string{"must not contain a user name or password"}},
		{"site URL unparsable", ModeServe, func(c *Config) { c.Metabase.SiteURL = "http://[::1" }, []string{"METABASE_SITE_URL (metabase.site_url) is not a URL"}},
		{"embedding key missing", ModeServe, func(c *Config) { c.Metabase.EmbeddingSecretKey = "" }, []string{"MB_EMBEDDING_SECRET_KEY (metabase.embedding_secret_key) is required"}},
		{"embedding key short", ModeServe, func(c *Config) { c.Metabase.EmbeddingSecretKey = Secret(testEmbedKey[:63]) }, []string{"(a 64-character string), but the value given has 63 characters"}},
		{"embedding key not hex", ModeServe, func(c *Config) { c.Metabase.EmbeddingSecretKey = Secret(strings.Repeat("zz", 32)) }, []string{"contains characters other than 0-9 and a-f"}},
		{"embedding key with space", ModeServe, func(c *Config) { c.Metabase.EmbeddingSecretKey = Secret(testEmbedKey[:63] + " ") }, []string{"has leading or trailing whitespace"}},

		// Identity.
		{"no identity source", ModeServe, func(c *Config) { c.Session.JWTSecrets = nil }, []string{"no identity source is configured"}},
		{"introspection and HS256", ModeServe, func(c *Config) { c.Introspect.URL = "http://app/whoami" }, []string{"choose one identity source"}},
		{"introspection and JWKS", ModeServe, func(c *Config) {
			c.Session.JWTSecrets = nil
			c.Session.JWKSURL = "http://idp/jwks"
			c.Introspect.URL = "http://app/whoami"
		}, []string{"choose one identity source"}},
		{"JWKS URL not http", ModeServe, func(c *Config) { c.Session.JWKSURL = "file:///etc/jwks.json" }, []string{"TENANTGATE_SESSION_JWKS_URL (session.jwks_url) \"file:///etc/jwks.json\" must be an absolute http"}},
		{"introspection URL relative", ModeServe, func(c *Config) { c.Session.JWTSecrets = nil; c.Introspect.URL = "/whoami" }, []string{"TENANTGATE_INTROSPECT_URL (introspect.url) \"/whoami\" must be an absolute http"}},
		{"session key short", ModeServe, func(c *Config) { c.Session.JWTSecrets = []Secret{testJWTKey, shortKey} }, []string{"TENANTGATE_SESSION_JWT_SECRET (session.jwt_secrets[1]) is 15 bytes: an HS256 key must be at least 32 bytes"}},
		{"session key empty", ModeServe, func(c *Config) { c.Session.JWTSecrets = []Secret{""} }, []string{"(session.jwt_secrets[0]) is empty"}},
		{"session key is the embedding key", ModeServe, func(c *Config) { c.Session.JWTSecrets = []Secret{testEmbedKey} }, []string{"(session.jwt_secrets[0]) equals MB_EMBEDDING_SECRET_KEY"}},

		// Handles.
		{"handle secret missing in serve", ModeServe, func(c *Config) { c.Handles.Secrets = nil }, []string{"serve refuses to start without it: a random per-process key would break a second replica"}},
		{"handle secret short", ModeDemo, func(c *Config) { c.Handles.Secrets = []Secret{shortKey} }, []string{"TENANTGATE_HANDLE_SECRET (handles.secrets[0]) is 15 bytes"}},
		{"handle secret empty entry", ModeServe, func(c *Config) { c.Handles.Secrets = []Secret{testHandle, ""} }, []string{"(handles.secrets[1]) is empty"}},
		{"handle secret is the embedding key", ModeServe, func(c *Config) { c.Handles.Secrets = []Secret{testEmbedKey} }, []string{"a handle would then be a valid Metabase embed token"}},
		{"handle secret is a session key", ModeServe, func(c *Config) {
			c.Session.JWTSecrets = []Secret{testJWTKey + "x", testJWTKey}
			c.Handles.Secrets = []Secret{testJWTKey}
		}, []string{"(handles.secrets[0]) equals TENANTGATE_SESSION_JWT_SECRET (session.jwt_secrets[1])"}},

		// Listeners, prefix, CSP, proxies.
		{"listen equals admin", ModeServe, func(c *Config) { c.AdminListen = c.Listen }, []string{"both use \":8080\": give the admin listener"}},
		{"listen overlaps admin", ModeServe, func(c *Config) { c.AdminListen = "0.0.0.0:8080" }, []string{"give the admin listener (metrics, health) its own port"}},
		{"listen not host:port", ModeServe, func(c *Config) { c.Listen = "8080" }, []string{"TENANTGATE_LISTEN (listen) \"8080\" is not a listen address"}},
		{"admin port not a number", ModeServe, func(c *Config) { c.AdminListen = ":metrics" }, []string{"TENANTGATE_ADMIN_LISTEN (admin_listen) \":metrics\" is not a listen address"}},
		{"prefix relative", ModeServe, func(c *Config) { c.PublicPrefix = "analytics" }, []string{`it must start with "/"`}},
		{"prefix trailing slash", ModeServe, func(c *Config) { c.PublicPrefix = "/analytics/" }, []string{`it must not end with "/"`}},
		{"prefix root", ModeServe, func(c *Config) { c.PublicPrefix = "/" }, []string{`it must not end with "/"`}},
		{"prefix dot-dot", ModeServe, func(c *Config) { c.PublicPrefix = "/a/../b" }, []string{`not contain ".."`}},
		{"prefix double slash", ModeServe, func(c *Config) { c.PublicPrefix = "/a//b" }, []string{`not contain "//"`}},
		{"prefix dot segment", ModeServe, func(c *Config) { c.PublicPrefix = "/a/." }, []string{`not contain a "." segment`}},
		{"prefix escape", ModeServe, func(c *Config) { c.PublicPrefix = "/a%2fb" }, []string{"use only letters, digits and - . _ ~ /"}},
		{"prefix several faults in one problem", ModeServe, func(c *Config) { c.PublicPrefix = "a//b/" }, []string{`it must start with "/", not end with "/", not contain "//"`}},
		{"public URL with path", ModeServe, func(c *Config) { c.PublicURL = "https://app.example.com/analytics" }, []string{`TENANTGATE_PUBLIC_URL (public_url) "https://app.example.com/analytics" is not an origin: use scheme://host[:port]`}},
		{"public URL trailing slash", ModeServe, func(c *Config) { c.PublicURL = "https://app.example.com/" }, []string{"(public_url) \"https://app.example.com/\" is not an origin"}},
		{"public URL without scheme", ModeServe, func(c *Config) { c.PublicURL = "app.example.com" }, []string{"(public_url) \"app.example.com\" is not an origin"}},
		{"public URL other scheme", ModeServe, func(c *Config) { c.PublicURL = "ws://app.example.com" }, []string{"(public_url) \"ws://app.example.com\" is not an origin"}},
		{"public URL with query", ModeServe, func(c *Config) { c.PublicURL = "https://app.example.com?x=1" }, []string{"(public_url) \"https://app.example.com?x=1\" is not an origin"}},
		{"public URL with fragment", ModeServe, func(c *Config) { c.PublicURL = "https://app.example.com#x" }, []string{"is not an origin"}},
		{"public URL with a comma", ModeServe, func(c *Config) { c.PublicURL = "https://app.example.com,evil.example" }, []string{"is not an origin"}},
		{"public URL with user info, password not quoted", ModeServe, func(c *Config) { c.PublicURL = "https://admin:hunter2@app.example.com" }, []string{"(public_url) \"https://admin:xxxxx@app.example.com\" is not an origin"}},
		{"frame ancestor with path", ModeServe, func(c *Config) { c.FrameAncestors = []string{"https://app.example.com/"} }, []string{"TENANTGATE_FRAME_ANCESTORS (frame_ancestors[0]) \"https://app.example.com/\" is not an origin"}},
		{"frame ancestor without scheme", ModeServe, func(c *Config) { c.FrameAncestors = []string{"'self'", "app.example.com"} }, []string{"(frame_ancestors[1]) \"app.example.com\" is not an origin"}},
		{"frame ancestor other scheme", ModeServe, func(c *Config) { c.FrameAncestors = []string{"ws://app.example.com"} }, []string{"is not an origin"}},
		{"frame ancestor wildcard", ModeServe, func(c *Config) { c.FrameAncestors = []string{"https://*.example.com"} }, []string{"is not an origin"}},
		{"frame ancestor injection", ModeServe, func(c *Config) { c.FrameAncestors = []string{"https://a.example.com; script-src *"} }, []string{"is not an origin"}},
		{"frame ancestor escaped host", ModeServe, func(c *Config) { c.FrameAncestors = []string{"https://%61pp.example.com"} }, []string{"is not an origin"}},
		{"frame ancestor empty port", ModeServe, func(c *Config) { c.FrameAncestors = []string{"https://app.example.com:"} }, []string{"is not an origin"}},
		{"frame ancestor bad port", ModeServe, func(c *Config) { c.FrameAncestors = []string{"https://app.example.com:99999"} }, []string{"is not an origin"}},
		{"frame ancestor credentials", ModeServe, func(c *Config) { c.FrameAncestors = []string{"https://u@app.example.com"} }, []string{"is not an origin"}},
		{"frame ancestor none", ModeServe, func(c *Config) { c.FrameAncestors = []string{"'none'"} }, []string{"leave frame_ancestors empty for 'none'"}},
		{"frame ancestor self unquoted", ModeServe, func(c *Config) { c.FrameAncestors = []string{"self"} }, []string{"write 'self'"}},
		{"trusted proxy invalid", ModeServe, func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33", "lb.internal"} }, []string{
			"TENANTGATE_TRUSTED_PROXIES (trusted_proxies[1]) \"10.0.0.0/33\" is neither an IP address nor a CIDR",
			"(trusted_proxies[2]) \"lb.internal\" is neither",
		}},

		// Durations and sizes.
		{"micro-cache TTL over 30 s", ModeServe, func(c *Config) { c.Protect.MicroCacheTTL = time.Minute }, []string{"TENANTGATE_MICRO_CACHE_TTL (protect.micro_cache_ttl) is 1m0s: it must be between 0 (off) and 30s"}},
		{"micro-cache TTL negative", ModeServe, func(c *Config) { c.Protect.MicroCacheTTL = -time.Second }, []string{"TENANTGATE_MICRO_CACHE_TTL (protect.micro_cache_ttl) is -1s"}},
		{"micro-cache without merging", ModeServe, func(c *Config) { c.Protect.MicroCacheTTL, c.Protect.DisableQueryMerging = 5*time.Second, true }, []string{"the micro-cache keeps merged answers"}},
		{"tenant wait as long as the shutdown grace", ModeServe, func(c *Config) { c.Protect.TenantMaxWait, c.ShutdownGrace = 10*time.Second, 10*time.Second }, []string{"TENANTGATE_TENANT_MAX_WAIT (protect.tenant_max_wait) 10s is not shorter than TENANTGATE_SHUTDOWN_GRACE (shutdown_grace) 10s"}},
		{"tenant wait over 30 s", ModeServe, func(c *Config) { c.Protect.TenantMaxWait = time.Minute }, []string{"TENANTGATE_TENANT_MAX_WAIT (protect.tenant_max_wait) is 1m0s: it must be at most 30s"}},
		{"token TTL over an hour", ModeServe, func(c *Config) { c.Metabase.TokenTTL = time.Hour + time.Second }, []string{"TENANTGATE_METABASE_TOKEN_TTL (metabase.token_ttl) is 1h0m1s: it must be at most 1h0m0s"}},
		{"handle TTL under a minute", ModeServe, func(c *Config) { c.Handles.TTL = 59 * time.Second }, []string{"TENANTGATE_HANDLE_TTL (handles.ttl) is 59s: it must be between 1m0s and 24h0m0s"}},
		{"handle TTL over a day", ModeServe, func(c *Config) { c.Handles.TTL = 25 * time.Hour; c.Handles.RenewMax = 25 * time.Hour }, []string{"it must be between 1m0s and 24h0m0s"}},
		{"renew max under TTL", ModeServe, func(c *Config) { c.Handles.RenewMax = 5 * time.Minute }, []string{"TENANTGATE_HANDLE_RENEW_MAX (handles.renew_max) is 5m0s, shorter than TENANTGATE_HANDLE_TTL"}},
		{"token limit over header limit", ModeServe, func(c *Config) { c.Limits.MaxTokenBytes = 40000 }, []string{"TENANTGATE_MAX_TOKEN_BYTES (limits.max_token_bytes) 40000 exceeds TENANTGATE_MAX_HEADER_BYTES"}},

		// Names.
		{"cookie name", ModeServe, func(c *Config) { c.Session.Cookie = "my session" }, []string{"TENANTGATE_SESSION_COOKIE (session.cookie) \"my session\" is not a valid cookie name"}},
		{"cookie name empty", ModeServe, func(c *Config) { c.Session.Cookie = "" }, []string{"is not a valid cookie name"}},
		{"tenant claim blank", ModeServe, func(c *Config) { c.Tenant.Claim = " " }, []string{"TENANTGATE_TENANT_CLAIM (tenant.claim) is blank"}},
		{"tenant param blank", ModeServe, func(c *Config) { c.Tenant.Param = "" }, []string{"TENANTGATE_TENANT_PARAM (tenant.param) is blank"}},
		{"log level", ModeServe, func(c *Config) { c.Log.Level = "verbose" }, []string{"TENANTGATE_LOG_LEVEL (log.level) \"verbose\" is not a log level: use debug, info, warn or error"}},
		{"log level case", ModeServe, func(c *Config) { c.Log.Level = "INFO" }, []string{"is not a log level"}},

		// Policy.
		{"resource with both ids", ModeServe, policy(ResourcePolicy{Dashboard: 1, Question: 2}), []string{"policy.resources[0] sets both dashboard (1) and question (2)"}},
		{"resource with no id", ModeServe, policy(ResourcePolicy{Downloads: true}), []string{"policy.resources[0] sets neither dashboard nor question"}},
		{"resource with negative id", ModeServe, policy(ResourcePolicy{Question: -3}), []string{"policy.resources[0] has a negative id"}},
		{"duplicate resource", ModeServe, policy(ResourcePolicy{Dashboard: 1}, ResourcePolicy{Question: 1}, ResourcePolicy{Dashboard: 1}), []string{"policy.resources[2] (dashboard 1) repeats policy.resources[0]"}},
		{"empty tenant", ModeServe, policy(ResourcePolicy{Dashboard: 1, Tenants: []string{"a", ""}}), []string{"policy.resources[0] (dashboard 1): tenants[1] is empty"}},
		{"claim with no values", ModeServe, policy(ResourcePolicy{Dashboard: 1, RequireClaims: map[string][]string{"role": nil}}), []string{"require_claims.role lists no values"}},
		{"claim with empty name", ModeServe, policy(ResourcePolicy{Dashboard: 1, RequireClaims: map[string][]string{"": {"x"}}}), []string{"require_claims has an empty claim name"}},
		{"tenant param locked", ModeServe, policy(ResourcePolicy{Dashboard: 1, LockedParams: map[string]string{"organization_id": "{{ .Tenant }}"}}), []string{"locked_params.organization_id is the tenant parameter, which the gate always locks"}},
		{"custom tenant param locked", ModeServe, func(c *Config) {
			c.Tenant.Param = "org"
			policy(ResourcePolicy{Dashboard: 1, LockedParams: map[string]string{"org": "x"}})(c)
		}, []string{"locked_params.org is the tenant parameter"}},
		{"locked param empty slug", ModeServe, policy(ResourcePolicy{Dashboard: 1, LockedParams: map[string]string{"": "x"}}), []string{"locked_params has an empty parameter slug"}},
		{"locked param empty template", ModeServe, policy(ResourcePolicy{Dashboard: 1, LockedParams: map[string]string{"region": " "}}), []string{"locked_params.region is empty, so it would deny every request"}},
		{"locked param bad template", ModeServe, policy(ResourcePolicy{Dashboard: 1, LockedParams: map[string]string{"region": "{{ .Claims.region "}}), []string{"locked_params.region is not a valid template"}},
		{"locked param unknown function", ModeServe, policy(ResourcePolicy{Dashboard: 1, LockedParams: map[string]string{"region": "{{ upper .Email }}"}}), []string{"locked_params.region is not a valid template"}},
		{"editable tenant param", ModeServe, policy(ResourcePolicy{Dashboard: 1, EditableParams: []string{"organization_id"}}), []string{"editable_params lists \"organization_id\", the tenant parameter"}},
		{"editable locked param", ModeServe, policy(ResourcePolicy{Dashboard: 1, LockedParams: map[string]string{"region": "{{ .Claims.region }}"}, EditableParams: []string{"region"}}), []string{"editable_params lists \"region\", which locked_params also locks"}},
		{"editable twice", ModeServe, policy(ResourcePolicy{Dashboard: 1, EditableParams: []string{"date", "date"}}), []string{"editable_params lists \"date\" twice"}},
		{"editable empty", ModeServe, policy(ResourcePolicy{Dashboard: 1, EditableParams: []string{""}}), []string{"editable_params[0] is empty"}},
		{"value listing empty", ModeServe, policy(ResourcePolicy{Question: 9, ValueListings: []string{""}}), []string{"policy.resources[0] (question 9): value_listings[0] is empty"}},
	}
	tests = append(tests, nonPositiveCases()...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mutate(c)
			err := c.Validate(tc.mode)
			wantProblems(t, err, tc.want...)
			for _, secret := range []string{testEmbedKey, testJWTKey, testHandle, shortKey, "hunter2"} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("a problem quotes a secret: %v", err)
				}
			}
		})
	}
}

func policy(rs ...ResourcePolicy) func(*Config) {
	return func(c *Config) { c.Policy.Resources = rs }
}

// nonPositiveCases gives each duration and size a negative value: zero
// means "the default" and is filled by ApplyDefaults before Validate runs.
func nonPositiveCases() []struct {
	name   string
	mode   Mode
	mutate func(*Config)
	want   []string
} {
	durations := map[string]func(*Config) *time.Duration{
		"TENANTGATE_SHUTDOWN_GRACE (shutdown_grace)":                                     func(c *Config) *time.Duration { return &c.ShutdownGrace },
		"TENANTGATE_METABASE_TOKEN_TTL (metabase.token_ttl)":                             func(c *Config) *time.Duration { return &c.Metabase.TokenTTL },
		"TENANTGATE_SESSION_JWKS_REFRESH (session.jwks_refresh)":                         func(c *Config) *time.Duration { return &c.Session.JWKSRefresh },
		"TENANTGATE_SESSION_LEEWAY (session.leeway)":                                     func(c *Config) *time.Duration { return &c.Session.Leeway },
		"TENANTGATE_INTROSPECT_TTL (introspect.ttl)":                                     func(c *Config) *time.Duration { return &c.Introspect.TTL },
		"TENANTGATE_INTROSPECT_TIMEOUT (introspect.timeout)":                             func(c *Config) *time.Duration { return &c.Introspect.Timeout },
		"TENANTGATE_HANDLE_TTL (handles.ttl)":                                            func(c *Config) *time.Duration { return &c.Handles.TTL },
		"TENANTGATE_HANDLE_RENEW_MAX (handles.renew_max)":                                func(c *Config) *time.Duration { return &c.Handles.RenewMax },
		"TENANTGATE_UPSTREAM_DIAL_TIMEOUT (upstream.dial_timeout)":                       func(c *Config) *time.Duration { return &c.Upstream.DialTimeout },
		"TENANTGATE_UPSTREAM_RESPONSE_HEADER_TIMEOUT (upstream.response_header_timeout)": func(c *Config) *time.Duration { return &c.Upstream.ResponseHeaderTimeout },
		"TENANTGATE_UPSTREAM_TIMEOUT (upstream.timeout)":                                 func(c *Config) *time.Duration { return &c.Upstream.Timeout },
		"TENANTGATE_PASS_THROUGH_MAX_LIFETIME (pass_through.max_lifetime)":               func(c *Config) *time.Duration { return &c.PassThrough.MaxLifetime },
	}
	sizes := map[string]func(*Config) *int{
		"TENANTGATE_SESSION_CACHE_SIZE (session.cache_size)":                             func(c *Config) *int { return &c.Session.CacheSize },
		"TENANTGATE_INTROSPECT_CACHE_SIZE (introspect.cache_size)":                       func(c *Config) *int { return &c.Introspect.CacheSize },
		"TENANTGATE_UPSTREAM_MAX_IDLE_CONNS_PER_HOST (upstream.max_idle_conns_per_host)": func(c *Config) *int { return &c.Upstream.MaxIdleConnsPerHost },
		"TENANTGATE_MAX_TOKEN_BYTES (limits.max_token_bytes)":                            func(c *Config) *int { return &c.Limits.MaxTokenBytes },
		"TENANTGATE_MAX_HEADER_BYTES (limits.max_header_bytes)":                          func(c *Config) *int { return &c.Limits.MaxHeaderBytes },
		"TENANTGATE_MERGE_MAX_BYTES (protect.merge_max_bytes)":                           func(c *Config) *int { return &c.Protect.MergeMaxBytes },
		"TENANTGATE_TENANT_RATE (protect.tenant_rate)":                                   func(c *Config) *int { return &c.Protect.TenantRate },
		"TENANTGATE_TENANT_BURST (protect.tenant_burst)":                                 func(c *Config) *int { return &c.Protect.TenantBurst },
		"TENANTGATE_TENANT_CONCURRENCY (protect.tenant_concurrency)":                     func(c *Config) *int { return &c.Protect.TenantConcurrency },
		"TENANTGATE_ASSET_CACHE_BYTES (protect.asset_cache_bytes)":                       func(c *Config) *int { return &c.Protect.AssetCacheBytes },
		"TENANTGATE_MICRO_CACHE_BYTES (protect.micro_cache_bytes)":                       func(c *Config) *int { return &c.Protect.MicroCacheBytes },
	}
	var out []struct {
		name   string
		mode   Mode
		mutate func(*Config)
		want   []string
	}
	for name, field := range durations {
		out = append(out, struct {
			name   string
			mode   Mode
			mutate func(*Config)
			want   []string
		}{"negative " + name, ModeServe, func(c *Config) { *field(c) = -time.Second }, []string{name + " is -1s: it must be a positive duration"}})
	}
	for name, field := range sizes {
		out = append(out, struct {
			name   string
			mode   Mode
			mutate func(*Config)
			want   []string
		}{"negative " + name, ModeServe, func(c *Config) { *field(c) = -1 }, []string{name + " is -1: it must be a positive number"}})
	}
	return out
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := &Config{}
	c.ApplyDefaults()
	err := c.Validate(ModeServe)
	wantProblems(t, err,
		"METABASE_SITE_URL (metabase.site_url) is required",
		"MB_EMBEDDING_SECRET_KEY (metabase.embedding_secret_key) is required",
		"no identity source is configured",
		"TENANTGATE_HANDLE_SECRET (handles.secrets) is required",
	)
}

func TestLoadAndValidateJoinsLoadAndValidationProblems(t *testing.T) {
	path := writeFile(t, "c.yaml", `
listen: ":8080"
admin_listen: ":8080"
colour: blue
metabase:
  site_url: "http://metabase:3000?x"
policy:
  resources:
    - dashboard: 3
      editable_params: [organization_id]
`)
	env := envMap(map[string]string{
		"MB_EMBEDDING_SECRET_KEY":   "abc",
		"TENANTGATE_SESSION_LEEWAY": "a while",
		"TENANTGATE_HANDLE_SECRET":  "short",
	})
	c, err := LoadAndValidate(path, env, ModeServe)
	if c != nil {
		t.Errorf("LoadAndValidate returned a Config with its error")
	}
	wantProblems(t, err,
		"unknown key \"colour\"",
		"TENANTGATE_SESSION_LEEWAY (session.leeway) must be a duration",
		"both use \":8080\"",
		"METABASE_SITE_URL (metabase.site_url) \"http://metabase:3000?x\" must not have a query",
		"MB_EMBEDDING_SECRET_KEY (metabase.embedding_secret_key) must be Metabase's embedding secret key",
		"no identity source is configured",
		"TENANTGATE_HANDLE_SECRET (handles.secrets[0]) is 5 bytes",
		"editable_params lists \"organization_id\", the tenant parameter",
	)
}

func TestLoadAndValidateSkipsValidationOfAnUnreadableFile(t *testing.T) {
	path := writeFile(t, "c.yaml", "listen: [\n")
	_, err := LoadAndValidate(path, envMap(map[string]string{"TENANTGATE_SESSION_CACHE_SIZE": "x"}), ModeServe)
	wantProblems(t, err, "is not valid YAML", "TENANTGATE_SESSION_CACHE_SIZE (session.cache_size) must be a whole number")
}

func TestLoadAndValidateSuccess(t *testing.T) {
	env := envMap(map[string]string{
		"METABASE_SITE_URL":             "http://metabase:3000",
		"MB_EMBEDDING_SECRET_KEY":       testEmbedKey,
		"TENANTGATE_SESSION_JWT_SECRET": testJWTKey,
		"TENANTGATE_HANDLE_SECRET":      testHandle,
	})
	c, err := LoadAndValidate("", env, ModeServe)
	if err != nil {
		t.Fatalf("LoadAndValidate: %v", err)
	}
	if got, want := fmt.Sprint(c.Handles.Secrets), "[[redacted]]"; got != want {
		t.Errorf("handle secrets print as %s, want %s", got, want)
	}
	if c.Handles.Secrets[0].Reveal() != testHandle {
		t.Errorf("handle secret not loaded")
	}
}

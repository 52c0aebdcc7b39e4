package configs

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLoadNoFileGivesDefaults(t *testing.T) {
	got, err := Load("", nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &Config{
		Listen:        ":8080",
		AdminListen:   ":9090",
		ShutdownGrace: 30 * time.Second,
		Metabase:      MetabaseConfig{TokenTTL: 10 * time.Minute},
		Session: SessionConfig{
			Cookie:       "session",
			JWKSRefresh:  5 * time.Minute,
			Leeway:       30 * time.Second,
			CacheSize:    10000,
			SubjectClaim: "sub",
		},
		Introspect:  IntrospectConfig{TTL: 30 * time.Second, Timeout: 2 * time.Second, CacheSize: 10000},
		Handles:     HandleConfig{TTL: 10 * time.Minute, RenewMax: 12 * time.Hour},
		Tenant:      TenantConfig{Claim: "organization_id", Param: "organization_id"},
		Upstream:    UpstreamConfig{DialTimeout: 5 * time.Second, ResponseHeaderTimeout: 60 * time.Second, Timeout: 10 * time.Minute, MaxIdleConnsPerHost: 256},
		PassThrough: PassThroughConfig{Enabled: false, MaxLifetime: 10 * time.Minute},
		Limits:      LimitsConfig{MaxTokenBytes: 4096, MaxHeaderBytes: 32768, ReadHeaderTimeout: 10 * time.Second},
		Protect:     ProtectConfig{MergeMaxBytes: 4 << 20, TenantRate: 200, TenantBurst: 400, TenantConcurrency: 64, AssetCacheBytes: 64 << 20, TenantMaxWait: time.Second, MicroCacheBytes: 64 << 20},
		Log:         LogConfig{Level: "info"},
		Audit:       AuditConfig{Interval: 60 * time.Second, MaxStaleness: 10 * time.Minute},
		SSO:         SSOConfig{EmailTemplate: "{{ .Subject }}+{{ .Tenant }}@tenantgate.invalid", CookieSameSite: "lax", ExchangeMethod: "auto"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestDefaultsDoNotOverrideSetValues(t *testing.T) {
	path := writeFile(t, "c.yaml", "listen: \":1\"\nsession:\n  cookie: sid\n  cache_size: 7\nhandles:\n  ttl: 2m\nlog:\n  level: debug\n")
	c, err := Load(path, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, tc := range []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, ":1"},
		{"session.cookie", c.Session.Cookie, "sid"},
		{"session.cache_size", c.Session.CacheSize, 7},
		{"handles.ttl", c.Handles.TTL, 2 * time.Minute},
		{"log.level", c.Log.Level, "debug"},
		{"admin_listen (default)", c.AdminListen, ":9090"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}

func TestLoadYAML(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // problem substrings; none means success
	}{
		{name: "empty file", yaml: ""},
		{name: "only comments", yaml: "# nothing here\n"},
		{name: "durations as strings", yaml: "shutdown_grace: 45s\nhandles:\n  renew_max: 1h30m\n"},
		{name: "unknown top-level key", yaml: "listen: \":8080\"\nlisten_addr: \":1\"\n", want: []string{"line 2: unknown key \"listen_addr\": did you mean \"listen\" (TENANTGATE_LISTEN)?"}},
		{name: "unknown nested key", yaml: "metabase:\n  site_url: http://m\n  secret: x\n", want: []string{"line 3: unknown key \"metabase.secret\""}},
		{name: "unknown policy key", yaml: "policy:\n  resources:\n    - dashboard: 1\n      lock_params: {}\n", want: []string{"unknown key \"policy.resources[0].lock_params\": did you mean \"policy.resources[0].locked_params\"?"}},
		{name: "every unknown key reported", yaml: "a: 1\nb: 2\nlog:\n  lvl: x\n", want: []string{"unknown key \"a\"", "unknown key \"b\"", "unknown key \"log.lvl\": did you mean \"log.level\" (TENANTGATE_LOG_LEVEL)?"}},
		{name: "duration as a bare number", yaml: "shutdown_grace: 30\n", want: []string{"shutdown_grace (TENANTGATE_SHUTDOWN_GRACE): expected a duration such as 30s, got a number"}},
		{name: "duration that does not parse", yaml: "shutdown_grace: soon\n", want: []string{"line 1: shutdown_grace (TENANTGATE_SHUTDOWN_GRACE): expected a duration such as 30s, got a string"}},
		{name: "duplicate key", yaml: "listen: \":1\"\nlisten: \":2\"\n", want: []string{"already defined"}},
		{name: "not YAML", yaml: "listen: [\n", want: []string{"is not valid YAML"}},
		{name: "not a mapping", yaml: "- a\n- b\n", want: []string{"the top level must be a mapping"}},
		{name: "two documents", yaml: "listen: \":1\"\n---\nlisten: \":2\"\n", want: []string{"more than one YAML document"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "tenantgate.yaml", tc.yaml)
			c, err := Load(path, nil)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			wantProblems(t, err, tc.want...)
			if c != nil {
				t.Errorf("Load returned a Config with its error")
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/tenantgate.yaml", nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want one wrapping fs.ErrNotExist", err)
	}
	wantProblems(t, err, "reading the config file (--config or TENANTGATE_CONFIG): open /nonexistent/tenantgate.yaml")
}

// envCases proves each environment variable sets its field.
var envCases = []struct {
	env   string
	value string
	field func(*Config) any
	want  any
}{
	{"TENANTGATE_LISTEN", "127.0.0.1:1001", func(c *Config) any { return c.Listen }, "127.0.0.1:1001"},
	{"TENANTGATE_ADMIN_LISTEN", ":1002", func(c *Config) any { return c.AdminListen }, ":1002"},
	{"TENANTGATE_PUBLIC_PREFIX", "/bi", func(c *Config) any { return c.PublicPrefix }, "/bi"},
	{"TENANTGATE_PUBLIC_URL", "https://bi.example.com", func(c *Config) any { return c.PublicURL }, "https://bi.example.com"},
	{"TENANTGATE_FRAME_ANCESTORS", " https://a.example  'self'\thttps://b.example:8443 ", func(c *Config) any { return c.FrameAncestors }, []string{"https://a.example", "'self'", "https://b.example:8443"}},
	{"TENANTGATE_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1,,", func(c *Config) any { return c.TrustedProxies }, []string{"10.0.0.0/8", "192.168.0.1"}},
	{"TENANTGATE_SHUTDOWN_GRACE", "41s", func(c *Config) any { return c.ShutdownGrace }, 41 * time.Second},

	{"METABASE_SITE_URL", "https://mb.internal", func(c *Config) any { return c.Metabase.SiteURL }, "https://mb.internal"},
	{"MB_EMBEDDING_SECRET_KEY", testEmbedKey + "\n", func(c *Config) any { return c.Metabase.EmbeddingSecretKey }, Secret(testEmbedKey)},
	{"TENANTGATE_METABASE_TOKEN_TTL", "7m", func(c *Config) any { return c.Metabase.TokenTTL }, 7 * time.Minute},
	{"METABASE_API_KEY", "mb_AbCdEf0123456789\n", func(c *Config) any { return c.Metabase.APIKey }, Secret("mb_AbCdEf0123456789")},

	{"TENANTGATE_SESSION_COOKIE", "sid", func(c *Config) any { return c.Session.Cookie }, "sid"},
	{"TENANTGATE_SESSION_JWT_SECRET", " k1 , k2,", func(c *Config) any { return c.Session.JWTSecrets }, []Secret{"k1", "k2"}},
	{"TENANTGATE_SESSION_JWKS_URL", "https://idp/jwks", func(c *Config) any { return c.Session.JWKSURL }, "https://idp/jwks"},
	{"TENANTGATE_SESSION_JWKS_REFRESH", "3m", func(c *Config) any { return c.Session.JWKSRefresh }, 3 * time.Minute},
	{"TENANTGATE_SESSION_ISSUER", "https://idp/", func(c *Config) any { return c.Session.Issuer }, "https://idp/"},
	{"TENANTGATE_SESSION_AUDIENCE", "bi", func(c *Config) any { return c.Session.Audience }, "bi"},
	{"TENANTGATE_SESSION_LEEWAY", "5s", func(c *Config) any { return c.Session.Leeway }, 5 * time.Second},
	{"TENANTGATE_SESSION_CACHE_SIZE", "11", func(c *Config) any { return c.Session.CacheSize }, 11},
	{"TENANTGATE_SESSION_SUBJECT_CLAIM", "uid", func(c *Config) any { return c.Session.SubjectClaim }, "uid"},

	{"TENANTGATE_INTROSPECT_URL", "http://app/whoami", func(c *Config) any { return c.Introspect.URL }, "http://app/whoami"},
	{"TENANTGATE_INTROSPECT_TTL", "12s", func(c *Config) any { return c.Introspect.TTL }, 12 * time.Second},
	{"TENANTGATE_INTROSPECT_TIMEOUT", "1500ms", func(c *Config) any { return c.Introspect.Timeout }, 1500 * time.Millisecond},
	{"TENANTGATE_INTROSPECT_CACHE_SIZE", "13", func(c *Config) any { return c.Introspect.CacheSize }, 13},

	{"TENANTGATE_HANDLE_SECRET", "h1,h2", func(c *Config) any { return c.Handles.Secrets }, []Secret{"h1", "h2"}},
	{"TENANTGATE_HANDLE_TTL", "14m", func(c *Config) any { return c.Handles.TTL }, 14 * time.Minute},
	{"TENANTGATE_HANDLE_RENEW_MAX", "15h", func(c *Config) any { return c.Handles.RenewMax }, 15 * time.Hour},

	{"TENANTGATE_TENANT_CLAIM", "org", func(c *Config) any { return c.Tenant.Claim }, "org"},
	{"TENANTGATE_TENANT_PARAM", "tenant_id", func(c *Config) any { return c.Tenant.Param }, "tenant_id"},

	{"TENANTGATE_UPSTREAM_DIAL_TIMEOUT", "16s", func(c *Config) any { return c.Upstream.DialTimeout }, 16 * time.Second},
	{"TENANTGATE_UPSTREAM_RESPONSE_HEADER_TIMEOUT", "17s", func(c *Config) any { return c.Upstream.ResponseHeaderTimeout }, 17 * time.Second},
	{"TENANTGATE_UPSTREAM_TIMEOUT", "18m", func(c *Config) any { return c.Upstream.Timeout }, 18 * time.Minute},
	{"TENANTGATE_UPSTREAM_MAX_IDLE_CONNS_PER_HOST", "19", func(c *Config) any { return c.Upstream.MaxIdleConnsPerHost }, 19},

	{"TENANTGATE_PASS_THROUGH", "true", func(c *Config) any { return c.PassThrough.Enabled }, true},
	{"TENANTGATE_PASS_THROUGH_MAX_LIFETIME", "20m", func(c *Config) any { return c.PassThrough.MaxLifetime }, 20 * time.Minute},

	{"TENANTGATE_MAX_TOKEN_BYTES", "2100", func(c *Config) any { return c.Limits.MaxTokenBytes }, 2100},
	{"TENANTGATE_MAX_HEADER_BYTES", "22000", func(c *Config) any { return c.Limits.MaxHeaderBytes }, 22000},
	{"TENANTGATE_READ_HEADER_TIMEOUT", "3s", func(c *Config) any { return c.Limits.ReadHeaderTimeout }, 3 * time.Second},

	{"TENANTGATE_DISABLE_QUERY_MERGING", "true", func(c *Config) any { return c.Protect.DisableQueryMerging }, true},
	{"TENANTGATE_MERGE_MAX_BYTES", "1024", func(c *Config) any { return c.Protect.MergeMaxBytes }, 1024},
	{"TENANTGATE_TENANT_RATE", "7", func(c *Config) any { return c.Protect.TenantRate }, 7},
	{"TENANTGATE_TENANT_BURST", "9", func(c *Config) any { return c.Protect.TenantBurst }, 9},
	{"TENANTGATE_TENANT_CONCURRENCY", "3", func(c *Config) any { return c.Protect.TenantConcurrency }, 3},
	{"TENANTGATE_MICRO_CACHE_TTL", "3s", func(c *Config) any { return c.Protect.MicroCacheTTL }, 3 * time.Second},
	{"TENANTGATE_MICRO_CACHE_BYTES", "4096", func(c *Config) any { return c.Protect.MicroCacheBytes }, 4096},
	{"TENANTGATE_TENANT_MAX_WAIT", "-1s", func(c *Config) any { return c.Protect.TenantMaxWait }, -time.Second},
	{"TENANTGATE_ASSET_CACHE_BYTES", "2048", func(c *Config) any { return c.Protect.AssetCacheBytes }, 2048},
	{"TENANTGATE_LOG_LEVEL", "warn", func(c *Config) any { return c.Log.Level }, "warn"},
	{"TENANTGATE_LOG_SAMPLING", "true", func(c *Config) any { return c.Log.Sampling }, true},
	{"TENANTGATE_METRICS_TENANTS", "acme, globex", func(c *Config) any { return c.Log.MetricsTenants }, []string{"acme", "globex"}},

	{"TENANTGATE_AUDIT_INTERVAL", "45s", func(c *Config) any { return c.Audit.Interval }, 45 * time.Second},
	{"TENANTGATE_AUDIT_MAX_STALENESS", "20m", func(c *Config) any { return c.Audit.MaxStaleness }, 20 * time.Minute},

	{"MB_JWT_SHARED_SECRET", "sso-secret\n", func(c *Config) any { return c.SSO.JWTSharedSecret }, Secret("sso-secret")},
	{"TENANTGATE_SSO_EMAIL_TEMPLATE", "{{ .Subject }}+{{ .Tenant }}@sso.example", func(c *Config) any { return c.SSO.EmailTemplate }, "{{ .Subject }}+{{ .Tenant }}@sso.example"},
	{"TENANTGATE_SSO_GROUP_MAPPINGS", " analysts = Embedded customers ,admins=Embedded admins,", func(c *Config) any { return c.SSO.GroupMappings }, map[string]string{"analysts": "Embedded customers", "admins": "Embedded admins"}},
	{"TENANTGATE_SSO_ATTRIBUTES", "region, plan", func(c *Config) any { return c.SSO.Attributes }, []string{"region", "plan"}},
	{"TENANTGATE_SSO_SEALING_KEY", "s1,s2", func(c *Config) any { return c.SSO.SealingKeys }, []Secret{"s1", "s2"}},
	{"TENANTGATE_SSO_COOKIE_SAMESITE", "none", func(c *Config) any { return c.SSO.CookieSameSite }, "none"},
	{"TENANTGATE_SSO_PARTITIONED", "true", func(c *Config) any { return c.SSO.Partitioned }, true},
	{"TENANTGATE_SSO_DATASET", "true", func(c *Config) any { return c.SSO.Dataset }, true},
	{"TENANTGATE_SSO_TENANTS", "true", func(c *Config) any { return c.SSO.Tenants }, true},
	{"TENANTGATE_SSO_TENANT_ATTRIBUTES", "plan, seats", func(c *Config) any { return c.SSO.TenantAttributes }, []string{"plan", "seats"}},
	{"TENANTGATE_SSO_EXCHANGE_METHOD", "get", func(c *Config) any { return c.SSO.ExchangeMethod }, "get"},
	{"TENANTGATE_SSO_REVOKE", "tenant:acme@2026-12-01T10:00:00Z, subject:u1@x.example@2026-12-02T00:00:00+01:00", func(c *Config) any { return c.SSO.Revoke },
		[]Revocation{{Tenant: "acme", Before: "2026-12-01T10:00:00Z"}, {Subject: "u1@x.example", Before: "2026-12-02T00:00:00+01:00"}}},
}

func TestEnvOverridesEveryField(t *testing.T) {
	// The file sets every field to something else, so each case proves the
	// variable wins over YAML, not merely over the default.
	const file = `
listen: ":9"
admin_listen: ":10"
public_prefix: "/yaml"
public_url: "https://yaml.example"
frame_ancestors: ["https://yaml.example"]
trusted_proxies: ["1.1.1.1"]
shutdown_grace: 1s
metabase: {site_url: "http://yaml", embedding_secret_key: "yaml", token_ttl: 1s}
session: {cookie: yaml, jwt_secrets: [yaml], jwks_url: "http://yaml", jwks_refresh: 1s, issuer: yaml, audience: yaml, leeway: 1s, cache_size: 1}
introspect: {url: "http://yaml", ttl: 1s, timeout: 1s, cache_size: 1}
handles: {secrets: [yaml], ttl: 1s, renew_max: 1s}
tenant: {claim: yaml, param: yaml}
upstream: {dial_timeout: 1s, response_header_timeout: 1s, timeout: 1s, max_idle_conns_per_host: 1}
pass_through: {enabled: false, max_lifetime: 1s}
limits: {max_token_bytes: 1, max_header_bytes: 1}
log: {level: yaml}
`
	path := writeFile(t, "c.yaml", file)
	for _, tc := range envCases {
		t.Run(tc.env, func(t *testing.T) {
			c, err := Load(path, envMap(map[string]string{tc.env: tc.value}))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := tc.field(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s=%q: field = %#v, want %#v", tc.env, tc.value, got, tc.want)
			}
		})
	}
}

func TestEnvCasesCoverEveryBinding(t *testing.T) {
	tested := map[string]bool{}
	for _, tc := range envCases {
		tested[tc.env] = true
	}
	for _, b := range new(Config).bindings() {
		if !tested[b.env] {
			t.Errorf("%s has no case in envCases", b.env)
		}
	}
}

// TestBindingsMatchConfigComments keeps the environment variables, the YAML
// keys and config.go's field comments (the documentation) in agreement:
// every field commented with a variable is bound to exactly that variable at
// exactly that field, and every other field lives under policy.
func TestBindingsMatchConfigComments(t *testing.T) {
	documented := documentedEnv(t) // YAML path → variable from the comment ("" if none)
	var c Config
	bound := map[string]binding{}
	for _, b := range c.bindings() {
		if _, dup := bound[b.key]; dup {
			t.Errorf("two bindings for %s", b.key)
		}
		bound[b.key] = b
		env, ok := documented[b.key]
		if !ok {
			t.Errorf("binding %s: no field with YAML key %s", b.env, b.key)
			continue
		}
		if env != b.env {
			t.Errorf("binding for %s is %s, config.go documents %q", b.key, b.env, env)
		}
		field := fieldByYAMLPath(t, reflect.ValueOf(&c).Elem(), b.key)
		if got := reflect.ValueOf(b.ptr).Pointer(); got != field.Addr().Pointer() {
			t.Errorf("binding %s does not point at the field %s", b.env, b.key)
		}
	}
	for key, env := range documented {
		switch {
		case env != "" && bound[key].env != env:
			t.Errorf("%s is documented as %s but not bound", key, env)
		case env == "" && !strings.HasPrefix(key, "policy."):
			t.Errorf("%s has no environment variable in its comment", key)
		}
	}
}

// documentedEnv parses config.go and returns the leaf YAML paths of Config
// with the environment variable their line comment starts with.
func documentedEnv(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	structs := map[string]*ast.StructType{}
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok {
			if st, ok := ts.Type.(*ast.StructType); ok {
				structs[ts.Name.Name] = st
			}
		}
		return true
	})
	envRE := regexp.MustCompile(`^//\s*([A-Z][A-Z0-9_]+)\b`)
	out := map[string]string{}
	var walk func(prefix string, st *ast.StructType)
	walk = func(prefix string, st *ast.StructType) {
		for _, fld := range st.Fields.List {
			if fld.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(fld.Tag.Value)
			key := strings.Split(reflect.StructTag(tag).Get("yaml"), ",")[0]
			typ := fld.Type
			if at, ok := typ.(*ast.ArrayType); ok {
				typ = at.Elt
			}
			if id, ok := typ.(*ast.Ident); ok && structs[id.Name] != nil {
				walk(prefix+key+".", structs[id.Name])
				continue
			}
			env := ""
			if fld.Comment != nil {
				if m := envRE.FindStringSubmatch(fld.Comment.List[0].Text); m != nil {
					env = m[1]
				}
			}
			out[prefix+key] = env
		}
	}
	walk("", structs["Config"])
	if len(out) < 30 {
		t.Fatalf("found only %d fields in config.go", len(out))
	}
	return out
}

func fieldByYAMLPath(t *testing.T, v reflect.Value, path string) reflect.Value {
	t.Helper()
next:
	for _, key := range strings.Split(path, ".") {
		for i := 0; i < v.NumField(); i++ {
			if strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0] == key {
				v = v.Field(i)
				continue next
			}
		}
		t.Fatalf("no field %s in %s", key, path)
	}
	return v
}

func TestEnvParseErrorsNameTheVariable(t *testing.T) {
	env := envMap(map[string]string{
		"TENANTGATE_SHUTDOWN_GRACE":     "soon",
		"TENANTGATE_SESSION_CACHE_SIZE": "lots",
		"TENANTGATE_PASS_THROUGH":       "maybe",
		"TENANTGATE_HANDLE_TTL":         "10",
	})
	_, err := Load("", env)
	wantProblems(t, err,
		"TENANTGATE_SHUTDOWN_GRACE (shutdown_grace) must be a duration",
		"TENANTGATE_SESSION_CACHE_SIZE (session.cache_size) must be a whole number",
		"TENANTGATE_PASS_THROUGH (pass_through.enabled) must be true or false",
		"TENANTGATE_HANDLE_TTL (handles.ttl) must be a duration",
	)
	if !errors.Is(err, strconv.ErrSyntax) {
		t.Errorf("err does not wrap strconv.ErrSyntax: %v", err)
	}
}

func TestEmptyEnvCountsAsUnset(t *testing.T) {
	path := writeFile(t, "c.yaml", "listen: \":7\"\nmetabase:\n  embedding_secret_key: fromyaml\n")
	c, err := Load(path, envMap(map[string]string{
		"TENANTGATE_LISTEN":             "",
		"MB_EMBEDDING_SECRET_KEY":       "",
		"MB_EMBEDDING_SECRET_KEY_FILE":  "",
		"TENANTGATE_SESSION_CACHE_SIZE": "",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Listen != ":7" || c.Metabase.EmbeddingSecretKey != "fromyaml" {
		t.Errorf("empty variables overrode the file: listen %q, key %q", c.Listen, c.Metabase.EmbeddingSecretKey.Reveal())
	}
}

func TestSecretFiles(t *testing.T) {
	tests := []struct {
		name    string
		env     string
		content string
		field   func(*Config) any
		want    any
	}{
		{"embedding key, trailing newline trimmed", "MB_EMBEDDING_SECRET_KEY", testEmbedKey + "\n", func(c *Config) any { return c.Metabase.EmbeddingSecretKey }, Secret(testEmbedKey)},
		{"embedding key, CRLF trimmed", "MB_EMBEDDING_SECRET_KEY", testEmbedKey + "\r\n", func(c *Config) any { return c.Metabase.EmbeddingSecretKey }, Secret(testEmbedKey)},
		{"session secrets, comma-separated", "TENANTGATE_SESSION_JWT_SECRET", "first-key, second-key\n", func(c *Config) any { return c.Session.JWTSecrets }, []Secret{"first-key", "second-key"}},
		{"handle secrets", "TENANTGATE_HANDLE_SECRET", testHandle + "\n", func(c *Config) any { return c.Handles.Secrets }, []Secret{testHandle}},
		{"Metabase API key", "METABASE_API_KEY", "mb_AbCdEf0123456789\n", func(c *Config) any { return c.Metabase.APIKey }, Secret("mb_AbCdEf0123456789")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, "secret", tc.content)
			c, err := Load("", envMap(map[string]string{tc.env + "_FILE": file}))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := tc.field(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestSecretFileProblems(t *testing.T) {
	keys := map[string]string{"MB_EMBEDDING_SECRET_KEY": "metabase.embedding_secret_key", "TENANTGATE_SESSION_JWT_SECRET": "session.jwt_secrets",
		"TENANTGATE_HANDLE_SECRET": "handles.secrets", "METABASE_API_KEY": "metabase.api_key"}
	for _, v := range []string{"MB_EMBEDDING_SECRET_KEY", "TENANTGATE_SESSION_JWT_SECRET", "TENANTGATE_HANDLE_SECRET", "METABASE_API_KEY"} {
		key := keys[v]
		t.Run(v+" and _FILE both set", func(t *testing.T) {
			file := writeFile(t, "secret", "from-file")
			_, err := Load("", envMap(map[string]string{v: "from-env", v + "_FILE": file}))
			wantProblems(t, err, v+" and "+v+"_FILE ("+key+") are both set: set only one")
		})
		t.Run(v+"_FILE missing", func(t *testing.T) {
			_, err := Load("", envMap(map[string]string{v + "_FILE": "/nonexistent/secret"}))
			wantProblems(t, err, v+"_FILE ("+key+"): reading the "+v+" secret")
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("err does not wrap fs.ErrNotExist: %v", err)
			}
		})
		t.Run(v+"_FILE empty", func(t *testing.T) {
			file := writeFile(t, "secret", "\n")
			_, err := Load("", envMap(map[string]string{v + "_FILE": file}))
			wantProblems(t, err, v+"_FILE ("+key+") names the empty file")
		})
	}
}

func TestConfigPath(t *testing.T) {
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{"neither", "", nil, ""},
		{"env only", "", map[string]string{"TENANTGATE_CONFIG": "/etc/tg.yaml"}, "/etc/tg.yaml"},
		{"flag only", "./tg.yaml", nil, "./tg.yaml"},
		{"flag wins", "./tg.yaml", map[string]string{"TENANTGATE_CONFIG": "/etc/tg.yaml"}, "./tg.yaml"},
		{"empty env is unset", "", map[string]string{"TENANTGATE_CONFIG": ""}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConfigPath(tc.flag, envMap(tc.env)); got != tc.want {
				t.Errorf("ConfigPath(%q) = %q, want %q", tc.flag, got, tc.want)
			}
		})
	}
	if got := ConfigPath("", nil); got != "" {
		t.Errorf("ConfigPath with nil env = %q, want \"\"", got)
	}
}

// TestReadmeDocumentsEverySetting: README's settings table names every
// environment variable and YAML key the gate reads, so a new setting
// cannot ship undocumented.
func TestReadmeDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range new(Config).bindings() {
		row := "| `" + b.env + "`"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README's settings table has no row for %s", b.env)
			continue
		}
		line := string(readme)[strings.Index(string(readme), row):]
		line = line[:strings.IndexByte(line, '\n')]
		if !strings.Contains(line, "`"+b.key+"`") {
			t.Errorf("README's row for %s does not name its key %s: %s", b.env, b.key, line)
		}
	}
}

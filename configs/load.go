package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ConfigPath returns the configuration file to read: the --config flag's
// value if it is set, else TENANTGATE_CONFIG, else "" (no file). env looks
// a variable up like os.LookupEnv; nil means an empty environment.
func ConfigPath(flagValue string, env func(string) (string, bool)) string {
	if flagValue != "" {
		return flagValue
	}
	if v, ok := lookup(env, "TENANTGATE_CONFIG"); ok {
		return v
	}
	return ""
}

// Load reads the YAML file at path ("" means no file), applies the
// environment on top of it and fills every default. It does not validate:
// call Validate, or use LoadAndValidate.
//
// The file is read strictly: an unknown key is an error, and durations are
// strings such as "30s". env looks a variable up like os.LookupEnv (nil
// means an empty environment); a variable set to "" counts as unset. Each
// variable named in Config's field comments overrides its field; a Secret
// is also read from the file named by the variable plus "_FILE".
//
// An error is a *ValidationError listing every problem found, and the
// Config is nil.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	c, probs, _ := load(path, env)
	if err := probs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadAndValidate is Load followed by Validate(mode). Its error, a
// *ValidationError, lists the problems of both steps together. When the
// file cannot be read or is not YAML at all, validation is skipped: every
// "is required" it would report would be noise.
func LoadAndValidate(path string, env func(string) (string, bool), mode Mode) (*Config, error) {
	c, probs, ok := load(path, env)
	if ok {
		probs = append(probs, followOnFree(probs, asProblems(c.Validate(mode)))...)
	}
	if err := probs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// load does Load's work and reports whether the file (if any) was decoded,
// so that validating the result is meaningful.
func load(path string, env func(string) (string, bool)) (c *Config, probs problems, decoded bool) {
	c = new(Config)
	decoded = true
	if path != "" {
		decoded = decodeFile(path, c, &probs)
	}
	c.applyEnv(env, &probs)
	c.ApplyDefaults()
	return c, probs, decoded
}

// decodeFile decodes the YAML file at path into c, strictly. It reports
// false if the file could not be read or parsed at all; type errors and
// unknown keys are problems but leave the rest of c decoded.
func decodeFile(path string, c *Config, probs *problems) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		probs.addf("reading the config file (--config or TENANTGATE_CONFIG): %w", err)
		return false
	}
	// Parse first, so that a syntax error is reported alone, on its line,
	// and unknown keys by their path with a suggestion.
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err = dec.Decode(&root)
	switch {
	case errors.Is(err, io.EOF): // empty file, or only comments
		return true
	case err != nil:
		probs.addf("config file %s is not valid YAML: line %d: %s", path, syntaxErrorLine(data), yamlMessage(err))
		return false
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		probs.addf("config file %s holds more than one YAML document: put every setting in the first", path)
	}
	if len(root.Content) == 0 || (root.Content[0].Kind == yaml.ScalarNode && root.Content[0].Tag == "!!null") {
		return true // "---" alone, or "~": no settings
	}
	if doc := root.Content[0]; doc.Kind != yaml.MappingNode {
		probs.addf("config file %s, line %d: the top level must be a mapping of settings (key: value), not %s", path, doc.Line, nodeKind(doc))
		return false
	}
	envOf := map[string]string{}
	for _, b := range c.bindings() {
		envOf[b.key] = b.env
	}
	lines := map[int]string{}
	checkKeys(path, &root, reflect.TypeOf(c), "", envOf, lines, probs)
	var te *yaml.TypeError
	if err := root.Decode(c); errors.As(err, &te) {
		// yaml keeps decoding past these and lists them all. Unknown keys
		// were reported above, with their path.
		for _, e := range te.Errors {
			if strings.Contains(e, " not found in type ") {
				continue
			}
			probs.add(typeProblem(path, e, lines, envOf))
		}
	} else if err != nil {
		probs.addf("config file %s: %w", path, err)
		return false
	}
	return true
}

func nodeKind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value"
	}
	return "an alias"
}

// typeProblem names the key (and its variable) of one of yaml's type
// errors ("line 4: cannot unmarshal !!seq into string").
func typeProblem(path, e string, lines map[int]string, envOf map[string]string) error {
	var line int
	if _, err := fmt.Sscanf(e, "line %d:", &line); err == nil {
		if key, ok := lines[line]; ok {
			msg := plainTypeError(e[strings.Index(e, ":")+2:])
			if env := envOf[key]; env != "" {
				return settingProblem{names: []string{env, key}, err: fmt.Errorf("config file %s, line %d: %s (%s): %s", path, line, key, env, msg)}
			}
			return settingProblem{names: []string{key}, err: fmt.Errorf("config file %s, line %d: %s: %s", path, line, key, msg)}
		}
	}
	return fmt.Errorf("config file %s: %s", path, e)
}

// settingProblem is a problem with one setting's value (it could not be
// read or parsed); names are its variable and YAML key.
type settingProblem struct {
	names []string
	err   error
}

func (p settingProblem) Error() string { return p.err.Error() }
func (p settingProblem) Unwrap() error { return p.err }

// followOnFree drops the validation problems that name a setting whose
// value already could not be read: "X is required" after "reading X_FILE
// failed" only sends the operator after a second problem that is not one.
func followOnFree(loaded, validated problems) problems {
	var names []string
	for _, p := range loaded {
		var sp settingProblem
		if errors.As(p, &sp) {
			names = append(names, sp.names...)
		}
	}
	out := validated[:0:0]
	for _, p := range validated {
		follow := false
		for _, n := range names {
			if strings.Contains(p.Error(), n) {
				follow = true
				break
			}
		}
		if !follow {
			out = append(out, p)
		}
	}
	return out
}

// plainTypeError turns yaml's "cannot unmarshal !!seq into string" into
// words an operator reads, without quoting the value (it may be a secret).
func plainTypeError(msg string) string {
	var got, into string
	if _, err := fmt.Sscanf(msg, "cannot unmarshal !!%s", &got); err != nil {
		return msg
	}
	if i := strings.LastIndex(msg, " into "); i >= 0 {
		into = msg[i+len(" into "):]
	}
	kinds := map[string]string{"seq": "a list", "map": "a mapping", "str": "a string", "int": "a number",
		"float": "a number", "bool": "true or false", "null": "nothing"}
	wants := map[string]string{"string": "a string", "configs.Secret": "a string", "int": "a whole number",
		"bool": "true or false", "time.Duration": "a duration such as 30s", "[]string": "a list of strings",
		"[]configs.Secret": "a list of strings", "map[string]string": "a mapping of strings"}
	g, w := kinds[got], wants[into]
	if g == "" || w == "" {
		return msg
	}
	return "expected " + w + ", got " + g
}

// binding ties an environment variable to the Config field it overrides.
type binding struct {
	env string // the variable
	key string // the YAML key path, for messages and tests
	ptr any    // *string, *Secret, *[]string, *[]Secret, *map[string]string, *[]Revocation, *bool, *int or *time.Duration
	sep string // list separator: " " (any whitespace) or ","
}

// bindings lists every environment override of c, in config.go's order.
// Policy is YAML-only.
func (c *Config) bindings() []binding {
	return []binding{
		{"TENANTGATE_LISTEN", "listen", &c.Listen, ""},
		{"TENANTGATE_ADMIN_LISTEN", "admin_listen", &c.AdminListen, ""},
		{"TENANTGATE_PUBLIC_PREFIX", "public_prefix", &c.PublicPrefix, ""},
		{"TENANTGATE_PUBLIC_URL", "public_url", &c.PublicURL, ""},
		{"TENANTGATE_FRAME_ANCESTORS", "frame_ancestors", &c.FrameAncestors, " "},
		{"TENANTGATE_TRUSTED_PROXIES", "trusted_proxies", &c.TrustedProxies, ","},
		{"TENANTGATE_SHUTDOWN_GRACE", "shutdown_grace", &c.ShutdownGrace, ""},

		{"METABASE_SITE_URL", "metabase.site_url", &c.Metabase.SiteURL, ""},
		{"MB_EMBEDDING_SECRET_KEY", "metabase.embedding_secret_key", &c.Metabase.EmbeddingSecretKey, ""},
		{"TENANTGATE_METABASE_TOKEN_TTL", "metabase.token_ttl", &c.Metabase.TokenTTL, ""},
		{"METABASE_API_KEY", "metabase.api_key", &c.Metabase.APIKey, ""},

		{"TENANTGATE_SESSION_COOKIE", "session.cookie", &c.Session.Cookie, ""},
		{"TENANTGATE_SESSION_JWT_SECRET", "session.jwt_secrets", &c.Session.JWTSecrets, ","},
		{"TENANTGATE_SESSION_JWKS_URL", "session.jwks_url", &c.Session.JWKSURL, ""},
		{"TENANTGATE_SESSION_JWKS_REFRESH", "session.jwks_refresh", &c.Session.JWKSRefresh, ""},
		{"TENANTGATE_SESSION_ISSUER", "session.issuer", &c.Session.Issuer, ""},
		{"TENANTGATE_SESSION_AUDIENCE", "session.audience", &c.Session.Audience, ""},
		{"TENANTGATE_SESSION_LEEWAY", "session.leeway", &c.Session.Leeway, ""},
		{"TENANTGATE_SESSION_CACHE_SIZE", "session.cache_size", &c.Session.CacheSize, ""},
		{"TENANTGATE_SESSION_SUBJECT_CLAIM", "session.subject_claim", &c.Session.SubjectClaim, ""},

		{"TENANTGATE_INTROSPECT_URL", "introspect.url", &c.Introspect.URL, ""},
		{"TENANTGATE_INTROSPECT_TTL", "introspect.ttl", &c.Introspect.TTL, ""},
		{"TENANTGATE_INTROSPECT_TIMEOUT", "introspect.timeout", &c.Introspect.Timeout, ""},
		{"TENANTGATE_INTROSPECT_CACHE_SIZE", "introspect.cache_size", &c.Introspect.CacheSize, ""},

		{"TENANTGATE_HANDLE_SECRET", "handles.secrets", &c.Handles.Secrets, ","},
		{"TENANTGATE_HANDLE_TTL", "handles.ttl", &c.Handles.TTL, ""},
		{"TENANTGATE_HANDLE_RENEW_MAX", "handles.renew_max", &c.Handles.RenewMax, ""},

		{"TENANTGATE_TENANT_CLAIM", "tenant.claim", &c.Tenant.Claim, ""},
		{"TENANTGATE_TENANT_PARAM", "tenant.param", &c.Tenant.Param, ""},

		{"TENANTGATE_UPSTREAM_DIAL_TIMEOUT", "upstream.dial_timeout", &c.Upstream.DialTimeout, ""},
		{"TENANTGATE_UPSTREAM_RESPONSE_HEADER_TIMEOUT", "upstream.response_header_timeout", &c.Upstream.ResponseHeaderTimeout, ""},
		{"TENANTGATE_UPSTREAM_TIMEOUT", "upstream.timeout", &c.Upstream.Timeout, ""},
		{"TENANTGATE_UPSTREAM_MAX_IDLE_CONNS_PER_HOST", "upstream.max_idle_conns_per_host", &c.Upstream.MaxIdleConnsPerHost, ""},

		{"TENANTGATE_PASS_THROUGH", "pass_through.enabled", &c.PassThrough.Enabled, ""},
		{"TENANTGATE_PASS_THROUGH_MAX_LIFETIME", "pass_through.max_lifetime", &c.PassThrough.MaxLifetime, ""},

		{"TENANTGATE_MAX_TOKEN_BYTES", "limits.max_token_bytes", &c.Limits.MaxTokenBytes, ""},
		{"TENANTGATE_MAX_HEADER_BYTES", "limits.max_header_bytes", &c.Limits.MaxHeaderBytes, ""},
		{"TENANTGATE_READ_HEADER_TIMEOUT", "limits.read_header_timeout", &c.Limits.ReadHeaderTimeout, ""},

		{"TENANTGATE_DISABLE_QUERY_MERGING", "protect.disable_query_merging", &c.Protect.DisableQueryMerging, ""},
		{"TENANTGATE_MERGE_MAX_BYTES", "protect.merge_max_bytes", &c.Protect.MergeMaxBytes, ""},
		{"TENANTGATE_TENANT_RATE", "protect.tenant_rate", &c.Protect.TenantRate, ""},
		{"TENANTGATE_TENANT_BURST", "protect.tenant_burst", &c.Protect.TenantBurst, ""},
		{"TENANTGATE_TENANT_CONCURRENCY", "protect.tenant_concurrency", &c.Protect.TenantConcurrency, ""},
		{"TENANTGATE_TENANT_MAX_WAIT", "protect.tenant_max_wait", &c.Protect.TenantMaxWait, ""},
		{"TENANTGATE_MICRO_CACHE_TTL", "protect.micro_cache_ttl", &c.Protect.MicroCacheTTL, ""},
		{"TENANTGATE_MICRO_CACHE_BYTES", "protect.micro_cache_bytes", &c.Protect.MicroCacheBytes, ""},
		{"TENANTGATE_ASSET_CACHE_BYTES", "protect.asset_cache_bytes", &c.Protect.AssetCacheBytes, ""},

		{"TENANTGATE_LOG_LEVEL", "log.level", &c.Log.Level, ""},
		{"TENANTGATE_LOG_SAMPLING", "log.sampling", &c.Log.Sampling, ""},
		{"TENANTGATE_METRICS_TENANTS", "log.metrics_tenants", &c.Log.MetricsTenants, ","},

		{"TENANTGATE_AUDIT_INTERVAL", "audit.interval", &c.Audit.Interval, ""},
		{"TENANTGATE_AUDIT_MAX_STALENESS", "audit.max_staleness", &c.Audit.MaxStaleness, ""},

		{"MB_JWT_SHARED_SECRET", "sso.jwt_shared_secret", &c.SSO.JWTSharedSecret, ""},
		{"TENANTGATE_SSO_EMAIL_TEMPLATE", "sso.email_template", &c.SSO.EmailTemplate, ""},
		{"TENANTGATE_SSO_GROUP_MAPPINGS", "sso.group_mappings", &c.SSO.GroupMappings, ","},
		{"TENANTGATE_SSO_ATTRIBUTES", "sso.attributes", &c.SSO.Attributes, ","},
		{"TENANTGATE_SSO_SEALING_KEY", "sso.sealing_keys", &c.SSO.SealingKeys, ","},
		{"TENANTGATE_SSO_COOKIE_SAMESITE", "sso.cookie_samesite", &c.SSO.CookieSameSite, ""},
		{"TENANTGATE_SSO_PARTITIONED", "sso.partitioned", &c.SSO.Partitioned, ""},
		{"TENANTGATE_SSO_DATASET", "sso.dataset", &c.SSO.Dataset, ""},
		{"TENANTGATE_SSO_TENANTS", "sso.tenants", &c.SSO.Tenants, ""},
		{"TENANTGATE_SSO_TENANT_ATTRIBUTES", "sso.tenant_attributes", &c.SSO.TenantAttributes, ","},
		{"TENANTGATE_SSO_EXCHANGE_METHOD", "sso.exchange_method", &c.SSO.ExchangeMethod, ""},
		{"TENANTGATE_SSO_REVOKE", "sso.revoke", &c.SSO.Revoke, ","},
	}
}

// applyEnv overrides c's fields from env, collecting every problem.
func (c *Config) applyEnv(env func(string) (string, bool), probs *problems) {
	for _, b := range c.bindings() {
		v, ok, err := b.value(env)
		if err == nil && ok {
			err = b.set(v)
		}
		if err != nil {
			probs.add(settingProblem{names: []string{b.env, b.key}, err: err})
		}
	}
}

// value returns the binding's value from the environment. A secret may
// instead come from the file named by the variable plus "_FILE"; setting
// both is an error, since one of them would be silently ignored.
func (b binding) value(env func(string) (string, bool)) (string, bool, error) {
	v, ok := lookup(env, b.env)
	if !b.isSecret() {
		return v, ok, nil
	}
	fileVar := b.env + "_FILE"
	file, fromFile := lookup(env, fileVar)
	switch {
	case ok && fromFile:
		return "", false, fmt.Errorf("%s and %s (%s) are both set: set only one of them", b.env, fileVar, b.key)
	case ok:
		// A secret copied from a file into the variable often keeps its newline.
		return trimNewline(v), true, nil
	case !fromFile:
		return "", false, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", false, fmt.Errorf("%s (%s): reading the %s secret: %w", fileVar, b.key, b.env, err)
	}
	v = trimNewline(string(data))
	if v == "" {
		return "", false, fmt.Errorf("%s (%s) names the empty file %q: write the secret into it", fileVar, b.key, file)
	}
	return v, true, nil
}

func (b binding) isSecret() bool {
	switch b.ptr.(type) {
	case *Secret, *[]Secret:
		return true
	}
	return false
}

// set parses v into the binding's field.
func (b binding) set(v string) error {
	switch p := b.ptr.(type) {
	case *string:
		*p = v
	case *Secret:
		*p = Secret(v)
	case *[]string:
		*p = splitList(v, b.sep)
	case *[]Secret:
		list := splitList(v, b.sep)
		*p = make([]Secret, len(list))
		for i, s := range list {
			(*p)[i] = Secret(s)
		}
	case *map[string]string:
		m := map[string]string{}
		for _, pair := range splitList(v, b.sep) {
			k, val, ok := strings.Cut(pair, "=")
			k, val = strings.TrimSpace(k), strings.TrimSpace(val)
			if !ok || k == "" || val == "" {
				return fmt.Errorf("%s (%s) must be comma-separated key=value pairs, but %q is not one", b.env, b.key, pair)
			}
			m[k] = val
		}
		*p = m
	case *[]Revocation:
		var rs []Revocation
		for _, item := range splitList(v, b.sep) {
			r, err := parseRevocation(item)
			if err != nil {
				return fmt.Errorf("%s (%s): %q: %w", b.env, b.key, item, err)
			}
			rs = append(rs, r)
		}
		*p = rs
	case *bool:
		x, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("%s (%s) must be true or false: %w", b.env, b.key, err)
		}
		*p = x
	case *int:
		x, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s (%s) must be a whole number: %w", b.env, b.key, err)
		}
		*p = x
	case *time.Duration:
		x, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("%s (%s) must be a duration such as 30s, 5m or 1h: %w", b.env, b.key, err)
		}
		*p = x
	default:
		panic(fmt.Sprintf("configs: binding %s has unsupported type %T", b.env, b.ptr))
	}
	return nil
}

// lookup is env(name) with nil meaning an empty environment and "" meaning unset.
func lookup(env func(string) (string, bool), name string) (string, bool) {
	if env == nil {
		return "", false
	}
	v, ok := env(name)
	if !ok || v == "" {
		return "", false
	}
	return v, true
}

// splitList splits a list variable: on whitespace if sep is " ", else on
// sep; items are trimmed and empty items dropped.
func splitList(v, sep string) []string {
	var parts []string
	if sep == " " {
		parts = strings.Fields(v)
	} else {
		parts = strings.Split(v, sep)
	}
	out := make([]string, 0, len(parts))
	for _, s := range parts {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func trimNewline(s string) string { return strings.TrimRight(s, "\r\n") }

// parseRevocation reads one entry of TENANTGATE_SSO_REVOKE: tenant:ID@TIME
// or subject:ID@TIME, TIME in RFC 3339 (which has no "@": the last one
// splits). A revocation of both at once is YAML only.
func parseRevocation(s string) (Revocation, error) {
	kind, rest, ok := strings.Cut(strings.TrimSpace(s), ":")
	at := strings.LastIndexByte(rest, '@')
	if !ok || at <= 0 {
		return Revocation{}, errors.New("must be tenant:ID@TIME or subject:ID@TIME, TIME in RFC 3339 such as 2026-12-01T10:00:00Z")
	}
	r := Revocation{Before: rest[at+1:]}
	switch kind {
	case "tenant":
		r.Tenant = rest[:at]
	case "subject":
		r.Subject = rest[:at]
	default:
		return Revocation{}, fmt.Errorf("revokes a tenant or a subject, not %q", kind)
	}
	return r, nil
}

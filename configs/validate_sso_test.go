package configs

import "testing"

const (
	testSSOSecret = "sso-shared-secret-0123456789abcdef0123456789"
	testSealKey   = "seal-key-0123456789abcdef0123456789abcdef"
)

func TestValidateSSO(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*Config)
		want  []string
	}{
		{"off by default", func(*Config) {}, nil},
		{"on", func(c *Config) {
			c.SSO.JWTSharedSecret, c.SSO.SealingKeys = testSSOSecret, []Secret{testSealKey}
			c.SSO.GroupMappings = map[string]string{"customer": "Embedded customers"}
			c.SSO.Attributes = []string{"region"}
		}, nil},
		{"sealing key required", func(c *Config) { c.SSO.JWTSharedSecret = testSSOSecret },
			[]string{"TENANTGATE_SSO_SEALING_KEY (sso.sealing_keys) is required"}},
		{"short keys", func(c *Config) { c.SSO.JWTSharedSecret, c.SSO.SealingKeys = "short", []Secret{"tiny"} },
			[]string{"MB_JWT_SHARED_SECRET (sso.jwt_shared_secret) is 5 bytes", "TENANTGATE_SSO_SEALING_KEY (sso.sealing_keys[0]) is 4 bytes"}},
		{"shared secret is the embedding key", func(c *Config) {
			c.SSO.JWTSharedSecret, c.SSO.SealingKeys = Secret(testEmbedKey), []Secret{testSealKey}
		}, []string{"equals MB_EMBEDDING_SECRET_KEY"}},
		{"sealing key is the shared secret", func(c *Config) {
			c.SSO.JWTSharedSecret, c.SSO.SealingKeys = testSSOSecret, []Secret{testSSOSecret}
		}, []string{"(sso.sealing_keys[0]) equals MB_JWT_SHARED_SECRET"}},
		{"mapping onto Administrators", func(c *Config) {
			c.SSO.GroupMappings = map[string]string{"staff": " administrators "}
		}, []string{`maps "staff" to Metabase's Administrators group`}},
		{"reserved attributes", func(c *Config) {
			c.SSO.Attributes = []string{"email", "organization_id", "exp", "@tenant", "region", "region", ""}
		},
			[]string{"attributes[0]) is \"email\"", "attributes[1]) is \"organization_id\", the tenant attribute", "attributes[2]) is \"exp\"",
				"attributes[3]) is \"@tenant\"", "attributes[5]) repeats", "attributes[6]) is empty"}},
		{"exchange methods", func(c *Config) { c.SSO.ExchangeMethod = "post" }, nil},
		{"bad exchange method", func(c *Config) { c.SSO.ExchangeMethod = "POST" }, []string{`(sso.exchange_method) "POST" is not an exchange method`}},
		{"revocations", func(c *Config) {
			c.SSO.Revoke = []Revocation{{Tenant: "acme", Before: "2026-12-01T10:00:00Z"}, {Tenant: "acme", Subject: "u1", Before: "2026-12-01T10:00:00+01:00"}}
		}, nil},
		{"bad revocations", func(c *Config) {
			c.SSO.Revoke = []Revocation{{Before: "2026-12-01T10:00:00Z"}, {Tenant: "acme", Before: "2026-12-01"}, {Subject: " u1", Before: "2026-12-01T10:00:00Z"}}
		}, []string{"(sso.revoke[0]) names neither a tenant nor a subject", `(sso.revoke[1]) before "2026-12-01" is not an RFC 3339 time`, "(sso.revoke[2]) has spaces"}},
		{"samesite and partitioned", func(c *Config) { c.SSO.CookieSameSite, c.SSO.Partitioned = "lax", true },
			[]string{"TENANTGATE_SSO_PARTITIONED (sso.partitioned) is on"}},
		{"bad samesite", func(c *Config) { c.SSO.CookieSameSite = "None" }, []string{`"None" is not a SameSite value`}},
		{"bad template", func(c *Config) { c.SSO.EmailTemplate = "{{ .Email " }, []string{"sso.email_template) \"{{ .Email \": not a valid template"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.tweak(c)
			err := c.Validate(ModeServe)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			wantProblems(t, err, tt.want...)
		})
	}
}

func TestGroupMappingsFromEnv(t *testing.T) {
	_, err := Load("", envMap(map[string]string{"TENANTGATE_SSO_GROUP_MAPPINGS": "customer"}))
	wantProblems(t, err, `TENANTGATE_SSO_GROUP_MAPPINGS (sso.group_mappings) must be comma-separated key=value pairs, but "customer" is not one`)
}

package configs

import (
	"strings"
	"testing"
)

func TestParseEmailTemplate(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		tenants bool
		wantErr string // "" means accepted
	}{
		{"default", defaultSSOEmailTemplate, false, ""},
		{"tenant first, dot separator", "{{ .Tenant }}.{{ .Subject }}@sso.example", false, ""},
		{"prefix and claims", "u-{{ .Claims.uid }}.{{ .Subject }}+{{ .Tenant }}@Sso.Example", false, ""},
		{"trim markers", "{{- .Subject -}}+{{- .Tenant -}}@sso.example", false, ""},
		{"comment", "{{/* who */}}{{ .Subject }}+{{ .Tenant }}@sso.example", false, ""},
		{"no tenant with first-class tenants", "{{ .Subject }}@sso.example", true, ""},
		{"raw email, the old default", "{{ .Email }}", false, "does not name {{ .Subject }}"},
		{"no tenant", "{{ .Subject }}@sso.example", false, "does not name {{ .Tenant }}"},
		{"no subject", "{{ .Email }}+{{ .Tenant }}@sso.example", false, "does not name {{ .Subject }}"},
		{"fields touch", "{{ .Subject }}{{ .Tenant }}@sso.example", false, "two fields touch"},
		{"separator of the encoding's alphabet", "{{ .Subject }}-x_{{ .Tenant }}@sso.example", false, "holds neither"},
		{"field in the domain", "{{ .Subject }}+{{ .Tenant }}@{{ .Tenant }}.example", false, "after the \"@\""},
		{"field after the domain", "{{ .Subject }}@sso.example{{ .Tenant }}", false, "after the \"@\""},
		{"no @", "{{ .Subject }}+{{ .Tenant }}", false, "does not end in a literal \"@domain\""},
		{"@ between fields", "{{ .Subject }}@x+{{ .Tenant }}@sso.example", false, "after the \"@\""},
		{"two @ in the domain", "{{ .Subject }}+{{ .Tenant }}@a@sso.example", false, "more than one \"@\""},
		{"single-label domain", "{{ .Subject }}+{{ .Tenant }}@localhost", false, "two labels"},
		{"bad domain label", "{{ .Subject }}+{{ .Tenant }}@-x.example", false, "not a DNS name"},
		{"space", "{{ .Subject }} + {{ .Tenant }}@sso.example", false, "holds ' '"},
		{"quote", "{{ .Subject }}+\"{{ .Tenant }}\"@sso.example", false, "holds '\"'"},
		{"leading dot", ".{{ .Subject }}+{{ .Tenant }}@sso.example", false, "a \".\" starts the address"},
		{"dot before @", "{{ .Subject }}+{{ .Tenant }}.@sso.example", false, "a \".\" starts the address or ends it"},
		{"two dots between fields", "{{ .Subject }}..{{ .Tenant }}@sso.example", false, "two \".\" touch"},
		{"two dots in the domain", "{{ .Subject }}+{{ .Tenant }}@sso..example", false, "two \".\" touch"},
		{"function", "{{ printf \"%s\" .Subject }}+{{ .Tenant }}@sso.example", false, "not one of"},
		{"pipeline", "{{ .Subject | html }}+{{ .Tenant }}@sso.example", false, "not one of"},
		{"variable", "{{ $x := .Subject }}{{ $x }}+{{ .Tenant }}@sso.example", false, "not one of"},
		{"branch", "{{ if .Tenant }}{{ .Subject }}{{ end }}+{{ .Tenant }}@sso.example", false, "not allowed"},
		{"unknown field", "{{ .Subject }}+{{ .Org }}@sso.example", false, "not one of"},
		{"deep claim", "{{ .Subject }}+{{ .Claims.a.b }}@sso.example", false, "not one of"},
		{"not a template", "{{ .Subject ", false, "not a valid template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEmailTemplate(tt.text, tt.tenants)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("accepted, want an error with %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("error %q, want one with %q", err, tt.wantErr)
			}
		})
	}
}

func TestValidateIdentityKeys(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*Config)
		want  []string
	}{
		{"subject claim uid", func(c *Config) { c.Session.SubjectClaim = "uid" }, nil},
		{"subject claim is the tenant claim", func(c *Config) { c.Session.SubjectClaim = "organization_id" },
			[]string{"TENANTGATE_SESSION_SUBJECT_CLAIM (session.subject_claim) is \"organization_id\", the tenant claim"}},
		{"blank subject claim", func(c *Config) { c.Session.SubjectClaim = " " }, []string{"(session.subject_claim) is blank"}},
		{"the old default template", func(c *Config) { c.SSO.EmailTemplate = "{{ .Email }}" }, []string{"does not name {{ .Subject }}"}},
		{"template without tenant", func(c *Config) { c.SSO.EmailTemplate = "{{ .Subject }}@sso.example" }, []string{"does not name {{ .Tenant }}"}},
		{"template without tenant, tenants on", func(c *Config) {
			c.SSO.EmailTemplate, c.SSO.Tenants, c.SSO.TenantAttributes = "{{ .Subject }}@sso.example", true, []string{"plan"}
		}, nil},
		{"tenant attributes without tenants", func(c *Config) { c.SSO.TenantAttributes = []string{"plan"} },
			[]string{"(sso.tenant_attributes) is set but TENANTGATE_SSO_TENANTS (sso.tenants) is off"}},
		{"bad tenant attributes", func(c *Config) {
			c.SSO.Tenants, c.SSO.TenantAttributes = true, []string{"organization_id", "@x", "plan", "plan", ""}
		}, []string{"tenant_attributes[0]) is \"organization_id\", the tenant parameter", "tenant_attributes[1]) is \"@x\"",
			"tenant_attributes[3]) repeats", "tenant_attributes[4]) is empty"}},
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

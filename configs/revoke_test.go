package configs

import (
	"strings"
	"testing"
)

func TestRevokeEnvForm(t *testing.T) {
	tests := []struct {
		env  string
		want string // a problem's text, or "" for none
	}{
		{"tenant:acme@2026-12-01T10:00:00Z", ""},
		{"subject:a@b.example@2026-12-01T10:00:00Z", ""},
		{"acme@2026-12-01T10:00:00Z", "must be tenant:ID@TIME"},
		{"tenant:acme", "must be tenant:ID@TIME"},
		{"tenant:@2026-12-01T10:00:00Z", "must be tenant:ID@TIME"},
		{"group:staff@2026-12-01T10:00:00Z", `not "group"`},
		{"tenant:acme@yesterday", "is not an RFC 3339 time"},
	}
	for _, tt := range tests {
		env := map[string]string{"TENANTGATE_SSO_REVOKE": tt.env}
		_, err := LoadAndValidate("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }, ModeServe)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if tt.want == "" && strings.Contains(got, "sso.revoke") || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("%q: err = %v, want %q", tt.env, err, tt.want)
		}
	}
}

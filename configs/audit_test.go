package configs

import (
	"testing"
	"time"
)

func TestValidateAuditSettings(t *testing.T) {
	tests := []struct {
		name  string
		mode  Mode
		tweak func(*Config)
		want  []string // substrings of the problems; none means valid
	}{
		{"audit: site URL and API key suffice", ModeAudit, func(c *Config) {
			*c = Config{Metabase: MetabaseConfig{SiteURL: "http://metabase:3000", APIKey: "mb_key"}}
			c.ApplyDefaults()
		}, nil},
		{"audit: API key required", ModeAudit, func(c *Config) { c.Metabase.APIKey = "" }, []string{"METABASE_API_KEY (metabase.api_key) is required to audit"}},
		{"audit: site URL required", ModeAudit, func(c *Config) { c.Metabase.SiteURL = "" }, []string{"METABASE_SITE_URL (metabase.site_url) is required"}},
		{"audit: policy still checked", ModeAudit, func(c *Config) {
			c.Policy.Resources = []ResourcePolicy{{Dashboard: 1, Question: 2}}
		}, []string{"sets both dashboard (1) and question (2)"}},
		{"serve: API key optional", ModeServe, func(c *Config) { c.Metabase.APIKey = "" }, nil},
		{"serve: API key with a space", ModeServe, func(c *Config) { c.Metabase.APIKey = "mb_key other" }, []string{"METABASE_API_KEY (metabase.api_key) contains spaces"}},
		{"interval not positive", ModeServe, func(c *Config) { c.Audit.Interval = -time.Second }, []string{"TENANTGATE_AUDIT_INTERVAL (audit.interval) is -1s"}},
		{"staleness not positive", ModeServe, func(c *Config) { c.Audit.MaxStaleness = -time.Second }, []string{"TENANTGATE_AUDIT_MAX_STALENESS (audit.max_staleness) is -1s"}},
		{"staleness shorter than interval", ModeServe, func(c *Config) {
			c.Audit.Interval, c.Audit.MaxStaleness = time.Minute, 30*time.Second
		}, []string{"TENANTGATE_AUDIT_MAX_STALENESS (audit.max_staleness) 30s is shorter than TENANTGATE_AUDIT_INTERVAL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.Metabase.APIKey = "mb_key"
			tt.tweak(c)
			err := c.Validate(tt.mode)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			wantProblems(t, err, tt.want...)
		})
	}
}

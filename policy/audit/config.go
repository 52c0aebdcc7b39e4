package audit

import "github.com/tenantgate/tenantgate/configs"

// ConfigFor is what tenantgate's configuration asks the audit to check: its
// tenant parameter and the resources of its policy. SSO is not configured
// by tenantgate yet, so the SSO checks do not run.
func ConfigFor(c *configs.Config) Config {
	cfg := Config{TenantParam: c.Tenant.Param}
	for _, r := range c.Policy.Resources {
		if r.Dashboard > 0 {
			cfg.Policy = append(cfg.Policy, Ref{Kind: KindDashboard, ID: r.Dashboard})
		} else if r.Question > 0 {
			cfg.Policy = append(cfg.Policy, Ref{Kind: KindQuestion, ID: r.Question})
		}
	}
	return cfg
}

package audit

import (
	"sort"

	"github.com/tenantgate/tenantgate/configs"
)

// ConfigFor is what tenantgate's configuration asks the audit to check: its
// tenant parameter and the resources of its policy, and, with JWT SSO on,
// the groups SSO users land in (the mapped Metabase group names, matched
// by name) and the sandboxes that must filter by the tenant attribute.
func ConfigFor(c *configs.Config) Config {
	cfg := Config{TenantParam: c.Tenant.Param}
	if c.SSO.Enabled() {
		groups := map[string]bool{}
		for _, g := range c.SSO.GroupMappings {
			groups[g] = true
		}
		s := &SSO{TenantAttribute: c.Tenant.Param}
		for g := range groups {
			s.Groups = append(s.Groups, g)
		}
		sort.Strings(s.Groups)
		cfg.SSO = s
	}
	for _, r := range c.Policy.Resources {
		if r.Dashboard > 0 {
			cfg.Policy = append(cfg.Policy, Ref{Kind: KindDashboard, ID: r.Dashboard})
		} else if r.Question > 0 {
			cfg.Policy = append(cfg.Policy, Ref{Kind: KindQuestion, ID: r.Question})
		}
	}
	return cfg
}

package policy

import (
	"time"
)

// Revocation ends, before their expiry, the sessions Metabase cannot end
// itself (Metabase issue 66369): everything issued to a tenant, a subject,
// or a subject within a tenant (both set), before Before. A sealed cookie,
// SDK handle and SDK ticket carry when they were issued, and so does an
// embed handle; each is refused once a revocation covers it. A Before in
// the future also refuses what is issued until then: the tenant or subject
// is kept out.
type Revocation struct {
	Tenant  string // "" matches every tenant
	Subject string // "" matches every subject
	Before  time.Time
}

// Revoked decides whether something issued at issued to (tenant, subject)
// may still be used: a session-revoked denial if a revocation covers it.
// At least one of a revocation's Tenant and Subject is set (configs
// validates it); one with neither covers nothing, never everyone.
func Revoked(rs []Revocation, tenant, subject string, issued time.Time) Decision {
	for _, r := range rs {
		if r.Tenant == "" && r.Subject == "" {
			continue
		}
		if (r.Tenant == "" || r.Tenant == tenant) && (r.Subject == "" || r.Subject == subject) && issued.Before(r.Before) {
			return deny(ReasonSessionRevoked, "issued %s, revoked for %s before %s", issued.UTC().Format(time.RFC3339), who(r), r.Before.UTC().Format(time.RFC3339))
		}
	}
	return allowed
}

func who(r Revocation) string {
	switch {
	case r.Tenant == "":
		return "subject " + r.Subject
	case r.Subject == "":
		return "tenant " + r.Tenant
	}
	return "subject " + r.Subject + " of tenant " + r.Tenant
}

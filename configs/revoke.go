package configs

import "time"

// Revocation refuses what was issued to a tenant, a subject, or a subject
// within a tenant (both set: both must match) before Before.
type Revocation struct {
	Tenant  string `yaml:"tenant"`
	Subject string `yaml:"subject"`
	// Before is an RFC 3339 time with its zone, e.g. "2026-12-01T10:00:00Z".
	// In the future, it also keeps the tenant or subject out until then.
	Before string `yaml:"before"`
}

// BeforeTime parses Before (RFC 3339).
func (r Revocation) BeforeTime() (time.Time, error) { return time.Parse(time.RFC3339, r.Before) }

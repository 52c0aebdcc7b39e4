package policy

import (
	"testing"
	"time"
)

func TestRevoked(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	rs := []Revocation{
		{Tenant: "acme", Before: at},
		{Subject: "u1", Before: at},
		{Tenant: "globex", Subject: "u2", Before: at},
		{Before: at.Add(time.Hour)}, // neither set: covers nothing
	}
	tests := []struct {
		name            string
		tenant, subject string
		issued          time.Time
		revoked         bool
	}{
		{"tenant, issued before", "acme", "u9", at.Add(-time.Second), true},
		{"tenant, issued at the time", "acme", "u9", at, false},
		{"tenant, issued after", "acme", "u9", at.Add(time.Second), false},
		{"subject, in any tenant", "initech", "u1", at.Add(-time.Hour), true},
		{"subject within a tenant", "globex", "u2", at.Add(-time.Hour), true},
		{"that subject in another tenant", "initech", "u2", at.Add(-time.Hour), false},
		{"another subject of that tenant", "globex", "u3", at.Add(-time.Hour), false},
		{"a prefix is no match", "acm", "u", at.Add(-time.Hour), false},
		{"a case change is no match", "ACME", "U1", at.Add(-time.Hour), false},
		{"an empty revocation covers no one", "initech", "u9", at.Add(-time.Minute), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Revoked(rs, tt.tenant, tt.subject, tt.issued)
			if d.Allow == tt.revoked {
				t.Errorf("Revoked = %+v, want revoked %v", d, tt.revoked)
			}
			if tt.revoked && d.Reason != ReasonSessionRevoked {
				t.Errorf("reason = %s, want session-revoked", d.Reason)
			}
		})
	}
}

package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// hs256Claims verifies tok with a hand-rolled HMAC-SHA256 (no JWT library)
// and returns its header and claims.
func hs256Claims(t *testing.T, tok, secret string) (map[string]any, map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if sig, _ := base64.RawURLEncoding.DecodeString(parts[2]); !hmac.Equal(sig, m.Sum(nil)) {
		t.Fatal("signature does not verify")
	}
	var h, c map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		t.Fatal("header or payload is not JSON")
	}
	return h, c
}

func TestSSOMint(t *testing.T) {
	const secret = "sso-shared-secret-0123456789abcdef0123456789"
	now := time.Unix(1_800_000_000, 0)
	id := &Identity{Subject: "u-1", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell", Tenant: "acme",
		Groups: []string{"customer", "analyst", "staff", "customer"},
		Claims: map[string]any{"region": "eu", "seats": json.Number("12"), "beta": true, "tags": []any{"x"},
			// A session claim named like a fixed claim is never copied.
			"email": "mallory@evil.example", "organization_id": "globex", "exp": 9999999999, "iat": 1,
			// Nor Metabase's tenant claims: only the gate sets them.
			"@tenant": "globex", "@tenant.attributes": map[string]any{"organization_id": "globex"}}}
	tests := []struct {
		name       string
		opts       SSOOptions
		wantClaims map[string]any
	}{
		{"defaults: one Metabase user per subject and tenant", SSOOptions{},
			map[string]any{"email": "u-1+acme@tenantgate.invalid", "first_name": "Alice", "last_name": "Liddell", "organization_id": "acme"}},
		{"per organization, mapped groups, attributes",
			SSOOptions{EmailTemplate: "{{ .Email }}.{{ .Subject }}+{{ .Tenant }}@SSO.example", GroupMappings: map[string]string{"customer": "Embedded customers", "analyst": "Embedded analysts"},
				Attributes: []string{"region", "seats", "beta", "tags", "missing"}},
			map[string]any{"email": "alice_40example_2ecom.u-1+acme@sso.example", "first_name": "Alice", "last_name": "Liddell", "organization_id": "acme",
				"groups": []any{"Embedded analysts", "Embedded customers"}, "region": "eu", "seats": "12", "beta": "true"}},
		{"mapping that matches nothing sends no groups", SSOOptions{GroupMappings: map[string]string{"admins": "Embedded admins"}},
			map[string]any{"email": "u-1+acme@tenantgate.invalid", "first_name": "Alice", "last_name": "Liddell", "organization_id": "acme", "groups": []any{}}},
		{"first-class tenants", SSOOptions{Tenants: true, EmailTemplate: "{{ .Subject }}@tenantgate.invalid", TenantAttributes: []string{"region", "tags"}},
			map[string]any{"@tenant": "acme", "@tenant.attributes": map[string]any{"organization_id": "acme", "region": "eu"},
				"email": "u-1@tenantgate.invalid", "first_name": "Alice", "last_name": "Liddell", "organization_id": "acme"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.opts
			o.Secret, o.TenantAttribute, o.Now = secret, "organization_id", func() time.Time { return now }
			m, err := NewSSOMinter(o)
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := m.Mint(id)
			if err != nil {
				t.Fatal(err)
			}
			h, c := hs256Claims(t, tok, secret)
			if h["alg"] != "HS256" {
				t.Errorf("alg %v", h["alg"])
			}
			if c["iat"] != float64(now.Unix()) || c["exp"] != float64(now.Add(SSOTokenLifetime).Unix()) {
				t.Errorf("iat %v exp %v", c["iat"], c["exp"])
			}
			if jti, _ := c["jti"].(string); len(jti) != 32 {
				t.Errorf("jti %v", c["jti"])
			}
			delete(c, "iat")
			delete(c, "exp")
			delete(c, "jti")
			gotJSON, _ := json.Marshal(c)
			wantJSON, _ := json.Marshal(tt.wantClaims)
			if string(gotJSON) != string(wantJSON) {
				t.Errorf("claims\n got %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}

func TestSSOMintRefusesNonAddress(t *testing.T) {
	m, err := NewSSOMinter(SSOOptions{Secret: "s", TenantAttribute: "organization_id", EmailTemplate: "{{ .Claims.work_email }}.{{ .Subject }}+{{ .Tenant }}@x.example"})
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]*Identity{
		"claim missing":      {Subject: "u1", Tenant: "acme", Claims: map[string]any{}},
		"claim not a scalar": {Subject: "u1", Tenant: "acme", Claims: map[string]any{"work_email": []any{"a"}}},
		"too long":           {Subject: strings.Repeat("U", 90), Tenant: "acme", Claims: map[string]any{"work_email": "w"}},
	} {
		if _, _, err = m.Mint(id); !errors.Is(err, ErrSSOIdentity) {
			t.Errorf("%s: err = %v, want ErrSSOIdentity", name, err)
		}
	}
}

// TestNewSSOMinterRefuses: a template that could give two identities one
// Metabase user, and attributes the gate or Metabase set themselves.
func TestNewSSOMinterRefuses(t *testing.T) {
	tests := []struct {
		name string
		o    SSOOptions
	}{
		{"raw email", SSOOptions{EmailTemplate: "{{ .Email }}"}},
		{"no tenant", SSOOptions{EmailTemplate: "{{ .Subject }}@x.example"}},
		{"no subject", SSOOptions{EmailTemplate: "{{ .Email }}+{{ .Tenant }}@x.example"}},
		{"fields touch", SSOOptions{EmailTemplate: "{{ .Subject }}{{ .Tenant }}@x.example"}},
		{"separator in the encoding's alphabet", SSOOptions{EmailTemplate: "{{ .Subject }}_{{ .Tenant }}@x.example"}},
		{"domain from a field", SSOOptions{EmailTemplate: "{{ .Subject }}@{{ .Tenant }}.example"}},
		{"no domain", SSOOptions{EmailTemplate: "{{ .Subject }}+{{ .Tenant }}"}},
		{"function", SSOOptions{EmailTemplate: "{{ lower .Subject }}+{{ .Tenant }}@x.example"}},
		{"branch", SSOOptions{EmailTemplate: "{{ if .Subject }}a{{ end }}+{{ .Tenant }}@x.example"}},
		{"attribute email", SSOOptions{Attributes: []string{"email"}}},
		{"attribute is the tenant", SSOOptions{Attributes: []string{"organization_id"}}},
		{"attribute @tenant", SSOOptions{Attributes: []string{"@tenant"}}},
		{"attribute exp", SSOOptions{Attributes: []string{"exp"}}},
		{"tenant attributes without tenants", SSOOptions{TenantAttributes: []string{"plan"}}},
		{"tenant attribute @x", SSOOptions{Tenants: true, TenantAttributes: []string{"@x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.Secret, o.TenantAttribute = "s", "organization_id"
			if _, err := NewSSOMinter(o); err == nil {
				t.Errorf("NewSSOMinter(%+v) accepted", tt.o)
			}
		})
	}
}

func TestSSOMintFreshJTI(t *testing.T) {
	m, _ := NewSSOMinter(SSOOptions{Secret: "s", TenantAttribute: "org"})
	id := &Identity{Subject: "u", Email: "u@x.example", Tenant: "acme"}
	var seen []any
	for range 3 {
		_, c, err := m.Mint(id)
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(seen, c["jti"]) {
			t.Fatal("jti repeated")
		}
		seen = append(seen, c["jti"])
	}
}

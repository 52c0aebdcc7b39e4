package configs

import (
	"fmt"
	"slices"
	"strings"
)

// reservedSSOClaims are the claims the gate sets in every SSO JWT, or that
// Metabase reads as registered claims: an attribute may not name one (the
// same list as auth.ReservedSSOClaims; configs does not import auth).
var reservedSSOClaims = []string{"email", "first_name", "last_name", "groups", "iat", "exp", "jti", "sub", "iss", "aud", "nbf"}

// metabaseAdminGroup is the name of Metabase's built-in superuser group.
const metabaseAdminGroup = "Administrators"

// validateSSO checks the sso section. With MB_JWT_SHARED_SECRET unset SSO
// is off and only the shape of the other settings is checked.
func (c *Config) validateSSO(p *problems) {
	s := &c.SSO
	switch s.CookieSameSite {
	case "lax", "strict", "none":
	default:
		p.addf("TENANTGATE_SSO_COOKIE_SAMESITE (sso.cookie_samesite) %q is not a SameSite value: use lax, strict or none", s.CookieSameSite)
	}
	if s.Partitioned && s.CookieSameSite != "none" {
		p.addf("TENANTGATE_SSO_PARTITIONED (sso.partitioned) is on but TENANTGATE_SSO_COOKIE_SAMESITE (sso.cookie_samesite) is %q: a partitioned cookie is for a third-party iframe and needs samesite none (and HTTPS)", s.CookieSameSite)
	}
	switch s.ExchangeMethod {
	case "auto", "post", "get":
	default:
		p.addf("TENANTGATE_SSO_EXCHANGE_METHOD (sso.exchange_method) %q is not an exchange method: use auto, post or get", s.ExchangeMethod)
	}
	for i, r := range s.Revoke {
		name := fmt.Sprintf("TENANTGATE_SSO_REVOKE (sso.revoke[%d])", i)
		if strings.TrimSpace(r.Tenant) == "" && strings.TrimSpace(r.Subject) == "" {
			p.addf("%s names neither a tenant nor a subject: it would revoke nothing, or read as everyone; set tenant, subject or both", name)
		}
		if r.Tenant != strings.TrimSpace(r.Tenant) || r.Subject != strings.TrimSpace(r.Subject) {
			p.addf("%s has spaces around its tenant or subject, which would match no caller: remove them", name)
		}
		if _, err := r.BeforeTime(); err != nil {
			p.addf("%s before %q is not an RFC 3339 time such as 2026-12-01T10:00:00Z (with its zone)", name, r.Before)
		}
	}
	if strings.TrimSpace(s.EmailTemplate) == "" {
		p.addf("TENANTGATE_SSO_EMAIL_TEMPLATE (sso.email_template) is blank: unset it for %q, or give a template such as \"{{ .Subject }}+{{ .Tenant }}@sso.example\"", defaultSSOEmailTemplate)
	} else if _, err := ParseEmailTemplate(s.EmailTemplate, s.Tenants); err != nil {
		p.addf("TENANTGATE_SSO_EMAIL_TEMPLATE (sso.email_template) %q: %w", s.EmailTemplate, err)
	}
	if len(s.TenantAttributes) > 0 && !s.Tenants {
		p.addf("TENANTGATE_SSO_TENANT_ATTRIBUTES (sso.tenant_attributes) is set but TENANTGATE_SSO_TENANTS (sso.tenants) is off: tenant attributes are sent only with Metabase's first-class tenants; turn it on or unset the list")
	}
	seenTenant := map[string]bool{}
	for i, a := range s.TenantAttributes {
		name := fmt.Sprintf("TENANTGATE_SSO_TENANT_ATTRIBUTES (sso.tenant_attributes[%d])", i)
		switch {
		case strings.TrimSpace(a) == "":
			p.addf("%s is empty: list identity claim names", name)
		case a == c.Tenant.Param:
			p.addf("%s is %q, the tenant parameter, which the gate always sets from the caller's tenant: remove it", name, a)
		case strings.HasPrefix(a, "@"):
			p.addf("%s is %q: Metabase drops attributes whose names begin with \"@\"", name, a)
		case seenTenant[a]:
			p.addf("%s repeats %q", name, a)
		}
		seenTenant[a] = true
	}
	for app, mb := range sortedMap(s.GroupMappings) {
		switch {
		case strings.TrimSpace(app) == "" || strings.TrimSpace(mb) == "":
			p.addf("TENANTGATE_SSO_GROUP_MAPPINGS (sso.group_mappings) maps %q to %q: both the app group and the Metabase group must be named", app, mb)
		case strings.EqualFold(strings.TrimSpace(mb), metabaseAdminGroup):
			p.addf("TENANTGATE_SSO_GROUP_MAPPINGS (sso.group_mappings) maps %q to Metabase's %s group: SSO users would be superusers, outside every sandbox and able to see every tenant; map customers to a sandboxed group", app, metabaseAdminGroup)
		}
	}
	seen := map[string]bool{}
	for i, a := range s.Attributes {
		name := fmt.Sprintf("TENANTGATE_SSO_ATTRIBUTES (sso.attributes[%d])", i)
		switch {
		case strings.TrimSpace(a) == "":
			p.addf("%s is empty: list identity claim names", name)
		case a == c.Tenant.Param:
			p.addf("%s is %q, the tenant attribute, which the gate always sets from the caller's tenant: remove it", name, a)
		case slices.Contains(reservedSSOClaims, a) || strings.HasPrefix(a, "@"):
			p.addf("%s is %q, which the gate or Metabase sets itself (email, names, groups, iat, exp, jti and the registered claims): remove it", name, a)
		case seen[a]:
			p.addf("%s repeats %q", name, a)
		}
		seen[a] = true
	}
	if !s.Enabled() {
		return
	}
	checkHMACKey(p, "MB_JWT_SHARED_SECRET (sso.jwt_shared_secret)", "Metabase's JWT shared secret", s.JWTSharedSecret)
	others := map[Secret]string{c.Metabase.EmbeddingSecretKey: "MB_EMBEDDING_SECRET_KEY"}
	for _, k := range c.Session.JWTSecrets {
		others[k] = "TENANTGATE_SESSION_JWT_SECRET"
	}
	for _, k := range c.Handles.Secrets {
		others[k] = "TENANTGATE_HANDLE_SECRET"
	}
	if other, ok := others[s.JWTSharedSecret]; ok {
		p.addf("MB_JWT_SHARED_SECRET (sso.jwt_shared_secret) equals %s: Metabase's JWT shared secret must be a key of its own, or a token meant for one would verify at the other", other)
	}
	if len(s.SealingKeys) == 0 {
		p.addf("TENANTGATE_SSO_SEALING_KEY (sso.sealing_keys) is required with MB_JWT_SHARED_SECRET: it encrypts the Metabase sessions the gate hands browsers; set it (or TENANTGATE_SSO_SEALING_KEY_FILE) to at least %d random bytes, the same on every replica", minHMACKeyBytes)
	}
	others[s.JWTSharedSecret] = "MB_JWT_SHARED_SECRET"
	for i, k := range s.SealingKeys {
		name := fmt.Sprintf("TENANTGATE_SSO_SEALING_KEY (sso.sealing_keys[%d])", i)
		checkHMACKey(p, name, "a sealing key", k)
		if other, ok := others[k]; ok && k != "" {
			p.addf("%s equals %s: generate a separate sealing key", name, other)
		}
	}
}

package auth

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// SSOTokenLifetime is the exp of a minted SSO JWT. The gate hands the JWT to
// Metabase at once, server side; Metabase refuses one whose iat is more than
// 180 s old, and the SDK needs exp.
const SSOTokenLifetime = 60 * time.Second

// ErrSSOIdentity: the caller's identity cannot make an SSO JWT (the email
// template gives no usable address).
var ErrSSOIdentity = errors.New("identity cannot be mapped to a Metabase user")

// ReservedSSOClaims are the claims the minter sets itself, or that Metabase
// reads as registered claims. A configured attribute may not be one of them
// (configs rejects it, and the minter skips it), so no claim of the app's
// session can override the email, the tenant attribute, exp or iat.
var ReservedSSOClaims = []string{"email", "first_name", "last_name", "groups", "iat", "exp", "jti", "sub", "iss", "aud", "nbf"}

// SSOOptions configure an SSOMinter.
type SSOOptions struct {
	// Secret is MB_JWT_SHARED_SECRET: the HS256 key is its UTF-8 bytes, as
	// Metabase uses it.
	Secret string
	// EmailTemplate renders the Metabase identity from .Email, .Subject,
	// .Tenant and .Claims; "" means "{{ .Email }}".
	EmailTemplate string
	// GroupMappings maps an app group to a Metabase group name; groups not
	// listed are dropped. Nil: no groups claim.
	GroupMappings map[string]string
	// TenantAttribute is the claim that carries the tenant (the tenant
	// parameter's name), which Metabase keeps as a user attribute.
	TenantAttribute string
	// Attributes are identity claims copied into the JWT as attributes.
	Attributes []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SSOMinter mints Metabase JWT SSO tokens for verified identities. It is
// immutable and safe for concurrent use.
type SSOMinter struct {
	secret    []byte
	email     *template.Template
	groups    map[string]string
	tenantKey string
	attrs     []string
	now       func() time.Time
}

// NewSSOMinter compiles o.
func NewSSOMinter(o SSOOptions) (*SSOMinter, error) {
	if o.Secret == "" {
		return nil, errors.New("SSO minter: MB_JWT_SHARED_SECRET is empty")
	}
	if o.TenantAttribute == "" {
		return nil, errors.New("SSO minter: no tenant attribute")
	}
	text := o.EmailTemplate
	if text == "" {
		text = "{{ .Email }}"
	}
	t, err := template.New("email").Option("missingkey=zero").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("SSO minter: email template: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &SSOMinter{secret: []byte(o.Secret), email: t, groups: o.GroupMappings, tenantKey: o.TenantAttribute, now: o.Now}
	for _, a := range o.Attributes {
		if a != o.TenantAttribute && !slices.Contains(ReservedSSOClaims, a) && !strings.HasPrefix(a, "@") {
			m.attrs = append(m.attrs, a)
		}
	}
	return m, nil
}

// emailData is what the email template sees.
type emailData struct {
	Email, Subject, Tenant string
	Claims                 map[string]any
}

// Email renders the Metabase identity of id.
func (m *SSOMinter) Email(id *Identity) (string, error) {
	var b strings.Builder
	if err := m.email.Execute(&b, emailData{Email: id.Email, Subject: id.Subject, Tenant: id.Tenant, Claims: id.Claims}); err != nil {
		return "", fmt.Errorf("rendering the SSO email template: %v: %w", err, ErrSSOIdentity)
	}
	e := strings.TrimSpace(b.String())
	at := strings.IndexByte(e, '@')
	if at <= 0 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n<>\",;") || strings.Contains(e, "<no value>") {
		return "", fmt.Errorf("the SSO email template gives %q, not an email address: %w", e, ErrSSOIdentity)
	}
	return e, nil
}

// Mint returns a signed SSO JWT for id and its claims. The JWT carries
// email (from the template), first_name and last_name when known, groups
// (mapped; present whenever a mapping is configured, so Metabase's group
// sync also removes memberships), the tenant attribute, the configured
// attributes that are scalars, and iat, exp (SSOTokenLifetime) and jti.
func (m *SSOMinter) Mint(id *Identity) (string, map[string]any, error) {
	email, err := m.Email(id)
	if err != nil {
		return "", nil, err
	}
	claims := map[string]any{}
	for _, a := range m.attrs {
		if v, ok := attributeValue(id.Claims[a]); ok {
			claims[a] = v
		}
	}
	if id.FirstName != "" {
		claims["first_name"] = id.FirstName
	}
	if id.LastName != "" {
		claims["last_name"] = id.LastName
	}
	if m.groups != nil {
		groups := []string{}
		for _, g := range id.Groups {
			if mb, ok := m.groups[g]; ok && !slices.Contains(groups, mb) {
				groups = append(groups, mb)
			}
		}
		slices.Sort(groups)
		claims["groups"] = groups
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", nil, fmt.Errorf("minting SSO JWT: %w", err)
	}
	now := m.now()
	// Set last: nothing above may override them.
	claims["email"] = email
	claims[m.tenantKey] = id.Tenant
	claims["iat"] = now.Unix()
	claims["exp"] = now.Add(SSOTokenLifetime).Unix()
	claims["jti"] = hex.EncodeToString(jti[:])
	body, err := json.Marshal(claims)
	if err != nil {
		return "", nil, fmt.Errorf("minting SSO JWT: %w", err)
	}
	tok, err := signHS256(m.secret, body)
	if err != nil {
		return "", nil, fmt.Errorf("minting SSO JWT: %w", err)
	}
	return tok, claims, nil
}

// attributeValue renders a claim the way Metabase keeps a JWT attribute:
// strings as they are, numbers and booleans as text; anything else is not
// an attribute.
func attributeValue(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case json.Number:
		return string(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

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
	"time"
	"unicode"

	"github.com/tenantgate/tenantgate/configs"
)

// SSOTokenLifetime is the exp of a minted SSO JWT. The gate hands the JWT to
// Metabase at once, server side; Metabase refuses one whose iat is more than
// 180 s old, and the SDK needs exp.
const SSOTokenLifetime = 60 * time.Second

// ErrSSOIdentity: the caller's identity cannot make an SSO JWT (the email
// template gives no usable address).
var ErrSSOIdentity = errors.New("identity cannot be mapped to a Metabase user")

// ErrSSOReserved: the caller's identity carries a value the gate never
// sends to Metabase (RouterValue in an attribute).
var ErrSSOReserved = errors.New("identity carries a value reserved by Metabase")

// RouterValue is Metabase's database-routing escape value: a user whose
// routing attribute holds it queries the router database (every tenant's
// data, for a router set up per tenant), not the destination database the
// attribute should pick.
const RouterValue = "__METABASE_ROUTER__"

// IsRouterValue reports whether v is RouterValue in any case, with
// whitespace or control characters anywhere: the gate never sends such a
// value as an attribute or a locked parameter.
func IsRouterValue(v string) bool {
	if len(v) < len(RouterValue) {
		return false
	}
	v = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, v)
	return strings.EqualFold(v, RouterValue)
}

// ReservedSSOClaims are the claims the minter sets itself, or that Metabase
// reads as registered claims. A configured attribute may not be one of them
// (configs and NewSSOMinter reject it), so no claim of the app's session can
// override the email, the tenant attribute, exp or iat.
var ReservedSSOClaims = []string{"email", "first_name", "last_name", "groups", "iat", "exp", "jti", "sub", "iss", "aud", "nbf"}

// The claims of Metabase's first-class tenants.
const (
	claimTenant           = "@tenant"
	claimTenantAttributes = "@tenant.attributes"
)

// SSOOptions configure an SSOMinter.
type SSOOptions struct {
	// Secret is MB_JWT_SHARED_SECRET: the HS256 key is its UTF-8 bytes, as
	// Metabase uses it.
	Secret string
	// EmailTemplate renders the Metabase identity (configs.ParseEmailTemplate
	// says what it may hold); "" means configs' default, one Metabase user
	// per subject and tenant.
	EmailTemplate string
	// GroupMappings maps an app group to a Metabase group name; groups not
	// listed are dropped. Nil: no groups claim.
	GroupMappings map[string]string
	// TenantAttribute is the claim that carries the tenant (the tenant
	// parameter's name), which Metabase keeps as a user attribute.
	TenantAttribute string
	// Attributes are identity claims copied into the JWT as attributes.
	Attributes []string
	// Tenants sends Metabase's first-class tenant: @tenant (the tenant
	// encoded as a slug, EncodeEmailPart) and @tenant.attributes (the
	// tenant attribute and TenantAttributes).
	Tenants          bool
	TenantAttributes []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// SSOMinter mints Metabase JWT SSO tokens for verified identities. It is
// immutable and safe for concurrent use.
type SSOMinter struct {
	secret      []byte
	email       []configs.EmailPart
	groups      map[string]string
	tenantKey   string
	attrs       []string
	tenants     bool
	tenantAttrs []string
	now         func() time.Time
}

// NewSSOMinter compiles o. It refuses an email template that could give
// two identities one Metabase user, and attribute names that the gate or
// Metabase set themselves.
func NewSSOMinter(o SSOOptions) (*SSOMinter, error) {
	if o.Secret == "" {
		return nil, errors.New("SSO minter: MB_JWT_SHARED_SECRET is empty")
	}
	if o.TenantAttribute == "" {
		return nil, errors.New("SSO minter: no tenant attribute")
	}
	text := o.EmailTemplate
	if text == "" {
		text = configs.DefaultSSOEmailTemplate
	}
	parts, err := configs.ParseEmailTemplate(text, o.Tenants)
	if err != nil {
		return nil, fmt.Errorf("SSO minter: email template %q: %w", text, err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, a := range o.Attributes {
		if a == o.TenantAttribute || slices.Contains(ReservedSSOClaims, a) || strings.HasPrefix(a, "@") || a == "" {
			return nil, fmt.Errorf("SSO minter: attribute %q is set by the gate or Metabase itself", a)
		}
	}
	for _, a := range o.TenantAttributes {
		if a == o.TenantAttribute || strings.HasPrefix(a, "@") || a == "" {
			return nil, fmt.Errorf("SSO minter: tenant attribute %q is set by the gate or dropped by Metabase", a)
		}
	}
	if len(o.TenantAttributes) > 0 && !o.Tenants {
		return nil, errors.New("SSO minter: tenant attributes without tenants")
	}
	return &SSOMinter{secret: []byte(o.Secret), email: parts, groups: o.GroupMappings, tenantKey: o.TenantAttribute,
		attrs: slices.Clone(o.Attributes), tenants: o.Tenants, tenantAttrs: slices.Clone(o.TenantAttributes), now: o.Now}, nil
}

// maxEmailBytes is the longest address RFC 5321 allows in a path.
const maxEmailBytes = 254

// EncodeEmailPart renders an identity value for the email template (and a
// tenant as Metabase's tenant slug): bytes of [a-z0-9-] stay, every other
// byte (upper case, ".", "+", "@", "_" ...) becomes "_" and two lower-case
// hex digits. The encoding is injective and its output is its own lower
// case, so distinct values stay distinct when Metabase lower-cases emails,
// and no value can bring a separator ("+", ".") or an "@" of its own.
func EncodeEmailPart(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('_')
		b.WriteByte("0123456789abcdef"[c>>4])
		b.WriteByte("0123456789abcdef"[c&15])
	}
	return b.String()
}

// Email renders the Metabase identity of id: the template's literal text
// and id's fields, each encoded by EncodeEmailPart, in lower case. A field
// that is empty, or an address that is too long, wraps ErrSSOIdentity.
func (m *SSOMinter) Email(id *Identity) (string, error) {
	var b strings.Builder
	for _, p := range m.email {
		if p.Field == "" {
			b.WriteString(p.Text)
			continue
		}
		var v string
		switch p.Field {
		case "Subject":
			v = id.Subject
		case "Tenant":
			v = id.Tenant
		case "Email":
			v = id.Email
		case "Claims":
			v, _ = claimScalar(id.Claims[p.Claim])
		}
		if v == "" {
			name := "." + p.Field
			if p.Field == "Claims" {
				name += "." + p.Claim
			}
			return "", fmt.Errorf("the SSO email template needs %s, which this session lacks: %w", name, ErrSSOIdentity)
		}
		b.WriteString(EncodeEmailPart(v))
	}
	e := strings.ToLower(b.String())
	if len(e) > maxEmailBytes {
		return "", fmt.Errorf("the SSO email template gives an address of %d bytes, over %d: %w", len(e), maxEmailBytes, ErrSSOIdentity)
	}
	return e, nil
}

// Mint returns a signed SSO JWT for id and its claims. The JWT carries
// only what the gate controls: email (from the template), first_name and
// last_name when known, groups (mapped; present whenever a mapping is
// configured, so Metabase's group sync also removes memberships), the
// tenant attribute, the configured attributes that are scalars, with
// Tenants @tenant and @tenant.attributes, and iat, exp (SSOTokenLifetime)
// and jti. An identity whose values would include RouterValue wraps
// ErrSSOReserved.
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
	if m.tenants {
		slug := EncodeEmailPart(id.Tenant)
		if len(slug) > 255 {
			return "", nil, fmt.Errorf("the tenant's slug would be %d bytes, over Metabase's 255: %w", len(slug), ErrSSOIdentity)
		}
		ta := map[string]string{}
		for _, a := range m.tenantAttrs {
			if v, ok := attributeValue(id.Claims[a]); ok {
				ta[a] = v
			}
		}
		ta[m.tenantKey] = id.Tenant
		for k, v := range ta {
			if IsRouterValue(v) {
				return "", nil, fmt.Errorf("tenant attribute %q holds Metabase's routing value: %w", k, ErrSSOReserved)
			}
		}
		claims[claimTenant] = slug
		claims[claimTenantAttributes] = ta
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
	for k, v := range claims {
		if s, ok := v.(string); ok && IsRouterValue(s) {
			return "", nil, fmt.Errorf("claim %q holds Metabase's routing value: %w", k, ErrSSOReserved)
		}
		if g, ok := v.([]string); ok && slices.ContainsFunc(g, IsRouterValue) {
			return "", nil, fmt.Errorf("claim %q holds Metabase's routing value: %w", k, ErrSSOReserved)
		}
	}
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

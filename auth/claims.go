package auth

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// identityFromClaims builds an Identity from a verified claim set (a session
// JWT's payload or an introspection answer). Numbers are expected as
// json.Number (decoders here use UseNumber) so large integer ids keep every
// digit; float64 and Go integers are accepted too. claims becomes
// Identity.Claims as is, without a copy.
//
// The tenant is claims[tenantClaim], a plain top-level name (no dotted
// paths). It must be a non-empty string or an integral JSON number; anything
// else (missing, null, "", whitespace, bool, array, object, 4.2) wraps
// ErrTenantMissing, because guessing a tenant is how data leaks across tenants.
//
// The subject is claims[subjectClaim] ("" means "sub"), by the same rules;
// without one the error wraps ErrSubjectMissing: an identity without a user
// would bind handles and SSO sessions to the tenant alone.
func identityFromClaims(claims map[string]any, tenantClaim, subjectClaim, source string) (*Identity, error) {
	if subjectClaim == "" {
		subjectClaim = defaultSubjectClaim
	}
	sub, subOK := claimScalar(claims[subjectClaim])
	tenant, ok := claimScalar(claims[tenantClaim])
	if !ok || strings.TrimSpace(tenant) == "" {
		err := fmt.Errorf("reading tenant claim %q: %w", tenantClaim, ErrTenantMissing)
		if subOK && strings.TrimSpace(sub) != "" {
			return nil, &IncompleteIdentityError{Subject: sub, err: err}
		}
		return nil, err
	}
	if !subOK || strings.TrimSpace(sub) == "" {
		return nil, fmt.Errorf("reading subject claim %q: %w", subjectClaim, ErrSubjectMissing)
	}
	return &Identity{
		Subject:   sub,
		Email:     claimString(claims, "email"),
		FirstName: firstClaimString(claims, "first_name", "given_name"),
		LastName:  firstClaimString(claims, "last_name", "family_name"),
		Groups:    claimStrings(claims["groups"]),
		Tenant:    tenant,
		Claims:    claims,
		Source:    source,
	}, nil
}

// IncompleteIdentityError is a verified session that names its user but
// no usable tenant: it is refused all the same, and Subject lets the log
// and the activity say who was refused.
type IncompleteIdentityError struct {
	Subject string
	err     error
}

func (e *IncompleteIdentityError) Error() string { return e.err.Error() }
func (e *IncompleteIdentityError) Unwrap() error { return e.err }

// defaultSubjectClaim is the subject claim when the config leaves it empty.
const defaultSubjectClaim = "sub"

// claimString returns claims[name] if it is a string, else "".
func claimString(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

// firstClaimString returns the first of names whose claim is a non-empty string.
func firstClaimString(claims map[string]any, names ...string) string {
	for _, n := range names {
		if s := claimString(claims, n); s != "" {
			return s
		}
	}
	return ""
}

// claimStrings returns the strings of a JSON array, skipping non-strings.
// Anything but an array yields nil.
func claimStrings(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// maxExactFloatInt is the largest magnitude below which every integer is
// exactly representable as a float64 (2^53).
const maxExactFloatInt = 1 << 53

// claimScalar renders a string or an integral number as a string: 42, 42.0
// and 4.2e1 all become "42". Integer literals of any length keep their exact
// digits; a fraction or exponent form is accepted only while it is exact in
// a float64. Everything else reports false.
func claimScalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return integerLiteral(string(x))
	case float64:
		return floatInteger(x)
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	default:
		return "", false
	}
}

// integerLiteral renders a JSON number literal as an integer string.
func integerLiteral(s string) (string, bool) {
	if isIntegerLiteral(s) {
		if s == "-0" {
			return "0", true
		}
		return s, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return "", false
	}
	return floatInteger(f)
}

// isIntegerLiteral reports whether s is -?(0|[1-9][0-9]*), JSON's integer form.
func isIntegerLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// floatInteger renders f if it is an integer that a float64 holds exactly.
func floatInteger(f float64) (string, bool) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > maxExactFloatInt {
		return "", false
	}
	return strconv.FormatInt(int64(f), 10), true
}

// claimsExpiry returns the exp claim, or ok=false if there is none. An exp
// that is not a number is an error.
func claimsExpiry(claims map[string]any) (t time.Time, ok bool, err error) {
	if _, present := claims["exp"]; !present {
		return time.Time{}, false, nil
	}
	d, err := jwt.MapClaims(claims).GetExpirationTime()
	if err != nil {
		return time.Time{}, false, err
	}
	if d == nil {
		return time.Time{}, false, nil
	}
	return d.Time, true, nil
}

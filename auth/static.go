package auth

import (
	"context"
	"net/http"
)

// IdentityFromClaims builds an Identity from a claim set the caller
// already trusts (a support engineer's --claims for `tenantgate explain`),
// with the same tenant and subject rules as verified sessions.
func IdentityFromClaims(claims map[string]any, tenantClaim, subjectClaim string) (*Identity, error) {
	return identityFromClaims(claims, tenantClaim, subjectClaim, "static")
}

// Static answers every request with the same identity or error. It lets
// `tenantgate explain` run a request through the real gate without
// contacting the app.
type Static struct {
	Identity *Identity
	Err      error
}

var _ Authenticator = Static{}

// Authenticate returns s.Identity, or s.Err if set.
func (s Static) Authenticate(context.Context, *http.Request) (*Identity, error) {
	if s.Err != nil {
		return nil, s.Err
	}
	return s.Identity, nil
}

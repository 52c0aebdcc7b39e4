package auth

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// Identity is who the caller is, as the app's session says.
type Identity struct {
	// Subject is the value of the subject claim as a string; never empty
	// in an Identity returned without error.
	Subject   string
	Email     string
	FirstName string
	LastName  string
	Groups    []string
	// Tenant is the value of the tenant claim as a string; never empty in
	// an Identity returned without error.
	Tenant string
	// Claims holds every claim, for policy templates.
	Claims map[string]any
	// Expiry is when the session ends (JWT exp, or cache expiry for introspection).
	Expiry time.Time
	// Source is "jwt" or "introspect".
	Source string
}

// Authenticator resolves the caller of a request.
type Authenticator interface {
	// Authenticate returns the caller's identity, or an error wrapping one
	// of the sentinel errors below. It must not modify r.
	Authenticate(ctx context.Context, r *http.Request) (*Identity, error)
}

// Sentinel errors; callers map them to reason codes with errors.Is.
var (
	// ErrNoCredentials: no session cookie or bearer token was sent.
	ErrNoCredentials = errors.New("no session credential in the request")
	// ErrSessionInvalid: a credential was sent but it does not verify.
	ErrSessionInvalid = errors.New("session credential is invalid")
	// ErrSessionExpired: the credential verified but has expired.
	ErrSessionExpired = errors.New("session has expired")
	// ErrTenantMissing: the session verified but names no usable tenant.
	ErrTenantMissing = errors.New("session names no tenant")
	// ErrSubjectMissing: the session verified but names no user (its
	// subject claim is absent, blank or not a string or integer). Handles
	// and SSO sessions are bound to the subject, so without one they would
	// be bound to the tenant alone.
	ErrSubjectMissing = errors.New("session names no user")
	// ErrUnavailable: the gate could not decide (JWKS or introspection
	// endpoint unreachable or answering garbage); callers fail closed.
	ErrUnavailable = errors.New("identity provider unavailable")
)

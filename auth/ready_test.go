package auth

import (
	"context"
	"testing"
)

// TestReady: a JWKS-backed authenticator is not ready until a key has
// been fetched; an HS256-only one always is.
func TestReady(t *testing.T) {
	up := newJWKSServer(t, rsaKey())
	if err := newJWKSAuth(t, up, nil).Ready(context.Background()); err != nil {
		t.Errorf("keys fetched: Ready = %v, want nil", err)
	}
	down := newJWKSServer(t, rsaKey())
	down.failing.Store(true)
	if err := newJWKSAuth(t, down, nil).Ready(context.Background()); err == nil {
		t.Error("JWKS never answered: Ready = nil, want an error")
	}
}

package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
)

// faultyJWKS is a JWK Set endpoint that serves the set, garbage, or
// nothing at all (a fetch that hangs until the client gives up).
type faultyJWKS struct {
	*jwksServer
	mode atomic.Value // "good", "garbage", "hang"
}

func newFaultyJWKS(t *testing.T, keys ...testKey) *faultyJWKS {
	t.Helper()
	f := &faultyJWKS{jwksServer: &jwksServer{keys: keys}}
	f.mode.Store("good")
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch f.mode.Load() {
		case "garbage":
			f.fetches.Add(1)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"keys":[{"kty":"RSA","kid":"x","n":"!!","e":"AQAB"}]}`))
		case "hang":
			f.fetches.Add(1)
			<-r.Context().Done()
		default:
			f.serve(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

// freshToken is a session no cache has seen, signed with k.
func freshToken(t *testing.T, k testKey) string {
	claims := claimsAt(time.Now())
	claims["jti"] = time.Now().String()
	return signAsym(t, k, claims)
}

// TestJWKSStalenessBound: while every fetch fails (the endpoint serving
// garbage, or down), the last good keys keep verifying new sessions for a
// bounded time; past it verification fails closed (ErrUnavailable, which
// the gate answers 503 identity-unavailable) until a fetch succeeds again.
func TestJWKSStalenessBound(t *testing.T) {
	for _, fault := range []string{"garbage", "down"} {
		t.Run(fault, func(t *testing.T) {
			srv := newFaultyJWKS(t, rsaKey())
			a := newJWKSAuth(t, srv.jwksServer, func(c *configs.SessionConfig) { c.JWKSRefresh = 10 * time.Millisecond })
			if a.jwks.maxStale != jwksMinStaleness {
				t.Errorf("staleness bound = %s for a 10ms refresh, want the floor %s", a.jwks.maxStale, jwksMinStaleness)
			}
			const bound = 400 * time.Millisecond
			a.jwks.maxStale = bound

			if fault == "garbage" {
				srv.mode.Store("garbage")
			} else {
				srv.failing.Store(true)
			}
			faultAt := time.Now()
			before := srv.fetches.Load()
			waitFor(t, "failed refreshes", func() bool { return srv.fetches.Load() >= before+3 })
			_, err := a.Authenticate(context.Background(), bearerRequest(freshToken(t, rsaKey())))
			if time.Since(faultAt) < bound {
				checkErr(t, err, nil) // within the bound: the last good keys
			}

			time.Sleep(time.Until(faultAt.Add(bound + 50*time.Millisecond)))
			_, err = a.Authenticate(context.Background(), bearerRequest(freshToken(t, rsaKey())))
			checkErr(t, err, ErrUnavailable)

			srv.mode.Store("good")
			srv.failing.Store(false)
			waitFor(t, "a good fetch", func() bool {
				_, err = a.Authenticate(context.Background(), bearerRequest(freshToken(t, rsaKey())))
				return err == nil
			})
		})
	}
}

// TestJWKSSlowEndpoint: a JWK Set endpoint that accepts and never answers
// neither delays sessions signed with a known key nor holds a session with
// an unknown kid longer than the bounded wait; it fails closed.
func TestJWKSSlowEndpoint(t *testing.T) {
	srv := newFaultyJWKS(t, rsaKey())
	a := newJWKSAuth(t, srv.jwksServer, func(c *configs.SessionConfig) { c.JWKSRefresh = 20 * time.Millisecond })
	srv.mode.Store("hang")
	before := srv.fetches.Load()
	waitFor(t, "a hanging refresh", func() bool { return srv.fetches.Load() > before })

	start := time.Now()
	_, err := a.Authenticate(context.Background(), bearerRequest(freshToken(t, rsaKey())))
	checkErr(t, err, nil)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("known key took %s while the JWKS endpoint hangs", d)
	}

	start = time.Now()
	_, err = a.Authenticate(context.Background(), bearerRequest(freshToken(t, rsaKey2())))
	if err == nil {
		t.Fatal("a key the set never published verified")
	}
	checkErr(t, err, ErrUnavailable)
	if d := time.Since(start); d > jwksUnknownKIDWait+2*time.Second {
		t.Errorf("unknown kid took %s, want at most about %s", d, jwksUnknownKIDWait)
	}
}

func TestParsesAsJWKSet(t *testing.T) {
	tests := []struct {
		name, body string
		want       bool
	}{
		{"empty set", `{"keys":[]}`, true},
		{"unsupported key type is skipped", `{"keys":[{"kty":"OKP","crv":"X448","x":"AA"}]}`, true},
		{"not JSON", `<html>`, false},
		{"keys not a list", `{"keys":"x"}`, false},
		{"invalid RSA key", `{"keys":[{"kty":"RSA","kid":"x","n":"!!","e":"AQAB"}]}`, false},
		{"empty body", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parsesAsJWKSet([]byte(tt.body)); got != tt.want {
				t.Errorf("parsesAsJWKSet(%q) = %v, want %v", tt.body, got, tt.want)
			}
		})
	}
}

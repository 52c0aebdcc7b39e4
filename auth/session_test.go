package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/tenantgate/tenantgate/configs"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeClock is a settable clock for exp, nbf and cache expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const (
	testTenantClaim = "organization_id"
	oldSecret       = "old-secret-0123456789abcdef0123456789"
	newSecret       = "new-secret-0123456789abcdef0123456789"
)

// testKey is an asymmetric signing key published in a test JWK Set.
type testKey struct {
	kid    string
	alg    jwkset.ALG // published "alg"; empty publishes none
	priv   crypto.Signer
	method jwt.SigningMethod
}

var (
	rsaPriv = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	})
	rsaPriv2 = sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	})
	ecPriv = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	ec384Priv = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	edPriv = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func rsaKey() testKey {
	return testKey{kid: "rsa-1", alg: jwkset.AlgRS256, priv: rsaPriv(), method: jwt.SigningMethodRS256}
}
func rsaKey2() testKey {
	return testKey{kid: "rsa-2", priv: rsaPriv2(), method: jwt.SigningMethodRS256}
}
func psKey() testKey {
	return testKey{kid: "rsa-1-unpinned", priv: rsaPriv(), method: jwt.SigningMethodPS256}
}
func ecKey() testKey {
	return testKey{kid: "ec-1", alg: jwkset.AlgES256, priv: ecPriv(), method: jwt.SigningMethodES256}
}
func ec384Key() testKey {
	return testKey{kid: "ec-384", priv: ec384Priv(), method: jwt.SigningMethodES384}
}
func edKey() testKey {
	return testKey{kid: "ed-1", priv: edPriv(), method: jwt.SigningMethodEdDSA}
}

// jwksServer serves a JWK Set that tests can change or break.
type jwksServer struct {
	*httptest.Server
	fetches atomic.Int64
	failing atomic.Bool
	mu      sync.Mutex
	keys    []testKey
}

func newJWKSServer(t *testing.T, keys ...testKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys ...testKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	s.fetches.Add(1)
	if s.failing.Load() {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	s.mu.Lock()
	keys := s.keys
	s.mu.Unlock()
	store := jwkset.NewMemoryStorage()
	for _, k := range keys {
		j, err := jwkset.NewJWKFromKey(k.priv.Public(), jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: jwkset.UseSig},
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := store.KeyWrite(r.Context(), j); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	raw, err := store.JSONPublic(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(raw)
}

// claimsAt returns a valid claim set for a session issued at now.
func claimsAt(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"sub":           "user-1",
		"email":         "ada@example.com",
		"given_name":    "Ada",
		"family_name":   "Lovelace",
		"groups":        []any{"admins", 7, "analysts"},
		testTenantClaim: "acme",
		"iat":           now.Unix(),
		"exp":           now.Add(time.Hour).Unix(),
	}
}

func signAsym(t testing.TB, k testKey, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.method, claims)
	tok.Header["kid"] = k.kid
	s, err := tok.SignedString(k.priv)
	if err != nil {
		t.Fatalf("signing test token: %v", err)
	}
	return s
}

func signHS(t testing.TB, method jwt.SigningMethod, secret []byte, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(secret)
	if err != nil {
		t.Fatalf("signing test token: %v", err)
	}
	return s
}

func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/embed/dashboard/1", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func newHSAuth(t testing.TB, clock *fakeClock, mod func(*configs.SessionConfig)) *JWTAuthenticator {
	t.Helper()
	cfg := configs.SessionConfig{JWTSecrets: []configs.Secret{newSecret, oldSecret}}
	if mod != nil {
		mod(&cfg)
	}
	opts := JWTOptions{}
	if clock != nil {
		opts.Now = clock.Now
	}
	a, err := NewJWTAuthenticator(cfg, testTenantClaim, opts)
	if err != nil {
		t.Fatalf("NewJWTAuthenticator: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

func newJWKSAuth(t testing.TB, srv *jwksServer, mod func(*configs.SessionConfig)) *JWTAuthenticator {
	t.Helper()
	cfg := configs.SessionConfig{JWKSURL: srv.URL}
	if mod != nil {
		mod(&cfg)
	}
	a, err := NewJWTAuthenticator(cfg, testTenantClaim, JWTOptions{})
	if err != nil {
		t.Fatalf("NewJWTAuthenticator: %v", err)
	}
	t.Cleanup(a.Close)
	return a
}

// checkErr fails unless err wraps want (nil want: no error).
func checkErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("got error %v, want none", err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("got error %v, want one wrapping %q", err, want)
	}
}

func TestJWTHS256Keyring(t *testing.T) {
	clock := newFakeClock()
	a := newHSAuth(t, clock, nil)
	claims := claimsAt(clock.Now())
	tests := []struct {
		name   string
		secret string
		want   error
	}{
		{name: "new key verifies", secret: newSecret},
		{name: "old key still verifies during rotation", secret: oldSecret},
		{name: "unknown key fails", secret: "not-a-configured-secret-0123456789ab", want: ErrSessionInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := signHS(t, jwt.SigningMethodHS256, []byte(tc.secret), claims, nil)
			id, err := a.Authenticate(context.Background(), bearerRequest(tok))
			checkErr(t, err, tc.want)
			if err == nil && (id.Tenant != "acme" || id.Source != "jwt") {
				t.Errorf("got tenant %q source %q, want %q %q", id.Tenant, id.Source, "acme", "jwt")
			}
		})
	}
}

func TestJWTJWKSAlgorithms(t *testing.T) {
	srv := newJWKSServer(t, rsaKey(), psKey(), ecKey(), ec384Key(), edKey())
	a := newJWKSAuth(t, srv, nil)
	now := time.Now()
	tests := []struct {
		name string
		key  testKey
		// kid overrides the kid in the header when set.
		kid  string
		want error
	}{
		{name: "RS256", key: rsaKey()},
		{name: "PS256 with a key that publishes no alg", key: psKey()},
		{name: "ES256", key: ecKey()},
		{name: "ES384", key: ec384Key()},
		{name: "EdDSA", key: edKey()},
		{name: "PS256 against a key pinned to RS256", key: testKey{kid: "rsa-1", priv: rsaPriv(), method: jwt.SigningMethodPS256}, want: ErrSessionInvalid},
		{name: "RS256 naming an EC key", key: testKey{kid: "ec-1", priv: rsaPriv(), method: jwt.SigningMethodRS256}, want: ErrSessionInvalid},
		{name: "ES256 naming a P-384 key", key: testKey{kid: "ec-384", priv: ecPriv(), method: jwt.SigningMethodES256}, want: ErrSessionInvalid},
		{name: "EdDSA naming an RSA key", key: testKey{kid: "rsa-1-unpinned", priv: edPriv(), method: jwt.SigningMethodEdDSA}, want: ErrSessionInvalid},
		{name: "RS256 signed by a key not in the set", key: testKey{kid: "rsa-1", priv: rsaPriv2(), method: jwt.SigningMethodRS256}, want: ErrSessionInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := signAsym(t, tc.key, claimsAt(now))
			id, err := a.Authenticate(context.Background(), bearerRequest(tok))
			checkErr(t, err, tc.want)
			if err == nil && id.Subject != "user-1" {
				t.Errorf("got subject %q, want %q", id.Subject, "user-1")
			}
		})
	}
}

func TestJWTJWKSTokenWithoutKID(t *testing.T) {
	srv := newJWKSServer(t, rsaKey(), ecKey())
	a := newJWKSAuth(t, srv, nil)
	tests := []struct {
		name string
		key  testKey
		want error
	}{
		{name: "RS256 verifies against the set", key: rsaKey()},
		{name: "ES256 verifies against the set", key: ecKey()},
		{name: "EdDSA finds no fitting key", key: edKey(), want: ErrSessionInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := jwt.NewWithClaims(tc.key.method, claimsAt(time.Now())).SignedString(tc.key.priv)
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Authenticate(context.Background(), bearerRequest(tok))
			checkErr(t, err, tc.want)
		})
	}
}

func TestJWTJWKSRotation(t *testing.T) {
	srv := newJWKSServer(t, rsaKey())
	a := newJWKSAuth(t, srv, nil)
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("got %d JWKS fetches at start, want 1", got)
	}
	srv.setKeys(rsaKey(), rsaKey2())

	_, err := a.Authenticate(context.Background(), bearerRequest(signAsym(t, rsaKey2(), claimsAt(time.Now()))))
	checkErr(t, err, nil)
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("got %d JWKS fetches after rotation, want 2 (one refresh for the new kid)", got)
	}
	// The old key is still published and still verifies.
	_, err = a.Authenticate(context.Background(), bearerRequest(signAsym(t, rsaKey(), claimsAt(time.Now()))))
	checkErr(t, err, nil)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJWTJWKSOutageKeepsLastGoodKeys(t *testing.T) {
	srv := newJWKSServer(t, rsaKey())
	a := newJWKSAuth(t, srv, func(c *configs.SessionConfig) { c.JWKSRefresh = 10 * time.Millisecond })

	srv.failing.Store(true)
	before := srv.fetches.Load()
	waitFor(t, "failed background refreshes", func() bool { return srv.fetches.Load() >= before+3 })

	claims := claimsAt(time.Now())
	claims["sub"] = "fresh-token-not-in-cache"
	id, err := a.Authenticate(context.Background(), bearerRequest(signAsym(t, rsaKey(), claims)))
	checkErr(t, err, nil)
	if id.Subject != "fresh-token-not-in-cache" {
		t.Errorf("got subject %q, want the fresh token's", id.Subject)
	}
	// A kid the stale set lacks cannot be judged while the set is failing.
	_, err = a.Authenticate(context.Background(), bearerRequest(signAsym(t, rsaKey2(), claimsAt(time.Now()))))
	checkErr(t, err, ErrUnavailable)
}

func TestJWTJWKSDownAtStart(t *testing.T) {
	srv := newJWKSServer(t, rsaKey())
	srv.failing.Store(true)
	a := newJWKSAuth(t, srv, func(c *configs.SessionConfig) { c.JWKSRefresh = 10 * time.Millisecond })
	tok := signAsym(t, rsaKey(), claimsAt(time.Now()))

	_, err := a.Authenticate(context.Background(), bearerRequest(tok))
	checkErr(t, err, ErrUnavailable)

	// The background refresh notices the recovery.
	srv.failing.Store(false)
	waitFor(t, "a successful refresh", func() bool {
		_, err = a.Authenticate(context.Background(), bearerRequest(tok))
		return err == nil
	})
}

func TestJWTJWKSUnknownKIDStorm(t *testing.T) {
	srv := newJWKSServer(t, rsaKey())
	a := newJWKSAuth(t, srv, nil)
	const n = 100
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		k := testKey{kid: fmt.Sprintf("made-up-%d", i), priv: rsaPriv2(), method: jwt.SigningMethodRS256}
		tok := signAsym(t, k, claimsAt(time.Now()))
		wg.Go(func() {
			_, errs[i] = a.Authenticate(context.Background(), bearerRequest(tok))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ErrSessionInvalid) {
			t.Fatalf("token %d: got error %v, want one wrapping %q", i, err, ErrSessionInvalid)
		}
	}
	if got := srv.fetches.Load(); got > 2 {
		t.Errorf("got %d JWKS fetches for %d unknown kids, want at most 2", got, n)
	}
}

func TestJWTRejectsNoneAndUnlistedAlgorithms(t *testing.T) {
	srv := newJWKSServer(t, rsaKey())
	a := newJWKSAuth(t, srv, func(c *configs.SessionConfig) { c.JWTSecrets = []configs.Secret{newSecret} })
	claims := claimsAt(time.Now())
	unsigned, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
	}{
		{name: "alg none", token: unsigned},
		{name: "alg none with a kid", token: withHeader(t, unsigned, `{"alg":"none","kid":"rsa-1","typ":"JWT"}`)},
		{name: "alg NONE", token: withHeader(t, unsigned, `{"alg":"NONE","typ":"JWT"}`)},
		{name: "HS512 with a configured secret", token: signHS(t, jwt.SigningMethodHS512, []byte(newSecret), claims, nil)},
		{name: "HS384 with a configured secret", token: signHS(t, jwt.SigningMethodHS384, []byte(newSecret), claims, nil)},
		{name: "crit header", token: signHS(t, jwt.SigningMethodHS256, []byte(newSecret), claims, map[string]any{"crit": []any{"b64"}, "b64": false})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := a.Authenticate(context.Background(), bearerRequest(tc.token))
			checkErr(t, err, ErrSessionInvalid)
		})
	}
}

// withHeader replaces a compact token's header with the given JSON.
func withHeader(t *testing.T, token, header string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("got %d token segments, want 3", len(parts))
	}
	parts[0] = base64.RawURLEncoding.EncodeToString([]byte(header))
	return strings.Join(parts, ".")
}

func TestJWTRejectsAlgorithmConfusion(t *testing.T) {
	srv := newJWKSServer(t, rsaKey(), ecKey())
	pub := rsaPriv().Public()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pkcs1 := x509.MarshalPKCS1PublicKey(pub.(*rsa.PublicKey))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	jwksJSON, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}

	claims := claimsAt(time.Now())
	hdr := map[string]any{"kid": "rsa-1"}
	tokens := []struct {
		name   string
		secret []byte
	}{
		{name: "HS256 keyed with the RSA public key PEM", secret: pemBytes},
		{name: "HS256 keyed with the RSA public key DER", secret: der},
		{name: "HS256 keyed with the RSA public key PKCS#1", secret: pkcs1},
		{name: "HS256 keyed with the JWK Set document", secret: jwksJSON},
	}
	auths := []struct {
		name string
		mod  func(*configs.SessionConfig)
	}{
		{name: "JWKS only"},
		{name: "JWKS and an HS secret", mod: func(c *configs.SessionConfig) { c.JWTSecrets = []configs.Secret{newSecret} }},
	}
	for _, au := range auths {
		a := newJWKSAuth(t, srv, au.mod)
		for _, tc := range tokens {
			t.Run(au.name+"/"+tc.name, func(t *testing.T) {
				tok := signHS(t, jwt.SigningMethodHS256, tc.secret, claims, hdr)
				_, err := a.Authenticate(context.Background(), bearerRequest(tok))
				checkErr(t, err, ErrSessionInvalid)
			})
		}
	}
}

func TestJWTClaimsValidation(t *testing.T) {
	clock := newFakeClock()
	now := clock.Now()
	a := newHSAuth(t, clock, func(c *configs.SessionConfig) {
		c.Issuer = "https://app.example.com"
		c.Audience = "tenantgate"
	})
	good := func() jwt.MapClaims {
		c := claimsAt(now)
		c["iss"] = "https://app.example.com"
		c["aud"] = []any{"other", "tenantgate"}
		return c
	}
	tests := []struct {
		name string
		mod  func(jwt.MapClaims)
		want error
	}{
		{name: "valid", mod: func(jwt.MapClaims) {}},
		{name: "expired", mod: func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() }, want: ErrSessionExpired},
		{name: "expired within leeway", mod: func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() }},
		{name: "no exp", mod: func(c jwt.MapClaims) { delete(c, "exp") }, want: ErrSessionInvalid},
		{name: "exp is a string", mod: func(c jwt.MapClaims) { c["exp"] = "tomorrow" }, want: ErrSessionInvalid},
		{name: "wrong issuer", mod: func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }, want: ErrSessionInvalid},
		{name: "no issuer", mod: func(c jwt.MapClaims) { delete(c, "iss") }, want: ErrSessionInvalid},
		{name: "wrong audience", mod: func(c jwt.MapClaims) { c["aud"] = "metabase" }, want: ErrSessionInvalid},
		{name: "no audience", mod: func(c jwt.MapClaims) { delete(c, "aud") }, want: ErrSessionInvalid},
		{name: "nbf in the future", mod: func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() }, want: ErrSessionInvalid},
		{name: "nbf within leeway", mod: func(c jwt.MapClaims) { c["nbf"] = now.Add(10 * time.Second).Unix() }},
		{name: "expired and wrong issuer is invalid, not expired", mod: func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Minute).Unix()
			c["iss"] = "https://evil.example.com"
		}, want: ErrSessionInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mod(c)
			_, err := a.Authenticate(context.Background(), bearerRequest(signHS(t, jwt.SigningMethodHS256, []byte(newSecret), c, nil)))
			checkErr(t, err, tc.want)
			if errors.Is(tc.want, ErrSessionInvalid) && errors.Is(err, ErrSessionExpired) {
				t.Errorf("got error %v, want it not to wrap %q", err, ErrSessionExpired)
			}
		})
	}
}

func TestJWTErrorMessageNamesTheFailure(t *testing.T) {
	a := newHSAuth(t, nil, nil)
	tok := signHS(t, jwt.SigningMethodHS256, []byte("some-unknown-secret-0123456789abcdef"), claimsAt(time.Now()), nil)
	_, err := a.Authenticate(context.Background(), bearerRequest(tok))
	const want = "verifying session JWT: token signature is invalid: signature is invalid: session credential is invalid"
	if err == nil || err.Error() != want {
		t.Errorf("got error %q, want %q", err, want)
	}
}

func TestJWTCredentialSource(t *testing.T) {
	clock := newFakeClock()
	a := newHSAuth(t, clock, func(c *configs.SessionConfig) { c.Cookie = "app_session" })
	sign := func(tenant string) string {
		c := claimsAt(clock.Now())
		c[testTenantClaim] = tenant
		return signHS(t, jwt.SigningMethodHS256, []byte(newSecret), c, nil)
	}
	cookieTok, bearerTok := sign("from-cookie"), sign("from-bearer")
	tests := []struct {
		name       string
		headers    http.Header
		wantTenant string
		want       error
	}{
		{name: "cookie", headers: http.Header{"Cookie": {"app_session=" + cookieTok}}, wantTenant: "from-cookie"},
		{name: "cookie among others", headers: http.Header{"Cookie": {"theme=dark; app_session=" + cookieTok + "; lang=en"}}, wantTenant: "from-cookie"},
		{name: "cookie on a second Cookie line", headers: http.Header{"Cookie": {"theme=dark", "app_session=" + cookieTok}}, wantTenant: "from-cookie"},
		{name: "quoted cookie", headers: http.Header{"Cookie": {`app_session="` + cookieTok + `"`}}, wantTenant: "from-cookie"},
		{name: "bearer", headers: http.Header{"Authorization": {"Bearer " + bearerTok}}, wantTenant: "from-bearer"},
		{name: "lower-case bearer scheme", headers: http.Header{"Authorization": {"bearer " + bearerTok}}, wantTenant: "from-bearer"},
		{name: "both: the cookie wins", headers: http.Header{"Cookie": {"app_session=" + cookieTok}, "Authorization": {"Bearer " + bearerTok}}, wantTenant: "from-cookie"},
		{name: "both, bad cookie: the cookie still wins", headers: http.Header{"Cookie": {"app_session=garbage"}, "Authorization": {"Bearer " + bearerTok}}, want: ErrSessionInvalid},
		{name: "cookie of another name is ignored", headers: http.Header{"Cookie": {"session=" + cookieTok}}, want: ErrNoCredentials},
		{name: "empty cookie falls back to bearer", headers: http.Header{"Cookie": {"app_session="}, "Authorization": {"Bearer " + bearerTok}}, wantTenant: "from-bearer"},
		{name: "neither", headers: http.Header{}, want: ErrNoCredentials},
		{name: "basic auth is not a session", headers: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, want: ErrNoCredentials},
		{name: "empty bearer", headers: http.Header{"Authorization": {"Bearer "}}, want: ErrNoCredentials},
		{name: "two Authorization headers", headers: http.Header{"Authorization": {"Bearer " + bearerTok, "Bearer " + cookieTok}}, want: ErrSessionInvalid},
		{name: "oversized token", headers: http.Header{"Authorization": {"Bearer " + strings.Repeat("a", maxSessionTokenBytes+1)}}, want: ErrSessionInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.headers
			id, err := a.Authenticate(context.Background(), r)
			checkErr(t, err, tc.want)
			if err == nil && id.Tenant != tc.wantTenant {
				t.Errorf("got tenant %q, want %q", id.Tenant, tc.wantTenant)
			}
		})
	}
}

func TestJWTTenantClaim(t *testing.T) {
	clock := newFakeClock()
	a := newHSAuth(t, clock, nil)
	tests := []struct {
		name       string
		value      any
		absent     bool
		wantTenant string
		want       error
	}{
		{name: "string", value: "acme", wantTenant: "acme"},
		{name: "integer", value: 42, wantTenant: "42"},
		{name: "integral float", value: 42.0, wantTenant: "42"},
		{name: "negative integer", value: -7, wantTenant: "-7"},
		{name: "integer beyond float64 precision keeps its digits", value: jsonNumber("12345678901234567890"), wantTenant: "12345678901234567890"},
		{name: "exponent form", value: jsonNumber("4.2e1"), wantTenant: "42"},
		{name: "missing", absent: true, want: ErrTenantMissing},
		{name: "empty", value: "", want: ErrTenantMissing},
		{name: "whitespace", value: " \t ", want: ErrTenantMissing},
		{name: "null", value: nil, want: ErrTenantMissing},
		{name: "bool", value: true, want: ErrTenantMissing},
		{name: "array", value: []any{"acme"}, want: ErrTenantMissing},
		{name: "object", value: map[string]any{"id": "acme"}, want: ErrTenantMissing},
		{name: "fraction", value: 4.2, want: ErrTenantMissing},
		{name: "huge exponent", value: jsonNumber("1e300"), want: ErrTenantMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := claimsAt(clock.Now())
			if tc.absent {
				delete(c, testTenantClaim)
			} else {
				c[testTenantClaim] = tc.value
			}
			id, err := a.Authenticate(context.Background(), bearerRequest(signHS(t, jwt.SigningMethodHS256, []byte(newSecret), c, nil)))
			checkErr(t, err, tc.want)
			if err == nil && id.Tenant != tc.wantTenant {
				t.Errorf("got tenant %q, want %q", id.Tenant, tc.wantTenant)
			}
		})
	}
}

// jsonNumber is a raw JSON number literal inside a claim set.
type jsonNumber string

func (n jsonNumber) MarshalJSON() ([]byte, error) { return []byte(n), nil }

func TestJWTIdentityFields(t *testing.T) {
	clock := newFakeClock()
	a := newHSAuth(t, clock, nil)
	c := claimsAt(clock.Now())
	c["first_name"] = "Augusta"
	c["region"] = "eu"
	id, err := a.Authenticate(context.Background(), bearerRequest(signHS(t, jwt.SigningMethodHS256, []byte(newSecret), c, nil)))
	checkErr(t, err, nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"subject", id.Subject, "user-1"},
		{"email", id.Email, "ada@example.com"},
		{"first_name wins over given_name", id.FirstName, "Augusta"},
		{"family_name as last name", id.LastName, "Lovelace"},
		{"groups skip non-strings", fmt.Sprint(id.Groups), "[admins analysts]"},
		{"tenant", id.Tenant, "acme"},
		{"claims kept", id.Claims["region"], "eu"},
		{"expiry is exp", id.Expiry, clock.Now().Add(time.Hour)},
		{"source", id.Source, "jwt"},
	}
	for _, ch := range checks {
		if fmt.Sprint(ch.got) != fmt.Sprint(ch.want) {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestJWTCache(t *testing.T) {
	clock := newFakeClock()
	a := newHSAuth(t, clock, nil) // leeway defaults to 30s
	c := claimsAt(clock.Now())
	c["exp"] = clock.Now().Add(time.Minute).Unix()
	tok := signHS(t, jwt.SigningMethodHS256, []byte(newSecret), c, nil)
	auth := func() (*Identity, error) {
		return a.Authenticate(context.Background(), bearerRequest(tok))
	}

	first, err := auth()
	checkErr(t, err, nil)
	second, err := auth()
	checkErr(t, err, nil)
	if got := a.verifications.Load(); got != 1 {
		t.Errorf("got %d verifications for two requests, want 1 (second from cache)", got)
	}
	if first != second {
		t.Errorf("got a different Identity from the cache, want the cached one")
	}

	// Past exp but within leeway: the cache no longer answers, a full
	// verification accepts, and the result is not cached again.
	clock.Advance(time.Minute + 10*time.Second)
	_, err = auth()
	checkErr(t, err, nil)
	_, err = auth()
	checkErr(t, err, nil)
	if got := a.verifications.Load(); got != 3 {
		t.Errorf("got %d verifications after exp, want 3 (no cache past exp)", got)
	}

	clock.Advance(time.Minute)
	_, err = auth()
	checkErr(t, err, ErrSessionExpired)
}

func TestJWTCacheIsPerToken(t *testing.T) {
	clock := newFakeClock()
	a := newHSAuth(t, clock, nil)
	good := signHS(t, jwt.SigningMethodHS256, []byte(newSecret), claimsAt(clock.Now()), nil)
	_, err := a.Authenticate(context.Background(), bearerRequest(good))
	checkErr(t, err, nil)
	// Same payload, tampered signature: must not ride on the cached entry.
	forged := good[:len(good)-2] + "AA"
	if forged == good {
		forged = good[:len(good)-2] + "BB"
	}
	_, err = a.Authenticate(context.Background(), bearerRequest(forged))
	checkErr(t, err, ErrSessionInvalid)
}

func TestJWTNeverLeaksTokenOrKey(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	clock := newFakeClock()
	a, err := NewJWTAuthenticator(configs.SessionConfig{JWTSecrets: []configs.Secret{newSecret}}, testTenantClaim,
		JWTOptions{Now: clock.Now, Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	expired := claimsAt(clock.Now())
	expired["exp"] = clock.Now().Add(-time.Hour).Unix()
	noTenant := claimsAt(clock.Now())
	delete(noTenant, testTenantClaim)
	tokens := []string{
		signHS(t, jwt.SigningMethodHS256, []byte("wrong-secret-0123456789abcdef012345"), claimsAt(clock.Now()), nil),
		signHS(t, jwt.SigningMethodHS256, []byte(newSecret), expired, nil),
		signHS(t, jwt.SigningMethodHS256, []byte(newSecret), noTenant, nil),
		"not.a.jwt",
	}
	for _, tok := range tokens {
		_, err := a.Authenticate(context.Background(), bearerRequest(tok))
		if err == nil {
			t.Fatalf("got no error for a bad token, want one")
		}
		for _, secret := range []string{tok, newSecret} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains the token or the key", err)
			}
		}
	}
	if logs.Len() == 0 {
		t.Fatalf("got no debug logs for rejected sessions, want some")
	}
	for _, e := range logs.All() {
		line := fmt.Sprint(e.Message, e.ContextMap())
		for _, tok := range append(tokens, newSecret) {
			if strings.Contains(line, tok) {
				t.Errorf("log %q contains the token or the key", line)
			}
		}
	}
}

func TestNewJWTAuthenticatorConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     configs.SessionConfig
		claim   string
		wantErr []string
	}{
		{name: "no keys", claim: testTenantClaim, wantErr: []string{"neither jwt_secrets nor jwks_url"}},
		{name: "empty secret", cfg: configs.SessionConfig{JWTSecrets: []configs.Secret{newSecret, ""}}, claim: testTenantClaim, wantErr: []string{"jwt_secrets[1] is empty"}},
		{name: "bad JWKS URL", cfg: configs.SessionConfig{JWKSURL: "/jwks.json"}, claim: testTenantClaim, wantErr: []string{"not an absolute http(s) URL"}},
		{name: "every problem at once", cfg: configs.SessionConfig{JWTSecrets: []configs.Secret{""}, Leeway: -1, CacheSize: -1, JWKSRefresh: -1},
			wantErr: []string{"tenant claim name is empty", "jwt_secrets[0] is empty", "leeway", "cache_size", "jwks_refresh"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewJWTAuthenticator(tc.cfg, tc.claim, JWTOptions{})
			if err == nil {
				a.Close()
				t.Fatalf("got no error, want one mentioning %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), newSecret) {
				t.Errorf("error %q contains a secret", err)
			}
		})
	}
}

func TestCookieValue(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{name: "only cookie", lines: []string{"s=abc"}, want: "abc"},
		{name: "spaces around", lines: []string{"a=1;  s=abc  ; b=2"}, want: "abc"},
		{name: "first of duplicates", lines: []string{"s=one; s=two"}, want: "one"},
		{name: "skips a malformed duplicate", lines: []string{`s=bad\value; s=good`}, want: "good"},
		{name: "name is case-sensitive", lines: []string{"S=abc"}},
		{name: "prefix is not the name", lines: []string{"ss=abc; s_=x"}},
		{name: "no value", lines: []string{"s"}},
		{name: "lone quote", lines: []string{`s="`}, want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cookieValue(http.Header{"Cookie": tc.lines}, "s"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUsableKey(t *testing.T) {
	pub := rsaPriv().Public()
	tests := []struct {
		name string
		key  any
		meta jwkset.JWKMetadataOptions
		alg  string
		want bool
	}{
		{name: "signing key", key: pub, meta: jwkset.JWKMetadataOptions{KID: "k", USE: jwkset.UseSig, ALG: jwkset.AlgRS256}, alg: "RS256", want: true},
		{name: "no use, no alg", key: pub, meta: jwkset.JWKMetadataOptions{KID: "k"}, alg: "PS384", want: true},
		{name: "encryption key", key: pub, meta: jwkset.JWKMetadataOptions{KID: "k", USE: jwkset.UseEnc}, alg: "RS256"},
		{name: "alg pinned elsewhere", key: pub, meta: jwkset.JWKMetadataOptions{KID: "k", ALG: jwkset.AlgRS512}, alg: "RS256"},
		{name: "published private key is used as public", key: rsaPriv(), meta: jwkset.JWKMetadataOptions{KID: "k"}, alg: "RS256", want: true},
		{name: "EC key for RS256", key: ecPriv().Public(), meta: jwkset.JWKMetadataOptions{KID: "k"}, alg: "RS256"},
		{name: "Ed25519 key for ES256", key: edPriv().Public(), meta: jwkset.JWKMetadataOptions{KID: "k"}, alg: "ES256"},
		{name: "oct key for HS256", key: []byte(newSecret), meta: jwkset.JWKMetadataOptions{KID: "k"}, alg: "HS256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := jwkset.NewJWKFromKey(tc.key, jwkset.JWKOptions{Metadata: tc.meta, Marshal: jwkset.JWKMarshalOptions{Private: true}})
			if err != nil {
				t.Fatal(err)
			}
			key, got := usableKey(j, tc.alg)
			if got != tc.want {
				t.Fatalf("got usable %v, want %v", got, tc.want)
			}
			if _, private := key.(*rsa.PrivateKey); got && private {
				t.Errorf("got a private key, want its public half")
			}
		})
	}
}

func FuzzCookieValue(f *testing.F) {
	for _, seed := range []string{"session=abc", `a=1; session="x.y.z"; b=2`, "session", "session=; session=v", "=;;=session="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		v := cookieValue(http.Header{"Cookie": {line}}, "session")
		if v != "" && (!strings.Contains(line, v) || !isCookieOctets(v)) {
			t.Errorf("got %q from %q, want a substring of cookie-octets", v, line)
		}
	})
}

func FuzzJWTAuthenticate(f *testing.F) {
	a := newHSAuth(f, nil, nil)
	valid := signHS(f, jwt.SigningMethodHS256, []byte(newSecret), claimsAt(time.Now()), nil)
	for _, seed := range []string{valid, "a.b.c", "eyJhbGciOiJub25lIn0.e30.", valid + "x", strings.Replace(valid, ".", "..", 1)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := a.Authenticate(context.Background(), bearerRequest(token))
		if err == nil && (id == nil || strings.TrimSpace(id.Tenant) == "" || strings.TrimSpace(id.Subject) == "") {
			t.Fatalf("got identity %+v without error, want a tenant and a subject", id)
		}
		// Short inputs occur in any text; a token-sized one must not.
		if err != nil && len(token) >= 16 && strings.Contains(err.Error(), token) {
			t.Errorf("error %q contains the token", err)
		}
	})
}

func BenchmarkJWTAuthenticateCached(b *testing.B) {
	a := newHSAuth(b, nil, nil)
	tok := signHS(b, jwt.SigningMethodHS256, []byte(newSecret), claimsAt(time.Now()), nil)
	r := httptest.NewRequest(http.MethodGet, "/embed/dashboard/1", nil)
	r.Header.Set("Cookie", "theme=dark; session="+tok)
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, r); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Authenticate(ctx, r); err != nil {
			b.Fatal(err)
		}
	}
	if got := a.verifications.Load(); got != 1 {
		b.Fatalf("got %d verifications, want 1", got)
	}
}

// TestCookieOctets: every byte against RFC 6265's cookie-octet rule.
func TestCookieOctets(t *testing.T) {
	for b := 0; b < 256; b++ {
		want := b >= 0x21 && b <= 0x7e && b != '"' && b != ',' && b != ';' && b != '\\'
		if got := isCookieOctets(string([]byte{byte(b)})); got != want {
			t.Errorf("byte %#x: isCookieOctets = %v, want %v", b, got, want)
		}
	}
	if !isCookieOctets("") || !isCookieOctets("eyJ.abc-_~!#$%&'()*+/:<=>?@[]^`{|}") || isCookieOctets("a b") {
		t.Error("strings: wrong verdict")
	}
}

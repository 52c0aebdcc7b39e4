package auth

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/internal/bytescan"
)

const (
	// defaultSessionCookie is the session cookie's name when the config leaves it empty.
	defaultSessionCookie = "session"
	// defaultLeeway is the clock skew allowed on exp and nbf when the config leaves it 0.
	defaultLeeway = 30 * time.Second
	// maxSessionTokenBytes bounds the work one request can ask for; a
	// session JWT is far smaller, and the gate's own header limits are
	// usually tighter still.
	maxSessionTokenBytes = 16 << 10
	// maxCachedTokenBytes bounds what one session cache entry keeps (the
	// cache is keyed by the token itself): 10,000 entries hold at most
	// 40 MiB of tokens, and a typical session JWT is under 1 KiB.
	maxCachedTokenBytes = 4 << 10
	// minHMACSecretBytes is the shortest HS256 secret RFC 7518 §3.2 allows;
	// shorter ones are accepted with a warning.
	minHMACSecretBytes = 32
)

// JWTOptions are a JWTAuthenticator's collaborators; the zero value is usable.
type JWTOptions struct {
	// Now is the clock for exp, nbf and the cache; nil means time.Now.
	Now func() time.Time
	// HTTPClient fetches the JWK Set; nil means a client on
	// http.DefaultTransport. It is copied, never modified.
	HTTPClient *http.Client
	// Logger receives JWKS fetch failures (warn) and rejected sessions
	// (debug); nil means no logs. Tokens and keys are never logged.
	Logger *zap.Logger
	// Ctx bounds the JWKS background refresh; nil means
	// context.Background(). Close stops the refresh as well.
	Ctx context.Context
	// Observer receives cache lookups ("session") and JWKS fetch failures
	// ("jwks"); nil means none.
	Observer Observer
}

// JWTAuthenticator resolves the caller from the app's session JWT, verified
// with an HS256 keyring, a remote JWK Set, or both.
//
// The credential is the session cookie, else an "Authorization: Bearer"
// token. When a request carries both, the cookie wins: the embedded
// dashboard's iframe is loaded by the browser, which attaches the session
// cookie by itself, so the cookie is the session the browser actually holds,
// whereas an Authorization header on such a request was added by script or
// by something in between. One fixed precedence also means the gate never
// picks whichever of two sessions suits the caller.
//
// Verified sessions are cached by the token itself (a copy, compared in full
// on a hit) until the token's exp; tokens over maxCachedTokenBytes are
// verified on every request, so the cache holds at most cache_size times
// that, so a key removed from the JWK Set stops new tokens at once but not
// ones already cached. The Identity returned for a cached token is shared by
// every request bearing it: callers must not modify it, its Groups or its
// Claims.
type JWTAuthenticator struct {
	cookie       string
	tenantClaim  string
	subjectClaim string
	// hmacKeys is a jwt.VerificationKeySet of []byte secrets, boxed once;
	// nil when no secret is configured.
	hmacKeys any
	jwks     *jwksKeys
	parser   *jwt.Parser
	now      func() time.Time
	cache    *identityCache[string]
	log      *zap.Logger
	obs      Observer

	// verifications counts full (uncached) verifications; tests read it.
	verifications atomic.Uint64
}

var _ Authenticator = (*JWTAuthenticator)(nil)

// NewJWTAuthenticator returns an Authenticator for the app's session JWT.
// tenantClaim names the top-level claim holding the tenant, and
// cfg.SubjectClaim the one naming the user ("" means "sub"). With
// cfg.JWKSURL set it fetches the JWK Set once before returning (an
// unreachable set is logged, not fatal: tokens needing it fail with
// ErrUnavailable until a fetch works) and starts a background refresh that
// runs until Close or opts.Ctx ends.
func NewJWTAuthenticator(cfg configs.SessionConfig, tenantClaim string, opts JWTOptions) (*JWTAuthenticator, error) {
	if err := validateSessionConfig(cfg, tenantClaim); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	cookie := cfg.Cookie
	if cookie == "" {
		cookie = defaultSessionCookie
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = defaultLeeway
	}
	cache, err := newIdentityCache[string](cfg.CacheSize)
	if err != nil {
		return nil, fmt.Errorf("creating session cache: %w", err)
	}
	a := &JWTAuthenticator{
		cookie:       cookie,
		tenantClaim:  tenantClaim,
		subjectClaim: cfg.SubjectClaim,
		now:          now,
		cache:        cache,
		log:          log,
		obs:          observerOr(opts.Observer),
	}

	var methods []string
	if len(cfg.JWTSecrets) > 0 {
		var set jwt.VerificationKeySet
		for i, s := range cfg.JWTSecrets {
			if len(s.Reveal()) < minHMACSecretBytes {
				log.Warn("session HS256 secret is shorter than 32 bytes", zap.Int("index", i))
			}
			set.Keys = append(set.Keys, []byte(s.Reveal()))
		}
		a.hmacKeys = set
		methods = append(methods, hmacMethods...)
	}
	if cfg.JWKSURL != "" {
		ctx := opts.Ctx
		if ctx == nil {
			ctx = context.Background()
		}
		client := opts.HTTPClient
		if client == nil {
			client = &http.Client{}
		}
		a.jwks, err = newJWKSKeys(ctx, cfg.JWKSURL, cfg.JWKSRefresh, client, log, observerOr(opts.Observer))
		if err != nil {
			return nil, err
		}
		methods = append(methods, jwksMethods...)
	}

	popts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithJSONNumber(),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
	}
	if cfg.Issuer != "" {
		popts = append(popts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		popts = append(popts, jwt.WithAudience(cfg.Audience))
	}
	a.parser = jwt.NewParser(popts...)
	return a, nil
}

// validateSessionConfig reports every problem with cfg at once.
func validateSessionConfig(cfg configs.SessionConfig, tenantClaim string) error {
	var errs []error
	if tenantClaim == "" {
		errs = append(errs, errors.New("tenant claim name is empty"))
	}
	if cfg.SubjectClaim != "" && cfg.SubjectClaim == tenantClaim {
		errs = append(errs, fmt.Errorf("session: subject_claim %q is the tenant claim", cfg.SubjectClaim))
	}
	if len(cfg.JWTSecrets) == 0 && cfg.JWKSURL == "" {
		errs = append(errs, errors.New("session: neither jwt_secrets nor jwks_url is set"))
	}
	for i, s := range cfg.JWTSecrets {
		if s.Reveal() == "" {
			errs = append(errs, fmt.Errorf("session: jwt_secrets[%d] is empty", i))
		}
	}
	if cfg.JWKSURL != "" {
		u, err := url.Parse(cfg.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("session: jwks_url %q is not an absolute http(s) URL", cfg.JWKSURL))
		}
	}
	if cfg.JWKSRefresh < 0 {
		errs = append(errs, fmt.Errorf("session: jwks_refresh %v is negative", cfg.JWKSRefresh))
	}
	if cfg.Leeway < 0 {
		errs = append(errs, fmt.Errorf("session: leeway %v is negative", cfg.Leeway))
	}
	if cfg.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("session: cache_size %d is negative", cfg.CacheSize))
	}
	return errors.Join(errs...)
}

// Ready reports whether the authenticator can verify sessions: with a
// JWKS URL, once a key has been fetched. /readyz is false until then.
func (a *JWTAuthenticator) Ready(ctx context.Context) error {
	if a.jwks == nil {
		return nil
	}
	return a.jwks.ready(ctx)
}

// Close stops the JWKS background refresh. It is safe to call more than once.
func (a *JWTAuthenticator) Close() {
	if a.jwks != nil {
		a.jwks.close()
	}
}

// Credential sources, for errors and logs.
const (
	fromCookie = "session cookie"
	fromBearer = "bearer token"
)

// Authenticate returns the identity in the request's session JWT. Errors
// wrap ErrNoCredentials, ErrSessionInvalid, ErrSessionExpired,
// ErrTenantMissing, ErrSubjectMissing or (JWK Set never fetched or
// failing) ErrUnavailable.
// The returned Identity may be shared: do not modify it.
func (a *JWTAuthenticator) Authenticate(ctx context.Context, r *http.Request) (*Identity, error) {
	now := a.now()
	if id := a.cachedCookie(r.Header, now); id != nil {
		a.obs.Cache("session", true)
		return id, nil
	}
	token, from, err := a.credential(r.Header)
	if err != nil {
		return nil, err
	}
	if len(token) > maxSessionTokenBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes: %w", from, maxSessionTokenBytes, ErrSessionInvalid)
	}
	if id, ok := a.cache.get(token, now); ok {
		a.obs.Cache("session", true)
		return id, nil
	}
	a.obs.Cache("session", false)
	id, err := a.verify(ctx, token)
	if err != nil {
		if ce := a.log.Check(zapcore.DebugLevel, "session JWT rejected"); ce != nil {
			ce.Write(zap.String("credential", from), zap.Error(err))
		}
		return nil, err
	}
	if len(token) <= maxCachedTokenBytes && isCookieOctets(token) {
		// A copy: token is a substring of the request's Cookie or
		// Authorization header, which the cache must not keep alive.
		// Only cookie-octets (every verified JWS is base64url and dots):
		// cachedCookie relies on it to skip the scan.
		a.cache.add(strings.Clone(token), id, id.Expiry, now)
	}
	return id, nil
}

// credential returns the session JWT and where it came from.
func (a *JWTAuthenticator) credential(h http.Header) (token, from string, err error) {
	if v := cookieValue(h, a.cookie); v != "" {
		return v, fromCookie, nil
	}
	auth := h["Authorization"]
	switch len(auth) {
	case 0:
		return "", "", ErrNoCredentials
	case 1:
	default:
		// Two headers mean two parties had a say; trust neither.
		return "", "", fmt.Errorf("%d Authorization headers: %w", len(auth), ErrSessionInvalid)
	}
	scheme, tok, ok := strings.Cut(auth[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", "", ErrNoCredentials // another scheme is not a session credential
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", "", ErrNoCredentials
	}
	return tok, fromBearer, nil
}

// cookieValue returns the first non-empty, well-formed value of the cookie
// named name, without the allocations of http.Request.Cookie. Like net/http
// it strips one pair of surrounding quotes and skips malformed values; it
// accepts only RFC 6265 cookie-octets, which every JWT consists of.
func cookieValue(h http.Header, name string) string {
	for v := range cookieValues(h, name) {
		if isCookieOctets(v) {
			return v
		}
	}
	return ""
}

// cachedCookie is the cached identity of the session cookie cookieValue
// would return, or nil. The cache is asked first, for each value in turn:
// what it holds was verified and is cookie-octets (Authenticate caches only
// those), so a held value is the first well-formed one without its byte
// scan; a value it does not hold ends the search when well-formed (a miss,
// which Authenticate verifies), else the next is tried, as cookieValue does.
func (a *JWTAuthenticator) cachedCookie(h http.Header, now time.Time) *Identity {
	for v := range cookieValues(h, a.cookie) {
		if len(v) <= maxCachedTokenBytes {
			if id, ok := a.cache.get(v, now); ok {
				return id
			}
		}
		if isCookieOctets(v) {
			return nil
		}
	}
	return nil
}

// cookieValues yields the non-empty values of the cookies named name, in
// order, one pair of surrounding quotes stripped.
func cookieValues(h http.Header, name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, line := range h["Cookie"] {
			for line != "" {
				var part string
				part, line, _ = strings.Cut(line, ";")
				n, v, ok := strings.Cut(strings.TrimSpace(part), "=")
				if !ok || n != name {
					continue
				}
				if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				if v != "" && !yield(v) {
					return
				}
			}
		}
	}
}

// isCookieOctets reports whether s holds only RFC 6265 cookie-octets,
// eight bytes at a time: it runs over the session JWT on every request.
func isCookieOctets(s string) bool { return bytescan.IsCookieOctets(s) }

// verify checks token's signature and claims and builds its Identity.
func (a *JWTAuthenticator) verify(ctx context.Context, token string) (*Identity, error) {
	a.verifications.Add(1)
	claims := jwt.MapClaims{}
	_, err := a.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		return a.keyFor(ctx, t)
	})
	if err != nil {
		return nil, sessionJWTError(err)
	}
	exp, ok, err := claimsExpiry(claims)
	if err != nil || !ok { // the parser requires exp; this is a guard
		return nil, fmt.Errorf("verifying session JWT: reading exp: %w", ErrSessionInvalid)
	}
	id, err := identityFromClaims(claims, a.tenantClaim, a.subjectClaim, "jwt")
	if err != nil {
		return nil, fmt.Errorf("verifying session JWT: %w", err)
	}
	id.Expiry = exp
	return id, nil
}

// keyFor is the jwt.Keyfunc: it picks keys by the token's algorithm and
// returns only keys of the matching type, so the algorithm accepted follows
// from the key. An HS256 token is checked only against the configured
// secrets, never against a JWKS key's bytes.
func (a *JWTAuthenticator) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515 §4.1.11: extensions we do not implement must be refused.
		return nil, errCritHeader
	}
	switch familyOfAlg(t.Method.Alg()) {
	case familyHMAC:
		if a.hmacKeys == nil {
			return nil, errNoHMACKey
		}
		return a.hmacKeys, nil
	case familyRSA, familyEC, familyEd25519:
		if a.jwks == nil {
			return nil, errNoJWKS
		}
		return a.jwks.key(ctx, t)
	default:
		return nil, errAlgNotAllowed
	}
}

// sessionJWTError maps a jwt parse error to the package's sentinels,
// keeping jwt's text for what failed.
func sessionJWTError(err error) error {
	switch {
	case errors.Is(err, errJWKSNotLoaded):
		return fmt.Errorf("verifying session JWT: %w: %w", err, ErrUnavailable)
	case onlyExpired(err):
		return fmt.Errorf("verifying session JWT: %w: %w", err, ErrSessionExpired)
	default:
		return fmt.Errorf("verifying session JWT: %w: %w", err, ErrSessionInvalid)
	}
}

// onlyExpired reports whether exp is the one thing wrong with a token whose
// signature verified; a token that is also wrong in any other way is invalid.
func onlyExpired(err error) bool {
	if !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{
		jwt.ErrTokenMalformed, jwt.ErrTokenUnverifiable, jwt.ErrTokenSignatureInvalid,
		jwt.ErrTokenRequiredClaimMissing, jwt.ErrTokenInvalidAudience, jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidSubject, jwt.ErrTokenNotValidYet,
		jwt.ErrTokenInvalidId, jwt.ErrInvalidType,
	} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}

package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

const (
	// defaultJWKSRefresh is how often the JWK Set is fetched when the config leaves it 0.
	defaultJWKSRefresh = 5 * time.Minute
	// jwksFetchTimeout bounds each scheduled JWK Set fetch.
	jwksFetchTimeout = 10 * time.Second
	// jwksUnknownKIDInterval is the least time between two fetches caused by
	// a token whose kid is not in the set: a key rotation is picked up at
	// once, but a stream of tokens with made-up kids cannot turn the gate
	// into a load generator against the JWKS endpoint.
	jwksUnknownKIDInterval = 30 * time.Second
	// jwksUnknownKIDWait bounds how long a request waits for that limiter and
	// the fetch it allows. jwkset uses one deadline for both, so a request
	// arriving within this long of the next allowed fetch waits for it;
	// later ones fail at once.
	jwksUnknownKIDWait = 3 * time.Second
	// maxJWKSBytes caps a JWK Set response body.
	maxJWKSBytes = 1 << 20
	// jwksMaxStaleRefreshes and jwksMinStaleness bound how long the last
	// good keys verify new sessions while every fetch fails (down, slow,
	// garbage): that many refresh intervals, and at least this long. Past
	// it the gate fails closed (identity-unavailable) until a fetch gives a
	// JWK Set again: keys the provider revoked during an outage must not
	// verify forever. Sessions already verified stay cached until their exp.
	jwksMaxStaleRefreshes = 12
	jwksMinStaleness      = time.Hour
)

// Key families. The algorithm a token may use follows from the family of the
// key that verifies it, never from the token header alone.
type keyFamily int

const (
	familyUnknown keyFamily = iota
	familyHMAC
	familyRSA
	familyEC
	familyEd25519
)

// hmacMethods and jwksMethods are the algorithms accepted for each key
// source; "none" is in neither.
var (
	hmacMethods = []string{"HS256"}
	jwksMethods = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

func familyOfAlg(alg string) keyFamily {
	switch alg {
	case "HS256":
		return familyHMAC
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return familyRSA
	case "ES256", "ES384", "ES512":
		return familyEC
	case "EdDSA":
		return familyEd25519
	default:
		return familyUnknown
	}
}

// keyFitsAlg reports whether key is a public key of the type alg needs, and
// for ECDSA on alg's curve. This is what stops algorithm confusion: a key
// from the JWK Set is never handed to HMAC, and an RSA key never to ECDSA.
func keyFitsAlg(key any, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return familyOfAlg(alg) == familyRSA
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
		return false
	case ed25519.PublicKey:
		return alg == "EdDSA"
	default:
		return false
	}
}

// Errors from key lookup. They name what failed and nothing the caller
// sent: a kid is attacker-chosen text and stays out of errors and logs.
var (
	errAlgNotAllowed  = errors.New("signing algorithm is not accepted")
	errCritHeader     = errors.New(`"crit" header names extensions this gate does not implement`)
	errNoHMACKey      = errors.New("no HS256 secret is configured")
	errNoJWKS         = errors.New("no JWKS URL is configured")
	errKIDNotString   = errors.New(`"kid" header is not a string`)
	errUnknownKID     = errors.New("no JWKS key has the token's kid")
	errKeyMismatch    = errors.New("the JWKS key does not fit the token's algorithm")
	errNoMatchingKey  = errors.New("no JWKS key fits the token's algorithm")
	errJWKSNotLoaded  = errors.New("the JWK Set could not be fetched")
	errJWKSBodyTooBig = errors.New("JWK Set response is larger than 1 MiB")
	errJWKSStale      = fmt.Errorf("%w: no JWK Set fetched within the staleness bound", errJWKSNotLoaded)
)

// jwksKeys looks up verification keys in a remote JWK Set through keyfunc,
// which refreshes the set in the background every interval, keeps the last
// good keys when a refresh fails, and refreshes early (rate-limited) when a
// token names an unknown kid.
type jwksKeys struct {
	store  jwkset.Storage
	cancel context.CancelFunc
	// healthy is false until a fetch answers 200, and again after any
	// fetch fails; with an unknown kid it decides between "invalid" (the
	// set is fresh and lacks the key) and "unavailable" (it may be stale).
	healthy *atomic.Bool
	// lastGood is when (Unix nanoseconds) a fetch last answered a JWK Set
	// that parses; keys are not used once it is older than maxStale.
	lastGood *atomic.Int64
	maxStale time.Duration
	log      *zap.Logger
}

func newJWKSKeys(ctx context.Context, url string, refresh time.Duration, client *http.Client, log *zap.Logger, obs Observer) (*jwksKeys, error) {
	if refresh <= 0 {
		refresh = defaultJWKSRefresh
	}
	healthy, lastGood := new(atomic.Bool), new(atomic.Int64)
	c := *client
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &jwksTransport{base: base, healthy: healthy, lastGood: lastGood}

	ctx, cancel := context.WithCancel(ctx)
	noErrorFirstReq := true // start without keys rather than crash; lookups report ErrUnavailable until a fetch works
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		Client:                    &c,
		HTTPTimeout:               jwksFetchTimeout,
		NoErrorReturnFirstHTTPReq: &noErrorFirstReq,
		RateLimitWaitMax:          jwksUnknownKIDWait,
		RefreshInterval:           refresh,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(jwksUnknownKIDInterval), 1),
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(_ context.Context, err error) {
				healthy.Store(false)
				obs.ProviderError("jwks")
				log.Warn("JWKS fetch failed; keeping the last good keys", zap.String("url", u), zap.Error(err))
			}
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("setting up JWKS from %q: %w", url, err)
	}
	maxStale := max(jwksMaxStaleRefreshes*refresh, jwksMinStaleness)
	return &jwksKeys{store: kf.Storage(), cancel: cancel, healthy: healthy, lastGood: lastGood, maxStale: maxStale, log: log}, nil
}

func (j *jwksKeys) close() { j.cancel() }

// ready reports whether the JWK Set has given any key yet.
func (j *jwksKeys) ready(ctx context.Context) error {
	keys, err := j.store.KeyReadAll(ctx)
	if err != nil {
		return fmt.Errorf("reading JWK Set: %w", err)
	}
	if len(keys) == 0 {
		return errors.New("no key fetched from the JWK Set yet")
	}
	return nil
}

// key returns the key (or, for a token without kid, the set of keys) that
// may verify t. Every key returned fits t's algorithm.
func (j *jwksKeys) key(ctx context.Context, t *jwt.Token) (any, error) {
	if at := j.lastGood.Load(); at != 0 && time.Since(time.Unix(0, at)) > j.maxStale {
		return nil, errJWKSStale
	}
	alg := t.Method.Alg()
	rawKID, hasKID := t.Header["kid"]
	if !hasKID {
		all, err := j.store.KeyReadAll(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading JWK Set: %w", err)
		}
		var set jwt.VerificationKeySet
		for _, k := range all {
			if key, ok := usableKey(k, alg); ok {
				set.Keys = append(set.Keys, key)
			}
		}
		if len(set.Keys) == 0 {
			if len(all) == 0 || !j.healthy.Load() {
				return nil, errJWKSNotLoaded
			}
			return nil, errNoMatchingKey
		}
		return set, nil
	}
	kid, ok := rawKID.(string)
	if !ok {
		return nil, errKIDNotString
	}
	k, err := j.store.KeyRead(ctx, kid)
	if err != nil {
		// Not found even after the rate-limited refresh jwkset attempts.
		if !j.healthy.Load() {
			return nil, errJWKSNotLoaded
		}
		return nil, errUnknownKID
	}
	key, ok := usableKey(k, alg)
	if !ok {
		return nil, errKeyMismatch
	}
	return key, nil
}

// usableKey returns k's public key if k may sign tokens with alg: its "use"
// (if any) is "sig", its "alg" (if any) is alg, and its type fits alg.
func usableKey(k jwkset.JWK, alg string) (any, bool) {
	m := k.Marshal()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, false
	}
	if m.ALG != "" && m.ALG.String() != alg {
		return nil, false
	}
	key := k.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public() // a set that (wrongly) publishes private keys
	}
	return key, keyFitsAlg(key, alg)
}

// jwksTransport records whether JWK Set fetches answer and caps the size of
// what they answer.
type jwksTransport struct {
	base     http.RoundTripper
	healthy  *atomic.Bool
	lastGood *atomic.Int64
}

func (t *jwksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		// A body that then fails to decode calls the refresh error
		// handler, which sets this back to false.
		t.healthy.Store(true)
		// Read it here to learn whether it is a JWK Set at all: only then
		// does it renew the last good keys' lease (jwksMaxStaleRefreshes).
		body, err := io.ReadAll(&cappedBody{ReadCloser: resp.Body, left: maxJWKSBytes})
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if parsesAsJWKSet(body) {
			t.lastGood.Store(time.Now().UnixNano())
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		return resp, nil
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: maxJWKSBytes}
	return resp, nil
}

// parsesAsJWKSet reports whether jwkset will accept body as it does on a
// refresh: a JSON JWK Set whose keys are each valid or unsupported.
func parsesAsJWKSet(body []byte) bool {
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&set); err != nil {
		return false
	}
	for _, m := range set.Keys {
		_, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
		if err != nil && !errors.Is(err, jwkset.ErrUnsupportedKey) {
			return false
		}
	}
	return true
}

// cappedBody fails a read that goes past its limit instead of truncating.
type cappedBody struct {
	io.ReadCloser
	left int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var probe [1]byte
		n, err := io.ReadFull(b.ReadCloser, probe[:])
		if n > 0 {
			return 0, errJWKSBodyTooBig
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

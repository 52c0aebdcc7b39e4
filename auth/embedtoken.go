package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// EmbedSigner mints the static-embedding tokens Metabase accepts, signed
// HS256 with the UTF-8 bytes of MB_EMBEDDING_SECRET_KEY (Metabase does not
// hex-decode it). Tokens are cached per (resource, params) and reused until
// half their lifetime is gone, so a dashboard's dozen card queries cost one
// signature, and the cache is bounded.
type EmbedSigner struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	cache  *lru.Cache[signKey, signedToken]
	mu     sync.Mutex
	parser *jwt.Parser
}

type signedToken struct {
	token string
	exp   time.Time
}

// NewEmbedSigner returns a signer whose tokens live ttl.
func NewEmbedSigner(secret string, ttl time.Duration, cacheSize int, now func() time.Time) (*EmbedSigner, error) {
	if secret == "" {
		return nil, errors.New("embed signer: MB_EMBEDDING_SECRET_KEY is empty")
	}
	if now == nil {
		now = time.Now
	}
	if cacheSize <= 0 {
		cacheSize = 10000
	}
	c, err := lru.New[signKey, signedToken](cacheSize)
	if err != nil {
		return nil, fmt.Errorf("embed signer: creating cache: %w", err)
	}
	s := &EmbedSigner{secret: []byte(secret), ttl: ttl, now: now, cache: c}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return s.now() }),
	)
	return s, nil
}

type embedPayload struct {
	Resource map[string]int `json:"resource"`
	Params   map[string]any `json:"params"`
	Exp      int64          `json:"exp"`
}

// Sign returns a Metabase token for res with params locked, reusing a
// cached one with at least half its lifetime left. fresh reports whether a
// new token was signed (for the minted-tokens metric).
func (s *EmbedSigner) Sign(res Resource, params map[string]any) (token string, fresh bool, err error) {
	key, err := cacheKey(res, params)
	if err != nil {
		return "", false, fmt.Errorf("signing Metabase token: encoding params: %w", err)
	}
	now := s.now()
	if t, ok := s.cache.Get(key); ok && t.exp.Sub(now) > s.ttl/2 {
		return t.token, false, nil
	}
	exp := now.Add(s.ttl).Truncate(time.Second)
	body, err := json.Marshal(embedPayload{Resource: map[string]int{res.Kind: res.ID}, Params: params, Exp: exp.Unix()})
	if err != nil {
		return "", false, fmt.Errorf("signing Metabase token: %w", err)
	}
	tok, err := signHS256(s.secret, body)
	if err != nil {
		return "", false, fmt.Errorf("signing Metabase token: %w", err)
	}
	s.cache.Add(key, signedToken{token: tok, exp: exp})
	return tok, true, nil
}

// signKey names (res, params) for the token cache. Params are almost
// always one string (the tenant): that case fills name and value and
// costs no allocation; anything else is keyed by its JSON.
type signKey struct {
	kind        string
	id          int
	name, value string
	json        string
}

func cacheKey(res Resource, params map[string]any) (signKey, error) {
	k := signKey{kind: res.Kind, id: res.ID}
	if len(params) == 1 {
		for name, v := range params {
			if sv, ok := v.(string); ok {
				k.name, k.value = name, sv
				return k, nil
			}
		}
	}
	// encoding/json sorts map keys, so equal params give equal keys.
	pj, err := json.Marshal(params)
	if err != nil {
		return signKey{}, err
	}
	k.json = string(pj)
	return k, nil
}

// signHS256 signs a payload given as JSON bytes, so the claims keep the
// exact shape Metabase expects (jwt.MapClaims would do the same, slower).
func signHS256(secret, payload []byte) (string, error) {
	const header = `{"alg":"HS256","typ":"JWT"}`
	b64 := base64.RawURLEncoding.EncodeToString
	unsigned := b64([]byte(header)) + "." + b64(payload)
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, secret)
	if err != nil {
		return "", err
	}
	return unsigned + "." + b64(sig), nil
}

// EmbedToken is a verified Metabase token presented by a browser in
// pass-through mode.
type EmbedToken struct {
	Resource  Resource
	Params    map[string]any
	ExpiresAt time.Time
}

// ErrTokenInvalid: a Metabase token in pass-through mode failed verification.
var ErrTokenInvalid = errors.New("Metabase embed token is invalid")

// Verify checks a Metabase token minted by the app's own backend (pass-through
// mode). Stricter than Metabase: exp is required and at most maxLifetime
// away, the header must say HS256, and exactly one resource is named.
func (s *EmbedSigner) Verify(token string, maxLifetime time.Duration) (*EmbedToken, error) {
	var claims jwt.MapClaims
	_, err := s.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return s.secret, nil })
	if err != nil {
		return nil, fmt.Errorf("verifying Metabase token: %v: %w", err, ErrTokenInvalid)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, fmt.Errorf("verifying Metabase token: no exp: %w", ErrTokenInvalid)
	}
	if exp.Sub(s.now()) > maxLifetime {
		return nil, fmt.Errorf("verifying Metabase token: exp is more than %s away: %w", maxLifetime, ErrTokenInvalid)
	}
	res, ok := claims["resource"].(map[string]any)
	if !ok || len(res) != 1 {
		return nil, fmt.Errorf("verifying Metabase token: resource must name one object: %w", ErrTokenInvalid)
	}
	t := &EmbedToken{ExpiresAt: exp.Time}
	for kind, v := range res {
		f, isNum := v.(float64)
		if (kind != KindDashboard && kind != KindQuestion) || !isNum || f <= 0 || f != math.Trunc(f) || f > math.MaxInt32 {
			return nil, fmt.Errorf("verifying Metabase token: bad resource: %w", ErrTokenInvalid)
		}
		t.Resource = Resource{Kind: kind, ID: int(f)}
	}
	params, ok := claims["params"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("verifying Metabase token: params missing: %w", ErrTokenInvalid)
	}
	t.Params = params
	return t, nil
}

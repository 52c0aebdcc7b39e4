package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lru "github.com/hashicorp/golang-lru/v2"
)

// Resource is one embeddable Metabase object.
type Resource struct {
	// Kind is "dashboard" or "question" (Metabase's token key).
	Kind string
	ID   int
}

// The two resource kinds, as Metabase's token payload names them.
const (
	KindDashboard = "dashboard"
	KindQuestion  = "question"
)

func (r Resource) String() string { return fmt.Sprintf("%s/%d", r.Kind, r.ID) }

// HandleClaims is what a handle binds: the resource, the locked params it
// was minted with, and the caller it was minted for.
type HandleClaims struct {
	Resource  Resource
	Params    map[string]any
	Tenant    string
	IssuedAt  time.Time
	ExpiresAt time.Time
	kid       string
	subject   [16]byte // keyed hash of the subject: see SubjectMatches
	// matched remembers the last subject whose MAC matched, so the cached
	// claims of a busy handle cost a string compare, not an HMAC.
	matched atomic.Pointer[string]
}

// Handle errors. ErrHandleExpired is returned together with the claims, so
// a caller may renew a handle whose binding still matches a live session.
var (
	ErrHandleInvalid = errors.New("embed handle is invalid")
	ErrHandleExpired = errors.New("embed handle has expired")
)

// handleAudience keeps handles apart from every other HS256 JWT: Metabase
// ignores aud, but the key differs, and our parser requires this audience.
const handleAudience = "tenantgate-handle"

type handleKey struct {
	kid    string
	secret []byte
	macs   *sync.Pool // of hash.Hash keyed with secret: a MAC per request without allocating one
}

// HandleKeyring seals and opens handles: JWTs with Metabase's payload shape
// (resource, params, exp) plus binding claims, signed with the gate's own
// key, so they are useless against Metabase itself. The first key signs;
// every key verifies, which is how a rotation overlaps.
type HandleKeyring struct {
	keys   []handleKey
	byKid  map[string]handleKey
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
	cache  *lru.Cache[string, *HandleClaims]
}

// NewHandleKeyring returns a keyring over secrets (the first signs). ttl is
// the lifetime of new handles; cacheSize bounds the cache of opened handles.
func NewHandleKeyring(secrets []string, ttl time.Duration, cacheSize int, now func() time.Time) (*HandleKeyring, error) {
	if len(secrets) == 0 {
		return nil, errors.New("handle keyring: no secret configured; set TENANTGATE_HANDLE_SECRET")
	}
	if now == nil {
		now = time.Now
	}
	if cacheSize <= 0 {
		cacheSize = 10000
	}
	cache, err := lru.New[string, *HandleClaims](cacheSize)
	if err != nil {
		return nil, fmt.Errorf("handle keyring: creating cache: %w", err)
	}
	k := &HandleKeyring{byKid: map[string]handleKey{}, ttl: ttl, now: now, cache: cache}
	for _, s := range secrets {
		sum := sha256.Sum256([]byte("tenantgate handle kid\x00" + s))
		secret := []byte(s)
		hk := handleKey{kid: hex.EncodeToString(sum[:6]), secret: secret,
			macs: &sync.Pool{New: func() any { return hmac.New(sha256.New, secret) }}}
		k.keys = append(k.keys, hk)
		k.byKid[hk.kid] = hk
	}
	k.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(handleAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return k.now() }),
	)
	return k, nil
}

type handlePayload struct {
	Resource map[string]int `json:"resource"`
	Params   map[string]any `json:"params"`
	Tenant   string         `json:"tg_tenant"`
	Subject  string         `json:"tg_sub"`
	jwt.RegisteredClaims
}

// subjectMAC writes the keyed hash of subject into out (16 bytes), so a
// handle in a URL does not reveal who it was minted for.
func (hk handleKey) subjectMAC(subject string, out *[16]byte) {
	m := hk.macs.Get().(hash.Hash)
	m.Reset()
	_, _ = io.WriteString(m, "tenantgate subject\x00")
	_, _ = io.WriteString(m, subject)
	var sum [sha256.Size]byte
	copy(out[:], m.Sum(sum[:0]))
	hk.macs.Put(m)
}

// remember keeps a verified subject; its own function so that only this
// slow path, not every SubjectMatches call, moves the string to the heap.
func (c *HandleClaims) remember(subject string) { c.matched.Store(&subject) }

// SubjectMatches reports whether c was minted for subject.
func (k *HandleKeyring) SubjectMatches(c *HandleClaims, subject string) bool {
	if m := c.matched.Load(); m != nil && *m == subject {
		return true
	}
	hk, ok := k.byKid[c.kid]
	if !ok {
		return false
	}
	var mac [16]byte
	hk.subjectMAC(subject, &mac)
	if !hmac.Equal(mac[:], c.subject[:]) {
		return false
	}
	c.remember(subject)
	return true
}

// Seal mints a handle for res with the given locked params, bound to tenant
// and subject, valid for the keyring's TTL from now.
func (k *HandleKeyring) Seal(res Resource, params map[string]any, tenant, subject string) (string, time.Time, error) {
	now := k.now()
	exp := now.Add(k.ttl)
	hk := k.keys[0]
	var mac [16]byte
	hk.subjectMAC(subject, &mac)
	p := handlePayload{
		Resource: map[string]int{res.Kind: res.ID},
		Params:   params,
		Tenant:   tenant,
		Subject:  base64.RawURLEncoding.EncodeToString(mac[:]),
		RegisteredClaims: jwt.RegisteredClaims{
			Audience:  jwt.ClaimStrings{handleAudience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, p)
	t.Header["kid"] = hk.kid
	s, err := t.SignedString(hk.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("signing embed handle: %w", err)
	}
	return s, exp.Truncate(time.Second), nil
}

// Open verifies a handle. It returns the claims and nil, or nil and an
// error wrapping ErrHandleInvalid, or the claims and an error wrapping
// ErrHandleExpired when the signature is good but exp has passed.
// The returned claims are shared with the cache: do not mutate them.
func (k *HandleKeyring) Open(handle string) (*HandleClaims, error) {
	// Keyed by the handle itself: it is public (it sits in a URL), and a
	// string key costs no hashing or copy on the hot path.
	key := handle
	if c, ok := k.cache.Get(key); ok {
		if k.now().Before(c.ExpiresAt) {
			return c, nil
		}
		return c, fmt.Errorf("opening embed handle: expired at %s: %w", c.ExpiresAt.UTC().Format(time.RFC3339), ErrHandleExpired)
	}
	var p handlePayload
	var used handleKey
	_, err := k.parser.ParseWithClaims(handle, &p, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		hk, ok := k.byKid[kid]
		if !ok {
			return nil, errors.New("unknown kid")
		}
		used = hk
		return hk.secret, nil
	})
	expired := errors.Is(err, jwt.ErrTokenExpired)
	if err != nil && !expired {
		return nil, fmt.Errorf("opening embed handle: %v: %w", err, ErrHandleInvalid)
	}
	c, cerr := claimsFromPayload(&p, used.kid)
	if cerr != nil {
		return nil, cerr
	}
	if expired {
		return c, fmt.Errorf("opening embed handle: expired at %s: %w", c.ExpiresAt.UTC().Format(time.RFC3339), ErrHandleExpired)
	}
	k.cache.Add(key, c)
	return c, nil
}

func claimsFromPayload(p *handlePayload, kid string) (*HandleClaims, error) {
	if len(p.Resource) != 1 || p.Tenant == "" || p.Subject == "" || p.Params == nil || p.IssuedAt == nil || p.ExpiresAt == nil {
		return nil, fmt.Errorf("opening embed handle: missing claims: %w", ErrHandleInvalid)
	}
	c := &HandleClaims{Params: p.Params, Tenant: p.Tenant, kid: kid,
		IssuedAt: p.IssuedAt.Time, ExpiresAt: p.ExpiresAt.Time}
	// Check the length first: Decode writes past a too-small buffer.
	if len(p.Subject) != base64.RawURLEncoding.EncodedLen(len(c.subject)) {
		return nil, fmt.Errorf("opening embed handle: bad subject binding: %w", ErrHandleInvalid)
	}
	if n, err := base64.RawURLEncoding.Decode(c.subject[:], []byte(p.Subject)); err != nil || n != len(c.subject) {
		return nil, fmt.Errorf("opening embed handle: bad subject binding: %w", ErrHandleInvalid)
	}
	for kind, id := range p.Resource {
		if (kind != KindDashboard && kind != KindQuestion) || id <= 0 {
			return nil, fmt.Errorf("opening embed handle: bad resource: %w", ErrHandleInvalid)
		}
		c.Resource = Resource{Kind: kind, ID: id}
	}
	return c, nil
}

package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sealing purposes. Each is bound into the ciphertext as additional data,
// so a value sealed for one purpose never opens as another: a sealed cookie
// is no SDK handle, and an SDK ticket is neither.
const (
	// SealCookie is the interactive flow's cookie holding a Metabase session.
	SealCookie = "cookie"
	// SealSDK is the session handle the embedding SDK sends in
	// X-Metabase-Session.
	SealSDK = "sdk"
	// SealTicket is what the gate's JWT provider hands the SDK as its "jwt":
	// it holds no Metabase credential, only who it was issued to.
	SealTicket = "ticket"
)

// Sealing errors. ErrSealExpired is returned together with the session, so
// a caller can tell "expired" from "not ours".
var (
	ErrSealInvalid = errors.New("sealed value is invalid")
	ErrSealExpired = errors.New("sealed value has expired")
	// ErrSealTooLarge: Seal refuses a value whose sealed form Open would
	// refuse as too long.
	ErrSealTooLarge = errors.New("value too large to seal")
)

const (
	sealKidLen   = 6
	sealNonceLen = 12
	// maxSealedBytes bounds the work one request can ask for.
	maxSealedBytes = 4096
)

// SSOSession is what a sealed value carries: the Metabase session key (empty
// in a ticket) and the binding to the app session it was issued for.
type SSOSession struct {
	// Key is Metabase's session key. It never leaves the gate unsealed.
	Key string `json:"k,omitempty"`
	// Tenant and Subject are the caller's when it was sealed.
	Tenant  string `json:"t"`
	Subject string `json:"s"`
	// Email is the Metabase identity (the SSO email) the session belongs to,
	// or, in a ticket, that it may be exchanged for. A session is used only
	// while the caller's identity still renders this same email.
	Email string `json:"m,omitempty"`
	// ID is a ticket's random id (hex), what its single use is remembered
	// by; empty in a cookie or handle.
	ID string `json:"j,omitempty"`
	// IssuedAt and ExpiresAt are Unix seconds. IssuedAt is what a
	// revocation (sso.revoke) compares with its time.
	IssuedAt  int64 `json:"i"`
	ExpiresAt int64 `json:"e"`
}

// Expiry returns ExpiresAt as a time.
func (s *SSOSession) Expiry() time.Time { return time.Unix(s.ExpiresAt, 0) }

// BoundTo reports whether s was sealed for this tenant, subject and
// Metabase identity (email).
func (s *SSOSession) BoundTo(tenant, subject, email string) (tenantOK, subjectOK, emailOK bool) {
	return hmac.Equal([]byte(s.Tenant), []byte(tenant)), hmac.Equal([]byte(s.Subject), []byte(subject)),
		s.Email != "" && hmac.Equal([]byte(s.Email), []byte(email))
}

type sealKey struct {
	kid  [sealKidLen]byte
	aead cipher.AEAD
}

// Sealer seals values with AES-256-GCM under the gate's sealing keys. The
// first key seals; every key opens, which is how a rotation overlaps. The
// sealed form is base64url(kid || nonce || ciphertext), safe in a cookie
// and a header.
type Sealer struct {
	keys  []sealKey
	byKid map[[sealKidLen]byte]cipher.AEAD
	now   func() time.Time
}

// NewSealer returns a Sealer over secrets (the first seals); each secret is
// stretched into an AES-256 key with HMAC-SHA256, so any length of at least
// 32 random bytes (validated by configs) serves.
func NewSealer(secrets []string, now func() time.Time) (*Sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("sealer: no sealing key configured; set TENANTGATE_SSO_SEALING_KEY")
	}
	if now == nil {
		now = time.Now
	}
	s := &Sealer{byKid: map[[sealKidLen]byte]cipher.AEAD{}, now: now}
	for _, secret := range secrets {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte("tenantgate sso sealing key v1"))
		block, err := aes.NewCipher(m.Sum(nil))
		if err != nil {
			return nil, fmt.Errorf("sealer: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("sealer: %w", err)
		}
		var k sealKey
		sum := sha256.Sum256([]byte("tenantgate seal kid\x00" + secret))
		copy(k.kid[:], sum[:])
		k.aead = aead
		s.keys = append(s.keys, k)
		s.byKid[k.kid] = aead
	}
	return s, nil
}

func sealAD(purpose string) []byte { return []byte("tenantgate/" + purpose + "/v1") }

// Seal encrypts plaintext for purpose with the first key.
func (s *Sealer) Seal(purpose string, plaintext []byte) (string, error) {
	k := s.keys[0]
	// Refuse what Open would refuse: a value sealed but never opened is a
	// session or ticket that breaks later, far from its cause.
	if n := base64.RawURLEncoding.EncodedLen(sealKidLen + sealNonceLen + len(plaintext) + k.aead.Overhead()); n > maxSealedBytes {
		return "", fmt.Errorf("sealing %d bytes: the sealed form would be %d bytes, over the %d Open accepts: %w", len(plaintext), n, maxSealedBytes, ErrSealTooLarge)
	}
	out := make([]byte, sealKidLen+sealNonceLen, sealKidLen+sealNonceLen+len(plaintext)+k.aead.Overhead())
	copy(out, k.kid[:])
	if _, err := rand.Read(out[sealKidLen:]); err != nil {
		return "", fmt.Errorf("sealing: reading a nonce: %w", err)
	}
	out = k.aead.Seal(out, out[sealKidLen:], plaintext, sealAD(purpose))
	return base64.RawURLEncoding.EncodeToString(out), nil
}

// Open decrypts a value sealed for purpose, or returns an error wrapping
// ErrSealInvalid (not base64url, unknown key, tampered, another purpose).
func (s *Sealer) Open(purpose, sealed string) ([]byte, error) {
	if len(sealed) > maxSealedBytes {
		return nil, fmt.Errorf("opening sealed value: longer than %d bytes: %w", maxSealedBytes, ErrSealInvalid)
	}
	raw, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil {
		return nil, fmt.Errorf("opening sealed value: not base64url: %w", ErrSealInvalid)
	}
	if len(raw) < sealKidLen+sealNonceLen+16 {
		return nil, fmt.Errorf("opening sealed value: too short: %w", ErrSealInvalid)
	}
	var kid [sealKidLen]byte
	copy(kid[:], raw)
	aead, ok := s.byKid[kid]
	if !ok {
		return nil, fmt.Errorf("opening sealed value: unknown key: %w", ErrSealInvalid)
	}
	nonce := raw[sealKidLen : sealKidLen+sealNonceLen]
	pt, err := aead.Open(nil, nonce, raw[sealKidLen+sealNonceLen:], sealAD(purpose))
	if err != nil {
		return nil, fmt.Errorf("opening sealed value: authentication failed: %w", ErrSealInvalid)
	}
	return pt, nil
}

// SealSession seals sess for purpose.
func (s *Sealer) SealSession(purpose string, sess SSOSession) (string, error) {
	b, err := json.Marshal(sess)
	if err != nil {
		return "", fmt.Errorf("sealing session: %w", err)
	}
	return s.Seal(purpose, b)
}

// OpenSession opens a session sealed for purpose. It returns the session
// and nil; nil and an error wrapping ErrSealInvalid; or the session and an
// error wrapping ErrSealExpired when it opened but its expiry has passed.
// A session without a tenant, subject or Metabase identity (email), a
// ticket without an ID, or (except a ticket) a session without a Metabase
// key, is invalid: one sealed before
// the email was bound to it is refused, and its holder signs in again.
func (s *Sealer) OpenSession(purpose, sealed string) (*SSOSession, error) {
	pt, err := s.Open(purpose, sealed)
	if err != nil {
		return nil, err
	}
	var sess SSOSession
	if err := json.Unmarshal(pt, &sess); err != nil {
		return nil, fmt.Errorf("opening sealed session: %v: %w", err, ErrSealInvalid)
	}
	if sess.Tenant == "" || sess.Subject == "" || sess.Email == "" || sess.ExpiresAt == 0 ||
		(purpose != SealTicket && sess.Key == "") || (purpose == SealTicket && sess.ID == "") {
		return nil, fmt.Errorf("opening sealed session: missing fields: %w", ErrSealInvalid)
	}
	if !s.now().Before(sess.Expiry()) {
		return &sess, fmt.Errorf("opening sealed session: expired at %s: %w", sess.Expiry().UTC().Format(time.RFC3339), ErrSealExpired)
	}
	return &sess, nil
}

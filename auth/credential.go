package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"sync"
)

// Kinds of Metabase credential a CredentialDetector recognises.
const (
	CredentialEmbed = "embed" // signed with MB_EMBEDDING_SECRET_KEY
	CredentialSSO   = "sso"   // signed with MB_JWT_SHARED_SECRET
)

// hs256SigChars is the length of an unpadded base64url HS256 signature
// (32 bytes).
const hs256SigChars = 43

// CredentialDetector recognises the JWTs Metabase accepts: a compact JWS
// whose HMAC-SHA256 over header.payload verifies with the embedding secret
// or the JWT SSO shared secret (the UTF-8 bytes of each, as Metabase keys
// them; Metabase verifies HS256 whatever the header's alg says). It lets
// the proxy find a credential an upstream put in a response without the
// secrets leaving auth. It is immutable and safe for concurrent use.
type CredentialDetector struct {
	keys  []detectorKey
	empty bool
}

type detectorKey struct {
	kind string
	pool *sync.Pool // of hash.Hash (HMAC-SHA256 under the key)
}

// NewCredentialDetector detects tokens signed with embedSecret or
// ssoSecret; an empty secret is skipped (SSO off).
func NewCredentialDetector(embedSecret, ssoSecret string) *CredentialDetector {
	d := &CredentialDetector{}
	for _, k := range []struct{ kind, secret string }{{CredentialEmbed, embedSecret}, {CredentialSSO, ssoSecret}} {
		if k.secret == "" {
			continue
		}
		key := []byte(k.secret)
		d.keys = append(d.keys, detectorKey{kind: k.kind, pool: &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}})
	}
	d.empty = len(d.keys) == 0
	return d
}

// Verify reports whether tok, a compact JWS (three base64url segments,
// exactly two dots), is signed with one of the detector's secrets, and
// with which (CredentialEmbed or CredentialSSO). Only the first 43
// characters of the signature segment are compared, so a token with
// characters glued to its end, which a script could cut off again, is
// still recognised. The comparison is constant-time.
func (d *CredentialDetector) Verify(tok []byte) (kind string, ok bool) {
	if d == nil || d.empty {
		return "", false
	}
	i := bytes.IndexByte(tok, '.')
	if i <= 0 {
		return "", false
	}
	j := bytes.IndexByte(tok[i+1:], '.')
	if j <= 0 {
		return "", false
	}
	j += i + 1
	signed, sig := tok[:j], bytes.TrimRight(tok[j+1:], "=")
	if len(sig) < hs256SigChars || bytes.IndexByte(sig, '.') >= 0 {
		return "", false
	}
	var want [32]byte
	if n, err := base64.RawURLEncoding.Decode(want[:], sig[:hs256SigChars]); err != nil || n != len(want) {
		return "", false
	}
	var got [sha256.Size]byte
	for _, k := range d.keys {
		h := k.pool.Get().(hash.Hash)
		h.Reset()
		h.Write(signed)
		sum := h.Sum(got[:0])
		k.pool.Put(h)
		if hmac.Equal(sum, want[:]) {
			return k.kind, true
		}
	}
	return "", false
}

package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"testing"
)

func signWith(secret, header, payload string, sum func() []byte) string {
	b64 := base64.RawURLEncoding.EncodeToString
	unsigned := b64([]byte(header)) + "." + b64([]byte(payload))
	if sum != nil {
		return unsigned + "." + b64(sum())
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(unsigned))
	return unsigned + "." + b64(m.Sum(nil))
}

// TestCredentialDetector: a JWT is a Metabase credential exactly when its
// HS256 signature verifies with one of the two secrets, as Metabase checks
// it (whatever the header's alg says).
func TestCredentialDetector(t *testing.T) {
	const embed, sso = "embed-secret-0123456789abcdef", "sso-secret-0123456789abcdef"
	const hdr, payload = `{"alg":"HS256","typ":"JWT"}`, `{"resource":{"dashboard":1},"params":{"organization_id":"globex"}}`
	d := NewCredentialDetector(embed, sso)
	embedTok := signWith(embed, hdr, payload, nil)
	hs512 := func() []byte {
		m := hmac.New(sha512.New, []byte(embed))
		m.Write([]byte(embedTok[:len(embedTok)-44]))
		return m.Sum(nil)
	}
	tests := []struct {
		name, tok, kind string
	}{
		{"embedding secret", embedTok, CredentialEmbed},
		{"SSO secret", signWith(sso, hdr, `{"email":"a@b.c"}`, nil), CredentialSSO},
		{"header says HS512, HS256 signature (Metabase accepts it)", signWith(embed, `{"alg":"HS512"}`, payload, nil), CredentialEmbed},
		{"junk glued after the signature", embedTok + "AAAA", CredentialEmbed},
		{"padded signature", embedTok + "=", CredentialEmbed},
		{"another secret", signWith("not-metabase", hdr, payload, nil), ""},
		{"a real HS512 signature", signWith(embed, hdr, payload, hs512), ""},
		{"signature cut short", embedTok[:len(embedTok)-1], ""},
		{"payload changed", embedTok[:40] + "x" + embedTok[41:], ""},
		{"two segments", embedTok[:len(embedTok)-44], ""},
		{"four segments", embedTok[:30] + "." + embedTok[30:], ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind, ok := d.Verify([]byte(tt.tok))
			if kind != tt.kind || ok != (tt.kind != "") {
				t.Errorf("Verify = %q %v, want %q", kind, ok, tt.kind)
			}
		})
	}
	if _, ok := NewCredentialDetector(embed, "").Verify([]byte(signWith(sso, hdr, payload, nil))); ok {
		t.Error("SSO off: a token signed with the SSO secret verified")
	}
	var none *CredentialDetector
	if _, ok := none.Verify([]byte(embedTok)); ok {
		t.Error("nil detector verified a token")
	}
}

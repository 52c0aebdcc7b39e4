package auth

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSealerRoundTripAndRefusals(t *testing.T) {
	const k1, k2 = "seal-key-one-0123456789abcdef0123456789", "seal-key-two-0123456789abcdef0123456789"
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	old, err := NewSealer([]string{k1}, clock)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := NewSealer([]string{k2, k1}, clock)
	if err != nil {
		t.Fatal(err)
	}
	sess := SSOSession{Key: "3f1b5b4e-6a7c-4d2e-9f00-123456789abc", Tenant: "acme", Subject: "alice", Email: "alice+acme@tenantgate.invalid",
		IssuedAt: now.Unix(), ExpiresAt: now.Add(time.Hour).Unix()}
	sealed, err := old.SealSession(SealCookie, sess)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, sess.Key) || strings.Contains(sealed, "acme") {
		t.Fatal("the sealed value shows its contents")
	}
	// The old key still opens after a rotation; the new one seals.
	got, err := rotated.OpenSession(SealCookie, sealed)
	if err != nil || *got != sess {
		t.Fatalf("open after rotation: %+v, %v", got, err)
	}
	fresh, _ := rotated.SealSession(SealCookie, sess)
	if _, err := old.OpenSession(SealCookie, fresh); !errors.Is(err, ErrSealInvalid) {
		t.Errorf("a key the old sealer lacks: err = %v", err)
	}
	tampered := []byte(sealed)
	tampered[len(tampered)/2] ^= 1
	expired := sess
	expired.ExpiresAt = now.Add(-time.Second).Unix()
	cold, _ := old.SealSession(SealCookie, expired)
	noKey := sess
	noKey.Key = ""
	keyless, _ := old.SealSession(SealCookie, noKey)
	noKey.ID = "0123456789abcdef0123456789abcdef"
	ticket, _ := old.SealSession(SealTicket, noKey)
	noID := noKey
	noID.ID = ""
	idless, _ := old.SealSession(SealTicket, noID)
	// Sealed before the Metabase identity was bound to it (issue 12).
	noEmail := sess
	noEmail.Email = ""
	unbound, _ := old.SealSession(SealCookie, noEmail)
	unboundTicket, _ := old.SealSession(SealTicket, noEmail)
	tests := []struct {
		name, purpose, value string
		want                 error
	}{
		{"another purpose", SealSDK, sealed, ErrSealInvalid},
		{"tampered", SealCookie, string(tampered), ErrSealInvalid},
		{"a raw Metabase session key", SealSDK, sess.Key, ErrSealInvalid},
		{"not base64url", SealCookie, "a.b.c", ErrSealInvalid},
		{"empty", SealCookie, "", ErrSealInvalid},
		{"too long", SealCookie, strings.Repeat("A", 5000), ErrSealInvalid},
		{"expired", SealCookie, cold, ErrSealExpired},
		{"session without a key", SealCookie, keyless, ErrSealInvalid},
		{"ticket without a key", SealTicket, ticket, nil},
		{"ticket without an id (sealed before single use)", SealTicket, idless, ErrSealInvalid},
		{"session without a Metabase identity", SealCookie, unbound, ErrSealInvalid},
		{"ticket without a Metabase identity", SealTicket, unboundTicket, ErrSealInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := old.OpenSession(tt.purpose, tt.value)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := NewSealer(nil, nil); err == nil {
		t.Error("a sealer without keys")
	}
}

func TestSealedValuesDiffer(t *testing.T) {
	s, _ := NewSealer([]string{"seal-key-one-0123456789abcdef0123456789"}, nil)
	a, _ := s.Seal(SealCookie, []byte("x"))
	b, _ := s.Seal(SealCookie, []byte("x"))
	if a == b {
		t.Error("two seals of one value are equal: the nonce is not fresh")
	}
}

// TestSealSizeBoundary: the largest value that seals also opens; one byte
// more is refused by Seal (not sealed, then refused by Open).
func TestSealSizeBoundary(t *testing.T) {
	s, err := NewSealer([]string{"seal-key-0123456789abcdef0123456789abcd"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	largest := (maxSealedBytes*3)/4 - sealKidLen - sealNonceLen - 16 // 16: the GCM tag
	sealed, err := s.Seal("p", bytes.Repeat([]byte("x"), largest))
	if err != nil {
		t.Fatalf("Seal of %d bytes: %v", largest, err)
	}
	if _, err := s.Open("p", sealed); err != nil {
		t.Fatalf("Open of the largest sealed value (%d chars): %v", len(sealed), err)
	}
	if _, err := s.Seal("p", bytes.Repeat([]byte("x"), largest+1)); !errors.Is(err, ErrSealTooLarge) {
		t.Fatalf("Seal of %d bytes: %v, want ErrSealTooLarge", largest+1, err)
	}
}

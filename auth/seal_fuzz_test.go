package auth

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzSealOpen: Open never panics on any input; what was sealed opens to
// the same bytes, also under a keyring that rotated the key to second
// place; it does not open for another purpose; and any single-byte change
// of the sealed value fails (or, where base64url's last character carries
// unused bits, opens to exactly the sealed bytes).
func FuzzSealOpen(f *testing.F) {
	f.Add([]byte(`{"tenant":"acme","sub":"u"}`), "sso-session", "AAAA", 0, byte('x'))
	f.Add([]byte{}, "", "", 5, byte(0))
	f.Add([]byte("x"), "ticket", "a.b.c", 1000, byte('-'))
	old, err := NewSealer([]string{"seal-key-old-0123456789abcdef0123456789"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	rotated, err := NewSealer([]string{"seal-key-new-0123456789abcdef0123456789", "seal-key-old-0123456789abcdef0123456789"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, plaintext []byte, purpose, garbage string, pos int, b byte) {
		_, _ = old.Open(purpose, garbage)
		_, _ = old.OpenSession(purpose, garbage)
		sealed, err := old.Seal(purpose, plaintext)
		if errors.Is(err, ErrSealTooLarge) && len(plaintext) > maxSealedBytes*3/4-sealKidLen-sealNonceLen-16 {
			return // refused at Seal rather than sealed and then refused by Open
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []*Sealer{old, rotated} {
			got, err := s.Open(purpose, sealed)
			if err != nil || !bytes.Equal(got, plaintext) {
				t.Fatalf("Open(Seal(%q)) = %q, %v", plaintext, got, err)
			}
		}
		if _, err := old.Open(purpose+"x", sealed); err == nil {
			t.Fatalf("opened for another purpose")
		}
		if pos < 0 {
			pos = -pos
		}
		i := pos % len(sealed)
		if pos < 0 || sealed[i] == b {
			return
		}
		mutated := sealed[:i] + string([]byte{b}) + sealed[i+1:]
		if got, err := old.Open(purpose, mutated); err == nil && !bytes.Equal(got, plaintext) {
			t.Fatalf("a one-byte change opened to other bytes: %q", got)
		}
	})
}

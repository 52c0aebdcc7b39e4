package policy

import (
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/internal/bytescan"
)

// checkTokenBytewise is checkToken as it was, one table lookup per byte:
// the reference the eight-at-a-time version must equal.
func checkTokenBytewise(tok string, maxToken int) error {
	if len(tok) > maxToken {
		return ErrTokenTooLong
	}
	var b64 [256]bool
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		b64[c] = true
	}
	dots, start := 0, 0
	for i := 0; i <= len(tok); i++ {
		if i == len(tok) || tok[i] == '.' {
			if i == start {
				return ErrBadToken
			}
			if i < len(tok) {
				dots++
				start = i + 1
			}
			continue
		}
		if !b64[tok[i]] {
			return ErrBadToken
		}
	}
	if dots != 2 {
		return ErrBadToken
	}
	return nil
}

// firstNotPlainBytewise is firstNotPlain as it was.
func firstNotPlainBytewise(s string) int {
	for i := 0; i < len(s); i++ {
		if pathClass[s[i]] != bytePlain {
			return i
		}
	}
	return -1
}

// TestPathClassMatchesScan: the eight-at-a-time class is pathClass's plain
// class, byte for byte.
func TestPathClassMatchesScan(t *testing.T) {
	for c := 0; c < 256; c++ {
		if (pathClass[c] == bytePlain) != (bytescan.PathPlain[c] == 1) {
			t.Errorf("byte %#x: pathClass plain %v, bytescan %v", c, pathClass[c] == bytePlain, bytescan.PathPlain[c])
		}
	}
}

var scanSeeds = []string{"", ".", "..", "a.b.c", ".a.b", "a.b.", "a..b", "a.b.c.d", "a.b.c=", "abcdefgh.ijklmnop.qrstuvwx",
	"eyJhbGciOiJIUzI1NiJ9.eyJyZXNvdXJjZSI6eyJkYXNoYm9hcmQiOjF9fQ.c2lnbmF0dXJlLWhlcmUtMTIzNDU2Nzg",
	"/api/embed/dashboard/x.y.z/dashcard/1/card/2", "/app/..;/api", "abcdefg\x80.b.c", "aaaaaaaa.bbbbbbb/.cccccccc",
	strings.Repeat("A", 40) + "." + strings.Repeat("-", 9) + "." + strings.Repeat("_", 17)}

// TestTokenAndPathScansMatchBytewise: every byte at every position of a
// token, and the seeds above, give the old answers.
func TestTokenAndPathScansMatchBytewise(t *testing.T) {
	base := "abcdefghij.klmnopqrstu.vwxyz0189"
	for pos := 0; pos < len(base); pos++ {
		for c := 0; c < 256; c++ {
			b := []byte(base)
			b[pos] = byte(c)
			compareScans(t, string(b))
		}
	}
	for _, s := range scanSeeds {
		compareScans(t, s)
	}
}

func compareScans(t *testing.T, s string) {
	t.Helper()
	if got, want := checkToken(s, 100), checkTokenBytewise(s, 100); got != want {
		t.Fatalf("checkToken(%q) = %v, byte by byte %v", s, got, want)
	}
	if got, want := firstNotPlain(s), firstNotPlainBytewise(s); got != want {
		t.Fatalf("firstNotPlain(%q) = %d, byte by byte %d", s, got, want)
	}
}

// FuzzScansMatchBytewise: for any string, checkToken and firstNotPlain
// answer what their byte-by-byte versions answer.
func FuzzScansMatchBytewise(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { compareScans(t, s) })
}

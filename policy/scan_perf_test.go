package policy

import (
	"errors"
	"reflect"
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
	everyByteAt("abcdefghij.klmnopqrstu.vwxyz0189", func(s string) { compareScans(t, s) })
	for _, s := range scanSeeds {
		compareScans(t, s)
	}
}

func compareScans(t *testing.T, s string) {
	t.Helper()
	if got, want := checkToken(s, 100, false), checkTokenBytewise(s, 100); got != want {
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

// compareScanned: what the scan lets Clean and Forwardable skip changes no
// answer. The scanned path gives the answers of the same path with its
// scan forgotten (plain false: every byte check run), for the whole path
// and below a prefix.
func compareScanned(t *testing.T, s, prefix string) {
	t.Helper()
	sp, unscanned := ScanPath(s), ScannedPath{s: s}
	if got, want := sp.Clean(prefix), unscanned.Clean(prefix); got != want {
		t.Fatalf("ScanPath(%q).Clean(%q) = %v, unscanned %v", s, prefix, got, want)
	}
	for _, p := range []ScannedPath{sp, sp.TrimPrefix(prefix)} {
		got, gerr := p.Forwardable(64)
		want, werr := ScannedPath{s: p.String()}.Forwardable(64)
		if !reflect.DeepEqual(got, want) || !errors.Is(gerr, werr) && gerr != werr {
			t.Fatalf("ScanPath(%q).Forwardable = %+v, %v; unscanned %+v, %v", p.String(), got, gerr, want, werr)
		}
	}
}

// TestScannedPathSkipsOnlyWhatScanImplies: every byte at every position
// of an embed path (the token's bytes and the separators) gives the same
// answers scanned and unscanned.
func TestScannedPathSkipsOnlyWhatScanImplies(t *testing.T) {
	everyByteAt("/t/api/embed/dashboard/abcdefghij.klmnopqrstu.vwxyz0189/dashcard/1/card/2", func(s string) {
		compareScanned(t, s, "/t")
		compareScanned(t, s[2:], "")
	})
	for _, s := range scanSeeds {
		compareScanned(t, s, "")
	}
}

// FuzzScannedPath: for any path and prefix, the scanned path answers as
// the unscanned one.
func FuzzScannedPath(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add(s, "")
	}
	f.Add("/t/embed/question/a.b.c.csv", "/t")
	f.Fuzz(func(t *testing.T, s, prefix string) { compareScanned(t, s, prefix) })
}

// everyByteAt calls f with base changed at one position to one byte, for
// every position and every byte value.
func everyByteAt(base string, f func(string)) {
	for pos := 0; pos < len(base); pos++ {
		for c := 0; c < 256; c++ {
			b := []byte(base)
			b[pos] = byte(c)
			f(string(b))
		}
	}
}

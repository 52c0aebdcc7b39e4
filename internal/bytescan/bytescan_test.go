package bytescan

import (
	"strings"
	"testing"
)

// The byte-by-byte versions the eight-at-a-time ones must equal.
func refIndex(s string, t *[256]uint8) int {
	for i := 0; i < len(s); i++ {
		if t[s[i]] == 0 {
			return i
		}
	}
	return -1
}

func refAll(s string, t *[256]uint8) bool { return refIndex(s, t) < 0 }

func checkAll(t *testing.T, s string) {
	t.Helper()
	if got, want := IndexNotPathPlain(s), refIndex(s, &PathPlain); got != want {
		t.Fatalf("IndexNotPathPlain(%q) = %d, want %d", s, got, want)
	}
	if got, want := IsURLPlain(s), refAll(s, &URLPlain); got != want {
		t.Fatalf("IsURLPlain(%q) = %v, want %v", s, got, want)
	}
	if got, want := IsTokenBytes(s), refAll(s, &TokenBytes); got != want {
		t.Fatalf("IsTokenBytes(%q) = %v, want %v", s, got, want)
	}
	if got, want := IsCookieOctets(s), refAll(s, &CookieOctets); got != want {
		t.Fatalf("IsCookieOctets(%q) = %v, want %v", s, got, want)
	}
}

// TestEveryByteEveryPosition: each of the 256 byte values at each position
// of a 17-byte string (two words and a tail) of each class's plain bytes,
// alone and next to a byte of 0x80 or more.
func TestEveryByteEveryPosition(t *testing.T) {
	for _, base := range []string{"abcdefghijklmnopq", "ABCXYZ0189_-.azAZ", "Zz09-_.Zz09-_.Zz0", "!#$%&'()*+-./:<=>"} {
		for pos := 0; pos < len(base); pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(base)
				b[pos] = byte(c)
				checkAll(t, string(b))
				if pos > 0 {
					b[pos-1] = 0xff
					checkAll(t, string(b))
					b[pos-1] = 0x80
					checkAll(t, string(b))
				}
			}
		}
	}
}

func TestTable(t *testing.T) {
	for _, s := range []string{"", "/", "/api/embed/dashboard/eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2ln/dashcard/1/card/2",
		"/app/..;/api", strings.Repeat("a", 64) + "\x00", strings.Repeat("~", 9), "a.b.c", "session=x",
		"é", strings.Repeat("\x7f", 8), strings.Repeat("\x40", 8), strings.Repeat("[`{", 5)} {
		checkAll(t, s)
	}
}

// FuzzEquivalence: for any string, each eight-at-a-time scan answers what
// its byte-by-byte table lookup answers.
func FuzzEquivalence(f *testing.F) {
	for _, s := range []string{"", "/api/embed/card/a.b.c/query", "abcdefgh\x80ijklmnop", "aaaaaaa;aaaaaaaa", "\xffAAAAAAAAAAAAAAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkAll(t, s) })
}

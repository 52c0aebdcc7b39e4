// Package swar checks bytes of a string against a small ASCII class eight
// at a time (SIMD within a register), for the scans the gate runs over
// every request: the path, the embed token, the session cookie. Each
// function is exactly its byte-by-byte table lookup (the tests compare them
// on every byte at every position); only the speed differs: a 300-byte
// token is 38 word steps instead of 300 table lookups.
//
// Each lane's test is exact only for an ASCII byte: a byte of 0x80 or more
// may carry into the next lane, but it also fails the ASCII test itself, so
// the word fails as it must, and the caller's answer for it comes from the
// byte loop.
package swar

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// load reads s[i:i+8] as a little-endian word; the compiler makes it one
// 8-byte load.
func load(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// between sets the high bit of each ASCII lane of w in [lo, hi].
func between(w uint64, lo, hi byte) uint64 {
	ge := w + ones*uint64(0x80-lo)    // high bit set iff byte >= lo
	le := ^(w + ones*uint64(0x7f-hi)) // high bit set iff byte <= hi
	return ge & le & high
}

// equal sets the high bit of each ASCII lane of w that is c.
func equal(w uint64, c byte) uint64 {
	return ^((w ^ ones*uint64(c)) + ones*0x7f) & high
}

// alnum sets the high bit of each ASCII lane of w in [A-Za-z0-9].
func alnum(w uint64) uint64 {
	return between(w|ones*0x20, 'a', 'z') | between(w, '0', '9')
}

// PathPlain marks [A-Za-z0-9_.-/]: the bytes any path may hold.
var PathPlain = class("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/")

// URLPlain marks the unreserved bytes and "/": a path made of them is its
// own escaped form.
var URLPlain = class("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~/")

// TokenBytes marks unpadded base64url and ".": the bytes of a compact JWS.
var TokenBytes = class("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")

// CookieOctets marks RFC 6265's cookie-octet: 0x21 to 0x7e but '"', ',',
// ';' and '\\'.
var CookieOctets = func() (t [256]bool) {
	for b := 0x21; b < 0x7f; b++ {
		t[b] = b != '"' && b != ',' && b != ';' && b != '\\'
	}
	return t
}()

func class(bytes string) (t [256]bool) {
	for i := 0; i < len(bytes); i++ {
		t[bytes[i]] = true
	}
	return t
}

// IndexNotPathPlain is the index of the first byte of s outside
// PathPlain, or -1.
func IndexNotPathPlain(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := load(s, i)
		ok := (alnum(w) | between(w, '-', '/') | equal(w, '_')) &^ w
		if ok != high {
			break
		}
	}
	for ; i < len(s); i++ {
		if !PathPlain[s[i]] {
			return i
		}
	}
	return -1
}

// IsURLPlain reports whether every byte of s is in URLPlain.
func IsURLPlain(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := load(s, i)
		if (alnum(w)|between(w, '-', '/')|equal(w, '_')|equal(w, '~'))&^w != high {
			return false
		}
	}
	for ; i < len(s); i++ {
		if !URLPlain[s[i]] {
			return false
		}
	}
	return true
}

// IsTokenBytes reports whether every byte of s is in TokenBytes.
func IsTokenBytes(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := load(s, i)
		if (alnum(w)|between(w, '-', '.')|equal(w, '_'))&^w != high {
			return false
		}
	}
	for ; i < len(s); i++ {
		if !TokenBytes[s[i]] {
			return false
		}
	}
	return true
}

// IsCookieOctets reports whether every byte of s is a cookie-octet.
func IsCookieOctets(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := load(s, i)
		bad := equal(w, '"') | equal(w, ',') | equal(w, ';') | equal(w, '\\')
		if between(w, 0x21, 0x7e)&^bad&^w != high {
			return false
		}
	}
	for ; i < len(s); i++ {
		if !CookieOctets[s[i]] {
			return false
		}
	}
	return true
}

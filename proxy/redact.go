package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// redactPath makes a path safe to log: any segment that may be a token, a
// public-link UUID or a key becomes "~" and a short hash of it, so two log
// lines about the same handle can still be matched. A path with nothing
// to redact is returned as is, without allocating.
func redactPath(p string) string {
	var b strings.Builder
	last := 0 // p[:last] is already in b (or needs no change)
	for start := 0; start <= len(p); {
		end := strings.IndexByte(p[start:], '/')
		if end < 0 {
			end = len(p)
		} else {
			end += start
		}
		if seg := p[start:end]; secretLike(seg) {
			if last == 0 {
				b.Grow(start + 9 + len(p) - end) // exact for one secret segment, the usual case
			}
			b.WriteString(p[last:start])
			b.WriteByte('~')
			if jwsTail(seg) {
				// A JWS: the tail of its signature names it without a hash,
				// and reveals nothing that would rebuild the token.
				b.WriteString(seg[len(seg)-8:])
			} else {
				sum := sha256.Sum256([]byte(seg))
				b.WriteString(hex.EncodeToString(sum[:4]))
			}
			last = end
		}
		start = end + 1
	}
	if last == 0 {
		return p
	}
	b.WriteString(p[last:])
	return b.String()
}

func secretLike(seg string) bool {
	return len(seg) >= 20 || strings.Count(seg, ".") >= 2
}

// jwsTail reports whether seg has two dots or more and none in its last 16
// bytes (a JWS's signature is longer): its last 8 bytes may name it in the
// log. The same as Count(seg, ".") >= 2 && len(seg)-LastIndexByte(seg, '.')
// > 16 (TestJWSTail), with vectorised IndexByte calls instead of a
// byte-by-byte search back from the end.
func jwsTail(seg string) bool {
	if len(seg) <= 16 {
		return false
	}
	head := seg[:len(seg)-16]
	if strings.IndexByte(seg[len(head):], '.') >= 0 {
		return false
	}
	i := strings.IndexByte(head, '.')
	return i >= 0 && strings.IndexByte(head[i+1:], '.') >= 0
}

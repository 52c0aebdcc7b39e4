package proxy

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// redactPath makes a path safe to log: any segment that may be a token, a
// public-link UUID or a key becomes "~" and a short hash of it, so two log
// lines about the same handle can still be matched.
func redactPath(p string) string {
	if !strings.Contains(p, ".") && len(p) < 64 {
		quick := true
		for _, seg := range strings.Split(p, "/") {
			if len(seg) >= 20 {
				quick = false
				break
			}
		}
		if quick {
			return p
		}
	}
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if len(seg) >= 20 || strings.Count(seg, ".") >= 2 {
			sum := sha256.Sum256([]byte(seg))
			segs[i] = "~" + hex.EncodeToString(sum[:4])
		}
	}
	return strings.Join(segs, "/")
}

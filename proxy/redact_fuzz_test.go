package proxy

import (
	"strings"
	"testing"
)

// FuzzRedactPath: whatever the path, the redacted form has the same
// segments in the same places, each either unchanged and not token-like,
// or "~" and 8 characters (a hash, or the tail of a JWS signature, never
// its header or payload); no token-like segment of the input survives.
func FuzzRedactPath(f *testing.F) {
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJyZXNvdXJjZSI6e30.c2ln"
	for _, s := range []string{
		"", "/", "//", "/app/dist/app.js", "/a.b.c", "/a.b", "/embed/question/" + tok + ".csv",
		"/api/embed/dashboard/" + tok + "/dashcard/11/card/1",
		"/api/embed/dashboard/abc%2Fdef.ghi.jkl", "/api/embed/dashboard/a%00.b.c", "/api/embed/../public/card/abc",
		"/public/dashboard/9a1b2c3d-0000-4000-8000-000000000000", "/api/embed/dashboard\\..\\..\\api\\setup",
		"/~0123abcd/x", "/" + strings.Repeat("a", 5000) + ".b.c", "/api/geojson?url=file:///etc/passwd",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := redactPath(p)
		in, out := strings.Split(p, "/"), strings.Split(got, "/")
		if len(in) != len(out) {
			t.Fatalf("redactPath(%q) = %q: %d segments, want %d", p, got, len(out), len(in))
		}
		for i, seg := range in {
			switch {
			case secretLike(seg):
				if !isRedaction(seg, out[i]) {
					t.Fatalf("redactPath(%q) = %q: segment %d (%q) kept as %q", p, got, i, seg, out[i])
				}
			case out[i] != seg:
				t.Fatalf("redactPath(%q) = %q: plain segment %q became %q", p, got, seg, out[i])
			}
			if secretLike(out[i]) {
				t.Fatalf("redactPath(%q) = %q: segment %q is still token-like", p, got, out[i])
			}
		}
	})
}

func isRedaction(seg, s string) bool {
	if len(s) != 9 || s[0] != '~' {
		return false
	}
	if i := strings.LastIndexByte(seg, '.'); i >= 0 && strings.Count(seg, ".") >= 2 && len(seg)-i > 16 && s[1:] == seg[len(seg)-8:] {
		return true // the signature's tail: 8 of at least 16 characters after the last dot
	}
	for _, c := range s[1:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

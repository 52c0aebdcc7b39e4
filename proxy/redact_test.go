package proxy

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var hashes = regexp.MustCompile(`~[0-9a-zA-Z_-]{8}`)

func TestRedactPath(t *testing.T) {
	tok := "eyJhbGciOiJIUzI1NiJ9.eyJyZXNvdXJjZSI6e30.c2ln"
	tests := []struct{ in, want string }{
		{"/app/dist/app.js", "/app/dist/app.js"},
		{"/api/embed/dashboard/" + tok + "/dashcard/1/card/2", "/api/embed/dashboard/~" + "HASH" + "/dashcard/1/card/2"},
		{"/public/dashboard/9a1b2c3d-0000-4000-8000-000000000000", "/public/dashboard/~HASH"},
		{"/embed/question/" + tok + ".csv", "/embed/question/~HASH"},
		{"/a.b.c", "/~HASH"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got := redactPath(tt.in)
			if strings.Contains(got, tok) || strings.Contains(got, "9a1b2c3d") {
				t.Fatalf("redactPath(%q) = %q leaks the token", tt.in, got)
			}
			if norm := hashes.ReplaceAllString(got, "~HASH"); norm != tt.want {
				t.Errorf("redactPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if n := testing.AllocsPerRun(100, func() { redactPath("/app/dist/app.js") }); n != 0 {
		t.Errorf("redactPath of a clean path allocates %v times", n)
	}
}

// TestURLEscapedPath: the fast path gives what url.URL.EscapedPath gives.
func TestURLEscapedPath(t *testing.T) {
	for _, raw := range []string{
		"/api/embed/dashboard/eyJhbGciOiJIUzI1NiJ9.eyJyIjoxfQ.c2ln-_x/dashcard/1/card/2",
		"/a b", "/a%20b", "/a%2fb", "/é", "/a;b", "/a:b@c", "/~x/.y", "/", "", "/a?b", "/%41",
		"/app/dist/main.4f2a.js", "/a+b", "/a$b&c=d", "/a'b", "/a\"b", "/a\\b", "/a%zz",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			continue
		}
		if got, want := urlEscapedPath(u), u.EscapedPath(); got != want {
			t.Errorf("%q: urlEscapedPath = %q, EscapedPath = %q", raw, got, want)
		}
		u2 := &url.URL{Path: u.Path} // no RawPath: the fast path's case
		if got, want := urlEscapedPath(u2), u2.EscapedPath(); got != want {
			t.Errorf("Path %q: urlEscapedPath = %q, EscapedPath = %q", u.Path, got, want)
		}
	}
}

// jwsTailSpelledOut is jwsTail's definition, the reference.
func jwsTailSpelledOut(seg string) bool {
	i := strings.LastIndexByte(seg, '.')
	return strings.Count(seg, ".") >= 2 && len(seg)-i > 16
}

// TestJWSTail: jwsTail is its definition for dots at every position of
// segments around the 16-byte boundary, and FuzzJWSTail for any segment.
func TestJWSTail(t *testing.T) {
	for n := 0; n < 40; n++ {
		for i := -1; i < n; i++ {
			for j := -1; j < n; j++ {
				b := []byte(strings.Repeat("a", n))
				if i >= 0 {
					b[i] = '.'
				}
				if j >= 0 {
					b[j] = '.'
				}
				if got, want := jwsTail(string(b)), jwsTailSpelledOut(string(b)); got != want {
					t.Fatalf("jwsTail(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func FuzzJWSTail(f *testing.F) {
	f.Add("a.b.cccccccccccccccccc")
	f.Add("a.b.ccccccccccccccc.")
	f.Fuzz(func(t *testing.T, seg string) {
		if got, want := jwsTail(seg), jwsTailSpelledOut(seg); got != want {
			t.Fatalf("jwsTail(%q) = %v, want %v", seg, got, want)
		}
	})
}

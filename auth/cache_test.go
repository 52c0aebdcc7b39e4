package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// TestSessionCacheKeyedByTokenCopy: the session cache is keyed by the
// token itself (no SHA-256 per request: the declaration below stops
// compiling if it goes back to a hash), holds a copy rather than a slice
// of the request's header, and still expires at the token's exp.
func TestSessionCacheKeyedByTokenCopy(t *testing.T) {
	clock := newFakeClock()
	a := newHSAuth(t, clock, nil)
	var _ *identityCache[string] = a.cache
	c := claimsAt(clock.Now())
	c["exp"] = clock.Now().Add(time.Minute).Unix()
	tok := signHS(t, jwt.SigningMethodHS256, []byte(newSecret), c, nil)
	r, _ := http.NewRequest("GET", "/", nil)
	header := "theme=dark; session=" + tok + "; other=1"
	r.Header.Set("Cookie", header)
	if _, err := a.Authenticate(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	keys := a.cache.lru.Keys()
	if len(keys) != 1 || keys[0] != tok {
		t.Fatalf("cache keys = %q, want the token alone", keys)
	}
	start := uintptr(unsafe.Pointer(unsafe.StringData(header)))
	if p := uintptr(unsafe.Pointer(unsafe.StringData(keys[0]))); p >= start && p < start+uintptr(len(header)) {
		t.Errorf("the cache key points into the request's Cookie header: it must be a copy")
	}
	if _, err := a.Authenticate(context.Background(), r); err != nil || a.verifications.Load() != 1 {
		t.Errorf("second request: err %v, %d verifications, want nil and 1 (from cache)", err, a.verifications.Load())
	}
	clock.Advance(time.Minute + time.Second)
	if _, ok := a.cache.get(tok, clock.Now()); ok {
		t.Errorf("the cache answered past the token's exp")
	}
}

// TestSessionCacheSkipsLargeTokens: a token over maxCachedTokenBytes is
// verified on every request and never kept, so the cache's memory is
// bounded by cache_size × maxCachedTokenBytes.
func TestSessionCacheSkipsLargeTokens(t *testing.T) {
	clock := newFakeClock()
	a := newHSAuth(t, clock, nil)
	c := claimsAt(clock.Now())
	c["pad"] = strings.Repeat("p", maxCachedTokenBytes)
	tok := signHS(t, jwt.SigningMethodHS256, []byte(newSecret), c, nil)
	for range 2 {
		if _, err := a.Authenticate(context.Background(), bearerRequest(tok)); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.verifications.Load(); got != 2 || a.cache.lru.Len() != 0 {
		t.Errorf("large token: %d verifications, %d cached, want 2 and 0", got, a.cache.lru.Len())
	}
}

// TestSessionCacheBounded: the cache holds at most cache_size tokens.
func TestSessionCacheBounded(t *testing.T) {
	c, err := newIdentityCache[string](3)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		c.add(k, &Identity{}, now.Add(time.Hour), now)
	}
	if n := c.lru.Len(); n != 3 {
		t.Errorf("cache holds %d entries, want 3", n)
	}
	if _, ok := c.get("a", now); ok {
		t.Errorf("the oldest entry survived past the bound")
	}
}

// TestCookieOctetsMatchBytewise: the eight-at-a-time cookie check is RFC
// 6265's cookie-octet set, byte by byte, at every position.
func TestCookieOctetsMatchBytewise(t *testing.T) {
	octet := func(b byte) bool { return b >= 0x21 && b < 0x7f && b != '"' && b != ',' && b != ';' && b != '\\' }
	base := "eyJhbGciOiJIUzI1NiJ9.eyJ4Ijox"
	for pos := 0; pos < len(base); pos++ {
		for c := 0; c < 256; c++ {
			b := []byte(base)
			b[pos] = byte(c)
			if got, want := isCookieOctets(string(b)), octet(byte(c)); got != want {
				t.Fatalf("isCookieOctets(%q) = %v, want %v", b, got, want)
			}
		}
	}
}

// TestCachedCookieAnswersAsCookieValue: asking the cache first changes no
// answer. With several session cookies, the identity is the first
// well-formed value's, cached or not: a cached value after an uncached
// well-formed one is not taken; one after malformed values is; a cached
// token quoted is the same token; a bearer token never stands in for a
// cookie's.
func TestCachedCookieAnswersAsCookieValue(t *testing.T) {
	clock := newFakeClock()
	a := newHSAuth(t, clock, nil)
	token := func(sub, tenant string) string {
		c := claimsAt(clock.Now())
		c["sub"], c[testTenantClaim] = sub, tenant
		return signHS(t, jwt.SigningMethodHS256, []byte(newSecret), c, nil)
	}
	cached, fresh := token("cached", "acme"), token("fresh", "globex")
	if _, err := a.Authenticate(context.Background(), bearerRequest(cached)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, cookie, bearer string
		want                 string // tenant, or "" for an error
		verified             bool   // a verification was needed
	}{
		{"cached alone", "session=" + cached, "", "acme", false},
		{"uncached first", "session=" + fresh + "; session=" + cached, "", "globex", true},
		{"malformed first", "session=a\\b; session=" + cached, "", "acme", false},
		{"empty and malformed first", `session=; session="a,b"; session=` + cached, "", "acme", false},
		{"quoted", `session="` + cached + `"`, "", "acme", false},
		{"other name", "sessionx=" + cached + "; session=" + fresh, "", "globex", true},
		{"cookie beats bearer", "session=" + fresh, cached, "globex", true},
		{"malformed only, bearer cached", "session=a\\b", cached, "acme", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.cache.lru.Remove(fresh)
			r, _ := http.NewRequest("GET", "/", nil)
			r.Header.Set("Cookie", tc.cookie)
			if tc.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+tc.bearer)
			}
			before := a.verifications.Load()
			id, err := a.Authenticate(context.Background(), r)
			if err != nil || id.Tenant != tc.want {
				t.Fatalf("Authenticate = %+v, %v; want tenant %q", id, err, tc.want)
			}
			if got := a.verifications.Load() > before; got != tc.verified {
				t.Errorf("verified = %v, want %v", got, tc.verified)
			}
		})
	}
}

package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	hkey1 = "handle-key-one-0123456789abcdef0123456789"
	hkey2 = "handle-key-two-0123456789abcdef0123456789"
	mbKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestHandleSealOpen(t *testing.T) {
	c := &clock{time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	k, err := NewHandleKeyring([]string{hkey1}, 10*time.Minute, 100, c.now)
	if err != nil {
		t.Fatal(err)
	}
	res := Resource{Kind: KindDashboard, ID: 42}
	h, exp, err := k.Seal(res, map[string]any{"organization_id": "acme"}, "acme", "user-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := c.t.Add(10 * time.Minute); !exp.Equal(want) {
		t.Errorf("exp = %v, want %v", exp, want)
	}
	got, err := k.Open(h)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got.Resource != res || got.Tenant != "acme" || got.Params["organization_id"] != "acme" {
		t.Errorf("Open = %+v", got)
	}
	if !k.SubjectMatches(got, "user-1") || k.SubjectMatches(got, "user-2") {
		t.Errorf("SubjectMatches wrong")
	}
	if strings.Contains(h, "user-1") {
		t.Errorf("handle reveals the subject")
	}

	t.Run("rotation: old handles open under the new keyring", func(t *testing.T) {
		k2, _ := NewHandleKeyring([]string{hkey2, hkey1}, 10*time.Minute, 100, c.now)
		got, err := k2.Open(h)
		if err != nil || !k2.SubjectMatches(got, "user-1") {
			t.Fatalf("Open old handle after rotation: %v", err)
		}
		h2, _, _ := k2.Seal(res, map[string]any{"organization_id": "acme"}, "acme", "user-1")
		if _, err := k.Open(h2); !errors.Is(err, ErrHandleInvalid) {
			t.Errorf("old keyring opened a new-key handle: %v", err)
		}
		k3, _ := NewHandleKeyring([]string{hkey2}, 10*time.Minute, 100, c.now)
		if _, err := k3.Open(h); !errors.Is(err, ErrHandleInvalid) {
			t.Errorf("retired key still opens: %v", err)
		}
	})

	t.Run("expired handle returns claims and ErrHandleExpired", func(t *testing.T) {
		c2 := &clock{c.t}
		k4, _ := NewHandleKeyring([]string{hkey1}, 10*time.Minute, 100, c2.now)
		h4, _, _ := k4.Seal(res, map[string]any{"organization_id": "acme"}, "acme", "user-1")
		if _, err := k4.Open(h4); err != nil {
			t.Fatal(err)
		}
		c2.t = c2.t.Add(11 * time.Minute) // cached entry must expire too
		got, err := k4.Open(h4)
		if !errors.Is(err, ErrHandleExpired) || got == nil || got.Tenant != "acme" {
			t.Fatalf("Open expired = %v, %v", got, err)
		}
		k5, _ := NewHandleKeyring([]string{hkey1}, 10*time.Minute, 100, c2.now)
		if got, err := k5.Open(h4); !errors.Is(err, ErrHandleExpired) || got == nil {
			t.Fatalf("Open expired uncached = %v, %v", got, err)
		}
	})
}

func TestHandleForgeries(t *testing.T) {
	c := &clock{time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	k, _ := NewHandleKeyring([]string{hkey1}, 10*time.Minute, 100, c.now)
	good, _, _ := k.Seal(Resource{Kind: KindDashboard, ID: 1}, map[string]any{"organization_id": "acme"}, "acme", "u")
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tampered := strings.Replace(string(payload), `"acme"`, `"globex"`, -1)
	hdr := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	signer, _ := NewEmbedSigner(mbKey, 10*time.Minute, 10, c.now)
	mbTok, _, _ := signer.Sign(Resource{Kind: KindDashboard, ID: 1}, map[string]any{"organization_id": "acme"})
	hs512 := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"aud": handleAudience, "exp": c.t.Add(time.Minute).Unix()})
	hs512.Header["kid"] = k.keys[0].kid
	hs512s, _ := hs512.SignedString([]byte(hkey1))
	tests := []struct{ name, handle string }{
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tampered)) + "." + parts[2]},
		{"alg none", hdr(`{"alg":"none","kid":"`+k.keys[0].kid+`"}`) + "." + parts[1] + "."},
		{"unknown kid", hdr(`{"alg":"HS256","typ":"JWT","kid":"nope"}`) + "." + parts[1] + "." + parts[2]},
		{"Metabase token is not a handle", mbTok},
		{"HS512", hs512s},
		{"garbage", "a.b.c"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := k.Open(tt.handle); !errors.Is(err, ErrHandleInvalid) {
				t.Errorf("Open = %+v, %v; want ErrHandleInvalid", got, err)
			}
		})
	}
}

func TestEmbedSigner(t *testing.T) {
	c := &clock{time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	s, err := NewEmbedSigner(mbKey, 10*time.Minute, 10, c.now)
	if err != nil {
		t.Fatal(err)
	}
	res := Resource{Kind: KindDashboard, ID: 42}
	tok, fresh, err := s.Sign(res, map[string]any{"organization_id": "acme"})
	if err != nil || !fresh {
		t.Fatalf("Sign = %v, %v", fresh, err)
	}
	// Metabase verifies HS256 over the UTF-8 bytes of the hex string.
	parsed, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte(mbKey), nil }, jwt.WithTimeFunc(c.now))
	if err != nil {
		t.Fatalf("token does not verify with the hex string's bytes: %v", err)
	}
	claims := parsed.Claims.(jwt.MapClaims)
	b, _ := json.Marshal(claims)
	if want := `{"exp":1795695000,"params":{"organization_id":"acme"},"resource":{"dashboard":42}}`; string(b) != want {
		t.Errorf("claims = %s, want %s", b, want)
	}
	if tok2, fresh, _ := s.Sign(res, map[string]any{"organization_id": "acme"}); tok2 != tok || fresh {
		t.Errorf("second Sign was not served from cache")
	}
	if tok3, _, _ := s.Sign(res, map[string]any{"organization_id": "globex"}); tok3 == tok {
		t.Errorf("different params gave the same token")
	}
	c.t = c.t.Add(6 * time.Minute) // past half life: a fresh token
	if tok4, fresh, _ := s.Sign(res, map[string]any{"organization_id": "acme"}); tok4 == tok || !fresh {
		t.Errorf("token reused past half its lifetime")
	}
}

func TestEmbedSignerVerify(t *testing.T) {
	c := &clock{time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	s, _ := NewEmbedSigner(mbKey, 10*time.Minute, 10, c.now)
	sign := func(key string, m jwt.MapClaims) string {
		x, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString([]byte(key))
		return x
	}
	exp := c.t.Add(5 * time.Minute).Unix()
	okClaims := func() jwt.MapClaims {
		return jwt.MapClaims{"resource": map[string]any{"dashboard": 1}, "params": map[string]any{"organization_id": "acme"}, "exp": exp}
	}
	tests := []struct {
		name string
		tok  string
		ok   bool
	}{
		{"valid", sign(mbKey, okClaims()), true},
		{"wrong key", sign("x"+mbKey[1:], okClaims()), false},
		{"no exp", sign(mbKey, jwt.MapClaims{"resource": map[string]any{"dashboard": 1}, "params": map[string]any{}}), false},
		{"exp too far", sign(mbKey, jwt.MapClaims{"resource": map[string]any{"dashboard": 1}, "params": map[string]any{}, "exp": c.t.Add(time.Hour).Unix()}), false},
		{"expired", sign(mbKey, jwt.MapClaims{"resource": map[string]any{"dashboard": 1}, "params": map[string]any{}, "exp": c.t.Add(-time.Minute).Unix()}), false},
		{"no params", sign(mbKey, jwt.MapClaims{"resource": map[string]any{"dashboard": 1}, "exp": exp}), false},
		{"two resources", sign(mbKey, jwt.MapClaims{"resource": map[string]any{"dashboard": 1, "question": 2}, "params": map[string]any{}, "exp": exp}), false},
		{"string id", sign(mbKey, jwt.MapClaims{"resource": map[string]any{"dashboard": "1"}, "params": map[string]any{}, "exp": exp}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Verify(tt.tok, 10*time.Minute)
			if (err == nil) != tt.ok {
				t.Errorf("Verify error = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// FuzzHandleOpen: Open never panics, and whatever it accepts was sealed
// by the keyring: any single-byte change of a good handle fails.
func FuzzHandleOpen(f *testing.F) {
	c := &clock{time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	k, _ := NewHandleKeyring([]string{hkey1}, 10*time.Minute, 100, c.now)
	good, _, _ := k.Seal(Resource{Kind: KindDashboard, ID: 1}, map[string]any{"organization_id": "acme"}, "acme", "u")
	f.Add(good, 0, byte('x'))
	f.Add("a.b.c", 1, byte('A'))
	f.Fuzz(func(t *testing.T, h string, pos int, b byte) {
		_, _ = k.Open(h)
		if len(good) == 0 || pos < 0 {
			return
		}
		i := pos % len(good)
		if good[i] == b {
			return
		}
		mutated := good[:i] + string(b) + good[i+1:]
		if got, err := k.Open(mutated); err == nil {
			// base64url's last character can carry unused bits; the
			// claims must still be exactly the sealed ones.
			if got.Tenant != "acme" || got.Resource.ID != 1 || !k.SubjectMatches(got, "u") {
				t.Fatalf("mutated handle opened with other claims: %+v", got)
			}
		}
	})
}

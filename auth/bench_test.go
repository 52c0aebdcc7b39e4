package auth

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// Hot-path benchmarks: opening a handle and re-signing a Metabase token,
// each from its cache (the steady state) and on a miss (a new handle, new
// params). BenchmarkJWTAuthenticateCached (session_test.go) is the session.
//
//	go test -run='^$' -bench='HandleOpen|EmbedSign' -benchmem ./auth/
func BenchmarkHandleOpen(b *testing.B) {
	for _, tc := range []struct {
		name    string
		handles int // distinct handles cycled through
		cache   int
	}{
		{"Cached", 1, 100},
		{"Miss", 64, 1}, // every Open verifies the signature
	} {
		b.Run(tc.name, func(b *testing.B) {
			k, err := NewHandleKeyring([]string{hkey1}, 10*time.Minute, tc.cache, nil)
			if err != nil {
				b.Fatal(err)
			}
			hs := make([]string, tc.handles)
			for i := range hs {
				if hs[i], _, err = k.Seal(Resource{Kind: KindDashboard, ID: 42}, map[string]any{"organization_id": "acme"}, "acme", "user-"+strconv.Itoa(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := k.Open(hs[i%len(hs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkEmbedSign(b *testing.B) {
	for _, tc := range []struct {
		name   string
		params int // distinct param sets cycled through
		cache  int
	}{
		{"Cached", 1, 100},
		{"Miss", 64, 1}, // every Sign signs
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, err := NewEmbedSigner(mbKey, 10*time.Minute, tc.cache, nil)
			if err != nil {
				b.Fatal(err)
			}
			ps := make([]map[string]any, tc.params)
			for i := range ps {
				ps[i] = map[string]any{"organization_id": fmt.Sprintf("tenant-%d", i)}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, _, err := s.Sign(Resource{Kind: KindDashboard, ID: 42}, ps[i%len(ps)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

package proxy

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

const testScanSession = "6f1c2e0a-9b3d-4c5e-8f7a-1b2c3d4e5f60"

func testFinder() credentialFinder {
	return credentialFinder{det: auth.NewCredentialDetector(testMBKey, testSSOSecret), session: []byte(testScanSession)}
}

// chunked yields b in the pieces cut at cuts (ascending offsets in b).
type chunked struct {
	b    []byte
	pos  int
	cuts []int
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.pos == len(c.b) {
		return 0, io.EOF
	}
	end := len(c.b)
	for _, cut := range c.cuts {
		if cut > c.pos {
			end = cut
			break
		}
	}
	n := copy(p, c.b[c.pos:end])
	c.pos += n
	return n, nil
}

// scanAll streams body through a scanner whose source is r.
func scanAll(t *testing.T, r io.Reader, buf int) ([]byte, int) {
	t.Helper()
	s := &credentialScanner{src: io.NopCloser(r), f: testFinder()}
	var out bytes.Buffer
	p := make([]byte, buf)
	for {
		n, err := s.Read(p)
		out.Write(p[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes(), s.removed
}

// TestScannerFindsCredentialsCutAnywhere: a credential cut by a read at any
// offset is still overwritten, whatever the reader's read size; the body
// keeps its length and everything else.
func TestScannerFindsCredentialsCutAnywhere(t *testing.T) {
	foreign := metabasetest.ForeignToken(testMBKey, metabasetest.DashboardOrders, "globex")
	ssoTok := metabasetest.Sign(testSSOSecret, map[string]any{"email": "mallory@example.com", "organization_id": "globex"})
	for _, cred := range []struct{ name, tok string }{{"embed token", foreign}, {"SSO token", ssoTok}, {"session key", testScanSession}} {
		body := []byte(`{"rows":[["ey","e","eyJ.x","` + cred.tok + `"]],"next":"` + cred.tok + `x"}`)
		for cut := 0; cut <= len(body); cut++ {
			for _, buf := range []int{1, 7, 32 << 10} {
				out, removed := scanAll(t, &chunked{b: bytes.Clone(body), cuts: []int{cut}}, buf)
				if bytes.Contains(out, []byte(cred.tok)) || removed != 2 || len(out) != len(body) {
					t.Fatalf("%s cut at %d, reads of %d: removed %d, out %s", cred.name, cut, buf, removed, out)
				}
				if !bytes.HasPrefix(out, []byte(`{"rows":[["ey","e","eyJ.x","xxx`)) {
					t.Fatalf("%s cut at %d: the rest changed: %s", cred.name, cut, out)
				}
			}
		}
		out, removed := scanAll(t, iotest.OneByteReader(bytes.NewReader(body)), 32<<10)
		if bytes.Contains(out, []byte(cred.tok)) || removed != 2 {
			t.Errorf("%s one byte at a time: removed %d, out %s", cred.name, removed, out)
		}
	}
}

// TestScannerLetsOtherBytesThrough: what is not a Metabase credential is
// not touched: a JWT signed with another secret (Metabase refuses it: it is
// data, not a credential), JWT-shaped runs, and a run longer than a token
// can be.
func TestScannerLetsOtherBytesThrough(t *testing.T) {
	other := metabasetest.Sign("not-a-metabase-secret", map[string]any{"resource": map[string]any{"dashboard": 1}, "params": map[string]any{}})
	long := "eyJ" + strings.Repeat("A", maxCredentialRun+10) + ".e30.c2ln"
	for _, body := range []string{
		`{"token":"` + other + `"}`,
		`eyJ eyJhbGciOi. eyJ.a.b ` + strings.Repeat("e", 100),
		long,
		"",
	} {
		out, removed := scanAll(t, &chunked{b: []byte(body), cuts: []int{len(body) / 2}}, 4<<10)
		if string(out) != body || removed != 0 {
			t.Errorf("body %.60q: removed %d, changed: %v", body, removed, string(out) != body)
		}
	}
}

// TestScannerCommonPathAllocatesNothing: a body without "eyJ" goes through
// without an allocation per read.
func TestScannerCommonPathAllocatesNothing(t *testing.T) {
	body := bytes.Repeat([]byte(`{"rows":[["acme",149.9,"2026-01-03T09:12:00Z"]]}`), 600)
	src := bytes.NewReader(body)
	s := &credentialScanner{src: io.NopCloser(src), f: testFinder()}
	p := make([]byte, 32<<10)
	if n := testing.AllocsPerRun(100, func() {
		src.Reset(body)
		s.err = nil
		for {
			if _, err := s.Read(p); err != nil {
				break
			}
		}
	}); n != 0 {
		t.Errorf("allocations per body = %v, want 0", n)
	}
}

// FuzzCredentialScanner: however a body is cut into reads, the scanner
// gives the same bytes as one scan of the whole body, of the same length,
// with no credential left in them.
func FuzzCredentialScanner(f *testing.F) {
	foreign := metabasetest.ForeignToken(testMBKey, metabasetest.DashboardOrders, "globex")
	f.Add([]byte(`{"a":"`+foreign+`"}`), uint16(9), uint16(40))
	f.Add([]byte(`eyJ.`+foreign+testScanSession), uint16(1), uint16(3))
	f.Add([]byte(`plain body, no token`), uint16(0), uint16(5))
	f.Fuzz(func(t *testing.T, body []byte, a, b uint16) {
		if len(body) > 1<<16 {
			return
		}
		whole, _ := scanAll(t, bytes.NewReader(bytes.Clone(body)), len(body)+1)
		cuts := []int{int(a) % (len(body) + 1), int(b) % (len(body) + 1)}
		if cuts[1] < cuts[0] {
			cuts[0], cuts[1] = cuts[1], cuts[0]
		}
		out, _ := scanAll(t, &chunked{b: bytes.Clone(body), cuts: cuts}, 3)
		if !bytes.Equal(out, whole) || len(out) != len(body) {
			t.Fatalf("cut at %v: %q, whole: %q", cuts, out, whole)
		}
		f := testFinder()
		if h, ok := f.find(out, 0); ok {
			t.Fatalf("credential left at %d..%d: %q", h.start, h.end, out)
		}
	})
}

// TestIndexJWSMatchesBytesIndex: the 'J'-anchored search finds exactly
// what bytes.Index finds, at every position and next to its look-alikes
// (a lone "J", "yJ", "eJ", "eyJ" at the start, the end and overlapping).
func TestIndexJWSMatchesBytesIndex(t *testing.T) {
	pieces := []string{"eyJ", "J", "yJ", "eJ", "ey", "e", "y", "JJ", "eeyJ", "eyeyJ", "a", "ÿJ"}
	for _, a := range pieces {
		for _, b := range pieces {
			for pad := 0; pad < 40; pad++ {
				s := []byte(strings.Repeat("x", pad) + a + strings.Repeat("J", pad%3) + b)
				if got, want := indexJWS(s), bytes.Index(s, jwsStart); got != want {
					t.Fatalf("indexJWS(%q) = %d, bytes.Index = %d", s, got, want)
				}
			}
		}
	}
}

// FuzzIndexJWS: on any bytes, indexJWS is bytes.Index(b, "eyJ").
func FuzzIndexJWS(f *testing.F) {
	f.Add([]byte("JeyJ"))
	f.Add([]byte("yJeJey"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := indexJWS(b), bytes.Index(b, jwsStart); got != want {
			t.Fatalf("indexJWS(%q) = %d, bytes.Index = %d", b, got, want)
		}
	})
}

// BenchmarkIndexJWS compares the 'J'-anchored search with bytes.Index on
// answers with no token in them: letters (the load test's body) and rows
// of English words, where 'e' is every few bytes.
//
//	go test -run='^$' -bench=IndexJWS -count=5 ./proxy/
func BenchmarkIndexJWS(b *testing.B) {
	letters := make([]byte, 20<<10)
	for i := range letters {
		letters[i] = 'a' + byte(i%26)
	}
	rows := []byte(strings.Repeat(`["Wheeler Street","delivered","Greene & Sons",1250.00],`, 20<<10/54))
	for _, body := range []struct {
		name string
		b    []byte
	}{{"letters", letters}, {"rows", rows}} {
		b.Run(body.name+"/indexJWS", func(b *testing.B) {
			b.SetBytes(int64(len(body.b)))
			for b.Loop() {
				_ = indexJWS(body.b)
			}
		})
		b.Run(body.name+"/bytes.Index", func(b *testing.B) {
			b.SetBytes(int64(len(body.b)))
			for b.Loop() {
				_ = bytes.Index(body.b, jwsStart)
			}
		})
	}
}

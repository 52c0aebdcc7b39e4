package policy

import (
	"errors"
	"strings"
	"testing"
)

const tok = "aaa.bbb.ccc"

func TestParseEmbedPath(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		kind     string
		endpoint Endpoint
		dashcard int
		card     int
		param    string
		format   string
		swapped  string // WithToken("X")
	}{
		{"dashboard page", "/embed/dashboard/" + tok, "dashboard", EndpointPage, 0, 0, "", "", "/embed/dashboard/X"},
		{"question page", "/embed/question/" + tok, "question", EndpointPage, 0, 0, "", "", "/embed/question/X"},
		{"question page export", "/embed/question/" + tok + ".csv", "question", EndpointPageExport, 0, 0, "", "csv", "/embed/question/X.csv"},
		{"card info", "/api/embed/card/" + tok, "question", EndpointInfo, 0, 0, "", "", "/api/embed/card/X"},
		{"card query", "/api/embed/card/" + tok + "/query", "question", EndpointQuery, 0, 0, "", "", "/api/embed/card/X/query"},
		{"card export", "/api/embed/card/" + tok + "/query/xlsx", "question", EndpointExport, 0, 0, "", "xlsx", "/api/embed/card/X/query/xlsx"},
		{"pivot card", "/api/embed/pivot/card/" + tok + "/query", "question", EndpointQuery, 0, 0, "", "", "/api/embed/pivot/card/X/query"},
		{"card values", "/api/embed/card/" + tok + "/params/p1/values", "question", EndpointValues, 0, 0, "p1", "", "/api/embed/card/X/params/p1/values"},
		{"card search", "/api/embed/card/" + tok + "/params/p1/search/ac%20me", "question", EndpointValues, 0, 0, "p1", "", "/api/embed/card/X/params/p1/search/ac%20me"},
		{"card search re-encoded", "/api/embed/card/" + tok + "/params/p1/search/O'Brien%2b(x)~%41%c3%a9", "question", EndpointValues, 0, 0, "p1", "", "/api/embed/card/X/params/p1/search/O%27Brien%2B%28x%29%7EA%C3%A9"},
		{"card tile at zero", "/api/embed/tiles/card/" + tok + "/0/0/0", "question", EndpointTile, 0, 0, "", "", "/api/embed/tiles/card/X/0/0/0"},
		{"card remapping", "/api/embed/card/" + tok + "/params/p1/remapping", "question", EndpointValues, 0, 0, "p1", "", "/api/embed/card/X/params/p1/remapping"},
		{"card tile", "/api/embed/tiles/card/" + tok + "/1/2/3", "question", EndpointTile, 0, 0, "", "", "/api/embed/tiles/card/X/1/2/3"},
		{"dashboard info", "/api/embed/dashboard/" + tok, "dashboard", EndpointInfo, 0, 0, "", "", "/api/embed/dashboard/X"},
		{"dashcard query", "/api/embed/dashboard/" + tok + "/dashcard/7/card/3", "dashboard", EndpointQuery, 7, 3, "", "", "/api/embed/dashboard/X/dashcard/7/card/3"},
		{"dashcard export", "/api/embed/dashboard/" + tok + "/dashcard/7/card/3/csv", "dashboard", EndpointExport, 7, 3, "", "csv", "/api/embed/dashboard/X/dashcard/7/card/3/csv"},
		{"pivot dashcard", "/api/embed/pivot/dashboard/" + tok + "/dashcard/7/card/3", "dashboard", EndpointQuery, 7, 3, "", "", "/api/embed/pivot/dashboard/X/dashcard/7/card/3"},
		{"dashboard values", "/api/embed/dashboard/" + tok + "/params/p_status/values", "dashboard", EndpointValues, 0, 0, "p_status", "", "/api/embed/dashboard/X/params/p_status/values"},
		{"dashboard tile", "/api/embed/tiles/dashboard/" + tok + "/dashcard/7/card/3/1/2/3", "dashboard", EndpointTile, 7, 3, "", "", "/api/embed/tiles/dashboard/X/dashcard/7/card/3/1/2/3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParseEmbedPath(tt.path, 4096)
			if err != nil {
				t.Fatalf("ParseEmbedPath(%q) error = %v, want nil", tt.path, err)
			}
			if p.Kind != tt.kind || p.Endpoint != tt.endpoint || p.DashcardID != tt.dashcard || p.CardID != tt.card || p.ParamID != tt.param || p.Format != tt.format || p.Token != tok {
				t.Errorf("ParseEmbedPath(%q) = %+v", tt.path, p)
			}
			if got := p.WithToken("X"); got != tt.swapped {
				t.Errorf("WithToken = %q, want %q", got, tt.swapped)
			}
		})
	}
}

func TestParseEmbedPathRefuses(t *testing.T) {
	tests := []struct{ name, path string }{
		{"not embed", "/api/public/card/x"},
		{"empty token", "/embed/dashboard/"},
		{"two-part token", "/embed/dashboard/aaa.bbb"},
		{"padding", "/embed/dashboard/aaa.bbb.ccc="},
		{"encoded slash in token", "/api/embed/card/aaa.b%2Fbb.ccc"},
		{"encoded dot", "/api/embed/card/aaa.bbb.ccc/%2e%2e/query"},
		{"dot segment", "/api/embed/card/" + tok + "/../query"},
		{"double slash", "/api/embed//card/" + tok},
		{"backslash", "/api/embed/card/" + tok + "\\query"},
		{"case variant", "/API/embed/card/" + tok},
		{"unknown endpoint", "/api/embed/card/" + tok + "/whatever"},
		{"card dashcard", "/api/embed/card/" + tok + "/dashcard/1/card/2"},
		{"signed ids", "/api/embed/dashboard/" + tok + "/dashcard/+1/card/2"},
		{"zero id", "/api/embed/dashboard/" + tok + "/dashcard/0/card/2"},
		{"bad format", "/api/embed/card/" + tok + "/query/pdf"},
		{"search slash", "/api/embed/card/" + tok + "/params/p/search/a%2Fb"},
		{"old field values", "/api/embed/card/" + tok + "/field/3/values"},
		{"page subpath", "/embed/dashboard/" + tok + "/x"},
		{"trailing slash", "/api/embed/card/" + tok + "/"},
		{"path parameter after token", "/api/embed/card/" + tok + ";x/query"},
		{"dot-dot with parameter", "/api/embed/card/" + tok + "/..;/query"},
		{"dot with parameter", "/api/embed/card/" + tok + "/.;x/query"},
		{"jsessionid", "/api/embed/card/" + tok + "/query;jsessionid=1"},
		{"encoded dot-dot with parameter", "/api/embed/card/" + tok + "/%2e%2e;/query"},
		{"escape in literal", "/api/embed/card/" + tok + "/%71uery"},
		{"escape in token", "/api/embed/card/aaa.b%62b.ccc/query"},
		{"escape in param id", "/api/embed/card/" + tok + "/params/p%31/values"},
		{"param id with a dot", "/api/embed/card/" + tok + "/params/p.1/values"},
		{"leading zero dashcard", "/api/embed/dashboard/" + tok + "/dashcard/07/card/2"},
		{"leading zero tile", "/api/embed/tiles/card/" + tok + "/01/2/3"},
		{"signed tile", "/api/embed/tiles/card/" + tok + "/1/-2/3"},
		{"search of dots", "/api/embed/card/" + tok + "/params/p/search/%2e%2e"},
		{"search of dots, raw", "/api/embed/card/" + tok + "/params/p/search/.."},
		{"search with a semicolon", "/api/embed/card/" + tok + "/params/p/search/a;b"},
		{"search with an escaped semicolon", "/api/embed/card/" + tok + "/params/p/search/a%3Bb"},
		{"search with a backslash", "/api/embed/card/" + tok + "/params/p/search/a%5Cb"},
		{"search double-encoded", "/api/embed/card/" + tok + "/params/p/search/%252e%252e"},
		{"search with a query", "/api/embed/card/" + tok + "/params/p/search/a%3Fb=1"},
		{"search with NUL", "/api/embed/card/" + tok + "/params/p/search/a%00"},
		{"search overlong dot", "/api/embed/card/" + tok + "/params/p/search/%c0%ae%c0%ae"},
		{"search bad escape", "/api/embed/card/" + tok + "/params/p/search/a%zz"},
		{"search with a raw quote", "/api/embed/card/" + tok + "/params/p/search/a\"b"},
		{"case variant literal", "/api/embed/Card/" + tok},
		{"page with parameter", "/embed/dashboard/" + tok + ";x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := ParseEmbedPath(tt.path, 4096); err == nil {
				t.Errorf("ParseEmbedPath(%q) = %+v, want an error", tt.path, p)
			}
		})
	}
}

func TestParseEmbedPathTooLong(t *testing.T) {
	long := strings.Repeat("a", 5000) + ".b.c"
	_, err := ParseEmbedPath("/api/embed/card/"+long, 4096)
	if !errors.Is(err, ErrTokenTooLong) {
		t.Errorf("error = %v, want ErrTokenTooLong", err)
	}
}

// FuzzParseEmbedPath: whatever parses is rebuilt by WithToken into a path
// that parses to the same fields and rebuilds to itself; it is the input
// byte for byte unless the input escaped a search prefix in another form
// than the canonical one; the token never holds anything a server might
// resolve.
func FuzzParseEmbedPath(f *testing.F) {
	for _, s := range []string{"/embed/dashboard/a.b.c", "/api/embed/dashboard/a.b.c/dashcard/1/card/2/csv",
		"/api/embed/card/a.b.c/params/x/search/%41", "/api/embed/tiles/card/a.b.c/1/2/3", "/api/embed/pivot/card/a.b.c/query",
		"/api/embed/card/a.b.c/params/x/search/O'Brien%20(x)", "/api/embed/card/a.b.c/params/x/search/..;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		p, err := ParseEmbedPath(path, 4096)
		if err != nil {
			return
		}
		got := p.WithToken(p.Token)
		if p.Listing != "search" && got != path {
			t.Fatalf("WithToken(Token) = %q, want %q", got, path)
		}
		p2, err := ParseEmbedPath(got, 4096)
		if err != nil || p2 != p || p2.WithToken(p2.Token) != got {
			t.Fatalf("rebuilt %q parses to %+v (%v), want %+v and itself", got, p2, err, p)
		}
		if strings.ContainsAny(p.Token, "/%\\;") || strings.Count(p.Token, ".") != 2 {
			t.Fatalf("token %q holds a forbidden character", p.Token)
		}
		for _, s := range []string{path, got} {
			if strings.Contains(s, "/../") || strings.Contains(s, "//") || strings.HasSuffix(s, "/..") || strings.ContainsAny(s, ";\\") {
				t.Fatalf("accepted dot or empty segment, ';' or '\\' in %q", s)
			}
		}
	})
}

// TestEmbedPathAllocs: the hot path (every chart's query) parses without
// allocating and rebuilds the upstream path in one allocation.
func TestEmbedPathAllocs(t *testing.T) {
	long := strings.Repeat("a", 300) + ".b.c"
	path := "/api/embed/dashboard/" + long + "/dashcard/11/card/1"
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseEmbedPath(path, 4096) }); n != 0 {
		t.Errorf("ParseEmbedPath allocates %v times, want 0", n)
	}
	p, _ := ParseEmbedPath(path, 4096)
	if n := testing.AllocsPerRun(100, func() { _ = p.WithToken(long) }); n != 1 {
		t.Errorf("WithToken allocates %v times, want 1", n)
	}
}

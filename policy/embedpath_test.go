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

// FuzzParseEmbedPath: whatever parses swaps back to itself, and the token
// never holds anything a server might resolve.
func FuzzParseEmbedPath(f *testing.F) {
	for _, s := range []string{"/embed/dashboard/a.b.c", "/api/embed/dashboard/a.b.c/dashcard/1/card/2/csv",
		"/api/embed/card/a.b.c/params/x/search/%41", "/api/embed/tiles/card/a.b.c/1/2/3", "/api/embed/pivot/card/a.b.c/query"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		p, err := ParseEmbedPath(path, 4096)
		if err != nil {
			return
		}
		if got := p.WithToken(p.Token); got != path {
			t.Fatalf("WithToken(Token) = %q, want %q", got, path)
		}
		if strings.ContainsAny(p.Token, "/%\\") || strings.Count(p.Token, ".") != 2 {
			t.Fatalf("token %q holds a forbidden character", p.Token)
		}
		if strings.Contains(path, "/../") || strings.Contains(path, "//") || strings.HasSuffix(path, "/..") {
			t.Fatalf("accepted dot or empty segment in %q", path)
		}
	})
}

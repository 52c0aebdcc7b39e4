package metabasetest

import (
	"strings"
	"testing"
)

// TestEmbedJS checks what the stand-in serves for modular embedding: the
// script with Metabase's element names and messages, not cached as a
// hashed asset; the iframe page at exactly /embed/sdk/v1, framable and
// whatever the query; any other /embed/sdk/* path is the static embed app,
// as in Metabase.
func TestEmbedJS(t *testing.T) {
	_, ts := defaultServer(t)
	tests := []struct {
		name, path string
		wantType   string
		wantBody   []string
		wantHeader map[string]string
	}{
		{"the script", "/app/embed.js", "text/javascript", []string{`"metabase-dashboard"`, `"metabase-question"`,
			`"metabase.embed.requestSessionToken"`, `"metabase.embed.submitSessionToken"`, `"metabase.embed.setSettings"`,
			`"metabase.embed.requestGuestTokenRefresh"`, `"embed/sdk/v1"`, `"embed-js-identifier"`, `"embedding-simple"`},
			map[string]string{"Cache-Control": "max-age=0, no-cache, must-revalidate, proxy-revalidate", "X-Frame-Options": "DENY"}},
		{"the iframe page", "/embed/sdk/v1?embed-js-identifier=0", "text/html", []string{`"metabase.embed.iframeReady"`, `"/api/embed/card/"`, `"X-Metabase-Session"`},
			map[string]string{"X-Frame-Options": ""}},
		{"the iframe page ignores the query", "/embed/sdk/v1?anything=at-all", "text/html", []string{`"metabase.embed.iframeReady"`}, nil},
		{"a longer path is the static embed app", "/embed/sdk/v1/x", "text/html", []string{`"X-Metabase-Client": "embedding-iframe"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := fetch(t, "GET", ts.URL+tt.path)
			if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), tt.wantType) {
				t.Fatalf("GET %s: %d %q, want 200 %s", tt.path, res.status, res.header.Get("Content-Type"), tt.wantType)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(res.body, w) {
					t.Errorf("GET %s: the body lacks %s", tt.path, w)
				}
			}
			for k, v := range tt.wantHeader {
				if got := res.header.Get(k); got != v {
					t.Errorf("GET %s: %s = %q, want %q", tt.path, k, got, v)
				}
			}
			if strings.Contains(res.body, "{{nonce}}") {
				t.Errorf("GET %s: the nonce placeholder is left in the page", tt.path)
			}
		})
	}
	page := fetch(t, "GET", ts.URL+"/embed/sdk/v1")
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors *") {
		t.Errorf("the iframe page's CSP is %q, want frame-ancestors * (an embeddable page)", csp)
	}
}

package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// TestDemoSDKPage: the demo's SDK page without a browser. On a fresh clone
// (no bundle) it says how to build it instead of breaking; with a bundle it
// loads it from the app's origin, configured for the gate and the
// query-builder content; only the bundle's directory is served; and the
// sample app's organization switch accepts only the user's own
// organizations.
func TestDemoSDKPage(t *testing.T) {
	bundle := t.TempDir()
	if err := os.WriteFile(filepath.Join(bundle, sdkBundleFile), []byte("/* bundle */"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		opts     demoOptions
		user     string
		form     url.Values
		wantCode int
		want     []string
		notWant  []string
		assets   map[string]int // path → status
	}{
		{"not built", demoOptions{noSDK: true}, "alice", nil, 200,
			[]string{"The SDK bundle is not built", "cd cmd/tenantgate/testdata/sdkhost &amp;&amp; npm ci &amp;&amp; npm run build"},
			[]string{`src="/sdk/assets/`}, map[string]int{"/sdk/assets/" + sdkBundleFile: 404}},
		{"built", demoOptions{sdkDir: bundle}, "alice", nil, 200,
			[]string{`<script src="/sdk/assets/sdkhost.js"></script>`, `metabaseInstanceUrl: location.origin + "/analytics"`,
				fmt.Sprintf("questionId:  %d ", metabasetest.QuestionOrdersQuery), fmt.Sprintf("dashboardId:  %d ", metabasetest.DashboardSDK),
				"organization <b>acme</b>"},
			[]string{"not built", `id="switch-`}, map[string]int{"/sdk/assets/" + sdkBundleFile: 200, "/sdk/assets/../demo.go": 404, "/sdk/assets/%2e%2e/demo.go": 404}},
		{"signed out", demoOptions{sdkDir: bundle}, "", nil, 200, []string{"Sign in with one of the buttons above"}, []string{`src="/sdk/assets/`}, nil},
		{"dave switches to globex", demoOptions{sdkDir: bundle}, "dave", url.Values{"org": {"globex"}}, 200,
			[]string{"organization <b>globex</b>", `id="switch-acme"`}, []string{`id="switch-globex"`}, nil},
		{"alice may not pick globex", demoOptions{sdkDir: bundle}, "alice", url.Values{"org": {"globex"}}, 400, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDemoWith(t, tt.opts)
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			if tt.user != "" {
				form := url.Values{"user": {tt.user}, "back": {"/sdk"}}
				for k, v := range tt.form {
					form[k] = v
				}
				resp, err := c.PostForm(d.base+"/login", form)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.wantCode {
					t.Fatalf("signing in as %s with %v: %d %s, want %d", tt.user, tt.form, resp.StatusCode, body, tt.wantCode)
				}
				if resp.StatusCode != http.StatusOK {
					return
				}
				if resp.Request.URL.Path != "/sdk" {
					t.Errorf("signing in from the SDK page led to %s, want /sdk", resp.Request.URL.Path)
				}
			}
			resp, err := c.Get(d.base + "/sdk")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			page := string(b)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("/sdk: %d, want %d", resp.StatusCode, tt.wantCode)
			}
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("/sdk lacks %q:\n%s", w, page)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(page, w) {
					t.Errorf("/sdk holds %q", w)
				}
			}
			for path, want := range tt.assets {
				req, _ := http.NewRequest(http.MethodGet, d.base+path, nil)
				req.URL.Opaque = path // as sent, not cleaned by the client
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
				}
			}
		})
	}
}

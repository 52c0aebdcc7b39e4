package main

import (
	"html/template"
	"net/http"
	"os"
	"path/filepath"
	"runtime"

	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// The demo's SDK page: the same data as the iframe page, through
// Metabase's React embedding SDK and the gate's JWT SSO. The page is the
// host page bundled in testdata/sdkhost (npm and esbuild); the demo serves
// that bundle from the app's origin when it has been built, and says how to
// build it otherwise, so that `go run ./cmd/tenantgate demo` works on a
// fresh clone without npm.

// sdkHostDir is the SDK host page's npm directory, from the repository's
// root.
const sdkHostDir = "cmd/tenantgate/testdata/sdkhost"

// sdkBuildCommand builds the bundle, from the repository's root.
const sdkBuildCommand = "(cd " + sdkHostDir + " && npm ci && npm run build)"

// sdkBundleFile is the bundle's entry point in its dist directory.
const sdkBundleFile = "sdkhost.js"

// findSDKBundle returns the built bundle's directory: under the working
// directory (the repository's root, or cmd/tenantgate for go test), else
// beside this source file (go run from elsewhere); "" when it is not
// built.
func findSDKBundle() string {
	cands := []string{filepath.Join(sdkHostDir, "dist"), filepath.Join("testdata", "sdkhost", "dist")}
	if _, file, _, ok := runtime.Caller(0); ok {
		cands = append(cands, filepath.Join(filepath.Dir(file), "testdata", "sdkhost", "dist"))
	}
	for _, d := range cands {
		if st, err := os.Stat(filepath.Join(d, sdkBundleFile)); err == nil && st.Mode().IsRegular() {
			if abs, err := filepath.Abs(d); err == nil {
				return abs
			}
		}
	}
	return ""
}

// sdkStatus is the terminal's line about the SDK page.
func (a *demoApp) sdkStatus() string {
	if a.sdkDir == "" {
		return "its bundle is not built: " + sdkBuildCommand + ", then restart the demo"
	}
	return "bundle: " + a.sdkDir
}

// sdkAssets serves the bundle's files (the entry point and the chunks the
// SDK loads beside it) under /sdk/assets/; http.Dir keeps them in the
// directory.
func (a *demoApp) sdkAssets() http.Handler {
	if a.sdkDir == "" {
		return http.NotFoundHandler()
	}
	files := http.StripPrefix("/sdk/assets/", http.FileServer(http.Dir(a.sdkDir)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

func (a *demoApp) sdkPage(w http.ResponseWriter, r *http.Request) {
	data := a.pageData(r, "/sdk")
	// Query-builder content: a sandboxed Metabase user may not run the
	// iframe page's native SQL question.
	data.Question, data.Dashboard = metabasetest.QuestionOrdersQuery, metabasetest.DashboardSDK
	data.SDKBuilt, data.SDKBuild = a.sdkDir != "", sdkBuildCommand
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = demoPages.ExecuteTemplate(w, "sdk", data)
}

func init() {
	template.Must(demoPages.New("sdk").Parse(`{{template "top" .}}<main><section>
{{if not .SDKBuilt}}
<div id="sdk-not-built"><h2>The SDK bundle is not built</h2>
<p>This page runs Metabase's React embedding SDK, bundled with npm and esbuild. Build it once, from the repository's root, then restart the demo:</p>
<pre><code>{{.SDKBuild}}</code></pre></div>
{{else if .Signed}}
<p>The app's page renders Metabase's React SDK, pointed at the gate; it holds no Metabase credential and
the app has no backend code for it: the gate is the SDK's JWT provider and signs the user in to Metabase server side.
<code>&lt;MetabaseProvider authConfig={{"{{"}} metabaseInstanceUrl: location.origin + "/analytics" {{"}}"}}&gt;</code> around
<code>&lt;StaticQuestion questionId={{"{"}}{{.Question}}{{"}"}} /&gt;</code>, <code>&lt;InteractiveQuestion questionId={{"{"}}{{.Question}}{{"}"}} /&gt;</code>
and <code>&lt;StaticDashboard dashboardId={{"{"}}{{.Dashboard}}{{"}"}} /&gt;</code>, below in that order.</p>
<div id="sdk-root"></div>
<script>window.tenantgateSDK = {metabaseInstanceUrl: location.origin + "/analytics", questionId: {{.Question}}, interactiveQuestionId: {{.Question}}, dashboardId: {{.Dashboard}}};</script>
<script src="/sdk/assets/sdkhost.js"></script>
{{else}}<p>Sign in with one of the buttons above.</p>{{end}}
{{template "activity" .}}</body></html>`))
}

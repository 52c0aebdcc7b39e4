package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/policy"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// listingPolicy lets dashboard 1 and question 1 list their status values
// and download, so the values search and export routes are reached.
func listingPolicy(c *configs.Config) {
	c.Policy.Resources = []configs.ResourcePolicy{
		{Dashboard: 1, ValueListings: []string{metabasetest.ParamStatus}, Downloads: true},
		{Question: 1, ValueListings: []string{metabasetest.CardParamStatus}, Downloads: true},
	}
}

// TestPathAttackCorpus replays testdata/path_attacks.txt (issue 12, class
// 1): ";" parameters, dot segments with parameters, single and double
// escapes, backslashes, "//", case variants and control bytes on every
// route. Each case gets its status and reason; a refused case never
// reaches Metabase; and every request that does reach it carries a
// canonical path on the allowlist (policy.ForwardablePath rebuilds it to
// itself) and a canonical query.
func TestPathAttackCorpus(t *testing.T) {
	harnesses := map[string]*harness{
		"default": newHarness(t, nil),
		"pt": newHarness(t, func(c *configs.Config) {
			c.PassThrough.Enabled = true
			c.Policy.Resources = []configs.ResourcePolicy{{Dashboard: 1}, {Question: 1}}
		}),
		"listing": newHarness(t, listingPolicy),
		"sso":     newSSOHarness(t, nil),
	}
	sessions, ssoSessions := corpusSessions(), ssoCorpusSessions()
	creds := &ssoCredentials{t: t, h: harnesses["sso"], sessions: ssoSessions,
		cookie: map[string]string{}, mbKey: map[string]string{}, sdk: map[string]string{}}
	for _, cc := range readCorpus(t, "testdata/path_attacks.txt", 100) {
		t.Run(cc.name, func(t *testing.T) {
			h := harnesses[cc.config]
			if h == nil {
				t.Fatalf("unknown config %q", cc.config)
			}
			h.t, creds.t = t, t
			sess := sessions[cc.session].token
			if cc.config == "sso" {
				sess = ssoSessions[cc.session].token
			}
			expand := func(s string) string {
				return expandWith(t, s, func(inner string) string {
					if kind, _, _ := strings.Cut(inner, ":"); kind == "COOKIE" || kind == "SDK" {
						return creds.placeholder(inner)
					}
					return token(t, inner, sessions)
				})
			}
			method, target, _ := strings.Cut(expand(cc.request), " ")
			hdr := http.Header{}
			if cc.headers != "-" {
				for _, kv := range strings.Split(expand(cc.headers), " ;; ") {
					k, v, _ := strings.Cut(kv, ": ")
					hdr.Add(k, v)
				}
			}
			wantStatus, wantReason, _ := strings.Cut(cc.want, " ")
			h.mb.Reset()
			w := h.send(method, target, sess, hdr, "")
			if got := strconv.Itoa(w.Code); got != wantStatus {
				t.Errorf("status = %s, want %s (body %.300s)", got, wantStatus, w.Body)
			}
			gotReason := reason(w)
			if w.Code < 300 {
				gotReason = "allowed"
			}
			if gotReason != wantReason {
				t.Errorf("reason = %q, want %q", gotReason, wantReason)
			}
			got := h.mb.Requests()
			if w.Code >= 300 && len(got) > 0 {
				t.Errorf("refused request reached Metabase %d times (first: %s)", len(got), got[0].Path)
			}
			for _, r := range got {
				assertOnAllowlist(t, r)
			}
		})
	}
}

// assertOnAllowlist fails t unless Metabase received a path the gate's
// parsers accept and rebuild to itself, and a query CleanQuery keeps as it
// is.
func assertOnAllowlist(t *testing.T, r metabasetest.Request) {
	t.Helper()
	f, err := policy.ForwardablePath(r.Path, 1<<16)
	if policy.CleanPath(r.Path, "") != nil || err != nil || f.Upstream(f.Embed.Token) != r.Path {
		t.Errorf("Metabase received %q: not a canonical path on the allowlist (%v)", r.Path, err)
	}
	if q, err := policy.CleanQuery(r.RawQuery); err != nil || q != r.RawQuery {
		t.Errorf("Metabase received the query %q: not canonical (%q, %v)", r.RawQuery, q, err)
	}
}

// expandWith replaces each placeholder, from "{" to its matching "}" (MB
// params hold JSON braces), with what ph returns for its inside.
func expandWith(t *testing.T, s string, ph func(inner string) string) string {
	t.Helper()
	var out strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return out.String() + s
		}
		depth, j := 0, i
		for ; j < len(s); j++ {
			if s[j] == '{' {
				depth++
			} else if s[j] == '}' {
				if depth--; depth == 0 {
					break
				}
			}
		}
		if j == len(s) {
			t.Fatalf("unbalanced placeholder in %q", s)
		}
		out.WriteString(s[:i])
		out.WriteString(ph(s[i+1 : j]))
		s = s[j+1:]
	}
}

// TestSearchPrefixForwardedCanonically: a values search prefix is the one
// segment that takes escapes; Metabase receives it decoded, checked and
// re-encoded by the gate ([A-Za-z0-9_.-] literal, every other byte %XX),
// not as the browser wrote it.
func TestSearchPrefixForwardedCanonically(t *testing.T) {
	h := newHarness(t, listingPolicy)
	handle := h.mint(session("alice", "acme", time.Hour), "dashboard", 1)
	h.mb.Reset()
	w := h.do("GET", "/api/embed/dashboard/"+handle+"/params/"+metabasetest.ParamStatus+"/search/O'Brien%20(x)~%41%c3%a9", session("alice", "acme", time.Hour), nil)
	if w.Code != http.StatusOK {
		t.Fatalf("search: %d %s", w.Code, w.Body)
	}
	got := h.mb.Requests()
	if len(got) != 1 {
		t.Fatalf("Metabase received %d requests, want 1", len(got))
	}
	if want := "/search/O%27Brien%20%28x%29%7EA%C3%A9"; !strings.HasSuffix(got[0].Path, want) {
		t.Errorf("Metabase received %q, want it to end in %q", got[0].Path, want)
	}
	assertOnAllowlist(t, got[0])
}

// TestAssetCacheKeepsOnlyAssetPaths: whatever a caller of put passes, the
// cache stores (and so serves as immutable) only canonical asset paths.
func TestAssetCacheKeepsOnlyAssetPaths(t *testing.T) {
	a := newAssetCache(1 << 20)
	for path, keep := range map[string]bool{
		"/app/dist/app.js":          true,
		"/app/..;/api/user/current": false,
		"/app/.;x/app.js":           false,
		"/app/dist/app.js;x":        false,
		"/app/%2e%2e/api/setting":   false,
		"/app/.env":                 false,
		"/app//dist/app.js":         false,
		"/api/session/properties":   false,
	} {
		a.put(path, testAsset(10))
		if _, ok := a.get(path); ok != keep {
			t.Errorf("put(%q): kept = %v, want %v", path, ok, keep)
		}
	}
}

// TestLegacyNormaliserBehindTheGate puts a legacy path normaliser in front
// of the stand-in (";params" stripped, then dot segments resolved). Asked
// directly, it routes "/app/..;/api/embed/..." to the embed API and a
// token with tenant [] returns every tenant's rows: the hole is real. The
// same request through the gate is refused by the path allowlist and
// Metabase receives nothing.
func TestLegacyNormaliserBehindTheGate(t *testing.T) {
	mb := metabasetest.New(metabasetest.Options{SecretKey: testMBKey, APIKey: testMBAPIKey, LegacyPathParams: true})
	mbSrv := httptest.NewServer(mb)
	t.Cleanup(mbSrv.Close)
	all := metabasetest.Sign(testMBKey, jwt.MapClaims{"resource": map[string]any{"dashboard": 1},
		"params": map[string]any{"organization_id": []any{}}, "exp": time.Now().Add(5 * time.Minute).Unix()})
	attacks := []string{
		"/app/..;/api/embed/dashboard/" + all + "/dashcard/11/card/1",
		"/app/.;x/..;jsessionid=1/api/embed/dashboard/" + all + "/dashcard/11/card/1",
		"/favicon.ico/..;/api/embed/dashboard/" + all + "/dashcard/11/card/1",
	}
	for _, path := range attacks {
		resp, err := http.Get(mbSrv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var body strings.Builder
		_, _ = io.Copy(&body, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted || !strings.Contains(body.String(), "globex") || !strings.Contains(body.String(), "initech") {
			t.Fatalf("stand-in asked %s directly: %d %.200s; want 202 with every tenant's rows (the normaliser models no hole)", path, resp.StatusCode, body.String())
		}
	}

	h := &harness{t: t, mb: mb, mbSrv: mbSrv}
	cfg := &configs.Config{}
	cfg.Metabase.SiteURL = mbSrv.URL
	cfg.Metabase.EmbeddingSecretKey = testMBKey
	cfg.Session.JWTSecrets = []configs.Secret{testSessionKey}
	cfg.Handles.Secrets = []configs.Secret{testHandleKey}
	cfg.PassThrough.Enabled = true
	cfg.ApplyDefaults()
	h.start(cfg)
	for _, path := range attacks {
		for _, sess := range []string{"", session("alice", "acme", time.Hour)} {
			mb.Reset()
			w := h.do("GET", path, sess, nil)
			if w.Code != http.StatusBadRequest || reason(w) != string(policy.ReasonMalformedRequest) || strings.Contains(w.Body.String(), "globex") {
				t.Errorf("through the gate %s: %d %.200s, want 400 malformed-request", path, w.Code, w.Body)
			}
			if got := mb.Requests(); len(got) > 0 {
				t.Errorf("through the gate %s: Metabase received %s", path, got[0].Path)
			}
		}
	}
}

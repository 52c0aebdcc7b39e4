package proxy

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// credentialsRemoved reads tenantgate_upstream_credentials_removed_total.
func credentialsRemoved(h *harness, where string) float64 {
	h.t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "tenantgate_upstream_credentials_removed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == where {
				return m.GetCounter().GetValue()
			}
		}
	}
	h.t.Fatalf("no credentials_removed series for %q", where)
	return 0
}

const credentialLog = "Metabase's answer carried a Metabase credential; kept from the browser"

// TestEmbedJSONDropsOtherTenantsValues: Metabase's embed JSON lists the
// values of the filters' fields over every tenant's rows (the stand-in
// reproduces it, contract §8). acme's browser never sees them, unless the
// policy lists that parameter's values: the operator's choice, which then
// shows every tenant's values of that field, and only of that field.
func TestEmbedJSONDropsOtherTenantsValues(t *testing.T) {
	tests := []struct {
		name     string
		policy   []configs.ResourcePolicy
		kind     string
		id       int
		want     []string // field ids kept in param_values
		leaks    bool     // globex's values reach the browser (listed on purpose)
		disputed bool     // initech's only status value reaches the browser
	}{
		{"question, no policy", nil, "question", metabasetest.QuestionOrders, nil, false, false},
		{"dashboard with an organization filter, no policy", nil, "dashboard", metabasetest.DashboardNoTenant, nil, false, false},
		{"dashboard, tenant locked, no policy", nil, "dashboard", metabasetest.DashboardOrders, nil, false, false},
		{"question, status listed", []configs.ResourcePolicy{{Question: metabasetest.QuestionOrders, ValueListings: []string{metabasetest.CardParamStatus}}},
			"question", metabasetest.QuestionOrders, []string{"105"}, false, true},
		{"dashboard, status listed", []configs.ResourcePolicy{{Dashboard: metabasetest.DashboardNoTenant, ValueListings: []string{metabasetest.ParamStatus}}},
			"dashboard", metabasetest.DashboardNoTenant, []string{"105"}, false, true},
		{"dashboard, another parameter listed", []configs.ResourcePolicy{{Dashboard: metabasetest.DashboardNoTenant, ValueListings: []string{"p_other"}}},
			"dashboard", metabasetest.DashboardNoTenant, nil, false, false},
		{"dashboard, the organization filter listed: every tenant's, as documented",
			[]configs.ResourcePolicy{{Dashboard: metabasetest.DashboardNoTenant, ValueListings: []string{metabasetest.ParamPickOrganization}}},
			"dashboard", metabasetest.DashboardNoTenant, []string{"102"}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *configs.Config) { c.Policy.Resources = tt.policy })
			sess := session("alice", "acme", time.Hour)
			handle := h.mint(sess, tt.kind, tt.id)
			api := map[string]string{"question": "card", "dashboard": "dashboard"}[tt.kind]
			w := h.do("GET", "/api/embed/"+api+"/"+handle, sess, http.Header{"Accept-Encoding": {"gzip"}})
			if w.Code != http.StatusOK {
				t.Fatalf("info: %d %s", w.Code, w.Body)
			}
			var got struct {
				ParamValues map[string]json.RawMessage `json:"param_values"`
				Parameters  []any                      `json:"parameters"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("answer is not JSON: %v: %s", err, w.Body)
			}
			var kept []string
			for k := range got.ParamValues {
				kept = append(kept, k)
			}
			if fmt.Sprint(kept) != fmt.Sprint(tt.want) {
				t.Errorf("param_values fields = %v, want %v", kept, tt.want)
			}
			body := w.Body.String()
			if strings.Contains(body, "globex") != tt.leaks || strings.Contains(body, "initech") != tt.leaks {
				t.Errorf("other tenants' values in the answer: %v, want %v: %s", strings.Contains(body, "globex"), tt.leaks, body)
			}
			if strings.Contains(body, "disputed") != tt.disputed {
				t.Errorf("initech's \"disputed\" in the answer: %v, want %v", !tt.disputed, tt.disputed)
			}
			if len(got.Parameters) == 0 {
				t.Errorf("the rest of the JSON went missing: %s", body)
			}
			var up int
			for _, r := range h.mb.Requests() {
				if strings.HasPrefix(r.Path, "/api/embed/"+api+"/") {
					up++
				}
			}
			if up != 1 {
				t.Errorf("Metabase got %d info requests, want 1", up)
			}
		})
	}
}

// TestEmbedJSONThatIsNotAnObjectIsRefused: the info answer is rewritten
// from what the gate parsed; anything else fails closed.
func TestEmbedJSONThatIsNotAnObjectIsRefused(t *testing.T) {
	for _, body := range []string{`[{"param_values":{}}]`, `{"param_values":`, `not json`} {
		h := newHarness(t, nil)
		sess := session("alice", "acme", time.Hour)
		handle := h.mint(sess, "question", metabasetest.QuestionOrders)
		h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
			return true
		})
		w := h.do("GET", "/api/embed/card/"+handle, sess, nil)
		if w.Code != http.StatusBadGateway || reason(w) != "upstream-unavailable" {
			t.Errorf("body %q: %d %s, want 502 upstream-unavailable", body, w.Code, w.Body)
		}
	}
}

// credentialCase is one response-side credential attack: Metabase answers
// a browser's request with a credential it was never meant to show.
type credentialCase struct {
	name  string
	sso   bool                       // behind the SSO harness (its secret known to the gate)
	path  func(handle string) string // the browser's request
	leak  func(sessionKey string) metabasetest.Leak
	code  int                            // what the browser gets
	where string                         // the metric's where; "" nothing removed
	cred  func(sessionKey string) string // what must not reach the browser
	// answer, when set, is the upstream's answer instead of leak's.
	answer func(http.ResponseWriter, *http.Request) bool
}

func infoPath(h string) string { return "/api/embed/card/" + h }
func queryPath(h string) string {
	return dashcardQuery("", h, metabasetest.DashcardOrdersTable, metabasetest.QuestionOrders)
}
func pagePath(h string) string { return "/embed/dashboard/" + h }

// TestUpstreamCredentialCorpus: whoever minted it, a Metabase credential in
// Metabase's answer never reaches the browser. In what the gate reads
// before answering (headers, Location, the page, the embed JSON) the answer
// is refused; in a streamed body it is overwritten, wherever reads cut it.
// Each case is logged (without the credential) and counted. A JWT signed
// with another secret is no Metabase credential and passes untouched.
func TestUpstreamCredentialCorpus(t *testing.T) {
	foreign := metabasetest.ForeignToken(testMBKey, metabasetest.DashboardOrders, "globex")
	ssoTok := metabasetest.Sign(testSSOSecret, map[string]any{"email": "mallory@example.com", "organization_id": "globex",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix()})
	other := metabasetest.Sign("not-a-metabase-secret", map[string]any{"resource": map[string]any{"dashboard": 1}, "params": map[string]any{}})
	fixed := func(tok string) func(string) string { return func(string) string { return tok } }
	leak := func(place metabasetest.CredentialPlace, tok string, split int) func(string) metabasetest.Leak {
		return func(string) metabasetest.Leak { return metabasetest.Leak{Place: place, Credential: tok, Split: split} }
	}
	cases := []credentialCase{
		{"Location, absolute", false, infoPath, leak(metabasetest.InLocation, foreign, 0), 502, whereHeader, fixed(foreign), nil},
		{"Location, relative", false, pagePath, leak(metabasetest.InRelativeLocation, foreign, 0), 502, whereHeader, fixed(foreign), nil},
		{"another header", false, queryPath, leak(metabasetest.InHeader, foreign, 0), 502, whereHeader, fixed(foreign), nil},
		{"UUID in X-Metabase-Session", false, queryPath, leak(metabasetest.InSessionHeader, testScanSession, 0), 502, whereHeader, fixed(testScanSession), nil},
		{"embed JSON", false, infoPath, leak(metabasetest.InJSON, foreign, 0), 502, whereBody, fixed(foreign), nil},
		{"embed JSON, gzip", false, infoPath, leak(metabasetest.InGzipJSON, foreign, 0), 502, whereBody, fixed(foreign), nil},
		{"embed page HTML", false, pagePath, leak(metabasetest.InHTML, foreign, 0), 502, whereBody, fixed(foreign), nil},
		{"query JSON, streamed", false, queryPath, leak(metabasetest.InJSON, foreign, 0), 200, whereStream, fixed(foreign), nil},
		{"query JSON, gzip, streamed", false, queryPath, leak(metabasetest.InGzipJSON, foreign, 0), 200, whereStream, fixed(foreign), nil},
		{"signed with the SSO secret, in a stream", true, queryPath, leak(metabasetest.InJSON, ssoTok, 0), 200, whereStream, fixed(ssoTok), nil},
		{"signed with the SSO secret, in Location", true, infoPath, leak(metabasetest.InLocation, ssoTok, 0), 502, whereHeader, fixed(ssoTok), nil},
		{"signed with another secret: not a credential, untouched", false, queryPath, leak(metabasetest.InJSON, other, 0), 200, "", nil, nil},
		{"signed with another secret, in Location: untouched", false, infoPath, leak(metabasetest.InLocation, other, 0), 302, "", nil, nil},
	}
	// Disguised as a URL or a JSON string would carry it: what the
	// browser decodes is checked.
	escaped := func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":1,"token":"\u0065` + foreign[1:] + `"}`))
		return true
	}
	encoded := func(w http.ResponseWriter, r *http.Request) bool {
		// Refresh redirects a browser too, and is not rewritten as Location is.
		w.Header().Set("Refresh", "0; url=/embed/dashboard/"+strings.ReplaceAll(foreign, ".", "%2E"))
		w.WriteHeader(http.StatusOK)
		return true
	}
	cases = append(cases,
		credentialCase{"embed JSON, the token \\u-escaped", false, infoPath, nil, 502, whereBody, fixed(foreign), escaped},
		credentialCase{"Refresh, the token percent-encoded", false, pagePath, nil, 502, whereHeader, fixed(strings.ReplaceAll(foreign, ".", "%2E")), encoded},
	)
	// A 202 query answer flushed in two writes, cut at every kind of
	// offset: before it, inside "eyJ", inside each segment, at each dot,
	// just before its end, after it.
	dot1 := strings.IndexByte(foreign, '.')
	dot2 := dot1 + 1 + strings.IndexByte(foreign[dot1+1:], '.')
	for _, split := range []int{0, 1, 2, 3, 10, dot1, dot1 + 1, dot2 - 5, dot2, dot2 + 1, len(foreign) - 1, len(foreign)} {
		cases = append(cases, credentialCase{fmt.Sprintf("202 stream cut at %d", split), false, queryPath,
			leak(metabasetest.InStream, foreign, split), 202, whereStream, fixed(foreign), nil})
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			var h *harness
			prefix := ""
			if tt.sso {
				h, prefix = newSSOHarness(t, nil), testSSOPrefix
			} else {
				h = newHarness(t, nil)
			}
			sess := session("alice", "acme", time.Hour)
			handle := h.mint(sess, "dashboard", metabasetest.DashboardOrders)
			if tt.path(handle) == infoPath(handle) {
				handle = h.mint(sess, "question", metabasetest.QuestionOrders)
			}
			if tt.answer != nil {
				h.mb.SetOverride(tt.answer)
			} else {
				h.mb.SetOverride(metabasetest.LeakCredential(tt.leak("")))
			}
			w := h.do("GET", prefix+tt.path(handle), sess, http.Header{"Accept-Encoding": {"gzip"}})
			checkCredentialCase(t, h, tt, w, "")
		})
	}
}

func checkCredentialCase(t *testing.T, h *harness, tt credentialCase, w *httptest.ResponseRecorder, key string) {
	t.Helper()
	if w.Code != tt.code {
		t.Errorf("status %d, want %d: %s", w.Code, tt.code, w.Body)
	}
	if tt.code == 502 && reason(w) != "upstream-unavailable" {
		t.Errorf("reason %q, want upstream-unavailable", reason(w))
	}
	if tt.cred == nil {
		// Not a Metabase credential: what Metabase sent arrives unchanged.
		got := w.Body.String() + w.Header().Get("Location")
		if !strings.Contains(got, strings.SplitN(tt.leak(key).Credential, ".", 2)[1]) {
			t.Errorf("a JWT signed with another secret was changed: %s %v", w.Body, w.Header())
		}
		for _, where := range []string{whereHeader, whereBody, whereStream} {
			if n := credentialsRemoved(h, where); n != 0 {
				t.Errorf("credentials_removed{where=%s} = %v, want 0", where, n)
			}
		}
		return
	}
	cred := tt.cred(key)
	var hdr strings.Builder
	_ = w.Header().Write(&hdr)
	if strings.Contains(w.Body.String(), cred) || strings.Contains(hdr.String(), cred) {
		t.Errorf("the credential reached the browser:\n%s\n%s", hdr.String(), w.Body)
	}
	if tt.code != 502 && w.Header().Get("Content-Encoding") != "" {
		t.Errorf("Content-Encoding %q on a body the gate decoded", w.Header().Get("Content-Encoding"))
	}
	if n := credentialsRemoved(h, tt.where); n < 1 {
		t.Errorf("credentials_removed{where=%s} = %v, want at least 1", tt.where, n)
	}
	logs := h.logs.FilterMessage(credentialLog)
	if logs.Len() == 0 {
		t.Errorf("no %q log", credentialLog)
	}
	for _, e := range logs.All() {
		for _, f := range e.Context {
			if strings.Contains(f.String, cred) {
				t.Errorf("the log holds the credential: %s=%s", f.Key, f.String)
			}
		}
	}
}

// TestSessionKeyNeverLeavesTheGate: Metabase echoing the session key the
// gate injected, in a body or a header of an SSO user's API call.
func TestSessionKeyNeverLeavesTheGate(t *testing.T) {
	echo := func(place metabasetest.CredentialPlace) func(string) metabasetest.Leak {
		return func(key string) metabasetest.Leak { return metabasetest.Leak{Place: place, Credential: key, Split: 10} }
	}
	self := func(key string) string { return key }
	for _, tt := range []credentialCase{
		{name: "in a JSON body", leak: echo(metabasetest.InJSON), code: 200, where: whereStream, cred: self},
		{name: "in a streamed body, cut", leak: echo(metabasetest.InStream), code: 202, where: whereStream, cred: self},
		{name: "in a header", leak: echo(metabasetest.InHeader), code: 502, where: whereHeader, cred: self},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newSSOHarness(t, nil)
			alice := ssoSession("alice", "acme", time.Hour)
			sealed := h.signIn(alice, "/")
			var key string
			h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
				key = r.Header.Get("X-Metabase-Session")
				return metabasetest.LeakCredential(tt.leak(key))(w, r)
			})
			w := h.send("GET", testSSOPrefix+"/api/user/current", alice, cookieHeader(sealed), "")
			if key == "" {
				t.Fatal("Metabase got no session key")
			}
			checkCredentialCase(t, h, tt, w, key)
		})
	}
}

// TestForeignTokenNeverShared: the scrub happens before the merge tee and
// the micro-cache, so an answer kept and served again is the scrubbed one.
func TestForeignTokenNeverShared(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) { c.Protect.MicroCacheTTL = 5 * time.Second })
	foreign := metabasetest.ForeignToken(testMBKey, metabasetest.DashboardOrders, "globex")
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", metabasetest.DashboardOrders)
	h.mb.SetOverride(metabasetest.LeakCredential(metabasetest.Leak{Place: metabasetest.InStream, Credential: foreign, Split: 50}))
	for i, want := range []string{"", "cached"} {
		w := h.do("GET", queryPath(handle), sess, nil)
		if w.Code != http.StatusAccepted || strings.Contains(w.Body.String(), foreign) || w.Header().Get("X-Tenantgate-Merged") != want {
			t.Errorf("answer %d: %d merged %q, token in it: %v", i, w.Code, w.Header().Get("X-Tenantgate-Merged"), strings.Contains(w.Body.String(), foreign))
		}
	}
	if n := credentialsRemoved(h, whereStream); n != 1 {
		t.Errorf("credentials removed = %v, want 1 (the second answer came from the cache)", n)
	}
}

// TestPassThroughTokenEchoed: in pass-through mode the browser holds a
// Metabase token of its own; Metabase echoing that one back is no leak,
// any other still is.
func TestPassThroughTokenEchoed(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) { c.PassThrough.Enabled = true })
	sess := session("alice", "acme", time.Hour)
	own := metabasetest.Sign(testMBKey, map[string]any{"resource": map[string]any{"dashboard": metabasetest.DashboardOrders},
		"params": map[string]any{"organization_id": "acme"}, "exp": time.Now().Add(5 * time.Minute).Unix()})
	foreign := metabasetest.ForeignToken(testMBKey, metabasetest.DashboardOrders, "globex")
	for _, tt := range []struct {
		name, cred string
		kept       bool
	}{{"its own token", own, true}, {"another token", foreign, false}} {
		h.mb.SetOverride(metabasetest.LeakCredential(metabasetest.Leak{Place: metabasetest.InStream, Credential: tt.cred, Split: 7}))
		w := h.do("GET", queryPath(own), sess, nil)
		if w.Code != http.StatusAccepted || strings.Contains(w.Body.String(), tt.cred) != tt.kept {
			t.Errorf("%s: %d, in the answer: %v, want %v", tt.name, w.Code, !tt.kept, tt.kept)
		}
	}
}

// TestUnscannableEncodingRefused: an answer in an encoding the gate cannot
// undo cannot be checked, so it is refused (a browser asking for br gets
// no br it could not have been checked in).
func TestUnscannableEncodingRefused(t *testing.T) {
	h := newHarness(t, nil)
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", metabasetest.DashboardOrders)
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Content-Encoding", "br")
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte{0x1b, 0x03, 0x00})
		return true
	})
	w := h.do("GET", queryPath(handle), sess, http.Header{"Accept-Encoding": {"br"}})
	if w.Code != http.StatusBadGateway || reason(w) != "upstream-unavailable" {
		t.Errorf("br answer: %d %s, want 502 upstream-unavailable", w.Code, w.Body)
	}
}

// containsFold is strings.Contains ignoring ASCII case (sessionNamed's
// reference), for a lower-case
// needle, without allocating.
func containsFold(s, lower string) bool {
	for i := 0; i+len(lower) <= len(s); i++ {
		j := 0
		for ; j < len(lower); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != lower[j] {
				break
			}
		}
		if j == len(lower) {
			return true
		}
	}
	return false
}

// TestSessionNamedMatchesContainsFold: the one-pass check answers as the
// two searches it replaced, for names made of the words' pieces in every
// case and at every position.
func TestSessionNamedMatchesContainsFold(t *testing.T) {
	// The names sessionNamed answers without a scan answer as the scan does.
	for _, k := range []string{"Content-Type", "Content-Length", "Date", "Cache-Control", "X-Request-Id", "Vary", "Etag",
		"Last-Modified", "Expires", "Content-Encoding", "X-Content-Type-Options", "Strict-Transport-Security",
		"Content-Security-Policy", "X-Frame-Options", "X-Xss-Protection", "Referrer-Policy", "Location", "Set-Cookie", "X-Metabase-Session"} {
		if got, want := sessionNamed(k), containsFold(k, "session") || containsFold(k, "cookie"); got != want {
			t.Fatalf("sessionNamed(%q) = %v, want %v", k, got, want)
		}
	}
	pieces := []string{"session", "SESSION", "Session", "sessio", "cookie", "COOKIE", "Cookie", "cooki", "s", "c", "x-", "-", "ſ", "\x00", "Set-", "X-Metabase-"}
	for _, a := range pieces {
		for _, b := range pieces {
			for _, c := range pieces {
				k := a + b + c
				want := containsFold(k, "session") || containsFold(k, "cookie")
				if got := sessionNamed(k); got != want {
					t.Fatalf("sessionNamed(%q) = %v, want %v", k, got, want)
				}
			}
		}
	}
}

// FuzzSessionNamed: for any name, sessionNamed is the two case-folded
// searches.
func FuzzSessionNamed(f *testing.F) {
	f.Add("X-Metabase-Session")
	f.Add("set-COOKIE")
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := sessionNamed(k), containsFold(k, "session") || containsFold(k, "cookie"); got != want {
			t.Fatalf("sessionNamed(%q) = %v, want %v", k, got, want)
		}
	})
}

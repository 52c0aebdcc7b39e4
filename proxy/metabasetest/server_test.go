package metabasetest

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestRoutes(t *testing.T) {
	tok := dashToken(DashboardOrders, acme())
	tests := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantType   string // Content-Type prefix
		wantBody   string // exact, "" to skip
		wantHeader map[string]string
	}{
		{"health", "GET", "/api/health", 200, "application/json", `{"status":"ok"}`,
			map[string]string{"X-Metabase-Version": "v0.56.0", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}},
		{"public settings", "GET", "/api/session/properties", 200, "application/json", "", map[string]string{"X-Metabase-Version": "v0.56.0"}},
		{"unknown api", "GET", "/api/setup/validate", 404, "text/plain", "API endpoint does not exist.", map[string]string{"X-Metabase-Version": "v0.56.0"}},
		{"unknown embed api", "GET", "/api/embed/nothing/" + tok, 404, "text/plain", "API endpoint does not exist.", nil},
		{"POST to embed api", "POST", "/api/embed/dashboard/" + tok, 404, "text/plain", "API endpoint does not exist.", nil},
		{"preflight", "OPTIONS", "/api/embed/dashboard/" + tok, 200, "", "", nil},
		{"embed dashboard page", "GET", "/embed/dashboard/" + tok, 200, "text/html; charset=utf-8", "", map[string]string{"X-Frame-Options": ""}},
		{"embed page does not check the token", "GET", "/embed/question/not-a-token", 200, "text/html; charset=utf-8", "", nil},
		{"any other embed path is the app", "GET", "/embed/sdk/v2", 200, "text/html; charset=utf-8", "", nil},
		{"asset", "GET", "/app/dist/app.css", 200, "text/css", "", map[string]string{"Cache-Control": "public, max-age=31536000"}},
		{"missing asset", "GET", "/app/dist/nope.js", 404, "text/plain", "Not found.", nil},
		{"favicon", "GET", "/favicon.ico", 200, "image/png", "", nil},
		{"other page", "GET", "/dashboard/1", 404, "text/plain", "Not found.", nil},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := fetch(t, tt.method, ts.URL+tt.path)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", res.status, res.body, tt.wantStatus)
			}
			if got := res.header.Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if tt.wantBody != "" && res.body != tt.wantBody {
				t.Errorf("body = %q, want %q", res.body, tt.wantBody)
			}
			for k, want := range tt.wantHeader {
				if got := res.header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			if got := res.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
		})
	}
}

func TestEmbedPage(t *testing.T) {
	_, ts := defaultServer(t)
	res := get(t, ts.URL+"/embed/dashboard/"+dashToken(DashboardOrders, acme())+"?status=paid")
	csp := res.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-ancestors *;") {
		t.Errorf("Content-Security-Policy = %q, want frame-ancestors *", csp)
	}
	if got := res.header.Values("X-Frame-Options"); len(got) != 0 {
		t.Errorf("X-Frame-Options = %q, want none", got)
	}
	nonce := regexp.MustCompile(`'nonce-([A-Za-z0-9]+)'`).FindStringSubmatch(csp)
	if nonce == nil || !strings.Contains(res.body, `<script nonce="`+nonce[1]+`">`) {
		t.Errorf("script nonce does not match the CSP %q", csp)
	}
	for _, want := range []string{
		`path.indexOf("/embed/")`,                // base from the page's own path
		`"/api/embed/dashboard/" + token`,        // the dashboard call
		`"/dashcard/" + dc.id + "/card/"`,        // each dashcard's query
		`encodeURIComponent(JSON.stringify(`,     // ?parameters=
		`res.headers.get("X-Tenantgate-Handle")`, // renewed handles
		`"error"`,                                // errors shown
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if other := get(t, ts.URL+"/embed/question/x.y.z"); strings.Contains(other.header.Get("Content-Security-Policy"), nonce[1]) {
		t.Errorf("nonce %q reused across responses", nonce[1])
	}
}

func TestExportRedirect(t *testing.T) {
	tok := cardToken(QuestionOrders, acme())
	tests := []struct {
		name         string
		path         string
		wantLocation string
	}{
		{"csv", "/embed/question/" + tok + ".csv", "/api/embed/card/" + tok + "/query/csv"},
		{"xlsx with query", "/embed/question/" + tok + ".xlsx?format_rows=true&status=paid", "/api/embed/card/" + tok + "/query/xlsx?format_rows=true&status=paid"},
		{"json", "/embed/question/" + tok + ".json", "/api/embed/card/" + tok + "/query/json"},
	}
	_, ts := defaultServer(t)
	host := strings.TrimPrefix(ts.URL, "http://")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, ts.URL+tt.path)
			if res.status != http.StatusFound {
				t.Fatalf("status = %d, want 302", res.status)
			}
			if got, want := res.header.Get("Location"), "http://"+host+tt.wantLocation; got != want {
				t.Errorf("Location = %q, want %q", got, want)
			}
		})
	}
	if res := get(t, ts.URL+"/embed/question/"+tok+".pdf"); res.status != 200 || !strings.Contains(res.header.Get("Content-Type"), "text/html") {
		t.Errorf(".pdf got %d %q, want the embed page", res.status, res.header.Get("Content-Type"))
	}
}

func TestRecorder(t *testing.T) {
	s, ts := defaultServer(t)
	valid := dashToken(DashboardOrders, acme())
	expired := Sign(testSecret, withClaims(claimsFor("dashboard", 1, acme()), map[string]any{"exp": testNow.Unix() - 3600}))
	wrongKey := Sign("other", claimsFor("dashboard", 1, acme()))
	paths := []string{
		"/api/embed/dashboard/" + valid + "/dashcard/11/card/1?parameters=%7B%7D",
		"/api/embed/dashboard/" + wrongKey,
		"/api/embed/pivot/card/" + expired + "/query",
		"/embed/dashboard/" + valid,
		"/embed/question/" + valid + ".csv",
		"/api/health",
		"/nowhere",
	}
	for _, p := range paths {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+p, nil)
		req.Header.Set("X-Test", p)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	tests := []struct {
		wantToken  string
		wantClaims bool
		wantStatus int
	}{
		{valid, true, 202},
		{wrongKey, false, 400},
		{expired, true, 400}, // the signature verifies; expiry is not the recorder's business
		{valid, true, 200},
		{valid, true, 302},
		{"", false, 200},
		{"", false, 404},
	}
	got := s.Requests()
	if len(got) != len(tests) {
		t.Fatalf("recorded %d requests, want %d", len(got), len(tests))
	}
	for i, tt := range tests {
		t.Run(fmt.Sprint(i, "_", paths[i][:min(len(paths[i]), 24)]), func(t *testing.T) {
			r := got[i]
			wantPath, wantQuery, _ := strings.Cut(paths[i], "?")
			if r.Method != "GET" || r.Path != wantPath || r.RawQuery != wantQuery {
				t.Errorf("request = %s %s ? %s, want GET %s ? %s", r.Method, r.Path, r.RawQuery, wantPath, wantQuery)
			}
			if r.Header.Get("X-Test") != paths[i] {
				t.Errorf("header X-Test = %q, want %q", r.Header.Get("X-Test"), paths[i])
			}
			if r.Token != tt.wantToken {
				t.Errorf("Token = %q, want %q", r.Token, tt.wantToken)
			}
			if (r.Claims != nil) != tt.wantClaims {
				t.Errorf("Claims = %v, want decoded: %v", r.Claims, tt.wantClaims)
			}
			if tt.wantClaims {
				if org := r.Claims["params"].(map[string]any)["organization_id"]; org != "acme" {
					t.Errorf("Claims params.organization_id = %v, want acme", org)
				}
			}
			if r.Status != tt.wantStatus {
				t.Errorf("Status = %d, want %d", r.Status, tt.wantStatus)
			}
		})
	}
	got[0].Header.Set("X-Test", "changed")
	got[0].Claims["params"] = nil
	if again := s.Requests(); again[0].Header.Get("X-Test") != paths[0] || again[0].Claims["params"] == nil {
		t.Error("Requests() shares state with the recorder")
	}
	s.Reset()
	if n := len(s.Requests()); n != 0 {
		t.Errorf("after Reset, %d requests, want 0", n)
	}
}

func TestOverride(t *testing.T) {
	s, ts := defaultServer(t)
	s.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/api/embed/") {
			return false
		}
		http.SetCookie(w, &http.Cookie{Name: "metabase.SESSION", Value: "leaked"})
		w.WriteHeader(http.StatusServiceUnavailable)
		return true
	})
	tok := dashToken(DashboardOrders, acme())
	if res := get(t, ts.URL+"/api/embed/dashboard/"+tok); res.status != 503 || res.header.Get("Set-Cookie") == "" {
		t.Errorf("overridden: got %d, Set-Cookie %q, want 503 with a cookie", res.status, res.header.Get("Set-Cookie"))
	}
	if res := get(t, ts.URL+"/api/health"); res.status != 200 {
		t.Errorf("not overridden: got %d, want 200", res.status)
	}
	s.SetOverride(nil)
	if res := get(t, ts.URL+"/api/embed/dashboard/"+tok); res.status != 200 {
		t.Errorf("override removed: got %d, want 200", res.status)
	}
	reqs := s.Requests()
	if len(reqs) != 3 || reqs[0].Status != 503 || reqs[0].Claims == nil {
		t.Errorf("recorded %+v, want 3 requests, the first overridden with 503 and its claims", reqs)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, ts := defaultServer(t)
	tok := dashToken(DashboardOrders, acme())
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 0 {
				s.SetOverride(func(http.ResponseWriter, *http.Request) bool { return false })
			}
			res, err := http.Get(fmt.Sprintf("%s/api/embed/dashboard/%s/dashcard/11/card/1", ts.URL, tok))
			if err == nil {
				res.Body.Close()
			}
			_ = s.Requests()
		}()
	}
	wg.Wait()
	if n := len(s.Requests()); n != 16 {
		t.Errorf("recorded %d requests, want 16", n)
	}
}

func TestSampleData(t *testing.T) {
	perTenant := map[string]int{}
	for _, o := range Orders() {
		perTenant[o.OrganizationID]++
		prefix := strings.ToUpper(o.OrganizationID[:1]) + o.OrganizationID[1:] + " — "
		if !strings.HasPrefix(o.Customer, prefix) {
			t.Errorf("order %d customer %q, want the prefix %q", o.ID, o.Customer, prefix)
		}
	}
	for _, tenant := range Tenants {
		if n := perTenant[tenant]; n < 8 || n > 15 {
			t.Errorf("%s has %d orders, want 8 to 15", tenant, n)
		}
	}
	o := Orders()
	o[0].Customer = "changed"
	if Orders()[0].Customer == "changed" {
		t.Error("Orders() returns the table itself")
	}
	seen := map[string]bool{}
	for _, id := range []string{cards[0].EntityID, cards[1].EntityID, cards[2].EntityID, cards[3].EntityID, cards[4].EntityID, cards[5].EntityID,
		dashboards[0].EntityID, dashboards[1].EntityID, dashboards[2].EntityID, dashboards[3].EntityID, dashboards[4].EntityID} {
		if utf8.RuneCountInString(id) != 21 || seen[id] {
			t.Errorf("entity id %q: want 21 characters, unique", id)
		}
		seen[id] = true
	}
}

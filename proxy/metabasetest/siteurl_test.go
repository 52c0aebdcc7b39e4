package metabasetest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSiteURLFromFirstRequest: with no MB_SITE_URL, the first request that
// is not a health check sets the site URL from Origin, else
// X-Forwarded-Host, else Host (maybe-set-site-url), and later requests do
// not change it.
func TestSiteURLFromFirstRequest(t *testing.T) {
	type req struct {
		path string
		hdr  http.Header
	}
	tests := []struct {
		name string
		reqs []req
		want string
	}{
		{"Origin first", []req{{"/embed/dashboard/x", http.Header{"Origin": {"https://evil.example"}, "X-Forwarded-Host": {"xfh.example"}}}}, "https://evil.example"},
		{"then X-Forwarded-Host, with http:// prepended", []req{{"/app/dist/app.js", http.Header{"X-Forwarded-Host": {"xfh.example:8443"}}}}, "http://xfh.example:8443"},
		{"then Host", []req{{"/api/session/properties", nil}}, "http://host.example"},
		{"one trailing slash removed", []req{{"/", http.Header{"Origin": {"https://o.example/"}}}}, "https://o.example"},
		{"health check skipped", []req{{"/api/health", http.Header{"Origin": {"https://evil.example"}}}, {"/", nil}}, "http://host.example"},
		{"HealthChecker skipped", []req{{"/", http.Header{"Origin": {"https://evil.example"}, "User-Agent": {"ELB-HealthChecker/2.0"}}}, {"/", nil}}, "http://host.example"},
		{"only /api/health exactly is a health check", []req{{"/api/health/", http.Header{"Origin": {"https://evil.example"}}}}, "https://evil.example"},
		{"an empty Origin counts, is invalid, and leaves it unset", []req{{"/", http.Header{"Origin": {""}}}, {"/", http.Header{"X-Forwarded-Host": {"later.example"}}}}, "http://later.example"},
		{"two X-Forwarded-Host values joined: invalid", []req{{"/", http.Header{"X-Forwarded-Host": {"a.example", "b.example"}}}}, ""},
		{"the first valid request wins", []req{{"/", http.Header{"Origin": {"https://first.example"}}}, {"/", http.Header{"Origin": {"https://second.example"}}}}, "https://first.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{SecretKey: testSecret})
			for _, rq := range tt.reqs {
				r := httptest.NewRequest("GET", rq.path, nil)
				r.Host = "host.example"
				for k, v := range rq.hdr {
					r.Header[k] = v
				}
				s.ServeHTTP(httptest.NewRecorder(), r)
			}
			if got := s.SiteURL(); got != tt.want {
				t.Errorf("SiteURL() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestSiteURLSetIsKept: MB_SITE_URL set, no request changes it.
func TestSiteURLSetIsKept(t *testing.T) {
	s := New(Options{SecretKey: testSecret, SiteURL: "https://app.example.com/analytics/"})
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Origin", "https://evil.example")
	s.ServeHTTP(httptest.NewRecorder(), r)
	if got, want := s.SiteURL(), "https://app.example.com/analytics"; got != want {
		t.Errorf("SiteURL() = %q, want %q", got, want)
	}
}

// TestSiteURLBuildsLinks: the export redirect and the public settings are
// built from the adopted site URL, so the first caller's Origin decides
// where every later browser is sent.
func TestSiteURLBuildsLinks(t *testing.T) {
	s := New(Options{SecretKey: testSecret})
	tok := cardToken(QuestionOrders, acme())
	first := httptest.NewRequest("GET", "/embed/question/"+tok+".csv", nil)
	first.Header.Set("Origin", "https://evil.example")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, first)
	if got, want := w.Header().Get("Location"), "https://evil.example/api/embed/card/"+tok+"/query/csv"; got != want {
		t.Errorf("first export redirect Location = %q, want %q", got, want)
	}
	later := httptest.NewRequest("GET", "/embed/question/"+tok+".json", nil)
	w = httptest.NewRecorder()
	s.ServeHTTP(w, later)
	if got, want := w.Header().Get("Location"), "https://evil.example/api/embed/card/"+tok+"/query/json"; got != want {
		t.Errorf("later export redirect Location = %q, want %q", got, want)
	}
	w = httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/api/session/properties", nil))
	if body := w.Body.String(); !strings.Contains(body, `"site-url":"https://evil.example"`) {
		t.Errorf("public settings lack the adopted site URL: %s", body)
	}
}

// TestSiteURLDecidesSSORedirects: an absolute return_to passes Metabase's
// open-redirect check exactly when its host is the site URL's, so whoever
// chose the site URL chose where SSO may send a signed-in browser.
func TestSiteURLDecidesSSORedirects(t *testing.T) {
	for _, tc := range []struct {
		name, siteURL, returnTo string
		want                    int
	}{
		{"the site URL's host", "https://evil.example", "https://evil.example/steal", http.StatusFound},
		{"the site URL's host, another port", "https://evil.example", "http://evil.example:8080/steal", http.StatusFound},
		{"another host", "https://app.example.com", "https://evil.example/steal", http.StatusBadRequest},
		{"relative", "https://app.example.com", "/dashboard/1", http.StatusFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Options{SecretKey: testSecret, SiteURL: tc.siteURL, Now: func() time.Time { return testNow },
				SSO: SSOOptions{SharedSecret: testSSOSecret, IdentityProviderURI: "http://app.example/sso"}})
			r := httptest.NewRequest("GET", "/auth/sso?jwt="+ssoJWT(alice(nil))+"&return_to="+url.QueryEscape(tc.returnTo), nil)
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Errorf("status %d %s, want %d", w.Code, w.Body, tc.want)
			}
		})
	}
}

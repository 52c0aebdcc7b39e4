package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
)

// introspectServer is the app's "who is this" endpoint, answering with
// whatever the test's handler says and recording what it received.
type introspectServer struct {
	*httptest.Server
	calls atomic.Int64
	mu    sync.Mutex
	seen  []http.Header
}

func newIntrospectServer(t *testing.T, h http.HandlerFunc) *introspectServer {
	t.Helper()
	s := &introspectServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		s.mu.Lock()
		s.seen = append(s.seen, r.Header.Clone())
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *introspectServer) lastHeaders() http.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) == 0 {
		return nil
	}
	return s.seen[len(s.seen)-1]
}

func answer(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = fmt.Fprint(w, body)
	}
}

const goodAnswer = `{"sub":"user-1","email":"ada@example.com","first_name":"Ada","last_name":"Lovelace",` +
	`"groups":["admins"],"organization_id":42,"region":"eu"}`

func newTestIntrospector(t *testing.T, url string, clock *fakeClock, mod func(*configs.IntrospectConfig)) *Introspector {
	t.Helper()
	cfg := configs.IntrospectConfig{URL: url}
	if mod != nil {
		mod(&cfg)
	}
	in, err := NewIntrospector(cfg, testTenantClaim, IntrospectOptions{Now: clock.Now})
	if err != nil {
		t.Fatalf("NewIntrospector: %v", err)
	}
	return in
}

func cookieRequest(cookie string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/embed/dashboard/1", nil)
	r.Header.Set("Cookie", cookie)
	return r
}

func TestIntrospectAnswers(t *testing.T) {
	big := `{"organization_id":"acme","pad":"` + strings.Repeat("x", maxIntrospectBytes) + `"}`
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    error
	}{
		{name: "200 with claims", handler: answer(http.StatusOK, goodAnswer)},
		{name: "401", handler: answer(http.StatusUnauthorized, `{"error":"login"}`), want: ErrSessionInvalid},
		{name: "403", handler: answer(http.StatusForbidden, ``), want: ErrSessionInvalid},
		{name: "500", handler: answer(http.StatusInternalServerError, goodAnswer), want: ErrUnavailable},
		{name: "204", handler: answer(http.StatusNoContent, ``), want: ErrUnavailable},
		{name: "redirect to login is not followed", handler: func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/login" {
				answer(http.StatusOK, goodAnswer)(w, r)
				return
			}
			http.Redirect(w, r, "/login", http.StatusFound)
		}, want: ErrUnavailable},
		{name: "malformed JSON", handler: answer(http.StatusOK, `{"organization_id":`), want: ErrUnavailable},
		{name: "HTML login page", handler: answer(http.StatusOK, `<html>please log in</html>`), want: ErrUnavailable},
		{name: "JSON array", handler: answer(http.StatusOK, `[{"organization_id":"acme"}]`), want: ErrUnavailable},
		{name: "JSON null", handler: answer(http.StatusOK, `null`), want: ErrUnavailable},
		{name: "trailing data", handler: answer(http.StatusOK, `{"organization_id":"acme"} {}`), want: ErrUnavailable},
		{name: "oversized answer", handler: answer(http.StatusOK, big), want: ErrUnavailable},
		{name: "exp not a number", handler: answer(http.StatusOK, `{"organization_id":"acme","exp":"soon"}`), want: ErrUnavailable},
		{name: "no tenant", handler: answer(http.StatusOK, `{"sub":"user-1"}`), want: ErrTenantMissing},
		{name: "float tenant", handler: answer(http.StatusOK, `{"organization_id":4.2}`), want: ErrTenantMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newIntrospectServer(t, tc.handler)
			in := newTestIntrospector(t, srv.URL, newFakeClock(), nil)
			for range 2 {
				_, err := in.Authenticate(context.Background(), cookieRequest("app_session=abc"))
				checkErr(t, err, tc.want)
			}
			wantCalls := int64(1) // success is cached
			if tc.want != nil {
				wantCalls = 2 // failures never are
			}
			if got := srv.calls.Load(); got != wantCalls {
				t.Errorf("got %d upstream calls for two requests, want %d", got, wantCalls)
			}
		})
	}
}

func TestIntrospectIdentity(t *testing.T) {
	clock := newFakeClock()
	srv := newIntrospectServer(t, answer(http.StatusOK, goodAnswer))
	in := newTestIntrospector(t, srv.URL, clock, nil)
	id, err := in.Authenticate(context.Background(), cookieRequest("app_session=abc"))
	checkErr(t, err, nil)
	checks := []struct {
		name      string
		got, want any
	}{
		{"subject", id.Subject, "user-1"},
		{"email", id.Email, "ada@example.com"},
		{"first name", id.FirstName, "Ada"},
		{"last name", id.LastName, "Lovelace"},
		{"groups", fmt.Sprint(id.Groups), "[admins]"},
		{"numeric tenant", id.Tenant, "42"},
		{"claims kept", id.Claims["region"], "eu"},
		{"expiry is now+TTL", id.Expiry, clock.Now().Add(defaultIntrospectTTL)},
		{"source", id.Source, "introspect"},
	}
	for _, ch := range checks {
		if fmt.Sprint(ch.got) != fmt.Sprint(ch.want) {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestIntrospectExp(t *testing.T) {
	clock := newFakeClock()
	now := clock.Now()
	tests := []struct {
		name       string
		exp        time.Time
		wantExpiry time.Time
		want       error
	}{
		{name: "exp sooner than TTL bounds the cache", exp: now.Add(10 * time.Second), wantExpiry: now.Add(10 * time.Second)},
		{name: "exp later than TTL", exp: now.Add(time.Hour), wantExpiry: now.Add(defaultIntrospectTTL)},
		{name: "exp passed", exp: now.Add(-time.Second), want: ErrSessionExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := fmt.Sprintf(`{"sub":"user-1","organization_id":"acme","exp":%d}`, tc.exp.Unix())
			srv := newIntrospectServer(t, answer(http.StatusOK, body))
			in := newTestIntrospector(t, srv.URL, clock, nil)
			id, err := in.Authenticate(context.Background(), cookieRequest("app_session=abc"))
			checkErr(t, err, tc.want)
			if err == nil && !id.Expiry.Equal(tc.wantExpiry) {
				t.Errorf("got expiry %v, want %v", id.Expiry, tc.wantExpiry)
			}
		})
	}
}

func TestIntrospectTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := newIntrospectServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	in := newTestIntrospector(t, srv.URL, newFakeClock(), func(c *configs.IntrospectConfig) { c.Timeout = 50 * time.Millisecond })
	for i := range 2 {
		start := time.Now()
		_, err := in.Authenticate(context.Background(), cookieRequest("app_session=abc"))
		checkErr(t, err, ErrUnavailable)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("call %d: got a %v wait, want about the 50ms timeout", i, took)
		}
	}
	if got := srv.calls.Load(); got != 2 {
		t.Errorf("got %d upstream calls, want 2 (a timeout is not cached)", got)
	}
}

func TestIntrospectConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	in := newTestIntrospector(t, url, newFakeClock(), nil)
	_, err := in.Authenticate(context.Background(), cookieRequest("app_session=abc"))
	checkErr(t, err, ErrUnavailable)
}

func TestIntrospectForwardsOnlyCredentials(t *testing.T) {
	srv := newIntrospectServer(t, answer(http.StatusOK, goodAnswer))
	in := newTestIntrospector(t, srv.URL, newFakeClock(), nil)
	r := httptest.NewRequest(http.MethodGet, "/embed/dashboard/1", nil)
	r.Header.Set("Cookie", "app_session=abc; theme=dark")
	r.Header.Set("Authorization", "Bearer xyz")
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set("X-Tenant", "someone-else")
	r.Header.Set("X-Tenantgate-Identity", "spoofed")
	r.Header.Set("User-Agent", "caller-agent")
	r.Header.Set("Accept", "text/html")
	_, err := in.Authenticate(context.Background(), r)
	checkErr(t, err, nil)

	got := srv.lastHeaders()
	for _, h := range []struct{ name, want string }{
		{"Cookie", "app_session=abc; theme=dark"},
		{"Authorization", "Bearer xyz"},
		{"Accept", "application/json"},
		{"X-Forwarded-For", ""},
		{"X-Tenant", ""},
		{"X-Tenantgate-Identity", ""},
	} {
		if v := got.Get(h.name); v != h.want {
			t.Errorf("upstream saw %s %q, want %q", h.name, v, h.want)
		}
	}
	if ua := got.Get("User-Agent"); ua == "caller-agent" {
		t.Errorf("upstream saw the caller's User-Agent %q, want the gate's", ua)
	}
	if r.Header.Get("Accept") != "text/html" {
		t.Errorf("caller's request was modified: Accept is %q", r.Header.Get("Accept"))
	}
}

func TestIntrospectNoCredentials(t *testing.T) {
	srv := newIntrospectServer(t, answer(http.StatusOK, goodAnswer))
	in := newTestIntrospector(t, srv.URL, newFakeClock(), nil)
	tests := []struct {
		name    string
		headers http.Header
	}{
		{name: "no headers", headers: http.Header{}},
		{name: "empty Cookie and Authorization", headers: http.Header{"Cookie": {""}, "Authorization": {""}}},
		{name: "other headers only", headers: http.Header{"X-User": {"ada"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header = tc.headers
			_, err := in.Authenticate(context.Background(), r)
			checkErr(t, err, ErrNoCredentials)
		})
	}
	if got := srv.calls.Load(); got != 0 {
		t.Errorf("got %d upstream calls, want 0", got)
	}
}

func TestIntrospectCacheTTL(t *testing.T) {
	clock := newFakeClock()
	srv := newIntrospectServer(t, answer(http.StatusOK, goodAnswer))
	in := newTestIntrospector(t, srv.URL, clock, func(c *configs.IntrospectConfig) { c.TTL = 10 * time.Second })
	steps := []struct {
		name      string
		advance   time.Duration
		cookie    string
		auth      string
		wantCalls int64
	}{
		{name: "first call", cookie: "app_session=abc", wantCalls: 1},
		{name: "cached", advance: 9 * time.Second, cookie: "app_session=abc", wantCalls: 1},
		{name: "TTL over", advance: time.Second, cookie: "app_session=abc", wantCalls: 2},
		{name: "cached again", cookie: "app_session=abc", wantCalls: 2},
		{name: "another cookie is another entry", cookie: "app_session=def", wantCalls: 3},
		{name: "same cookie plus Authorization is another entry", cookie: "app_session=abc", auth: "Bearer t", wantCalls: 4},
		{name: "Authorization alone is another entry", auth: "Bearer app_session=abc", wantCalls: 5},
	}
	for _, st := range steps {
		clock.Advance(st.advance)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if st.cookie != "" {
			r.Header.Set("Cookie", st.cookie)
		}
		if st.auth != "" {
			r.Header.Set("Authorization", st.auth)
		}
		_, err := in.Authenticate(context.Background(), r)
		checkErr(t, err, nil)
		if got := srv.calls.Load(); got != st.wantCalls {
			t.Errorf("%s: got %d upstream calls, want %d", st.name, got, st.wantCalls)
		}
	}
}

func TestIntrospectMergesConcurrentLookups(t *testing.T) {
	release := make(chan struct{})
	srv := newIntrospectServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		answer(http.StatusOK, goodAnswer)(w, r)
	})
	in := newTestIntrospector(t, srv.URL, newFakeClock(), nil)

	const n = 50
	var wg sync.WaitGroup
	ids := make([]*Identity, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			ids[i], errs[i] = in.Authenticate(context.Background(), cookieRequest("app_session=abc"))
		})
	}
	waitFor(t, "the upstream call", func() bool { return srv.calls.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // let every caller reach the in-flight call
	close(release)
	wg.Wait()

	for i := range n {
		checkErr(t, errs[i], nil)
		if ids[i] != ids[0] {
			t.Fatalf("caller %d got a different Identity, want the shared one", i)
		}
	}
	if got := srv.calls.Load(); got != 1 {
		t.Errorf("got %d upstream calls for %d concurrent identical lookups, want 1", got, n)
	}
}

func TestIntrospectCallerCancelDoesNotFailOthers(t *testing.T) {
	release := make(chan struct{})
	srv := newIntrospectServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		answer(http.StatusOK, goodAnswer)(w, r)
	})
	in := newTestIntrospector(t, srv.URL, newFakeClock(), nil)

	ctx, cancel := context.WithCancel(context.Background())
	firstErr := make(chan error, 1)
	go func() {
		_, err := in.Authenticate(ctx, cookieRequest("app_session=abc"))
		firstErr <- err
	}()
	waitFor(t, "the upstream call", func() bool { return srv.calls.Load() == 1 })
	secondErr := make(chan error, 1)
	go func() {
		_, err := in.Authenticate(context.Background(), cookieRequest("app_session=abc"))
		secondErr <- err
	}()
	cancel()
	if err := <-firstErr; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: got %v, want ErrUnavailable wrapping context.Canceled", err)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	checkErr(t, <-secondErr, nil)
	if got := srv.calls.Load(); got != 1 {
		t.Errorf("got %d upstream calls, want 1", got)
	}
}

func TestNewIntrospectorConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     configs.IntrospectConfig
		claim   string
		wantErr []string
	}{
		{name: "no URL", claim: testTenantClaim, wantErr: []string{"not an absolute http(s) URL"}},
		{name: "relative URL", cfg: configs.IntrospectConfig{URL: "/api/me"}, claim: testTenantClaim, wantErr: []string{"not an absolute"}},
		{name: "every problem at once", cfg: configs.IntrospectConfig{URL: "ftp://x", TTL: -1, Timeout: -1, CacheSize: -1},
			wantErr: []string{"tenant claim name is empty", "not an absolute", "ttl", "timeout", "cache_size"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewIntrospector(tc.cfg, tc.claim, IntrospectOptions{})
			if err == nil {
				t.Fatalf("got no error, want one mentioning %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to mention %q", err, w)
				}
			}
		})
	}
}

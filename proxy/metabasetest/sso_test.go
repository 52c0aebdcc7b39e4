package metabasetest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

const testSSOSecret = "sso-shared-secret-0123456789abcdef0123456789"

func ssoServer(t *testing.T, o SSOOptions) (*Server, string) {
	t.Helper()
	if o.SharedSecret == "" {
		o.SharedSecret = testSSOSecret
	}
	o.IdentityProviderURI = "http://app.example/sso"
	s, ts := newTestServer(t, Options{SecretKey: testSecret, Sandboxing: true, SSO: o})
	return s, ts.URL
}

// call sends a request with headers and a body, without following redirects.
func call(t *testing.T, method, u string, hdr map[string]string, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, string(b), res.Header}
}

func ssoJWT(claims map[string]any) string { return Sign(testSSOSecret, claims) }

func alice(extra map[string]any) map[string]any {
	c := map[string]any{"email": "alice@example.com", "first_name": "Alice", "organization_id": "acme",
		"groups": []any{"Embedded customers"}, "iat": testNow.Unix(), "exp": testNow.Add(time.Minute).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

func TestSSOVerification(t *testing.T) {
	_, base := ssoServer(t, SSOOptions{GroupSync: true})
	sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantBody   string
	}{
		{"good", ssoJWT(alice(nil)), 200, ""},
		{"iat 180 s old is still good", ssoJWT(alice(map[string]any{"iat": testNow.Unix() - 180})), 200, ""},
		{"iat 181 s old", ssoJWT(alice(map[string]any{"iat": testNow.Unix() - 181})), 401, "Token is older than max-age (180)"},
		{"no iat skips the age check", ssoJWT(alice(map[string]any{"iat": nil})), 200, ""},
		{"exp now is expired (no leeway)", ssoJWT(alice(map[string]any{"exp": testNow.Unix()})), 401, "Token is expired"},
		{"nbf in the future", ssoJWT(alice(map[string]any{"nbf": testNow.Unix() + 1})), 401, "Token is not yet valid"},
		{"no email", ssoJWT(alice(map[string]any{"email": nil})), 401, "JWT token missing email claim"},
		{"wrong secret", Sign("another-secret-0123456789abcdef0123456789", alice(nil)), 401, "Message seems corrupt or manipulated"},
		{"HS512 header", signRaw(testSSOSecret, []byte(`{"alg":"HS512"}`), mustJSON(alice(nil))), 401, "Algorithm mismatch"},
		{"alg none", b64([]byte(`{"alg":"none"}`)) + "." + b64(mustJSON(alice(nil))) + ".", 401, "Algorithm mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, "GET", base+"/auth/sso?jwt="+url.QueryEscape(tt.token), sdk, "")
			if res.status != tt.wantStatus || !strings.Contains(res.body, tt.wantBody) {
				t.Errorf("%d %q, want %d %q", res.status, res.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestSSOBrowserAndSDKVariants(t *testing.T) {
	s, base := ssoServer(t, SSOOptions{GroupSync: true})
	// Browser: 302 to return_to with metabase.SESSION.
	res := call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(alice(nil))+"&return_to=/dashboard/1", nil, "")
	if res.status != 302 || res.header.Get("Location") != "/dashboard/1" {
		t.Fatalf("browser: %d %q", res.status, res.header.Get("Location"))
	}
	var key string
	for _, c := range (&http.Response{Header: res.header}).Cookies() {
		if c.Name == "metabase.SESSION" {
			key = c.Value
			if !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode || c.MaxAge != 0 {
				t.Errorf("metabase.SESSION cookie %+v", c)
			}
		}
	}
	if u, ok := s.SessionUser(key); !ok || u.Email != "alice@example.com" || u.Attributes["organization_id"] != "acme" || u.FirstName != "Alice" {
		t.Fatalf("session user %+v", u)
	}
	if res := call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(alice(nil))+"&return_to=https://evil.example/", nil, ""); res.status != 400 || res.body != "Invalid redirect URL" {
		t.Errorf("foreign return_to: %d %q", res.status, res.body)
	}
	// SDK: discovery, then {status, id, exp, iat}.
	sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
	if res := call(t, "GET", base+"/auth/sso", sdk, ""); res.status != 200 || res.body != `{"method":"jwt","url":"http://app.example/sso"}` {
		t.Errorf("discovery: %d %s", res.status, res.body)
	}
	res = call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(alice(nil)), sdk, "")
	var got struct {
		Status string
		ID     string
		Exp    int64
		Iat    int64
	}
	if json.Unmarshal([]byte(res.body), &got) != nil || got.Status != "ok" || got.Exp != testNow.Add(time.Minute).Unix() || got.Iat != testNow.Unix() {
		t.Fatalf("SDK: %d %s", res.status, res.body)
	}
	if _, ok := s.SessionUser(got.ID); !ok {
		t.Error("SDK id is no session")
	}
	// Off switches.
	_, off := ssoServer(t, SSOOptions{SDKDisabled: true})
	if res := call(t, "GET", off+"/auth/sso", sdk, ""); res.status != 402 || !strings.Contains(res.body, "error-embedding-sdk-disabled") || res.header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("SDK disabled: %d %s", res.status, res.body)
	}
	_, none := newTestServer(t, Options{SecretKey: testSecret})
	if res := call(t, "GET", none.URL+"/auth/sso", nil, ""); res.status != 400 || !strings.Contains(res.body, "error-sso-disabled") {
		t.Errorf("SSO disabled: %d %s", res.status, res.body)
	}
	_, noProv := ssoServer(t, SSOOptions{ProvisioningDisabled: true})
	if res := call(t, "GET", noProv+"/auth/sso?jwt="+ssoJWT(alice(nil)), sdk, ""); res.status != 401 || !strings.Contains(res.body, "you'll need a") {
		t.Errorf("provisioning disabled: %d %s", res.status, res.body)
	}
}

func TestSSOAttributesAndGroups(t *testing.T) {
	s, base := ssoServer(t, SSOOptions{GroupSync: true})
	sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
	call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(alice(map[string]any{"seats": 12, "beta": true, "tags": []any{"x"}, "@reserved": "t", "sub": "u1", "meta": map[string]any{}})), sdk, "")
	u, _ := s.User("ALICE@example.com")
	want := map[string]string{"organization_id": "acme", "seats": "12", "beta": "true"}
	if len(u.Attributes) != len(want) {
		t.Errorf("attributes %v, want %v", u.Attributes, want)
	}
	for k, v := range want {
		if u.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, u.Attributes[k], v)
		}
	}
	if len(u.GroupIDs) != 1 || u.GroupIDs[0] != GroupEmbedded {
		t.Errorf("groups %v", u.GroupIDs)
	}
	// A later login replaces attributes and memberships.
	call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(alice(map[string]any{"organization_id": "globex", "groups": []any{"Administrators"}})), sdk, "")
	u, _ = s.User("alice@example.com")
	if u.Attributes["organization_id"] != "globex" || !u.Superuser() || len(u.GroupIDs) != 1 {
		t.Errorf("after a second login: %+v", u)
	}
}

func TestSessionPrecedenceAndSandbox(t *testing.T) {
	s, base := ssoServer(t, SSOOptions{GroupSync: true})
	sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
	idOf := func(claims map[string]any) string {
		var r struct{ ID string }
		json.Unmarshal([]byte(call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(claims), sdk, "").body), &r)
		return r.ID
	}
	acme := idOf(alice(nil))
	globex := idOf(alice(map[string]any{"email": "bob@example.com", "organization_id": "globex"}))
	noGroup := idOf(alice(map[string]any{"email": "carol@example.com", "groups": []any{}}))
	noAttr := idOf(alice(map[string]any{"email": "dave@example.com", "organization_id": nil}))
	whoami := func(hdr map[string]string) (int, string) {
		res := call(t, "GET", base+"/api/user/current", hdr, "")
		var u struct{ Email string }
		json.Unmarshal([]byte(res.body), &u)
		return res.status, u.Email
	}
	tests := []struct {
		name       string
		hdr        map[string]string
		wantStatus int
		wantEmail  string
	}{
		{"header", map[string]string{"X-Metabase-Session": acme}, 200, "alice@example.com"},
		{"cookie beats header", map[string]string{"Cookie": "metabase.SESSION=" + globex, "X-Metabase-Session": acme}, 200, "bob@example.com"},
		{"a stray invalid cookie beats a good header", map[string]string{"Cookie": "metabase.SESSION=nope", "X-Metabase-Session": acme}, 401, ""},
		{"embedded cookie with anti-CSRF beats the rest", map[string]string{"Cookie": "metabase.EMBEDDED_SESSION=x; metabase.SESSION=" + acme, "X-Metabase-Anti-CSRF-Token": "t"}, 401, ""},
		{"embedded cookie without anti-CSRF is skipped", map[string]string{"Cookie": "metabase.EMBEDDED_SESSION=x; metabase.SESSION=" + acme}, 200, "alice@example.com"},
		{"no session", nil, 401, ""},
		{"API key alone is no user", map[string]string{"X-API-Key": "k"}, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, email := whoami(tt.hdr)
			if st != tt.wantStatus || email != tt.wantEmail {
				t.Errorf("%d %q, want %d %q", st, email, tt.wantStatus, tt.wantEmail)
			}
		})
	}
	count := func(key string, path, body string) response {
		return call(t, "POST", base+path, map[string]string{"X-Metabase-Session": key}, body)
	}
	if res := count(acme, "/api/card/3/query", "{}"); res.status != 202 || !strings.Contains(res.body, `"rows":[[10]]`) {
		t.Errorf("acme count: %d %s", res.status, res.body)
	}
	if res := count(globex, "/api/dashboard/1/dashcard/12/card/3/query", "{}"); res.status != 404 {
		t.Errorf("card not on the dashcard: %d", res.status)
	}
	if res := count(globex, "/api/dashboard/2/dashcard/24/card/3/query", "{}"); res.status != 202 || !strings.Contains(res.body, `"rows":[[12]]`) {
		t.Errorf("globex count through the leaky dashboard (sandboxes hold): %d %s", res.status, res.body)
	}
	if res := count(acme, "/api/card/1/query", "{}"); res.status != 403 {
		t.Errorf("native card for a sandboxed user: %d", res.status)
	}
	if res := count(noGroup, "/api/card/3/query", "{}"); res.status != 403 {
		t.Errorf("user outside the sandboxed group: %d", res.status)
	}
	if res := count(noAttr, "/api/card/3/query", "{}"); !strings.Contains(res.body, "Query requires user attribute `organization_id`") {
		t.Errorf("sandboxed user without the attribute: %d %s", res.status, res.body)
	}
	// The embedded group may view customers unrestricted (the sample's
	// planted hole): Metabase answers every tenant's customers.
	if res := count(acme, "/api/dataset", `{"database":1,"type":"query","query":{"source-table":11}}`); res.status != 202 || !strings.Contains(res.body, "globex") {
		t.Errorf("unsandboxed table, unrestricted for the group: %d %s", res.status, res.body)
	}
	if res := call(t, "GET", base+"/api/setting", map[string]string{"X-Metabase-Session": acme}, ""); res.status != 403 {
		t.Errorf("settings for a user: %d", res.status)
	}
	s.EndSessions()
	if st, _ := whoami(map[string]string{"X-Metabase-Session": acme}); st != 401 {
		t.Errorf("ended session: %d", st)
	}
}

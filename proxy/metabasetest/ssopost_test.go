package metabasetest

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestSSOPost: current Metabase serves POST /auth/sso {"jwt"} to the SDK
// and embed.js as it serves GET; a browser POST, and every JWT POST of a
// Metabase before 2026 (RefusePOST), is refused. The params merge the
// query's and the body's, so the jwt in a POST's query signs in too.
func TestSSOPost(t *testing.T) {
	tok := ssoJWT(alice(nil))
	jsonBody := `{"jwt":` + strconvQuote(tok) + `}`
	sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react", "Content-Type": "application/json"}
	simple := map[string]string{"X-Metabase-Client": "embedding-simple", "Content-Type": "application/json; charset=utf-8"}
	tests := []struct {
		name            string
		opts            SSOOptions
		query           string
		hdr             map[string]string
		body            string
		wantStatus      int
		wantStatusField string
	}{
		{"SDK, JSON body", SSOOptions{}, "", sdk, jsonBody, 200, "ok"},
		{"embed.js, JSON body", SSOOptions{}, "", simple, jsonBody, 200, "ok"},
		{"SDK, jwt in the query of a POST (params merge)", SSOOptions{}, "?jwt=" + url.QueryEscape(tok), sdk, "{}", 200, "ok"},
		{"SDK, no jwt: the discovery", SSOOptions{}, "", sdk, "{}", 200, ""},
		{"browser POST", SSOOptions{}, "", map[string]string{"Content-Type": "application/json"}, jsonBody, 400, "error"},
		{"before 2026", SSOOptions{RefusePOST: true}, "", sdk, jsonBody, 501, "error-post-jwt-not-valid"},
		{"SDK disabled", SSOOptions{SDKDisabled: true}, "", sdk, jsonBody, 402, "error-embedding-sdk-disabled"},
		{"bad JWT", SSOOptions{}, "", sdk, `{"jwt":"a.b.c"}`, 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, base := ssoServer(t, tt.opts)
			res := call(t, "POST", base+"/auth/sso"+tt.query, tt.hdr, tt.body)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", res.status, tt.wantStatus, res.body)
			}
			var got map[string]any
			_ = json.Unmarshal([]byte(res.body), &got)
			if tt.wantStatusField != "" && got["status"] != tt.wantStatusField {
				t.Errorf("status field = %v, want %s: %s", got["status"], tt.wantStatusField, res.body)
			}
			if tt.wantStatus == 200 && tt.wantStatusField == "ok" {
				if _, ok := s.SessionUser(got["id"].(string)); !ok {
					t.Errorf("id %v is no session", got["id"])
				}
			}
			if tt.wantStatus == 200 && tt.wantStatusField == "" && got["method"] != "jwt" {
				t.Errorf("discovery %s", res.body)
			}
			reqs := s.Requests()
			if len(reqs) != 1 || reqs[0].Body != tt.body {
				t.Errorf("recorded body %q, want %q", reqs[len(reqs)-1].Body, tt.body)
			}
		})
	}
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return strings.TrimSpace(string(b))
}

// TestLogout: DELETE /api/session ends exactly the session named by the
// request's key: 204, then that key answers 401 and another session lives
// on; again, or without a key, 404.
func TestLogout(t *testing.T) {
	s, base := ssoServer(t, SSOOptions{})
	signIn := func() string {
		res := call(t, "GET", base+"/auth/sso?jwt="+url.QueryEscape(ssoJWT(alice(nil))), map[string]string{"X-Metabase-Client": "embedding-sdk-react"}, "")
		var got struct{ ID string }
		if json.Unmarshal([]byte(res.body), &got) != nil || got.ID == "" {
			t.Fatalf("sign-in: %d %s", res.status, res.body)
		}
		return got.ID
	}
	k1, k2 := signIn(), signIn()
	if res := call(t, "DELETE", base+"/api/session", map[string]string{"X-Metabase-Session": k1}, ""); res.status != 204 {
		t.Fatalf("logout: %d %s", res.status, res.body)
	}
	if _, ok := s.SessionUser(k1); ok {
		t.Error("the session outlived its logout")
	}
	if _, ok := s.SessionUser(k2); !ok {
		t.Error("logout ended another session")
	}
	if res := call(t, "GET", base+"/api/user/current", map[string]string{"X-Metabase-Session": k1}, ""); res.status != 401 {
		t.Errorf("ended session: %d", res.status)
	}
	if res := call(t, "DELETE", base+"/api/session", map[string]string{"X-Metabase-Session": k1}, ""); res.status != 404 {
		t.Errorf("second logout: %d", res.status)
	}
	if res := call(t, "DELETE", base+"/api/session", nil, ""); res.status != 404 {
		t.Errorf("logout without a key: %d", res.status)
	}
}

// TestSSOHashEra: a Metabase of ≈0.53–0.56 answers the SDK's discovery
// with a hash, and the exchange as JSON only with that hash, once; without
// it, the browser flow's 302 and metabase.SESSION.
func TestSSOHashEra(t *testing.T) {
	_, base := ssoServer(t, SSOOptions{HashEra: true, RefusePOST: true})
	sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
	res := call(t, "GET", base+"/auth/sso", sdk, "")
	var disc struct{ URL, Method, Hash string }
	if json.Unmarshal([]byte(res.body), &disc) != nil || disc.Hash == "" || disc.Method != "jwt" {
		t.Fatalf("discovery: %d %s", res.status, res.body)
	}
	exchange := func(hash string) response {
		h := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
		if hash != "" {
			h["X-Metabase-SDK-JWT-Hash"] = hash
		}
		return call(t, "GET", base+"/auth/sso?jwt="+url.QueryEscape(ssoJWT(alice(nil))), h, "")
	}
	if r := exchange(disc.Hash); r.status != 200 || !strings.Contains(r.body, `"status":"ok"`) {
		t.Errorf("with the hash: %d %s", r.status, r.body)
	}
	for name, hash := range map[string]string{"spent hash": disc.Hash, "no hash": "", "forged hash": "x"} {
		r := exchange(hash)
		if r.status != 302 || !strings.Contains(r.header.Get("Set-Cookie"), "metabase.SESSION=") {
			t.Errorf("%s: %d %v", name, r.status, r.header)
		}
	}
	if r := call(t, "POST", base+"/auth/sso", map[string]string{"X-Metabase-Client": "embedding-sdk-react", "Content-Type": "application/json"}, `{"jwt":"x"}`); r.status != 501 {
		t.Errorf("POST in the hash era: %d", r.status)
	}
}

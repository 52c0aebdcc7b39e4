package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tenantgate/tenantgate/proxy"
)

func explainEnv(t *testing.T) {
	t.Helper()
	t.Setenv("TENANTGATE_CONFIG", "")
	t.Setenv("METABASE_SITE_URL", "http://metabase.invalid:3000") // never contacted
	t.Setenv("MB_EMBEDDING_SECRET_KEY", strings.Repeat("ab", 32))
	t.Setenv("TENANTGATE_SESSION_JWT_SECRET", strings.Repeat("s", 40))
	t.Setenv("TENANTGATE_HANDLE_SECRET", strings.Repeat("h", 40))
}

func runExplain(t *testing.T, args ...string) (int, *proxy.Explanation, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"explain", "--format", "json"}, args...), &out, &errb)
	var ex proxy.Explanation
	if code != 2 {
		if err := json.Unmarshal(out.Bytes(), &ex); err != nil {
			t.Fatalf("explain output: %v\n%s%s", err, out.String(), errb.String())
		}
	}
	return code, &ex, errb.String()
}

func TestExplain(t *testing.T) {
	explainEnv(t)
	acme := `{"sub":"u1","organization_id":"acme"}`
	code, ex, _ := runExplain(t, "--claims", acme, "GET", "/.tenantgate/embed/dashboard/42")
	if code != 0 || ex.Decision != "allow" || ex.Route != "mint" || ex.Upstream != nil {
		t.Fatalf("mint: code %d %+v", code, ex)
	}
	if p, _ := ex.HandleClaims["params"].(map[string]any); p["organization_id"] != "acme" {
		t.Errorf("handle claims = %v", ex.HandleClaims)
	}
	handle := strings.TrimPrefix(ex.Location[:strings.IndexByte(ex.Location, '#')], "/embed/dashboard/")

	path := "/api/embed/dashboard/" + handle + "/dashcard/11/card/1"
	code, ex, _ = runExplain(t, "--claims", acme, "GET", path)
	if code != 0 || ex.Upstream == nil {
		t.Fatalf("own handle: code %d %+v", code, ex)
	}
	if p, _ := ex.Upstream.TokenClaims["params"].(map[string]any); p["organization_id"] != "acme" || !strings.HasSuffix(ex.Upstream.Path, "/dashcard/11/card/1") {
		t.Errorf("upstream = %+v", ex.Upstream)
	}

	code, ex, _ = runExplain(t, "--claims", `{"sub":"u2","organization_id":"globex"}`, "GET", path)
	if code != 1 || ex.Reason != "tenant-mismatch" || ex.Upstream != nil || !strings.Contains(ex.Detail, `"acme"`) {
		t.Errorf("other tenant: code %d %+v", code, ex)
	}

	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u1", "organization_id": "acme", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(strings.Repeat("s", 40)))
	if code, ex, _ = runExplain(t, "--token", tok, "GET", path); code != 0 || ex.Decision != "allow" {
		t.Errorf("verified token: code %d %+v", code, ex)
	}
	forged, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u1", "organization_id": "acme", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(strings.Repeat("x", 40)))
	if code, ex, _ = runExplain(t, "--token", forged, "GET", path); code != 1 || ex.Reason != "session-invalid" {
		t.Errorf("forged token: code %d %+v", code, ex)
	}
	if code, ex, _ = runExplain(t, "--claims", `{"sub":"u3"}`, "GET", "/.tenantgate/embed/dashboard/42"); code != 1 || ex.Reason != "tenant-missing" {
		t.Errorf("no tenant: code %d %+v", code, ex)
	}
	if code, ex, _ = runExplain(t, "--claims", `{"organization_id":"acme"}`, "GET", "/.tenantgate/embed/dashboard/42"); code != 1 || ex.Reason != "subject-missing" {
		t.Errorf("no subject: code %d %+v", code, ex)
	}
	if code, _, _ := runExplain(t, "GET", path); code != 2 {
		t.Errorf("no caller given: code %d, want 2", code)
	}
}

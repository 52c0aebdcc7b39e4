package main

import (
	"bytes"
	"encoding/json"
	"os"
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

// TestExplainREADMEExamples runs README's explain examples under README's
// own settings (TENANTGATE_PUBLIC_PREFIX=/analytics): a path is accepted
// with or without the prefix (issue 14).
func TestExplainREADMEExamples(t *testing.T) {
	explainEnv(t)
	t.Setenv("TENANTGATE_PUBLIC_PREFIX", "/analytics")
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := between(t, string(readme), "### Explaining a decision", "\n### ")
	var examples [][]string
	for _, line := range strings.Split(section, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "tenantgate explain "); ok {
			examples = append(examples, shellWords(t, rest))
		}
	}
	if len(examples) < 2 {
		t.Fatalf("README's explain section has %d examples, want 2 or more", len(examples))
	}
	session, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "u1", "organization_id": "acme",
		"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(strings.Repeat("s", 40)))
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"$SESSION_JWT": session}
	for i, args := range examples {
		for j, a := range args {
			for k, v := range vars {
				args[j] = strings.ReplaceAll(a, k, v)
				a = args[j]
			}
		}
		code, ex, errOut := runExplain(t, args...)
		if code != 0 || ex.Decision != "allow" || !strings.HasPrefix(ex.Target, "/analytics/") {
			t.Fatalf("README example %d %q: exit %d %+v %s", i, args, code, ex, errOut)
		}
		if ex.Location != "" { // a mint: its handle is the next examples' $HANDLE
			loc := ex.Location[:strings.IndexByte(ex.Location, '#')]
			vars["$HANDLE"] = loc[strings.LastIndexByte(loc, '/')+1:]
		}
	}
	// The prefix given explicitly is not doubled.
	code, ex, _ := runExplain(t, "--claims", `{"sub":"u1","organization_id":"acme"}`, "GET", "/analytics/.tenantgate/embed/dashboard/42")
	if code != 0 || ex.Target != "/analytics/.tenantgate/embed/dashboard/42" {
		t.Errorf("explicit prefix: exit %d, target %q", code, ex.Target)
	}
}

// shellWords splits README's one-line shell examples: single and double
// quotes, no escapes.
func shellWords(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

package configs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestYAMLSyntaxErrorLine: a syntax error names the line it is on, not
// the line where yaml's enclosing construct began (issue 14).
func TestYAMLSyntaxErrorLine(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		line       int
	}{
		{"flow list left open", "listen: \":1\"\nmetabase:\n  site_url: [a, b\n  token_ttl: 5m\n", 3},
		{"key indented less than its siblings", "listen: \":1\"\nmetabase:\n  site_url: http://m\n token_ttl: 5m\n", 4},
		{"tab indentation", "listen: \":1\"\nmetabase:\n\tsite_url: http://m\n", 3},
		{"quote left open", "listen: \":1\"\npublic_prefix: \"/analytics\nlog:\n  level: info\n", 2},
		{"key without a colon", "listen: \":1\"\npublic_prefix\nlog:\n  level: info\n", 2},
		{"valid multi-line list, then an error", "frame_ancestors: [a,\n  b]\nlisten: a: b\n", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFile(t, "c.yaml", tc.yaml), nil)
			wantProblems(t, err, fmt.Sprintf("is not valid YAML: line %d: ", tc.line))
		})
	}
}

// TestFollowOnProblemsAreNotReported: once a setting's value could not be
// read (its _FILE, its YAML type, a misspelt key), validation's "is
// required" for it is not reported too; unrelated problems still are.
func TestFollowOnProblemsAreNotReported(t *testing.T) {
	for _, tc := range []struct {
		name   string
		yaml   string
		env    map[string]string
		want   string // the one problem about the setting
		absent string // the follow-on that must not be reported
	}{
		{"secret file missing", "", map[string]string{"MB_EMBEDDING_SECRET_KEY_FILE": "/nonexistent/mb"},
			"MB_EMBEDDING_SECRET_KEY_FILE (metabase.embedding_secret_key): reading", "MB_EMBEDDING_SECRET_KEY (metabase.embedding_secret_key) is required"},
		{"session key file missing", "", map[string]string{"TENANTGATE_SESSION_JWT_SECRET_FILE": "/nonexistent/s"},
			"TENANTGATE_SESSION_JWT_SECRET_FILE (session.jwt_secrets): reading", "no identity source is configured"},
		{"wrong YAML type", "metabase:\n  site_url: [a]\n", nil,
			"line 2: metabase.site_url (METABASE_SITE_URL): expected a string, got a list", "METABASE_SITE_URL (metabase.site_url) is required"},
		{"misspelt key", "metabase:\n  site_ur: http://m\n", nil,
			`unknown key "metabase.site_ur": did you mean "metabase.site_url" (METABASE_SITE_URL)?`, "METABASE_SITE_URL (metabase.site_url) is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if tc.yaml != "" {
				path = writeFile(t, "c.yaml", tc.yaml)
			}
			_, err := LoadAndValidate(path, envMap(tc.env), ModeServe)
			if err == nil {
				t.Fatal("no problem reported")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("problems lack %q:\n%v", tc.want, err)
			}
			if strings.Contains(err.Error(), tc.absent) {
				t.Errorf("follow-on %q reported:\n%v", tc.absent, err)
			}
			// Settings not involved are still checked.
			if !strings.Contains(err.Error(), "TENANTGATE_HANDLE_SECRET (handles.secrets) is required") {
				t.Errorf("an unrelated problem went missing:\n%v", err)
			}
		})
	}
}

// TestUnknownKeyNamesPathAndSuggestion: no Go type names; the full key,
// its line, and the nearest known key with its variable.
func TestUnknownKeyNamesPathAndSuggestion(t *testing.T) {
	_, err := Load(writeFile(t, "c.yaml", "session:\n  jwt_secret: x\nupstream:\n  timout: 5s\n"), nil)
	wantProblems(t, err,
		`line 2: unknown key "session.jwt_secret": did you mean "session.jwt_secrets" (TENANTGATE_SESSION_JWT_SECRET)?`,
		`line 4: unknown key "upstream.timout": did you mean "upstream.timeout" (TENANTGATE_UPSTREAM_TIMEOUT)?`)
	if strings.Contains(err.Error(), "configs.") || strings.Contains(err.Error(), "not found in type") {
		t.Errorf("a Go type name reached the operator:\n%v", err)
	}
}

// TestExampleFileWithREADMESecretFiles: the example file passes
// check-config as is once the secret files README step 2 names exist and
// its _FILE variables point at them.
func TestExampleFileWithREADMESecretFiles(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{}
	for v, secret := range exampleSecrets {
		f := filepath.Join(dir, strings.ToLower(v))
		if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		env[v+"_FILE"] = f
	}
	if _, err := LoadAndValidate(exampleFile, envMap(env), ModeServe); err != nil {
		t.Fatalf("%s with README's secret files does not validate:\n%v", exampleFile, err)
	}
}

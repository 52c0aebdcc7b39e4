package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envMap turns a map into an env lookup, as os.LookupEnv would answer.
func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// writeFile writes content to a new file in a test directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// problemsOf returns the problems of err, failing the test if err is not a
// *ValidationError.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is %T, want *ValidationError: %v", err, err)
	}
	if got, want := ve.Error(), strings.Join(ve.Problems, "\n"); got != want {
		t.Errorf("Error() = %q, want the problems one per line %q", got, want)
	}
	return ve.Problems
}

// wantProblems checks that err lists exactly len(want) problems and that
// each want substring occurs in one of them.
func wantProblems(t *testing.T, err error, want ...string) {
	t.Helper()
	got := problemsOf(t, err)
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			if strings.Contains(g, w) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no problem contains %q; got:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

const (
	testEmbedKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testJWTKey   = "session-key-session-key-session-key!"
	testHandle   = "handle-key-handle-key-handle-key-handle!"
)

// validConfig returns a Config that passes Validate(ModeServe).
func validConfig() *Config {
	c := &Config{
		Metabase: MetabaseConfig{SiteURL: "http://metabase:3000", EmbeddingSecretKey: testEmbedKey},
		Session:  SessionConfig{JWTSecrets: []Secret{testJWTKey}},
		Handles:  HandleConfig{Secrets: []Secret{testHandle}},
	}
	c.ApplyDefaults()
	return c
}

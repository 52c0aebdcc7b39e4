package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds Load any YAML file and one environment variable. It never
// panics; it returns either a Config or a *ValidationError with at least
// one problem, never both; a Config it returns has every default filled,
// and validating it (in every mode) gives nil or a *ValidationError whose
// problems never quote a secret.
func FuzzLoad(f *testing.F) {
	names := []string{}
	for _, b := range new(Config).bindings() {
		names = append(names, b.env)
	}
	f.Add("listen: \"127.0.0.1:8080\"\npublic_prefix: /analytics\nframe_ancestors: [\"'self'\"]\ntrusted_proxies: [10.0.0.0/8]\n"+
		"metabase:\n  site_url: http://metabase:3000\n  embedding_secret_key: \""+testEmbedKey+"\"\n"+
		"session:\n  jwt_secrets: [\""+testJWTKey+"\"]\nhandles:\n  secrets: [\""+testJWTKey+"\"]\n", uint8(0), "")
	f.Add("", uint8(7), testEmbedKey) // MB_EMBEDDING_SECRET_KEY
	f.Add("listen: \":1\"\nadmin_listen: \":1\"\n", uint8(0), ":2")
	f.Add("shutdown_grace: -1s\nhandles:\n  ttl: 1s\n  renew_max: 1ns\n", uint8(24), "2h")
	f.Add("metabase:\n  embedding_secret_key: [1, 2]\n  site_url: \"ftp://x\"\n", uint8(6), "http://[::1")
	f.Add("policy:\n  resources:\n    - dashboard: 1\n      question: 2\n      locked_params: {region: \"{{ .Claims.region \"}\n", uint8(30), "x")
	f.Add("policy:\n  resources:\n    - dashboard: 1\n      editable_params: [organization_id]\n      require_claims: {plan: []}\n", uint8(31), "0")
	f.Add("a: &a [*a, *a]\n", uint8(15), "NaN")
	f.Add("---\n---\nlisten: x\n", uint8(38), "99999999999999999999")
	f.Add("limits:\n  max_token_bytes: 99999999\n  max_header_bytes: 1\n", uint8(36), "-1")
	f.Add("session:\n  jwt_secrets: [\"short\", \"session-key-session-key-session-key!\"]\n  jwks_url: \"http://x\"\n", uint8(11), " , ,")
	dir := f.TempDir()
	file := filepath.Join(dir, "tenantgate.yaml")
	f.Fuzz(func(t *testing.T, doc string, pick uint8, value string) {
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		name := names[int(pick)%len(names)]
		env := func(k string) (string, bool) {
			// Never a _FILE variable: the fuzzer must not name files to read.
			if k == name {
				return value, true
			}
			return "", false
		}
		c, err := Load(file, env)
		if (c == nil) == (err == nil) {
			t.Fatalf("Load returned config %v and error %v: want exactly one", c != nil, err)
		}
		if err != nil {
			checkProblems(t, err)
			return
		}
		if c.Listen == "" || c.Session.CacheSize == 0 || c.Handles.TTL == 0 || c.Tenant.Param == "" || c.Limits.MaxHeaderBytes == 0 {
			t.Fatalf("Load returned a config without its defaults: %+v", c)
		}
		input := doc + "\n" + value
		var secrets []string
		for _, s := range append(append([]Secret{c.Metabase.EmbeddingSecretKey, c.Metabase.APIKey}, c.Session.JWTSecrets...), c.Handles.Secrets...) {
			// A secret written once in the input and long enough to be
			// unmistakable; an alias could reuse it as another setting.
			if v := s.Reveal(); len(v) >= 12 && strings.Count(input, v) == 1 && !strings.Contains(doc, "*") {
				secrets = append(secrets, v)
			}
		}
		for _, mode := range []Mode{ModeServe, ModeDemo, ModeAudit} {
			verr := c.Validate(mode)
			if verr == nil {
				continue
			}
			for _, p := range checkProblems(t, verr) {
				for _, s := range secrets {
					if strings.Contains(p, s) {
						t.Fatalf("mode %d: problem quotes a secret: %s", mode, p)
					}
				}
			}
		}
	})
}

// checkProblems asserts err is a *ValidationError with at least one
// non-empty problem and returns them.
func checkProblems(t *testing.T, err error) []string {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error is %T, want *ValidationError: %v", err, err)
	}
	if len(ve.Problems) == 0 {
		t.Fatalf("a *ValidationError with no problems")
	}
	for _, p := range ve.Problems {
		if strings.TrimSpace(p) == "" {
			t.Fatalf("an empty problem in %q", ve.Problems)
		}
	}
	return ve.Problems
}

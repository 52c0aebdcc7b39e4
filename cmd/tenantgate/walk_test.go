package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/configs"
)

// TestREADMEWalk follows README's "Trying serve and audit against the
// stand-in" as written: standin prints the exports, README's block adds
// the gate's keys, check-config passes, serve answers, audit finds the
// leaky dashboard (issue 14). Only the listen ports differ (any free one).
func TestREADMEWalk(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := between(t, string(readme), "## Trying serve and audit against the stand-in", "\n## ")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var printed bytes.Buffer
	ready := make(chan struct{})
	go func() {
		_ = serveStandin(ctx, standinOptions{listen: "127.0.0.1:0"}, &printed, func(string, map[string]string) { close(ready) })
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("standin did not start")
	}

	// Step 1's printed exports, then step 2's.
	env := exports(printed.String())
	for _, k := range []string{"METABASE_SITE_URL", "MB_EMBEDDING_SECRET_KEY", "METABASE_API_KEY"} {
		if env[k] == "" {
			t.Fatalf("standin did not print export %s:\n%s", k, printed.String())
		}
		if !strings.Contains(section, "`"+k+"`") {
			t.Errorf("README's walk does not name %s, which standin prints", k)
		}
	}
	for k, v := range exports(section) {
		env[k] = v
	}
	for _, k := range []string{"TENANTGATE_SESSION_JWT_SECRET", "TENANTGATE_HANDLE_SECRET", "TENANTGATE_LISTEN"} {
		if env[k] == "" {
			t.Fatalf("README's walk has no export of %s", k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}

	var out, errOut bytes.Buffer
	if !strings.Contains(section, "./tenantgate check-config") {
		t.Error("README's walk does not run check-config")
	}
	if code := run([]string{"check-config"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "configuration OK") {
		t.Fatalf("check-config: exit %d\n%s%s", code, out.String(), errOut.String())
	}

	// serve, on free ports instead of README's 8080 and 9090.
	pub, adm := serveFromEnv(t)
	get := func(url string) (int, string) {
		var resp *http.Response
		for i := 0; i < 50; i++ {
			if resp, err = http.Get(url); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for _, step := range []struct {
		readme string
		l      net.Listener
		path   string
		status int
		body   string
	}{
		{"curl -s http://127.0.0.1:9090/readyz", adm, "/readyz", 200, "ok"},
		{"curl -s http://127.0.0.1:8080/.tenantgate/embed/dashboard/1", pub, "/.tenantgate/embed/dashboard/1", 401, "no-session"},
	} {
		if !strings.Contains(section, step.readme) {
			t.Errorf("README's walk no longer says %q", step.readme)
		}
		code, body := get("http://" + step.l.Addr().String() + step.path)
		if code != step.status || !strings.Contains(body, step.body) {
			t.Errorf("%s: got %d %q, want %d with %q", step.readme, code, body, step.status, step.body)
		}
		if step.body == "no-session" {
			var e struct{ Reason string }
			if json.Unmarshal([]byte(body), &e) != nil || e.Reason != "no-session" {
				t.Errorf("refusal is not JSON with reason no-session: %s", body)
			}
		}
	}

	out.Reset()
	errOut.Reset()
	if code := run([]string{"audit"}, &out, &errOut); code != auditFindings {
		t.Errorf("audit: exit %d, want %d (findings)\n%s%s", code, auditFindings, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "All orders count") {
		t.Errorf("audit does not name the unwired card:\n%s", out.String())
	}
}

// serveFromEnv runs the gate as serve would, from the environment, on
// free ports, until the test ends.
func serveFromEnv(t *testing.T) (pub, adm net.Listener) {
	t.Helper()
	cfg, err := configs.LoadAndValidate("", os.LookupEnv, configs.ModeServe)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ = net.Listen("tcp", "127.0.0.1:0")
	adm, _ = net.Listen("tcp", "127.0.0.1:0")
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- runGate(ctx, cfg, zap.NewNop(), pub, adm) }()
	t.Cleanup(func() { stop(); <-served })
	return pub, adm
}

// exports reads `export K=V [K2=V2...]` lines (shell comments cut off).
func exports(text string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line, _, _ = strings.Cut(strings.TrimSpace(line), " #")
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			if k, v, ok := strings.Cut(kv, "="); ok && exportName.MatchString(k) {
				m[k] = v
			}
		}
	}
	return m
}

var exportName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("README has no section %q", start)
	}
	s = s[i+len(start):]
	if j := strings.Index(s, end); j >= 0 {
		s = s[:j]
	}
	return s
}

// TestREADMERunningForReal follows step 2 of README's "Running it for real"
// word for word against the stand-in run on its own: its exports as
// written, the three secret files at the paths it names (under a temporary
// root), METABASE_SITE_URL pointing at the stand-in. check-config passes,
// serve starts, and /readyz says Metabase accepts the key (issue 14).
func TestREADMERunningForReal(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	step := between(t, string(readme), "## Running it for real, in front of Metabase", "\n3. ")
	if !strings.Contains(step, "tenantgate check-config && tenantgate serve") {
		t.Fatal("README's step 2 no longer runs check-config then serve")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var printed bytes.Buffer
	ready := make(chan map[string]string, 1)
	go func() {
		_ = serveStandin(ctx, standinOptions{listen: "127.0.0.1:0"}, &printed, func(_ string, env map[string]string) { ready <- env })
	}()
	var mb map[string]string
	select {
	case mb = <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("standin did not start")
	}

	root := t.TempDir()
	secrets := map[string]string{ // what the operator writes into each file
		"/run/secrets/mb_embedding_secret":   mb["MB_EMBEDDING_SECRET_KEY"],
		"/run/secrets/app_session_key":       "the-apps-own-session-key-0123456789abcdef",
		"/run/secrets/tenantgate_handle_key": strings.Repeat("a1", 32),
	}
	env := exports(step)
	if len(env) < 6 {
		t.Fatalf("README's step 2 has %d exports: %v", len(env), env)
	}
	for k, v := range env {
		if path, ok := strings.CutPrefix(v, "/run/secrets/"); ok {
			secret, known := secrets[v]
			if !known {
				t.Fatalf("README's step 2 names a secret file this test does not know: %s", v)
			}
			f := filepath.Join(root, path)
			if err := os.WriteFile(f, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			v = f
		}
		env[k] = strings.Trim(v, `"`)
	}
	env["METABASE_SITE_URL"] = mb["METABASE_SITE_URL"] // "your Metabase"
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"check-config"}, &out, &errOut); code != 0 {
		t.Fatalf("check-config: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	_, adm := serveFromEnv(t)
	var rz struct {
		Status string
		Checks map[string]string
	}
	for i := 0; i < 50; i++ {
		resp, err := http.Get("http://" + adm.Addr().String() + "/readyz")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&rz)
			resp.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if rz.Status != "ok" || rz.Checks["embedding_secret"] != "ok" {
		t.Errorf("/readyz = %+v, want ok with the embedding secret accepted", rz)
	}
}

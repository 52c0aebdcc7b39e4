package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/configs"
)

// TestRevokeOnSIGHUP: a revocation written to the file takes effect at the
// next SIGHUP, on a handle minted before it as on new mints, with no state
// shared beyond the file; a bad revocation is refused and the running one
// kept.
func TestRevokeOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tenantgate.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	pub, _ := net.Listen("tcp", "127.0.0.1:0")
	adm, _ := net.Listen("tcp", "127.0.0.1:0")
	env := map[string]string{
		"METABASE_SITE_URL":             "http://127.0.0.1:1",
		"MB_EMBEDDING_SECRET_KEY":       strings.Repeat("ab", 32),
		"TENANTGATE_SESSION_JWT_SECRET": strings.Repeat("s", 40),
		"TENANTGATE_HANDLE_SECRET":      strings.Repeat("h", 40),
		"TENANTGATE_LISTEN":             pub.Addr().String(),
		"TENANTGATE_ADMIN_LISTEN":       adm.Addr().String(),
	}
	load := func() (*configs.Config, error) {
		return configs.LoadAndValidate(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, configs.ModeServe)
	}
	write("log:\n  level: info\n")
	cfg, err := load()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() { done <- runGateReloading(ctx, cfg, zap.NewNop(), pub, adm, load, hup) }()
	defer func() {
		cancel()
		<-done
	}()
	tok := sessionToken(t, strings.Repeat("s", 40), "alice", "acme")
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+pub.Addr().String()+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e struct{ Reason, URL string }
		_ = json.Unmarshal(b, &e)
		if e.URL != "" {
			return resp.StatusCode, e.URL
		}
		return resp.StatusCode, e.Reason
	}
	waitFor := func(cond func() bool) bool {
		for i := 0; i < 100; i++ {
			if cond() {
				return true
			}
			time.Sleep(20 * time.Millisecond)
		}
		return false
	}
	var embedURL string
	if !waitFor(func() bool {
		code, u := get("/.tenantgate/embed/dashboard/1")
		embedURL = u
		return code == http.StatusOK
	}) {
		t.Fatal("the gate never minted")
	}
	handle := strings.TrimPrefix(embedURL[:strings.IndexByte(embedURL, '#')], "/embed/dashboard/")
	if code, _ := get("/api/embed/dashboard/" + handle); code == http.StatusUnauthorized {
		t.Fatalf("the handle is refused before any revocation: %d", code)
	}

	write("sso:\n  revoke:\n    - tenant: acme\n      before: \"2100-01-01T00:00:00Z\"\n")
	hup <- os.Interrupt
	if !waitFor(func() bool {
		code, r := get("/api/embed/dashboard/" + handle)
		return code == http.StatusUnauthorized && r == "session-revoked"
	}) {
		t.Fatal("the revocation never took effect on the old handle")
	}
	if code, r := get("/.tenantgate/embed/dashboard/1"); code != http.StatusUnauthorized || r != "session-revoked" {
		t.Errorf("mint after the revocation: %d %s", code, r)
	}

	write("sso:\n  revoke:\n    - tenant: acme\n      before: \"tomorrow\"\n")
	hup <- os.Interrupt
	if !waitFor(func() bool {
		resp, err := http.Get("http://" + adm.Addr().String() + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `tenantgate_config_reloads_total{result="failure"} 1`)
	}) {
		t.Fatal("the bad revocation was not refused")
	}
	if code, r := get("/.tenantgate/embed/dashboard/1"); code != http.StatusUnauthorized || r != "session-revoked" {
		t.Errorf("after a refused reload the running revocation should stand: %d %s", code, r)
	}
}

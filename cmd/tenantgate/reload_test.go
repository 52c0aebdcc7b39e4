package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/configs"
)

// TestReloadOnSIGHUP: a new policy takes effect without dropping the
// client's connection; a bad file is refused and the running policy kept.
func TestReloadOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tenantgate.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	policyFor := func(dashboard string) string {
		return "policy:\n  resources:\n    - dashboard: " + dashboard + "\n"
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
	write(policyFor("1"))
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
	var reused bool
	mint := func(id string) int {
		req, _ := http.NewRequest("GET", "http://"+pub.Addr().String()+"/.tenantgate/embed/dashboard/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "application/json")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	metric := func() string {
		resp, err := http.Get("http://" + adm.Addr().String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
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
	for i := 0; i < 50 && mint("1") != http.StatusOK; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if got := mint("2"); got != http.StatusForbidden {
		t.Fatalf("dashboard 2 before reload: %d, want 403", got)
	}

	write(policyFor("2"))
	hup <- os.Interrupt
	if !waitFor(func() bool { return mint("2") == http.StatusOK }) {
		t.Fatal("the new policy never took effect")
	}
	if !reused {
		t.Error("the client's connection was not reused across the reload")
	}
	if got := mint("1"); got != http.StatusForbidden {
		t.Errorf("dashboard 1 after reload: %d, want 403", got)
	}

	write("policy:\n  resources:\n    - dashboard: 1\nnot_a_setting: true\n")
	hup <- os.Interrupt
	if !waitFor(func() bool { return strings.Contains(metric(), `tenantgate_config_reloads_total{result="failure"} 1`) }) {
		t.Fatalf("refused reload not counted:\n%s", metric())
	}
	if got := mint("2"); got != http.StatusOK {
		t.Errorf("after a bad reload the running policy should stand: dashboard 2 = %d", got)
	}
	if !strings.Contains(metric(), `tenantgate_config_reloads_total{result="success"} 1`) {
		t.Error("successful reload not counted")
	}
}

func sessionToken(t *testing.T, key, sub, tenant string) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "organization_id": tenant, "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

const (
	mbKeyA     = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	mbKeyB     = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	sessKeyOld = "session-key-old-0123456789abcdef0123456789"
	sessKeyNew = "session-key-new-0123456789abcdef0123456789"
	hKeyOld    = "handle-key-old-0123456789abcdef0123456789"
	hKeyNew    = "handle-key-new-0123456789abcdef0123456789"
)

// swappable is Metabase behind one address whose instance a test can
// replace (a restart with a new embedding secret).
type swappable struct {
	cur atomic.Pointer[metabasetest.Server]
	srv *httptest.Server
}

func newSwappable(t *testing.T, secret string) *swappable {
	t.Helper()
	s := &swappable{}
	s.cur.Store(metabasetest.New(metabasetest.Options{SecretKey: secret}))
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.cur.Load().ServeHTTP(w, r) }))
	t.Cleanup(s.srv.Close)
	return s
}

// liveGate is runGateReloading on loopback listeners, configured from an
// environment the test may change before sending a SIGHUP.
type liveGate struct {
	t        *testing.T
	base     string // http://127.0.0.1:port of the public listener
	admin    string
	mb       *swappable
	mu       sync.Mutex
	env      map[string]string
	hup      chan os.Signal
	cancel   context.CancelFunc
	done     chan error
	reloads  int
	stopOnce sync.Once
}

func startGate(t *testing.T, env map[string]string) *liveGate {
	t.Helper()
	g := &liveGate{t: t, env: map[string]string{
		"MB_EMBEDDING_SECRET_KEY":       mbKeyA,
		"TENANTGATE_SESSION_JWT_SECRET": sessKeyOld,
		"TENANTGATE_HANDLE_SECRET":      hKeyOld,
		"TENANTGATE_SHUTDOWN_GRACE":     "5s",
	}, hup: make(chan os.Signal, 1), done: make(chan error, 1)}
	g.mb = newSwappable(t, mbKeyA)
	g.env["METABASE_SITE_URL"] = g.mb.srv.URL
	for k, v := range env {
		g.env[k] = v
	}
	pub, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	adm, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.env["TENANTGATE_LISTEN"], g.env["TENANTGATE_ADMIN_LISTEN"] = pub.Addr().String(), adm.Addr().String()
	g.base, g.admin = "http://"+pub.Addr().String(), "http://"+adm.Addr().String()
	cfg, err := g.load()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel = cancel
	go func() { g.done <- runGateReloading(ctx, cfg, zap.NewNop(), pub, adm, g.load, g.hup) }()
	t.Cleanup(func() { g.stop() })
	for i := 0; ; i++ {
		resp, err := http.Get(g.admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 100 {
			t.Fatalf("gate did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return g
}

func (g *liveGate) load() (*configs.Config, error) {
	g.mu.Lock()
	env := make(map[string]string, len(g.env))
	for k, v := range g.env {
		env[k] = v
	}
	g.mu.Unlock()
	return configs.LoadAndValidate("", func(k string) (string, bool) { v, ok := env[k]; return v, ok }, configs.ModeServe)
}

// stop is SIGTERM: it returns runGate's result.
func (g *liveGate) stop() error {
	var err error
	g.stopOnce.Do(func() {
		g.cancel()
		select {
		case err = <-g.done:
		case <-time.After(15 * time.Second):
			err = fmt.Errorf("runGate did not return")
		}
	})
	return err
}

// reload sets the variables and sends SIGHUP, then waits until the new
// gate serves (the success counter moves).
func (g *liveGate) reload(set map[string]string) {
	g.t.Helper()
	g.mu.Lock()
	for k, v := range set {
		g.env[k] = v
	}
	g.mu.Unlock()
	g.reloads++
	g.hup <- syscall.SIGHUP
	want := fmt.Sprintf(`tenantgate_config_reloads_total{result="success"} %d`, g.reloads)
	for i := 0; !strings.Contains(g.metrics(), want); i++ {
		if i > 250 {
			g.t.Fatalf("reload %d never succeeded", g.reloads)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (g *liveGate) metrics() string {
	resp, err := http.Get(g.admin + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// get sends GET path with a bearer session and returns status, reason
// (for a denial) and the body; a transport error is status 0.
func (g *liveGate) get(client *http.Client, path, sess string, hdr ...string) (int, string, []byte) {
	req, _ := http.NewRequest("GET", g.base+path, nil)
	if sess != "" {
		req.Header.Set("Authorization", "Bearer "+sess)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err.Error(), nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "cut: " + err.Error(), b
	}
	var e struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Reason, b
}

// mint returns a handle for dashboard 1 minted for sess.
func (g *liveGate) mint(client *http.Client, sess string) string {
	g.t.Helper()
	code, reason, b := g.get(client, "/.tenantgate/embed/dashboard/1", sess, "Accept", "application/json")
	if code != http.StatusOK {
		g.t.Fatalf("mint: %d %s %s", code, reason, b)
	}
	var m struct {
		URL string `json:"url"`
	}
	_ = json.Unmarshal(b, &m)
	rest := strings.TrimPrefix(m.URL, "/embed/dashboard/")
	return rest[:strings.IndexByte(rest, '#')]
}

func queryPath(handle string) string {
	return "/api/embed/dashboard/" + handle + "/dashcard/11/card/1"
}

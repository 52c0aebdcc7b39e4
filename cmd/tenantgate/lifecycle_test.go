package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/configs"
)

// TestGracefulShutdown: on SIGTERM (ctx cancelled) a stream in flight is
// served to its end, new connections are refused, and runGate returns
// cleanly. (/readyz failing on Drain is proxy.TestAdmin.)
func TestGracefulShutdown(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript")
		for i := 0; i < 10; i++ {
			_, _ = io.WriteString(w, strings.Repeat("x", 1000)+"\n")
			w.(http.Flusher).Flush()
			time.Sleep(80 * time.Millisecond)
		}
	}))
	defer upstream.Close()
	cfg := &configs.Config{}
	cfg.Metabase.SiteURL = upstream.URL
	cfg.Metabase.EmbeddingSecretKey = configs.Secret(strings.Repeat("ab", 32))
	cfg.Session.JWTSecrets = []configs.Secret{configs.Secret(strings.Repeat("s", 40))}
	cfg.Handles.Secrets = []configs.Secret{configs.Secret(strings.Repeat("h", 40))}
	cfg.ShutdownGrace = 5 * time.Second
	pub, _ := net.Listen("tcp", "127.0.0.1:0")
	adm, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg.Listen, cfg.AdminListen = pub.Addr().String(), adm.Addr().String()
	cfg.ApplyDefaults()
	if err := cfg.Validate(configs.ModeServe); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runGate(ctx, cfg, zap.NewNop(), pub, adm) }()

	base := "http://" + pub.Addr().String()
	var resp *http.Response
	var err error
	for i := 0; i < 50; i++ {
		if resp, err = http.Get(base + "/app/dist/stream.js?v=1"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	cancel() // SIGTERM while the stream is in flight
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(body) != 10*1001 {
		t.Errorf("in-flight stream cut: %d bytes, %v", len(body), err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("runGate = %v, want nil after a clean drain", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("runGate did not return")
	}
	if _, err := http.Get(base + "/app/dist/x.js"); err == nil {
		t.Error("the gate still accepts connections after shutdown")
	}
}

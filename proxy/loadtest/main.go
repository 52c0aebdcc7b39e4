// Command loadtest starts, on loopback, the three servers that
// proxy/loadtest/run.sh measures with wrk: a static upstream, a bare
// httputil.ReverseProxy in front of it (tuned transport, pooled buffers,
// no checks, no logging), and the gate with every check on (session JWT,
// handle, policy, re-signing, header strip, metrics, JSON access log).
// It prints the request line and cookie to use, then serves until killed.
// With -only, it serves one of the three, so each can be a process of its
// own on a CPU of its own.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/proxy"
)

const (
	mbKey      = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	sessionKey = "load-session-key-0123456789abcdef0123456789"
	handleKey  = "load-handle-key-0123456789abcdef0123456789"
)

func main() {
	size := flag.Int("size", 20<<10, "response body bytes")
	upAddr := flag.String("upstream", "127.0.0.1:18080", "static upstream address")
	bareAddr := flag.String("bare", "127.0.0.1:18081", "bare reverse proxy address")
	gateAddr := flag.String("gate", "127.0.0.1:18082", "gate address")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof here (e.g. 127.0.0.1:6060) to profile the gate under load")
	sessionAlg := flag.String("session", "hs256", "session JWTs: hs256 (a shared key) or rs256 (a JWKS served on -jwks)")
	jwksAddr := flag.String("jwks", "127.0.0.1:18083", "JWKS address for -session rs256")
	only := flag.String("only", "", "serve only this one: upstream, bare or gate (default: all three)")
	flag.Parse()
	on := func(server string) bool { return *only == "" || *only == server }
	if *pprofAddr != "" {
		serve(*pprofAddr, http.DefaultServeMux)
	}

	body := make([]byte, *size)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	if on("upstream") {
		serve(*upAddr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
		}))
	}

	cfg := &configs.Config{}
	cfg.Metabase.SiteURL = "http://" + *upAddr
	cfg.Metabase.EmbeddingSecretKey = mbKey
	cfg.Session.JWTSecrets = []configs.Secret{sessionKey}
	var rsaKey *rsa.PrivateKey
	if *sessionAlg == "rs256" {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			log.Fatal(err)
		}
		b64 := base64.RawURLEncoding.EncodeToString
		jwks := fmt.Sprintf(`{"keys":[{"kty":"RSA","kid":"load","alg":"RS256","use":"sig","n":%q,"e":%q}]}`,
			b64(rsaKey.N.Bytes()), b64(big.NewInt(int64(rsaKey.E)).Bytes()))
		if on("gate") {
			serve(*jwksAddr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, jwks)
			}))
		}
		cfg.Session.JWTSecrets = nil
		cfg.Session.JWKSURL = "http://" + *jwksAddr + "/jwks.json"
	}
	cfg.Handles.Secrets = []configs.Secret{handleKey}
	cfg.ApplyDefaults()
	// Load from one client is one tenant: lift its fairness limits so the
	// measure is the proxy's cost, not the limiter's refusals; and measure
	// every request reaching upstream (merging would flatter the gate).
	cfg.Protect.TenantRate, cfg.Protect.TenantBurst, cfg.Protect.TenantConcurrency = 1e9, 1e9, 1e6
	cfg.Protect.DisableQueryMerging = true
	if err := cfg.Validate(configs.ModeServe); err != nil {
		log.Fatal(err)
	}
	target, _ := url.Parse(cfg.Metabase.SiteURL)
	// The gate's transport settings (proxy.newTransport), without its
	// timeouts: same pool, same read buffer.
	tr := &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second,
		ReadBufferSize: proxy.TransportReadBufferSize}
	if on("bare") {
		serve(*bareAddr, &httputil.ReverseProxy{
			Rewrite:    func(pr *httputil.ProxyRequest) { pr.SetURL(target) },
			Transport:  tr,
			BufferPool: pool{},
			ErrorLog:   log.New(io.Discard, "", 0),
		})
	}

	// The logger `tenantgate serve` runs, writing to a file as it would to
	// stderr: every access line is encoded and written. The file is
	// unlinked at once, so a killed run leaves nothing behind.
	logFile, err := os.CreateTemp("", "tenantgate-loadtest-*.log")
	if err != nil {
		log.Fatal(err)
	}
	_ = os.Remove(logFile.Name())
	logger, _, err := proxy.NewLogger(configs.LogConfig{Level: "info"}, logFile)
	if err != nil {
		log.Fatal(err)
	}
	st, err := proxy.Build(context.Background(), cfg, logger, prometheus.NewRegistry(), metrics.BuildInfo{})
	if err != nil {
		log.Fatal(err)
	}
	if on("gate") {
		serve(*gateAddr, st.Gate)
	}

	keys, _ := auth.NewHandleKeyring([]string{handleKey}, 24*time.Hour, 10, nil)
	handle, _, _ := keys.Seal(auth.Resource{Kind: auth.KindDashboard, ID: 1}, map[string]any{"organization_id": "acme"}, "acme", "alice")
	claims := jwt.MapClaims{"sub": "alice", "organization_id": "acme", "exp": time.Now().Add(24 * time.Hour).Unix()}
	sess, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(sessionKey))
	if rsaKey != nil {
		t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		t.Header["kid"] = "load"
		sess, _ = t.SignedString(rsaKey)
	}
	fmt.Printf("PATH=/api/embed/dashboard/%s/dashcard/11/card/1\nCOOKIE=session=%s\n", handle, sess)
	os.Stdout.Sync()
	select {}
}

// pool is the bare proxy's copy-buffer pool, as the gate has.
type pool struct{}

var buffers = make(chan []byte, 1024)

func (pool) Get() []byte {
	select {
	case b := <-buffers:
		return b
	default:
		return make([]byte, 32<<10)
	}
}

func (pool) Put(b []byte) {
	select {
	case buffers <- b:
	default:
	}
}

func serve(addr string, h http.Handler) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	go func() { log.Fatal((&http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}).Serve(ln)) }()
}

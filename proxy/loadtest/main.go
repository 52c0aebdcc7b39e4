// Command loadtest starts, on loopback, the three servers that
// proxy/loadtest/run.sh measures with wrk: a static upstream, a bare
// httputil.ReverseProxy in front of it (tuned transport, pooled buffers,
// no checks, no logging), and the gate with every check on (session JWT,
// handle, policy, re-signing, header strip, metrics, JSON access log).
// It prints the scenario's configuration, the request line and cookie to
// use, then serves until killed. With -only, it serves one of the three,
// so each can be a process of its own on a CPU of its own.
//
// Scenarios (-scenario), each with its own configuration:
//   - lifted: every check on, protections lifted (merging off, the
//     tenant's rate and in-flight cap lifted): the per-request path, a card
//     query, every request reaching the upstream;
//   - defaults: what a new user gets (the configuration's defaults:
//     merging on, rate 200/s burst 400, 64 in flight, 1 s wait), on the
//     dashboard's JSON, which a dashboard asks once per opening;
//   - herd: the defaults, every connection asking the same card query of
//     an upstream that takes -delay per answer (Metabase is not
//     instant): merging should make the gate faster than the bare proxy.
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
	"math"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof"
	"net/url"
	"os"
	"runtime"
	rtmetrics "runtime/metrics"
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
	scenario := flag.String("scenario", "lifted", "lifted, defaults or herd (see the package doc)")
	delay := flag.Duration("delay", 0, "the upstream's time per answer (herd: 2ms when not set)")
	logLevel := flag.String("log-level", "info", "the gate's log level: info writes an access line per request, warn only refusals and problems")
	metricsAddr := flag.String("runtime-metrics", "", "serve the Go runtime's metrics as text here (GC cycles and CPU, heap, goroutines)")
	flag.Parse()
	desc, ok := scenarios[*scenario]
	if !ok {
		log.Fatalf("-scenario %q: want lifted, defaults or herd", *scenario)
	}
	if *scenario == "herd" && *delay == 0 {
		*delay = 2 * time.Millisecond
	}
	if *metricsAddr != "" {
		serve(*metricsAddr, http.HandlerFunc(runtimeMetrics))
	}
	on := func(server string) bool { return *only == "" || *only == server }
	if *pprofAddr != "" {
		// Sampled, so the profile costs little: one contention event in 10.
		runtime.SetMutexProfileFraction(10)
		serve(*pprofAddr, http.DefaultServeMux)
	}

	body := answer(*size)
	if on("upstream") {
		serve(*upAddr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if *delay > 0 {
				time.Sleep(*delay)
			}
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
	if *scenario == "lifted" {
		// Load from one client is one tenant: lift its fairness limits so
		// the measure is the proxy's cost, not the limiter's refusals; and
		// measure every request reaching upstream (merging would flatter
		// the gate).
		cfg.Protect.TenantRate, cfg.Protect.TenantBurst, cfg.Protect.TenantConcurrency = 1e9, 1e9, 1e6
		cfg.Protect.DisableQueryMerging = true
	}
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
	logger, _, err := proxy.NewLogger(configs.LogConfig{Level: *logLevel}, logFile)
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
	path := "/api/embed/dashboard/" + handle + "/dashcard/11/card/1"
	if *scenario == "defaults" {
		path = "/api/embed/dashboard/" + handle
	}
	p := cfg.Protect
	fmt.Printf("SCENARIO=%s: %s; merging %s, tenant rate %d/s burst %d, %d in flight, wait %v, upstream delay %v, %s sessions\n",
		*scenario, desc, map[bool]string{true: "off", false: "on"}[p.DisableQueryMerging], p.TenantRate, p.TenantBurst,
		p.TenantConcurrency, p.TenantMaxWait, *delay, *sessionAlg)
	fmt.Printf("PATH=%s\nCOOKIE=session=%s\n", path, sess)
	os.Stdout.Sync()
	select {}
}

var scenarios = map[string]string{
	"lifted":   "every check on, protections lifted (a card query, every request to the upstream)",
	"defaults": "defaults (the dashboard's JSON, what a new user gets)",
	"herd":     "herd (every connection asks the same card query, merging on)",
}

// answer is a completed query's JSON of about size bytes: a shareable
// answer for merging (its top-level status says completed), and JSON for
// any check of the gate that reads the body.
func answer(size int) []byte {
	const head, tail = `{"status":"completed","data":{"rows":[["`, `"]]}}`
	n := max(size-len(head)-len(tail), 0)
	b := make([]byte, 0, len(head)+n+len(tail))
	b = append(b, head...)
	for i := range n {
		b = append(b, 'a'+byte(i%26))
	}
	return append(b, tail...)
}

// runtimeMetrics writes the runtime's counters the amplification study
// reads, one "name value" a line.
func runtimeMetrics(w http.ResponseWriter, _ *http.Request) {
	names := []string{"/gc/cycles/total:gc-cycles", "/cpu/classes/gc/total:cpu-seconds",
		"/cpu/classes/user:cpu-seconds", "/cpu/classes/total:cpu-seconds", "/cpu/classes/idle:cpu-seconds",
		"/gc/heap/allocs:objects", "/gc/heap/live:bytes", "/sched/goroutines:goroutines",
		"/sched/latencies:seconds", "/sync/mutex/wait/total:seconds", "/gc/scan/heap:bytes"}
	samples := make([]rtmetrics.Sample, len(names))
	for i, n := range names {
		samples[i].Name = n
	}
	rtmetrics.Read(samples)
	for _, s := range samples {
		switch s.Value.Kind() {
		case rtmetrics.KindUint64:
			fmt.Fprintf(w, "%s %d\n", s.Name, s.Value.Uint64())
		case rtmetrics.KindFloat64:
			fmt.Fprintf(w, "%s %g\n", s.Name, s.Value.Float64())
		case rtmetrics.KindFloat64Histogram:
			h := s.Value.Float64Histogram()
			var n uint64
			var sum float64
			for i, c := range h.Counts {
				n += c
				if b := h.Buckets[i+1]; !math.IsInf(b, 1) {
					sum += float64(c) * b
				}
			}
			fmt.Fprintf(w, "%s:count %d\n%s:sum %g\n", s.Name, n, s.Name, sum)
		}
	}
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

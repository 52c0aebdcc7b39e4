// Command tenantgate is the tenant-isolating gateway in front of Metabase.
//
//	tenantgate [serve] [--config FILE]   run the gateway (the default)
//	tenantgate check-config [--config FILE]
//	tenantgate demo                      gateway + Metabase stand-in + sample app on loopback
//	tenantgate explain [--config FILE] (--token JWT | --claims JSON) METHOD PATH
//	tenantgate audit [--config FILE] [--format table|json]   audit Metabase (exit 0 clean, 1 findings, 2 could not audit)
//	tenantgate version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/proxy"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	if cmd == "explain" {
		return explain(args, stdout, stderr)
	}
	if cmd == "audit" {
		return runAudit(args, os.LookupEnv, stdout, stderr)
	}
	fs := flag.NewFlagSet("tenantgate "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFlag := fs.String("config", "", "YAML config file (or TENANTGATE_CONFIG)")
	listen := fs.String("listen", "127.0.0.1:8080", "demo only: address of the sample app and the gateway")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path := configs.ConfigPath(*configFlag, os.LookupEnv)
	switch cmd {
	case "serve":
		return serve(path, stderr)
	case "check-config":
		if _, err := configs.LoadAndValidate(path, os.LookupEnv, configs.ModeServe); err != nil {
			fmt.Fprintf(stderr, "configuration problems:\n%v\n", err)
			return 1
		}
		fmt.Fprintln(stdout, "configuration OK")
		return 0
	case "demo":
		return demo(*listen, stdout, stderr)
	case "version":
		b := buildInfo()
		fmt.Fprintf(stdout, "tenantgate %s (revision %s, %s)\n", b.Version, b.Revision, b.GoVersion)
		return 0
	default:
		fmt.Fprintf(stderr, "unknown command %q; use serve, check-config, demo, explain, audit or version\n", cmd)
		return 2
	}
}

func buildInfo() metrics.BuildInfo {
	b := metrics.BuildInfo{Version: version, Revision: "unknown", GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.Revision = s.Value
			}
		}
	}
	return b
}

// newLogger is the gate's logger on stderr (see proxy.NewLogger); call
// close before exiting so buffered access lines are written.
func newLogger(c configs.LogConfig) (log *zap.Logger, closeLog func() error, err error) {
	return proxy.NewLogger(c, zapcore.Lock(os.Stderr))
}

func serve(path string, stderr io.Writer) int {
	cfg, err := configs.LoadAndValidate(path, os.LookupEnv, configs.ModeServe)
	if err != nil {
		fmt.Fprintf(stderr, "tenantgate: refusing to start, configuration problems:\n%v\n", err)
		return 1
	}
	log, closeLog, err := newLogger(cfg.Log)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	defer closeLog() //nolint:errcheck // stderr is gone if this fails
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := func() (*configs.Config, error) {
		return configs.LoadAndValidate(path, os.LookupEnv, configs.ModeServe)
	}
	if err := runGateReloading(ctx, cfg, log, nil, nil, reload, hup); err != nil {
		log.Error("tenantgate stopped", zap.Error(err))
		return 1
	}
	return 0
}

// runGate serves the public and admin listeners until ctx ends, then
// drains: /readyz fails first, then in-flight requests finish within the
// grace period. pub and adm, when set, are used instead of listening.
func runGate(ctx context.Context, cfg *configs.Config, log *zap.Logger, pub, adm net.Listener) error {
	return runGateReloading(ctx, cfg, log, pub, adm, nil, nil)
}

// runGateReloading is runGate that also, on each value from hup, loads a
// new configuration with reload and swaps in a gate built from it. A bad
// configuration is refused and the running one kept; either way the log and
// tenantgate_config_reloads_total say so. Connections are never dropped:
// requests in flight finish on the gate they started on.
func runGateReloading(ctx context.Context, cfg *configs.Config, log *zap.Logger, pub, adm net.Listener,
	reload func() (*configs.Config, error), hup <-chan os.Signal) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg, buildInfo())
	m.TrackTenants(cfg.Log.MetricsTenants) // fixed for the process: a reload does not change it
	st, err := proxy.BuildWith(ctx, cfg, log, m, reg)
	if err != nil {
		return err
	}
	m.ConfigLoaded(true, false, time.Now())
	var cur atomic.Pointer[proxy.Stack]
	cur.Store(st)
	defer func() { cur.Load().Close() }()
	if pub == nil {
		if pub, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listening on TENANTGATE_LISTEN %s: %w", cfg.Listen, err)
		}
	}
	if adm == nil {
		if adm, err = net.Listen("tcp", cfg.AdminListen); err != nil {
			pub.Close()
			return fmt.Errorf("listening on TENANTGATE_ADMIN_LISTEN %s: %w", cfg.AdminListen, err)
		}
	}
	public := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cur.Load().Gate.ServeHTTP(w, r) }),
		ReadHeaderTimeout: cfg.Limits.ReadHeaderTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    cfg.Limits.MaxHeaderBytes,
		ErrorLog:          zap.NewStdLog(log.Named("http")),
	}
	admin := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { cur.Load().Admin.ServeHTTP(w, r) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 2)
	go func() { errc <- public.Serve(pub) }()
	go func() { errc <- admin.Serve(adm) }()
	log.Info("tenantgate listening", zap.String("public", pub.Addr().String()), zap.String("admin", adm.Addr().String()),
		zap.String("metabase", cfg.Metabase.SiteURL), zap.String("version", version))
	for running := true; running; {
		select {
		case err := <-errc:
			return fmt.Errorf("server failed: %w", err)
		case <-ctx.Done():
			running = false
		case <-hup:
			next, err := reloadStack(ctx, cfg, reload, log, m, reg)
			m.ConfigLoaded(err == nil, true, time.Now())
			if err != nil {
				log.Error("configuration reload refused; the running configuration is kept", zap.Error(err))
				continue
			}
			old := cur.Swap(next)
			log.Info("configuration reloaded")
			// Requests already on the old gate finish there; stop its
			// background work once they have had the grace period.
			time.AfterFunc(cfg.ShutdownGrace, old.Close)
		}
	}
	log.Info("shutting down: draining", zap.Duration("grace", cfg.ShutdownGrace))
	cur.Load().Gate.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	err = public.Shutdown(sctx)
	_ = admin.Shutdown(sctx)
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("draining: %w", err)
	}
	return nil
}

// reloadStack loads and validates the new configuration and builds a gate
// from it. Listener addresses cannot change without a restart.
func reloadStack(ctx context.Context, cfg *configs.Config, reload func() (*configs.Config, error),
	log *zap.Logger, m *metrics.Metrics, reg prometheus.Gatherer) (*proxy.Stack, error) {
	if reload == nil {
		return nil, errors.New("reload is not available in this mode")
	}
	next, err := reload()
	if err != nil {
		return nil, err
	}
	if next.Listen != cfg.Listen || next.AdminListen != cfg.AdminListen || next.Limits.MaxHeaderBytes != cfg.Limits.MaxHeaderBytes ||
		next.Limits.ReadHeaderTimeout != cfg.Limits.ReadHeaderTimeout {
		return nil, errors.New("TENANTGATE_LISTEN, TENANTGATE_ADMIN_LISTEN, TENANTGATE_MAX_HEADER_BYTES and TENANTGATE_READ_HEADER_TIMEOUT change only with a restart")
	}
	return proxy.BuildWith(ctx, next, log, m, reg)
}

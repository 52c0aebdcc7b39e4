// Command tenantgate is the tenant-isolating gateway in front of Metabase.
//
//	tenantgate [serve] [--config FILE] [--listen ADDR]   run the gateway (the default)
//	tenantgate check-config [--config FILE]
//	tenantgate demo [--listen ADDR]       gateway + Metabase stand-in + sample app on loopback
//	tenantgate standin [--listen ADDR]    the Metabase stand-in alone
//	tenantgate explain [--config FILE] (--token JWT | --claims JSON) METHOD PATH
//	tenantgate audit [--config FILE] [--format table|json]   audit Metabase (exit 0 clean, 1 findings, 2 could not audit)
//	tenantgate version
//	tenantgate help
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

// version and revision are set at build time:
// -ldflags "-X main.version=v1.2.3 -X main.revision=$(git rev-parse HEAD)".
// A plain `go build` in a clone still gets the revision from Go's VCS stamp.
var (
	version  = "dev"
	revision = ""
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: its one-line summary (for help) and its run
// function, which parses its own flags.
type command struct {
	name, usage, summary string
	run                  func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "[--config FILE] [--listen ADDR]", "run the gateway (the default command)", runServe},
		{"check-config", "[--config FILE]", "validate the configuration and exit (0 OK, 1 problems)", runCheckConfig},
		{"demo", "[--listen ADDR]", "the gateway in front of the built-in Metabase stand-in, with a sample app", runDemoCmd},
		{"standin", "[--listen ADDR] [--secret HEX] [--api-key KEY] [--jwt-secret S]", "run the built-in Metabase stand-in alone, to try serve and audit without Metabase", runStandin},
		{"explain", "[--config FILE] (--token JWT | --claims JSON) [--header 'K: V'] METHOD PATH", "print what the gate would do with one request, contacting nothing", explain},
		{"audit", "[--config FILE] [--format table|json]", "audit Metabase (exit 0 clean, 1 findings, 2 could not audit)", func(a []string, o, e io.Writer) int { return runAudit(a, os.LookupEnv, o, e) }},
		{"version", "", "print the version and the source revision", runVersion},
		{"help", "", "list the commands", func(_ []string, o, _ io.Writer) int { usage(o); return 0 }},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tenantgate COMMAND [flags]   (flags come before any argument)")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'tenantgate COMMAND --help' for a command's flags. Settings come from TENANTGATE_* and")
	fmt.Fprintln(w, "METABASE_* environment variables and an optional YAML file (README: Settings).")
}

func run(args []string, stdout, stderr io.Writer) int {
	name := "serve"
	if len(args) > 0 {
		switch a := args[0]; {
		case a == "-h" || a == "-help" || a == "--help":
			usage(stdout)
			return 0
		case a != "" && a[0] != '-':
			name, args = a, args[1:]
		}
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(args, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "tenantgate: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

// newFlags is a subcommand's flag set: its usage names the command, and
// -h prints it.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("tenantgate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, c := range commands() {
		if c.name == name {
			fs.Usage = func() {
				fmt.Fprintf(stderr, "usage: tenantgate %s %s\n  %s\n", name, c.usage, c.summary)
				fs.PrintDefaults()
			}
		}
	}
	return fs
}

// parseFlags parses args and checks what is left: at most maxArgs
// positional arguments, and no flag after one of them (Go's flag package
// stops at the first argument and would silently read the rest as
// arguments). It prints the problem and returns false on error.
func parseFlags(fs *flag.FlagSet, args []string, maxArgs int) bool {
	if err := fs.Parse(args); err != nil {
		return false // flag printed the error and the usage
	}
	rest := fs.Args()
	for i, a := range rest {
		if len(a) > 1 && a[0] == '-' {
			after := fmt.Sprintf("the argument %q", rest[0])
			if i == 0 {
				after = `"--"`
			}
			fmt.Fprintf(fs.Output(), "%s: flag %q comes after %s: put flags before arguments\n", fs.Name(), a, after)
			return false
		}
	}
	if len(rest) > maxArgs {
		hint := ""
		if fs.Lookup("config") != nil {
			hint = " (a configuration file is given with --config FILE)"
		}
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q%s\n", fs.Name(), rest[maxArgs], hint)
		return false
	}
	return true
}

func runServe(args []string, _, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	configFlag := fs.String("config", "", "YAML config file (or TENANTGATE_CONFIG)")
	listen := fs.String("listen", "", "public listen address; overrides TENANTGATE_LISTEN (listen)")
	if !parseFlags(fs, args, 0) {
		return 2
	}
	env := os.LookupEnv
	if *listen != "" {
		env = overlay(env, map[string]string{"TENANTGATE_LISTEN": *listen})
	}
	return serveFunc(configs.ConfigPath(*configFlag, os.LookupEnv), env, stderr)
}

// serveFunc is serve; tests replace it to see what runServe passes on.
var serveFunc = serve

// overlay is env with the given variables set on top.
func overlay(env func(string) (string, bool), set map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := set[k]; ok {
			return v, true
		}
		return env(k)
	}
}

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check-config", stderr)
	configFlag := fs.String("config", "", "YAML config file (or TENANTGATE_CONFIG)")
	if !parseFlags(fs, args, 0) {
		return 2
	}
	if _, err := configs.LoadAndValidate(configs.ConfigPath(*configFlag, os.LookupEnv), os.LookupEnv, configs.ModeServe); err != nil {
		fmt.Fprintf(stderr, "configuration problems:\n%v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "configuration OK")
	return 0
}

func runDemoCmd(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("demo", stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address of the sample app (the gateway is under /analytics/ on it)")
	if !parseFlags(fs, args, 0) {
		return 2
	}
	return demo(*listen, stdout, stderr)
}

func runVersion(args []string, stdout, stderr io.Writer) int {
	if !parseFlags(newFlags("version", stderr), args, 0) {
		return 2
	}
	b := buildInfo()
	fmt.Fprintf(stdout, "tenantgate %s (revision %s, %s)\n", b.Version, b.Revision, b.GoVersion)
	return 0
}

func buildInfo() metrics.BuildInfo {
	b := metrics.BuildInfo{Version: version, Revision: revision, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok && b.Revision == "" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.Revision = s.Value
			}
		}
	}
	if b.Revision == "" {
		b.Revision = "unknown"
	}
	return b
}

// newLogger is the gate's logger on stderr (see proxy.NewLogger); call
// close before exiting so buffered access lines are written.
func newLogger(c configs.LogConfig) (log *zap.Logger, closeLog func() error, err error) {
	return proxy.NewLogger(c, zapcore.Lock(os.Stderr))
}

func serve(path string, env func(string) (string, bool), stderr io.Writer) int {
	cfg, err := configs.LoadAndValidate(path, env, configs.ModeServe)
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
		return configs.LoadAndValidate(path, env, configs.ModeServe)
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
	st.Gate.CheckKeys(ctx, log)
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

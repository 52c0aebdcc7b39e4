package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// standinOptions are the stand-in's flags.
type standinOptions struct {
	listen, secret, apiKey, jwtSecret string
}

var hex64 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// runStandin is `tenantgate standin`: the built-in Metabase stand-in on
// its own, so that serve, audit and README's "Running it for real" can be
// tried before a real Metabase is at hand. It prints the settings a gate
// needs to sit in front of it.
func runStandin(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("standin", stderr)
	var o standinOptions
	fs.StringVar(&o.listen, "listen", "127.0.0.1:3000", "address to serve the stand-in on")
	fs.StringVar(&o.secret, "secret", "", "embedding secret (MB_EMBEDDING_SECRET_KEY), 64 hex characters; default: random, printed")
	fs.StringVar(&o.apiKey, "api-key", "", "admin API key (METABASE_API_KEY); default: random, printed")
	fs.StringVar(&o.jwtSecret, "jwt-secret", "", "JWT SSO shared secret (MB_JWT_SHARED_SECRET); empty: SSO off")
	if !parseFlags(fs, args, 0) {
		return 2
	}
	if o.secret != "" && !hex64.MatchString(o.secret) {
		fmt.Fprintln(stderr, "tenantgate standin: --secret must be 64 hexadecimal characters, as Metabase's embedding secret is")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := serveStandin(ctx, o, stdout, nil); err != nil {
		fmt.Fprintf(stderr, "tenantgate standin: %v\n", err)
		return 1
	}
	return 0
}

// serveStandin serves until ctx ends; ready (for tests) gets the
// stand-in's base URL and the settings it printed.
func serveStandin(ctx context.Context, o standinOptions, stdout io.Writer, ready func(base string, env map[string]string)) error {
	if o.secret == "" {
		o.secret = randomHex(32)
	}
	if o.apiKey == "" {
		o.apiKey = "mb_" + randomHex(16)
	}
	mb := metabasetest.New(metabasetest.Options{SecretKey: o.secret, APIKey: o.apiKey,
		SSO: metabasetest.SSOOptions{SharedSecret: o.jwtSecret}})
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s (choose another with --listen): %w", o.listen, err)
	}
	srv := &http.Server{Handler: mb, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // Close below ends it
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	env := map[string]string{
		"METABASE_SITE_URL":       base,
		"MB_EMBEDDING_SECRET_KEY": o.secret,
		"METABASE_API_KEY":        o.apiKey,
	}
	if o.jwtSecret != "" {
		env["MB_JWT_SHARED_SECRET"] = o.jwtSecret
	}
	fmt.Fprintf(stdout, `Metabase stand-in (tenantgate's test double, not Metabase) is serving on %s
with sample dashboards %d (wired) and %d (a card not wired to the tenant filter).

Point a gate at it with these settings (they are test values, printed on purpose):

  export METABASE_SITE_URL=%s
  export MB_EMBEDDING_SECRET_KEY=%s
  export METABASE_API_KEY=%s
`, base, metabasetest.DashboardOrders, metabasetest.DashboardLeaky, base, o.secret, o.apiKey)
	if o.jwtSecret != "" {
		fmt.Fprintf(stdout, "  export MB_JWT_SHARED_SECRET=%s\n", o.jwtSecret)
	}
	fmt.Fprintln(stdout, "\nPress Ctrl-C to stop.")
	if ready != nil {
		ready(base, env)
	}
	<-ctx.Done()
	return nil
}

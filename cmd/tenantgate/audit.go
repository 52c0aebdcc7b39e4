package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/policy/audit"
)

// Exit codes of `tenantgate audit`, for CI.
const (
	auditClean    = 0 // no findings
	auditFindings = 1 // at least one finding (warning or critical)
	auditFailed   = 2 // could not audit: bad config, unreachable, unauthorized
)

// runAudit is `tenantgate audit [--config FILE] [--format table|json]`: it
// reads Metabase's admin API with METABASE_API_KEY, checks every embeddable
// and policy resource and public link, and prints the findings.
func runAudit(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := newFlags("audit", stderr)
	configFlag := fs.String("config", "", "YAML config file (or TENANTGATE_CONFIG)")
	format := fs.String("format", "table", "output: table (for people) or json (stable, for programs)")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up on Metabase after this long")
	if !parseFlags(fs, args, 0) {
		return auditFailed
	}
	if *format != "table" && *format != "json" {
		fmt.Fprintf(stderr, "tenantgate audit: --format is %q: use table or json\n", *format)
		return auditFailed
	}
	cfg, err := configs.LoadAndValidate(configs.ConfigPath(*configFlag, env), env, configs.ModeAudit)
	if err != nil {
		fmt.Fprintf(stderr, "tenantgate audit: could not audit, configuration problems:\n%v\n", err)
		return auditFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client, err := audit.NewClient(cfg.Metabase.SiteURL, cfg.Metabase.APIKey.Reveal(), &http.Client{Timeout: 30 * time.Second})
	if err != nil {
		fmt.Fprintf(stderr, "tenantgate audit: could not audit: %v\n", err)
		return auditFailed
	}
	report, err := client.Run(ctx, audit.ConfigFor(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "tenantgate audit: could not audit %s: %v\n", cfg.Metabase.SiteURL, err)
		if errors.Is(err, audit.ErrUnauthorized) || errors.Is(err, audit.ErrForbidden) {
			fmt.Fprintln(stderr, "  METABASE_API_KEY must be an API key of the Administrators group (Admin settings > Authentication > API keys).")
		}
		return auditFailed
	}
	if *format == "json" {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "tenantgate audit: writing the report: %v\n", err)
		return auditFailed
	}
	if !report.Clean() {
		return auditFindings
	}
	return auditClean
}

package proxy

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/policy"
	"github.com/tenantgate/tenantgate/policy/audit"
)

// Stack is a gate assembled from a validated config: the public handler,
// the admin handler, and what must be closed at shutdown.
type Stack struct {
	Gate  *Gate
	Admin http.Handler
	Close func()
	// Guard is the audit guard, nil without METABASE_API_KEY.
	Guard *Guard
}

// Build assembles the gate from cfg. reg receives its metrics.
func Build(ctx context.Context, cfg *configs.Config, log *zap.Logger, reg *prometheus.Registry, info metrics.BuildInfo) (*Stack, error) {
	m := metrics.New(reg, info)
	m.TrackTenants(cfg.Log.MetricsTenants)
	return BuildWith(ctx, cfg, log, m, reg)
}

// BuildWith assembles the gate from cfg with metrics already registered,
// so a reload (SIGHUP) can build a new stack beside the running one.
// Closing the stack stops its background work (JWKS refresh, audits).
func BuildWith(parent context.Context, cfg *configs.Config, log *zap.Logger, m *metrics.Metrics, reg prometheus.Gatherer) (st *Stack, err error) {
	ctx, cancel := context.WithCancel(parent)
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	var authn auth.Authenticator
	closeFn := cancel
	if cfg.Introspect.URL != "" {
		in, err := auth.NewIntrospector(cfg.Introspect, cfg.Tenant.Claim, auth.IntrospectOptions{Logger: log, Observer: m, SubjectClaim: cfg.Session.SubjectClaim})
		if err != nil {
			return nil, fmt.Errorf("building introspection client: %w", err)
		}
		authn = in
	} else {
		j, err := auth.NewJWTAuthenticator(cfg.Session, cfg.Tenant.Claim, auth.JWTOptions{Logger: log, Ctx: ctx, Observer: m})
		if err != nil {
			return nil, fmt.Errorf("building session verifier: %w", err)
		}
		authn, closeFn = j, func() { j.Close(); cancel() }
	}
	secrets := make([]string, len(cfg.Handles.Secrets))
	for i, s := range cfg.Handles.Secrets {
		secrets[i] = s.Reveal()
	}
	handles, err := auth.NewHandleKeyring(secrets, cfg.Handles.TTL, cfg.Session.CacheSize, nil)
	if err != nil {
		return nil, err
	}
	signer, err := auth.NewEmbedSigner(cfg.Metabase.EmbeddingSecretKey.Reveal(), cfg.Metabase.TokenTTL, cfg.Session.CacheSize, nil)
	if err != nil {
		return nil, err
	}
	pol, err := policy.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("compiling policy: %w", err)
	}
	guard, err := buildGuard(ctx, cfg, log, m)
	if err != nil {
		return nil, err
	}
	g, err := New(Options{Config: cfg, Auth: authn, Handles: handles, Signer: signer, Policy: pol, Metrics: m, Logger: log, Guard: guard})
	if err != nil {
		return nil, err
	}
	adm := NewAdmin(g, reg)
	return &Stack{Gate: g, Admin: adm, Close: closeFn, Guard: guard}, nil
}

// buildGuard builds the audit guard when an API key is configured, runs the
// first audit before the gate serves (a failure is logged, and the gate
// refuses every resource until an audit succeeds), then audits every
// TENANTGATE_AUDIT_INTERVAL until ctx ends. No key: nil.
func buildGuard(ctx context.Context, cfg *configs.Config, log *zap.Logger, m *metrics.Metrics) (*Guard, error) {
	key := cfg.Metabase.APIKey.Reveal()
	if key == "" {
		return nil, nil
	}
	hc := &http.Client{Transport: newTransport(cfg.Upstream), Timeout: 30 * time.Second}
	client, err := audit.NewClient(cfg.Metabase.SiteURL, key, hc)
	if err != nil {
		return nil, fmt.Errorf("building the audit client: %w", err)
	}
	acfg := audit.ConfigFor(cfg)
	guard, err := NewGuard(GuardOptions{
		Audit:        func(ctx context.Context) (*audit.Report, error) { return client.Run(ctx, acfg) },
		Interval:     cfg.Audit.Interval,
		MaxStaleness: cfg.Audit.MaxStaleness,
		Logger:       log.Named("audit"),
		Metrics:      m,
	})
	if err != nil {
		return nil, err
	}
	_ = guard.Refresh(ctx) // logged; until one succeeds every resource is refused
	go guard.Run(ctx)
	return guard, nil
}

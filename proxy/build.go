package proxy

import (
	"context"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/policy"
)

// Stack is a gate assembled from a validated config: the public handler,
// the admin handler, and what must be closed at shutdown.
type Stack struct {
	Gate  *Gate
	Admin http.Handler
	Close func()
}

// Build assembles the gate from cfg. reg receives its metrics.
func Build(ctx context.Context, cfg *configs.Config, log *zap.Logger, reg *prometheus.Registry, info metrics.BuildInfo) (*Stack, error) {
	m := metrics.New(reg, info)
	var authn auth.Authenticator
	closeFn := func() {}
	if cfg.Introspect.URL != "" {
		in, err := auth.NewIntrospector(cfg.Introspect, cfg.Tenant.Claim, auth.IntrospectOptions{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("building introspection client: %w", err)
		}
		authn = in
	} else {
		j, err := auth.NewJWTAuthenticator(cfg.Session, cfg.Tenant.Claim, auth.JWTOptions{Logger: log, Ctx: ctx})
		if err != nil {
			return nil, fmt.Errorf("building session verifier: %w", err)
		}
		authn, closeFn = j, j.Close
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
	g, err := New(Options{Config: cfg, Auth: authn, Handles: handles, Signer: signer, Policy: pol, Metrics: m, Logger: log})
	if err != nil {
		return nil, err
	}
	return &Stack{Gate: g, Admin: NewAdmin(g, reg), Close: closeFn}, nil
}

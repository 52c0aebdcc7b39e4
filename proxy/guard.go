package proxy

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/policy"
	"github.com/tenantgate/tenantgate/policy/audit"
)

// GuardOptions configure a Guard. Audit is required.
type GuardOptions struct {
	// Audit runs one audit of Metabase (audit.Client.Run with the gate's
	// tenant parameter and policy). It must not hold on to ctx.
	Audit func(ctx context.Context) (*audit.Report, error)
	// Interval is the time between audits; zero means a minute.
	Interval time.Duration
	// MaxStaleness is how long a verdict counts: once the last successful
	// audit is older, every resource is refused. Zero means ten minutes.
	MaxStaleness time.Duration
	// Timeout bounds one audit; zero means 30 s.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now     func() time.Time
	Logger  *zap.Logger
	Metrics *metrics.Metrics
}

// Guard keeps the verdicts of the last successful audit of Metabase and
// answers, for each mint and embed, whether the resource may be served. It
// fails closed: a resource the last audit did not read, or found unsafe, is
// refused, and so is every resource once that audit is older than
// MaxStaleness. While Metabase's admin API is briefly unreachable the last
// verdict stands, up to that age. Build it with NewGuard; it is safe for
// concurrent use.
type Guard struct {
	opts GuardOptions
	log  *zap.Logger

	mu          sync.RWMutex
	now         func() time.Time
	report      *audit.Report
	lastSuccess time.Time
	lastAttempt time.Time
	lastErr     string
}

// NewGuard returns a Guard that has not audited yet: until its first
// successful Refresh it refuses every resource.
func NewGuard(o GuardOptions) (*Guard, error) {
	if o.Audit == nil {
		return nil, errors.New("proxy.NewGuard: Audit is required")
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.MaxStaleness <= 0 {
		o.MaxStaleness = 10 * time.Minute
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	g := &Guard{opts: o, log: o.Logger, now: o.Now}
	if g.log == nil {
		g.log = zap.NewNop()
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g, nil
}

// setNow replaces the clock (tests).
func (g *Guard) setNow(now func() time.Time) {
	g.mu.Lock()
	g.now = now
	g.mu.Unlock()
}

func (g *Guard) clock() time.Time {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.now()
}

// Refresh runs one audit now. On success its verdicts replace the old ones;
// on failure the old ones stand (until they are too old) and the error is
// returned and logged.
func (g *Guard) Refresh(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, g.opts.Timeout)
	defer cancel()
	rep, err := g.opts.Audit(ctx)
	at := g.clock()
	g.mu.Lock()
	g.lastAttempt = at
	if err != nil {
		g.lastErr = err.Error()
		last := g.lastSuccess
		g.mu.Unlock()
		g.log.Error("audit of Metabase failed: keeping the last verdicts until they are too old",
			zap.Error(err), zap.Time("last_success", last), zap.Duration("max_staleness", g.opts.MaxStaleness))
		return err
	}
	g.report, g.lastSuccess, g.lastErr = rep, at, ""
	g.mu.Unlock()
	unsafe := rep.UnsafeResources()
	g.opts.Metrics.UnsafeResources(len(unsafe))
	for _, a := range unsafe {
		g.log.Warn("audit: resource unsafe, the gate refuses it", zap.String("kind", a.Kind), zap.Int("id", a.ID),
			zap.String("name", a.Name), zap.String("findings", describe(rep.Unsafe(a.Kind, a.ID))))
	}
	if fs := rep.SSOUnsafe(); len(fs) > 0 {
		g.log.Warn("audit: SSO users can read tables without the tenant's sandbox, the gate refuses the SSO API",
			zap.Int("findings", len(fs)), zap.String("findings_detail", describe(fs)))
	}
	g.log.Info("audit of Metabase done", zap.Int("audited", len(rep.Audited)), zap.Int("unsafe", len(unsafe)),
		zap.Int("critical", rep.Summary.Critical), zap.Int("warning", rep.Summary.Warning))
	return nil
}

// Run audits every Interval until ctx ends. The first audit is the
// caller's (Build runs it before the gate serves).
func (g *Guard) Run(ctx context.Context) {
	t := time.NewTicker(g.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = g.Refresh(ctx) // logged; the last verdicts stand
		}
	}
}

// Check reports whether res may be minted or served, and if not, why (for
// the log: the finding codes and where they are).
func (g *Guard) Check(res auth.Resource) (ok bool, detail string) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	name := res.Kind + " " + strconv.Itoa(res.ID)
	if g.report == nil {
		return false, name + ": no audit of Metabase has succeeded yet (" + orNone(g.lastErr) + ")"
	}
	if age := g.now().Sub(g.lastSuccess); age > g.opts.MaxStaleness {
		return false, fmt.Sprintf("%s: the last successful audit of Metabase is %s old, more than TENANTGATE_AUDIT_MAX_STALENESS %s (last error: %s)",
			name, age.Round(time.Second), g.opts.MaxStaleness, orNone(g.lastErr))
	}
	if _, audited := g.report.Lookup(res.Kind, res.ID); !audited {
		return false, name + ": not audited: Metabase did not publish it at the last audit"
	}
	if fs := g.report.Unsafe(res.Kind, res.ID); len(fs) > 0 {
		return false, name + ": " + describe(fs)
	}
	return true, ""
}

// CheckSSO reports whether SSO users' calls to the Metabase API may pass,
// and if not, why. Group permissions are Metabase's own isolation for SSO
// users, and they are additive: one group an SSO user is in (All Users
// always) that may view a table unrestricted, or through a sandbox on
// another attribute, opens that table through every card, dashboard and
// ad-hoc query the user can reach, and the gate cannot tell from a URL
// which tables a card reads. So while the last audit reports any such
// table, or SSO users in an administrator group, every SSO API call is
// refused; as for Check, so is every call before the first successful
// audit, once it is older than MaxStaleness, and when it did not check
// SSO at all. Static embeds do not run under a Metabase user, so group
// permissions do not concern them (Check).
func (g *Guard) CheckSSO() (ok bool, detail string) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	switch {
	case g.report == nil:
		return false, "SSO: no audit of Metabase has succeeded yet (" + orNone(g.lastErr) + ")"
	case g.now().Sub(g.lastSuccess) > g.opts.MaxStaleness:
		return false, fmt.Sprintf("SSO: the last successful audit of Metabase is %s old, more than TENANTGATE_AUDIT_MAX_STALENESS %s (last error: %s)",
			g.now().Sub(g.lastSuccess).Round(time.Second), g.opts.MaxStaleness, orNone(g.lastErr))
	case !g.report.SSOChecked:
		return false, "SSO: the last audit did not check the groups and permissions of SSO users"
	}
	if fs := g.report.SSOUnsafe(); len(fs) > 0 {
		return false, "SSO: " + describe(fs)
	}
	return true, ""
}

// ssoGuarded is the guard's decision on an SSO API call (CheckSSO):
// allowed without a guard, else a resource-unsafe denial whose detail
// (logged, never sent) names the findings.
func (g *Gate) ssoGuarded() policy.Decision {
	if g.guard == nil {
		return policy.Decision{Allow: true, Reason: policy.ReasonAllowed}
	}
	if ok, detail := g.guard.CheckSSO(); !ok {
		return policy.Decision{Reason: policy.ReasonResourceUnsafe, Detail: "audit guard: " + detail}
	}
	return policy.Decision{Allow: true, Reason: policy.ReasonAllowed}
}

// guarded turns a decision that allows res into a resource-unsafe denial
// when the guard refuses res; the detail (logged, never sent) names the
// findings. Without a guard, or for a denial, d stands.
func (g *Gate) guarded(res auth.Resource, d policy.Decision) policy.Decision {
	if g.guard == nil || !d.Allow {
		return d
	}
	if ok, detail := g.guard.Check(res); !ok {
		return policy.Decision{Reason: policy.ReasonResourceUnsafe, Detail: "audit guard: " + detail}
	}
	return d
}

// describe lists findings for a log line: "code (dashcard N): problem;
// ..."; a table finding names its table and group.
func describe(fs []audit.Finding) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = string(f.Code)
		switch {
		case f.Dashcard != 0:
			parts[i] += " (dashcard " + strconv.Itoa(f.Dashcard) + ")"
		case f.Resource.Kind == audit.KindTable:
			parts[i] += " (table " + strconv.Itoa(f.Resource.ID) + ", group " + strconv.Itoa(f.Group) + ")"
		}
		parts[i] += ": " + f.Problem
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// GuardState is the guard's part of /readyz.
type GuardState struct {
	LastSuccess *time.Time `json:"last_success"`
	LastAttempt *time.Time `json:"last_attempt,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	// Stale is true when no audit succeeded within the max staleness:
	// every resource is refused.
	Stale  bool     `json:"stale"`
	Unsafe []string `json:"unsafe_resources"`
	// SSOUnsafe lists the SSO findings ("table 10, group 1") for which the
	// gate refuses the SSO API (CheckSSO).
	SSOUnsafe []string `json:"sso_unsafe,omitempty"`
}

// State reports the guard's state for /readyz.
func (g *Guard) State() GuardState {
	g.mu.RLock()
	defer g.mu.RUnlock()
	st := GuardState{LastError: g.lastErr, Unsafe: []string{}}
	if !g.lastAttempt.IsZero() {
		t := g.lastAttempt.UTC()
		st.LastAttempt = &t
	}
	if g.report == nil {
		st.Stale = true
		return st
	}
	t := g.lastSuccess.UTC()
	st.LastSuccess = &t
	st.Stale = g.now().Sub(g.lastSuccess) > g.opts.MaxStaleness
	for _, a := range g.report.UnsafeResources() {
		st.Unsafe = append(st.Unsafe, a.Kind+" "+strconv.Itoa(a.ID))
	}
	for _, f := range g.report.SSOUnsafe() {
		where := f.Resource.Kind + " " + strconv.Itoa(f.Resource.ID)
		if f.Resource.Kind == audit.KindTable {
			where += ", group " + strconv.Itoa(f.Group)
		}
		st.SSOUnsafe = append(st.SSOUnsafe, where)
	}
	return st
}

package proxy

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantgate/tenantgate/metrics"
)

// Admin serves /healthz, /readyz and /metrics on the admin listener, never
// on the public one.
type Admin struct {
	gate     *Gate
	client   *http.Client
	draining atomic.Bool

	mu        sync.Mutex
	checkedAt time.Time
	lastErr   string
}

// NewAdmin returns the admin handler of g, exposing reg's metrics.
func NewAdmin(g *Gate, reg prometheus.Gatherer) http.Handler {
	a := &Admin{gate: g, client: &http.Client{Timeout: 2 * time.Second, Transport: newTransport(g.cfg.Upstream)}}
	g.admin = a
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.Handle("GET /metrics", metrics.Handler(reg))
	return mux
}

// Drain makes /readyz answer 503 from now on, so load balancers stop
// sending before the server shuts down.
func (g *Gate) Drain() {
	if g.admin != nil {
		g.admin.draining.Store(true)
	}
}

type readiness struct {
	Status   string            `json:"status"`
	Checks   map[string]string `json:"checks"`
	Draining bool              `json:"draining,omitempty"`
	// Audit is the audit guard's state; absent without METABASE_API_KEY.
	// It does not change Status: a stale guard refuses embeds (403
	// resource-unsafe), and the gate stays ready for everything else.
	Audit *GuardState `json:"audit,omitempty"`
}

func (a *Admin) readyz(w http.ResponseWriter, r *http.Request) {
	res := readiness{Status: "ok", Checks: map[string]string{"keys": "ok"}}
	if rd, ok := a.gate.auth.(interface{ Ready(context.Context) error }); ok {
		if err := rd.Ready(r.Context()); err != nil {
			res.Status, res.Checks["keys"] = "unavailable", err.Error()
		}
	}
	if err := a.upstream(r.Context()); err != "" {
		res.Status, res.Checks["metabase"] = "unavailable", err
	} else {
		res.Checks["metabase"] = "ok"
		// Metabase is up: does it accept the gate's keys?
		for check, problem := range a.gate.probeKeys(r.Context(), a.client) {
			res.Checks[check] = problem
			if problem != "ok" {
				res.Status = "unavailable"
			}
		}
	}
	if a.gate.guard != nil {
		st := a.gate.guard.State()
		res.Audit = &st
	}
	if a.draining.Load() {
		res.Status, res.Draining = "draining", true
	}
	code := http.StatusOK
	if res.Status != "ok" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, res)
}

// upstream asks Metabase's /api/health, at most once a second.
func (a *Admin) upstream(ctx context.Context) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.checkedAt) < time.Second {
		return a.lastErr
	}
	a.checkedAt = time.Now()
	a.lastErr = ""
	u := *a.gate.upstream
	u.Path, u.RawPath = a.gate.upPath+"/api/health", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		a.lastErr = "building health request: " + err.Error()
		return a.lastErr
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.lastErr = "Metabase /api/health unreachable"
		return a.lastErr
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		a.lastErr = "Metabase /api/health answered " + resp.Status
	}
	return a.lastErr
}

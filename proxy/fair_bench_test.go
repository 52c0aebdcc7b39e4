package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/metrics"
)

// BenchmarkTenantFlood measures what per-tenant fairness does for a calm
// tenant while another floods the gate. The performance target is: the
// victim's median latency under flood stays within 2 times its unloaded
// median. It is a figure to read (victim-p50-ratio), not an assertion:
//
//	go test -run='^$' -bench=TenantFlood -benchtime=1x -count=1 ./proxy/
//
// Each sub-benchmark runs the experiment once, whatever b.N is, with a
// fixed sample count, so it takes a few seconds (the flood phase stops
// early, with fewer samples, after floodBudget: victim-samples-flood says
// how many it got):
//   - an upstream that spends floodQueryTime on every query (Metabase's
//     query time), verifies the Metabase token and echoes its tenant;
//   - the victim (globex) sends floodSamples sequential queries alone, then
//     again while the flooder (acme) runs floodClients clients in a tight
//     loop that ignore Retry-After.
//
// "Default" keeps the configs defaults for fairness (rate, burst,
// concurrency, a wait of up to 1 s for a token); "NoWait" refuses at once
// instead of waiting (protect.tenant_max_wait < 0); "Wide" floods with
// more clients than one second of the tenant's rate, so the excess gets
// 429s in a loop even with the wait; "Unlimited" lifts the limits as
// benchConfig does, to show what fairness buys. Query merging is off in
// all, so every admitted request reaches the upstream.
//
// The victim stays within its own bucket (default burst 400, 200/s): each
// of its sequential requests takes at least floodQueryTime (2 ms, so 0.4
// tokens back), costing at most 0.6 tokens net, and 10+300+300 requests
// cost at most 372 of the 400.
func BenchmarkTenantFlood(b *testing.B) {
	b.Run("Default", func(b *testing.B) { benchTenantFlood(b, floodSetup{clients: floodClients}) })
	b.Run("NoWait", func(b *testing.B) { benchTenantFlood(b, floodSetup{clients: floodClients, noWait: true}) })
	b.Run("Wide", func(b *testing.B) { benchTenantFlood(b, floodSetup{clients: 8 * floodClients}) })
	b.Run("Unlimited", func(b *testing.B) { benchTenantFlood(b, floodSetup{clients: floodClients, lift: true}) })
}

// floodSetup is one flood experiment: how many flooding clients, and the
// fairness settings (the shipped defaults unless lifted or told not to
// wait).
type floodSetup struct {
	clients      int
	lift, noWait bool
}

const (
	floodQueryTime = 2 * time.Millisecond
	floodSamples   = 300                     // victim requests per phase
	floodWarm      = 10                      // victim requests before measuring (connections, caches)
	floodClients   = 64                      // flooding goroutines (8 times as many in Wide)
	floodRampUp    = 1200 * time.Millisecond // past the burst and one whole wait (held 429s come back)
	floodBudget    = 4 * time.Second         // most the flood phase may take (the race detector slows it 10-30 times)
	victimTenant   = "globex"
	flooderTenant  = "acme"
)

// floodUpstream stands in for Metabase: it verifies the embedding token
// the gate signed, counts queries per tenant, waits floodQueryTime and
// answers {"tenant":"<organization_id of the token>"}.
type floodUpstream struct {
	mu      sync.Mutex
	queries map[string]int // by organization_id; "" = token refused
}

func (u *floodUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant, err := embedTokenTenant(r.URL.EscapedPath())
	u.mu.Lock()
	u.queries[tenant]++
	u.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	time.Sleep(floodQueryTime)
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"tenant":%q}`, tenant)
}

func (u *floodUpstream) count(tenant string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.queries[tenant]
}

// embedTokenTenant verifies the token of /api/embed/dashboard/{token}/...
// with the embedding secret and returns its params' organization_id.
func embedTokenTenant(path string) (string, error) {
	rest, ok := strings.CutPrefix(path, "/api/embed/dashboard/")
	if !ok {
		return "", errors.New("not an embed query: " + path)
	}
	tok, _, _ := strings.Cut(rest, "/")
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte(testMBKey), nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithExpirationRequired())
	if err != nil {
		return "", fmt.Errorf("embedding token: %w", err)
	}
	params, _ := claims["params"].(map[string]any)
	tenant, _ := params["organization_id"].(string)
	if tenant == "" {
		return "", fmt.Errorf("embedding token without organization_id: %v", claims["params"])
	}
	return tenant, nil
}

// floodCaller is one tenant's session and embed query path.
type floodCaller struct{ tenant, sess, url string }

func (c floodCaller) do(ctx context.Context, client *http.Client) (status int, body []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", c.url, nil)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Cookie", "session="+c.sess)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

func benchTenantFlood(b *testing.B, fs floodSetup) {
	up := &floodUpstream{queries: map[string]int{}}
	upSrv := httptest.NewServer(up)
	b.Cleanup(upSrv.Close)

	cfg := benchConfig(upSrv.URL) // fairness lifted, merging off
	if !fs.lift {
		cfg.Protect.TenantRate, cfg.Protect.TenantBurst, cfg.Protect.TenantConcurrency = 0, 0, 0
		cfg.ApplyDefaults() // back to the shipped defaults
	}
	if fs.noWait {
		cfg.Protect.TenantMaxWait = -1
	}
	if err := cfg.Validate(configs.ModeServe); err != nil {
		b.Fatal(err)
	}
	b.Logf("fairness: rate %d/s, burst %d, concurrency %d, wait up to %s; %d flooders, upstream %s per query",
		cfg.Protect.TenantRate, cfg.Protect.TenantBurst, cfg.Protect.TenantConcurrency, cfg.Protect.TenantMaxWait, fs.clients, floodQueryTime)
	st, err := Build(context.Background(), cfg, benchLogger(b), prometheus.NewRegistry(), metrics.BuildInfo{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(st.Close)
	gateSrv := httptest.NewServer(st.Gate)
	b.Cleanup(gateSrv.Close) // runs before st.Close and upSrv.Close

	caller := func(subject, tenant string, dashcard int) floodCaller {
		h, _, err := st.Gate.handles.Seal(auth.Resource{Kind: auth.KindDashboard, ID: 1}, map[string]any{"organization_id": tenant}, tenant, subject)
		if err != nil {
			b.Fatal(err)
		}
		return floodCaller{tenant, session(subject, tenant, time.Hour),
			fmt.Sprintf("%s/api/embed/dashboard/%s/dashcard/%d/card/1", gateSrv.URL, h, dashcard)}
	}
	victim := caller("gina", victimTenant, 12)
	flooder := caller("alice", flooderTenant, 11)

	victimTr := &http.Transport{MaxIdleConnsPerHost: 4}
	defer victimTr.CloseIdleConnections()
	victimClient := &http.Client{Transport: victimTr}
	ctx := context.Background()

	// measure sends n sequential victim queries, or fewer if a non-zero
	// deadline passes (at least one), and returns their latencies.
	measure := func(n int, deadline time.Time) []time.Duration {
		lat := make([]time.Duration, 0, n)
		for i := 0; i < n && (i == 0 || deadline.IsZero() || time.Now().Before(deadline)); i++ {
			start := time.Now()
			code, body, err := victim.do(ctx, victimClient)
			lat = append(lat, time.Since(start))
			if err != nil {
				b.Fatalf("victim request %d: %v", i, err)
			}
			if code != http.StatusOK {
				b.Fatalf("victim request %d: status %d: %.200s", i, code, body)
			}
			if want := fmt.Sprintf(`{"tenant":%q}`, victimTenant); string(body) != want {
				b.Fatalf("victim request %d: answer %.200q, want %q", i, body, want)
			}
		}
		return lat
	}

	measure(floodWarm, time.Time{})
	unloaded := measure(floodSamples, time.Time{})

	// The flood: floodClients clients in a tight loop, counting answers.
	floodTr := &http.Transport{MaxIdleConnsPerHost: 2 * fs.clients, MaxIdleConns: 2 * fs.clients}
	defer floodTr.CloseIdleConnections()
	floodClient := &http.Client{Transport: floodTr}
	fctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }() // also when a check fails mid-flood
	var ok, limited, other atomic.Int64
	var firstOther atomic.Value
	floodStart := time.Now()
	for i := 0; i < fs.clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fctx.Err() == nil {
				code, body, err := flooder.do(fctx, floodClient)
				switch {
				case fctx.Err() != nil:
					return // stopped mid-request
				case err != nil:
					other.Add(1)
					firstOther.CompareAndSwap(nil, err.Error())
				case code == http.StatusOK:
					ok.Add(1)
				case code == http.StatusTooManyRequests:
					limited.Add(1)
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, fmt.Sprintf("status %d: %.200s", code, body))
				}
			}
		}()
	}
	time.Sleep(floodRampUp) // into the flood's steady state
	ok0, limited0 := ok.Load(), limited.Load()
	windowStart := time.Now()
	flood := measure(floodSamples, windowStart.Add(floodBudget))
	window := time.Since(windowStart)
	okW, limitedW := ok.Load()-ok0, limited.Load()-limited0
	stop()
	wg.Wait()
	floodDur := time.Since(floodStart)

	if n := other.Load(); n > 0 {
		b.Errorf("flooder got %d answers other than 200 or 429, first: %v", n, firstOther.Load())
	}
	if ok.Load()+limited.Load() == 0 {
		b.Fatal("the flooder sent nothing")
	}
	// Every victim request reached the upstream with a globex token, and
	// the upstream saw no token of a third tenant nor one it refused.
	if got, want := up.count(victimTenant), floodWarm+len(unloaded)+len(flood); got != want {
		b.Errorf("upstream ran %d queries for %s, want %d", got, victimTenant, want)
	}
	if got, want := up.count(flooderTenant), int(ok.Load()); got < want {
		b.Errorf("upstream ran %d queries for %s, fewer than its %d answers of 200", got, flooderTenant, want)
	}
	up.mu.Lock()
	for tenant, n := range up.queries {
		if tenant != victimTenant && tenant != flooderTenant {
			b.Errorf("upstream received %d queries for tenant %q", n, tenant)
		}
	}
	up.mu.Unlock()

	p := func(lat []time.Duration, q float64) float64 {
		s := slices.Clone(lat)
		slices.Sort(s)
		return float64(s[int(q*float64(len(s)-1))].Microseconds())
	}
	u50, u90, f50, f90 := p(unloaded, 0.5), p(unloaded, 0.9), p(flood, 0.5), p(flood, 0.9)
	b.ReportMetric(u50, "victim-p50-unloaded-µs")
	b.ReportMetric(f50, "victim-p50-flood-µs")
	b.ReportMetric(u90, "victim-p90-unloaded-µs")
	b.ReportMetric(f90, "victim-p90-flood-µs")
	b.ReportMetric(f50/u50, "victim-p50-ratio")
	b.ReportMetric(f90/u90, "victim-p90-ratio")
	b.ReportMetric(float64(len(flood)), "victim-samples-flood")
	b.ReportMetric(float64(limitedW)/float64(okW+limitedW), "flood-429-share")
	b.ReportMetric(float64(okW+limitedW)/window.Seconds(), "flood-req/s")
	b.ReportMetric(float64(okW)/window.Seconds(), "flood-200/s")
	b.Logf("flood over %s: %d answered 200, %d answered 429 (over the victim's window of %s: %d and %d)",
		floodDur.Round(time.Millisecond), ok.Load(), limited.Load(), window.Round(time.Millisecond), okW, limitedW)
}

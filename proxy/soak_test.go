package proxy

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantgate/tenantgate/configs"
)

// soakDuration is how long TestSoak drives traffic: 3s by default (CI),
// longer with TENANTGATE_SOAK_DURATION=10m.
func soakDuration(t *testing.T) time.Duration {
	if v := os.Getenv("TENANTGATE_SOAK_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("TENANTGATE_SOAK_DURATION: %v", err)
		}
		return d
	}
	if testing.Short() {
		return time.Second
	}
	return 3 * time.Second
}

// hostileCase is one refused line of testdata/attacks.txt, expanded.
type hostileCase struct {
	name, method, target, sess, reason string
	hdr                                http.Header
	status                             int
}

func hostileCases(t *testing.T, sessions map[string]caller) []hostileCase {
	f, err := os.Open("testdata/attacks.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []hostileCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		cols := strings.Split(line, " | ")
		if len(cols) != 6 || cols[1] != "default" {
			continue
		}
		status, reason, _ := strings.Cut(cols[5], " ")
		code, _ := strconv.Atoi(status)
		if code < 300 {
			continue
		}
		method, target, _ := strings.Cut(expand(t, cols[3], sessions), " ")
		hdr := http.Header{}
		if cols[4] != "-" {
			for _, kv := range strings.Split(cols[4], " ;; ") {
				k, v, _ := strings.Cut(kv, ": ")
				hdr.Add(k, v)
			}
		}
		out = append(out, hostileCase{cols[0], method, target, sessions[cols[2]].token, reason, hdr, code})
	}
	return out
}

// TestSoak drives legitimate embeds (two tenants: mint, page, dashboard,
// card queries over real HTTP) mixed with every refused attack of the
// corpus through one gate, then checks: every legitimate request
// succeeded, every hostile one got its status and reason, Metabase saw
// only the legitimate tenants, the gate's bookkeeping is back to rest and
// its caches within bounds, the heap near its baseline, and no goroutine
// outlives the gate.
func TestSoak(t *testing.T) {
	leakOpt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leakOpt) }) // runs after the harness is closed
	h := newHarness(t, func(c *configs.Config) {
		c.Protect.TenantRate, c.Protect.TenantBurst = 1_000_000, 1_000_000
		c.Protect.AssetCacheBytes = 1 << 20
	})
	sessions := corpusSessions()
	hostile := hostileCases(t, sessions)
	if len(hostile) < 40 {
		t.Fatalf("only %d hostile cases from the corpus", len(hostile))
	}
	type legit struct{ sess, tenant, handle string }
	users := []legit{{sess: sessions["acme"].token, tenant: "acme"}, {sess: sessions["globex"].token, tenant: "globex"}}
	for i := range users {
		users[i].handle = h.mint(users[i].sess, "dashboard", 1)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	h.logs.TakeAll() // the test's log and request recorders grow; the gate must not
	h.mb.Reset()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var legitOK, legitBad, hostileOK, hostileBad atomic.Int64
	var mu sync.Mutex
	var failures []string
	fail := func(s string) {
		mu.Lock()
		if len(failures) < 10 {
			failures = append(failures, s)
		}
		mu.Unlock()
	}
	deadline := time.Now().Add(soakDuration(t))
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				if (i+w)%2 == 0 {
					c := hostile[(i*7+w)%len(hostile)]
					rec := h.do(c.method, c.target, c.sess, c.hdr)
					if rec.Code != c.status || reason(rec) != c.reason {
						hostileBad.Add(1)
						fail(c.name + ": got " + strconv.Itoa(rec.Code) + " " + reason(rec))
						continue
					}
					hostileOK.Add(1)
					continue
				}
				u := users[(i/2+w)%len(users)]
				paths := []struct {
					p    string
					want int
				}{
					{"/api/embed/dashboard/" + u.handle + "/dashcard/11/card/1", http.StatusAccepted},
					{"/api/embed/dashboard/" + u.handle, http.StatusOK},
					{"/embed/dashboard/" + u.handle, http.StatusOK},
					{"/.tenantgate/embed/dashboard/1", http.StatusFound},
					{"/app/dist/app.js", http.StatusOK},
				}
				pc := paths[(i/2)%len(paths)]
				req, _ := http.NewRequest("GET", h.gate.URL+pc.p, nil)
				req.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: u.sess})
				resp, err := client.Do(req)
				if err != nil {
					legitBad.Add(1)
					fail(pc.p + ": " + err.Error())
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != pc.want {
					legitBad.Add(1)
					fail(u.tenant + " " + pc.p + ": " + strconv.Itoa(resp.StatusCode) + " " + string(body[:min(len(body), 200)]))
					continue
				}
				if resp.StatusCode == http.StatusAccepted && strings.Contains(string(body), `"`+map[string]string{"acme": "globex", "globex": "acme"}[u.tenant]+`"`) {
					legitBad.Add(1)
					fail(u.tenant + " saw another tenant's rows")
					continue
				}
				legitOK.Add(1)
			}
		})
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("soak: %d legitimate requests served, %d failed; %d hostile requests refused as expected, %d not",
		legitOK.Load(), legitBad.Load(), hostileOK.Load(), hostileBad.Load())
	if legitBad.Load() > 0 || hostileBad.Load() > 0 {
		t.Errorf("soak: %d legitimate failures, %d hostile requests not refused as expected", legitBad.Load(), hostileBad.Load())
	}
	if legitOK.Load() < 50 || hostileOK.Load() < 50 {
		t.Errorf("soak too short: %d legitimate, %d hostile", legitOK.Load(), hostileOK.Load())
	}
	for _, r := range h.mb.Requests() {
		if r.Claims == nil {
			continue
		}
		params, _ := r.Claims["params"].(map[string]any)
		if tn := params["organization_id"]; tn != "acme" && tn != "globex" {
			t.Errorf("Metabase received a token for tenant %v", tn)
		}
	}

	g := h.stack.Gate
	if g.merge != nil {
		g.merge.mu.Lock()
		if n := len(g.merge.calls); n != 0 {
			t.Errorf("%d merged calls still open after the soak", n)
		}
		g.merge.mu.Unlock()
	}
	for _, tn := range g.fair.tenants.Keys() {
		st, _ := g.fair.tenants.Peek(tn)
		st.mu.Lock()
		if st.inflight != 0 {
			t.Errorf("tenant %s: %d requests still counted in flight", tn, st.inflight)
		}
		st.mu.Unlock()
	}
	if n := g.fair.tenants.Len(); n > 2 {
		t.Errorf("fairness tracks %d tenants, want at most the 2 that reached Metabase", n)
	}
	g.assets.mu.Lock()
	if g.assets.total > g.assets.max {
		t.Errorf("asset cache holds %d bytes, over its bound %d", g.assets.total, g.assets.max)
	}
	g.assets.mu.Unlock()

	h.logs.TakeAll()
	h.mb.Reset()
	transport.CloseIdleConnections()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(base.HeapAlloc); grew > 32<<20 {
		t.Errorf("heap grew by %d MiB over the soak", grew>>20)
	}
	t.Logf("heap: %d KiB before, %d KiB after", base.HeapAlloc>>10, after.HeapAlloc>>10)
}

package proxy

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Flags of TestStateful. A longer run:
//
//	go test -run TestStateful ./proxy/ -stateful.steps=5000 -stateful.seeds=20
//
// and a failure's replay: -stateful.seed=<its seed> -stateful.seeds=1.
var (
	statefulSeed  = flag.Int64("stateful.seed", 1, "TestStateful: the first seed (-1: one from the clock)")
	statefulSeeds = flag.Int("stateful.seeds", 3, "TestStateful: how many seeds, from -stateful.seed up (env TENANTGATE_STATEFUL_SEEDS)")
	statefulSteps = flag.Int("stateful.steps", 300, "TestStateful: operations per seed (env TENANTGATE_STATEFUL_STEPS)")
	statefulAll   = flag.Bool("stateful.keepgoing", false, "TestStateful: go on after a violation and count every kind found (with -v and TENANTGATE_STATEFUL_LOG=1, log each)")
)

// traceLen is how many operations a failure shows.
const traceLen = 10

// TestStateful is issue 12's randomised stateful test. Three tenants' users
// (one of them in two organizations, and one with no session) run random
// sequences over every route: mint, embed pages, the embed API and its
// exports, value listings, tiles, assets, session properties, interactive
// SSO sign-in, its pages and API, the SDK's handshake and API, organization
// switches; and hostile moves: other browsers' handles, SDK ids, tickets
// and cookies, mangled paths, upgrades, spoofed forwarding headers, the
// tenant filter from the browser, leaked Metabase credentials, junk. After
// every step it checks, from what the stand-in received and what the
// browser got back:
//
//  1. every token, SSO JWT and session Metabase received is of the acting
//     user's current tenant (and the session of a Metabase user the gate
//     signed that user in as), and no client-chosen credential, upgrade or
//     forwarding header reached it;
//  2. every path Metabase received is on an allowlist written from the
//     contract, independently of the gate's parsers;
//  3. no answer carries another tenant's row or value, or any Metabase
//     credential (a JWT that verifies with the embedding or the SSO secret,
//     or a session key the stand-in issued), and none switched protocols.
//
// A failure names the seed, the step and the last operations.
func TestStateful(t *testing.T) {
	steps, seeds := *statefulSteps, *statefulSeeds
	if v, err := strconv.Atoi(os.Getenv("TENANTGATE_STATEFUL_STEPS")); err == nil && v > 0 {
		steps = v
	}
	if v, err := strconv.Atoi(os.Getenv("TENANTGATE_STATEFUL_SEEDS")); err == nil && v > 0 {
		seeds = v
	}
	first := *statefulSeed
	if first < 0 {
		first = time.Now().UnixNano() & 0x7fffffff
	}
	coverage := map[string]int{}
	found := map[string]*finding{}
	for s := first; s < first+int64(seeds); s++ {
		t.Run("seed="+strconv.FormatInt(s, 10), func(t *testing.T) {
			runStateful(t, uint64(s), steps, found, coverage)
		})
	}
	if len(found) > 0 {
		var b strings.Builder
		keys := make([]string, 0, len(found))
		for k := range found {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f := found[k]
			fmt.Fprintf(&b, "\n%5d × %s\n        first: seed %d step %d: %s", f.count, k, f.seed, f.step, f.detail)
		}
		t.Errorf("violations by invariant and operation:%s", b.String())
	}
	// A run that never got data back proves nothing: every route with
	// data must have answered at least once.
	if steps*seeds >= 600 && !t.Failed() {
		for _, k := range []string{"mint", "page", "embed api", "export", "asset", "properties", "sso sign-in", "sso page", "sso api", "sdk sign-in", "sdk api"} {
			if coverage[k] == 0 {
				t.Errorf("no %s operation got a 2xx answer in %d steps: the run is vacuous (coverage %v)", k, steps*seeds, coverage)
			}
		}
	}
	t.Logf("answers with data, by operation: %v", coverage)
}

// finding counts one kind of violation (invariant and operation) in
// -stateful.keepgoing mode.
type finding struct {
	count  int
	seed   int64
	step   int
	detail string
}

// runStateful runs one seed, counting answers with data into coverage. It
// stops at the first step that breaks an invariant, unless
// -stateful.keepgoing, which counts each kind into found instead.
func runStateful(t *testing.T, seed uint64, steps int, found map[string]*finding, coverage map[string]int) {
	h := newSSOHarness(t, statefulConfig)
	m := newModel(h, seed)
	m.ok = coverage
	for m.step = 1; m.step <= steps; m.step++ {
		a := m.actor()
		o := m.next(a)
		ex := o.run()
		codes := make([]string, len(ex))
		for i, e := range ex {
			codes[i] = strconv.Itoa(e.w.Code)
			if e.w.Code/100 == 2 {
				m.ok[o.kind]++
			}
		}
		desc := o.desc
		if o.kind == "switch" {
			desc = "switch to " + a.tenant
		}
		m.trace = append(m.trace, fmt.Sprintf("#%d %s@%s: %s → %s", m.step, a.name, tenantOrNone(a.tenant), redactTarget(desc), strings.Join(codes, ",")))
		if len(m.trace) > traceLen {
			m.trace = m.trace[1:]
		}
		vs := m.check(a, ex)
		if len(vs) == 0 {
			continue
		}
		if *statefulAll {
			for _, v := range vs {
				k := v.inv + " ← " + o.kind
				if os.Getenv("TENANTGATE_STATEFUL_LOG") != "" {
					t.Logf("seed %d step %d %s@%s %s: %s: %s", seed, m.step, a.name, tenantOrNone(a.tenant), o.desc, v.inv, v.detail)
				}
				if f := found[k]; f != nil {
					f.count++
					continue
				}
				found[k] = &finding{count: 1, seed: int64(seed), step: m.step, detail: v.detail}
			}
			continue
		}
		var b strings.Builder
		seen := map[string]bool{}
		for _, v := range vs {
			line := v.inv + ": " + v.detail
			if !seen[line] && len(seen) < 6 {
				seen[line] = true
				b.WriteString("\n  - " + line)
			}
		}
		t.Fatalf("seed %d, step %d (%s): broke an invariant:%s\nlast operations (replay: -run 'TestStateful/seed=%d$' -stateful.seed=%d -stateful.seeds=1):\n  %s",
			seed, m.step, o.kind, b.String(), seed, seed, strings.Join(m.trace, "\n  "))
	}
}

func tenantOrNone(t string) string {
	if t == "" {
		return "(no tenant)"
	}
	return t
}

// check applies every invariant to a step: the requests the stand-in
// received during it, and the answers the actor got.
func (m *model) check(a *actor, ex []exchange) []violation {
	reqs := m.h.mb.Requests()
	m.mu.Lock()
	seen := m.seen
	m.mu.Unlock()
	var vs []violation
	if len(reqs) != len(seen) {
		return []violation{{"test harness", fmt.Sprintf("the stand-in recorded %d requests and the observer %d", len(reqs), len(seen))}}
	}
	for i := range reqs {
		r := seen[i]
		if r.Path != reqs[i].Path {
			return []violation{{"test harness", "the observer's order differs from the stand-in's at " + redactTarget(r.Path)}}
		}
		r.Request = reqs[i]
		vs = append(vs, m.checkReceived(a, r)...)
	}
	// Forget what was checked, so each step reads only its own requests.
	m.h.mb.Reset()
	m.mu.Lock()
	m.seen = nil
	m.mu.Unlock()
	for _, e := range ex {
		vs = append(vs, m.checkResponse(a, e.target, e.w)...)
	}
	return vs
}

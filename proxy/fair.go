package proxy

import (
	"context"
	"math"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/tenantgate/tenantgate/policy"
)

// fairness keeps one tenant from starving the others: a token bucket and a
// cap on requests in flight, per tenant. Tenants are kept in an LRU of at
// most maxTenants (session.cache_size: a tenant in use has a session in
// use); an evicted tenant starts again with a full bucket, which only errs
// on the side of serving.
//
// A request over the rate waits for its token, up to maxWait, as nginx's
// limit_req does with a burst queue: a dashboard that opens a few cards
// too many is slowed, not broken, and a client looping on its answers
// (a script, a stuck refresh) is held to the tenant's rate instead of
// being answered a 429 as fast as it can ask, which costs the gate CPU
// that other tenants need. Beyond maxWait, or over the in-flight cap,
// the answer is 429 (which Gate.tooMany sends after the same wait).
type fairness struct {
	limit   rate.Limit
	burst   int
	maxConc int
	maxWait time.Duration // <= 0: never wait
	tenants *lru.Cache[string, *tenantState]
	mu      sync.Mutex // serialises create-on-miss
}

type tenantState struct {
	lim      *rate.Limiter
	mu       sync.Mutex
	inflight int
}

func newFairness(perSecond, burst, maxConc int, maxWait time.Duration, maxTenants int) *fairness {
	if maxTenants <= 0 {
		maxTenants = 10000 // an unvalidated config (tests); Validate requires a size
	}
	c, _ := lru.New[string, *tenantState](maxTenants)
	return &fairness{limit: rate.Limit(perSecond), burst: burst, maxConc: maxConc, maxWait: maxWait, tenants: c}
}

func (f *fairness) state(tenant string) *tenantState {
	if st, ok := f.tenants.Get(tenant); ok {
		return st
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.tenants.Get(tenant); ok {
		return st
	}
	st := &tenantState{lim: rate.NewLimiter(f.limit, f.burst)}
	f.tenants.Add(tenant, st)
	return st
}

// admit takes a slot for tenant, waiting up to maxWait for a rate token.
// It returns the tenant's state, whose release gives the slot back, and
// how long it waited; or nil and how long the client should wait before
// retrying. gone reports that ctx ended while waiting (the client left),
// and then nothing is taken.
// The clock is read under the tenant's lock: a limiter given times out of
// order credits the same interval twice.
func (f *fairness) admit(ctx context.Context, tenant string, clock func() time.Time) (slot *tenantState, d time.Duration, gone bool) {
	st := f.state(tenant)
	st.mu.Lock()
	now := clock()
	if st.inflight >= f.maxConc {
		st.mu.Unlock()
		return nil, time.Second, false
	}
	r := st.lim.ReserveN(now, 1)
	d = r.DelayFrom(now)
	if d > 0 && d > f.maxWait {
		r.CancelAt(now)
		st.mu.Unlock()
		return nil, d, false
	}
	if d > 0 {
		// Wait outside the lock, holding the reservation: the token is
		// ours at its time, and later callers queue behind it.
		st.mu.Unlock()
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			st.mu.Lock()
			r.CancelAt(clock()) // give the token back to those still waiting
			st.mu.Unlock()
			return nil, 0, true
		}
		st.mu.Lock()
		if st.inflight >= f.maxConc {
			// The token is spent; refusing errs on the side of Metabase.
			st.mu.Unlock()
			return nil, time.Second, false
		}
	}
	st.inflight++
	st.mu.Unlock()
	return st, d, false
}

// admitUnrated takes a slot for a request that does not count against
// the tenant's rate (see countsAgainstRate): only the in-flight cap
// applies. It returns nil when the tenant is at that cap.
func (f *fairness) admitUnrated(tenant string) *tenantState {
	st := f.state(tenant)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inflight >= f.maxConc {
		return nil
	}
	st.inflight++
	return st
}

// countsAgainstRate reports whether an embed request counts against its
// tenant's rate: the ones that make Metabase run a query against the
// warehouse (a card or dashcard query, an export, a filter's values or
// search, a map tile). The page, its redirect and the dashboard's or
// card's JSON (metadata Metabase reads from its application database) do
// not: a dashboard opens with one page and one JSON, then one query per
// card, and the rate is there to share the warehouse. All of them count
// against the in-flight cap, which shares Metabase's threads.
func countsAgainstRate(e policy.Endpoint) bool {
	switch e {
	case policy.EndpointQuery, policy.EndpointExport, policy.EndpointValues, policy.EndpointTile:
		return true
	}
	return false
}

// refusing tells, without taking anything, whether admit would refuse
// tenant now (not merely make it wait), and for how long. It lets a flood
// be turned away before the handle, policy and signing work rather than
// after it.
func (f *fairness) refusing(tenant string, clock func() time.Time) (bool, time.Duration) {
	st, ok := f.tenants.Peek(tenant)
	if !ok {
		return false, 0 // a tenant not seen yet has a full bucket
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.inflight >= f.maxConc {
		return true, time.Second
	}
	// Tokens go below zero while callers wait for reserved ones.
	if t := st.lim.TokensAt(clock()); t < 1 {
		if d := time.Duration((1 - t) / float64(f.limit) * float64(time.Second)); d > f.maxWait {
			return true, d
		}
	}
	return false, 0
}

// release gives back a slot taken by admit.
func (st *tenantState) release() {
	st.mu.Lock()
	st.inflight--
	st.mu.Unlock()
}

// retryAfter renders a wait as whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Max(1, math.Ceil(d.Seconds()))))
}

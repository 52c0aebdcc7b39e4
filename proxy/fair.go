package proxy

import (
	"math"
	"strconv"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// fairness keeps one tenant from starving the others: a token bucket and a
// cap on requests in flight, per tenant. Tenants are kept in a bounded LRU;
// an evicted tenant starts again with a full bucket, which only errs on
// the side of serving.
type fairness struct {
	limit   rate.Limit
	burst   int
	maxConc int
	tenants *lru.Cache[string, *tenantState]
	mu      sync.Mutex // serialises create-on-miss
}

type tenantState struct {
	lim      *rate.Limiter
	mu       sync.Mutex
	inflight int
}

func newFairness(perSecond, burst, maxConc int) *fairness {
	c, _ := lru.New[string, *tenantState](100000)
	return &fairness{limit: rate.Limit(perSecond), burst: burst, maxConc: maxConc, tenants: c}
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

// admit takes a slot for tenant. It returns the tenant's state, whose
// release gives the slot back, or nil and how long the client should wait
// before retrying. The clock is read under the tenant's lock: a limiter
// given times out of order credits the same interval twice.
func (f *fairness) admit(tenant string, clock func() time.Time) (slot *tenantState, retry time.Duration) {
	st := f.state(tenant)
	st.mu.Lock()
	defer st.mu.Unlock()
	now := clock()
	if st.inflight >= f.maxConc {
		return nil, time.Second
	}
	r := st.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return nil, d
	}
	st.inflight++
	return st, 0
}

// refusing tells, without taking anything, whether admit would refuse
// tenant now, and for how long. It lets a flood be turned away before the
// handle, policy and signing work rather than after it.
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
	if t := st.lim.TokensAt(clock()); t < 1 {
		return true, time.Duration((1 - t) / float64(f.limit) * float64(time.Second))
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

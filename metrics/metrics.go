package metrics

import (
	"maps"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric name.
const namespace = "tenantgate"

// Label values of the closed sets. A method given any other value records it
// as "other", so a caller's mistake cannot grow a metric without bound.
const (
	// UpstreamError kinds.
	UpstreamDial     = "dial"
	UpstreamTimeout  = "timeout"
	UpstreamCanceled = "canceled"
	UpstreamOther    = "other"

	// TenantMismatch kinds: where a foreign tenant was caught.
	MismatchHandle = "handle"
	MismatchToken  = "token"
	MismatchParam  = "param"

	// TokenMinted kinds.
	TokenHandle = "handle"
	TokenEmbed  = "embed"

	// CredentialRemoved places: where an upstream response carried a
	// Metabase credential. A header or a body read whole is refused; a
	// streamed body has it overwritten.
	CredentialHeader = "header"
	CredentialBody   = "body"
	CredentialStream = "stream"

	// RejectedToken credentials: which of the gate's Metabase keys
	// Metabase refused.
	RejectedEmbed = "embed" // MB_EMBEDDING_SECRET_KEY, guest-embed tokens
	RejectedSSO   = "sso"   // MB_JWT_SHARED_SECRET, SSO JWTs
	// SSOSessionEnded results: Metabase ended the session (204), it was
	// already gone (404), or the call failed.
	SessionEnded  = "ended"
	SessionGone   = "gone"
	SessionFailed = "failed"

	other = "other"
)

// BuildInfo labels tenantgate_build_info. An empty Version or Revision is
// recorded as "unknown", an empty GoVersion as runtime.Version().
type BuildInfo struct {
	Version, Revision, GoVersion string
}

// Metrics records tenantgate's metrics. Build it with New; a nil *Metrics
// records nothing, so tests of other packages may pass nil.
//
// Label values other than the closed sets above (route, auth source and
// result, decision reason, cache name) are taken as given: pass only
// constants from a fixed set, and never a raw path or any request data,
// which would leak tokens into metrics and grow them without bound.
//
// The methods are safe for concurrent use, and once a label set has been
// seen, recording it again allocates nothing: the bound child collectors are
// cached per label set.
type Metrics struct {
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	inFlight        prometheus.Gauge
	inFlightDone    func()

	upstreamDuration *prometheus.HistogramVec
	upstreamErrors   *prometheus.CounterVec

	authAttempts   *prometheus.CounterVec
	decisions      *prometheus.CounterVec
	mismatches     *prometheus.CounterVec
	tokensMinted   *prometheus.CounterVec
	credentials    *prometheus.CounterVec
	rejected       *prometheus.CounterVec
	sessionsEnded  *prometheus.CounterVec
	cacheRequests  *prometheus.CounterVec
	buildInfoGauge prometheus.Gauge
	unsafe         prometheus.Gauge
	reloads        *prometheus.CounterVec
	reloadTime     prometheus.Gauge
	tenantRequests *prometheus.CounterVec
	providerErrors *prometheus.CounterVec
	fairnessWait   prometheus.Histogram
	// tenants maps a configured tenant to its bound children [denied,
	// allowed]; set once by TrackTenants before serving, then only read.
	tenants map[string]*[2]prometheus.Counter
	other   *[2]prometheus.Counter

	// Children bound per label set; the maps of closed sets are filled by
	// New and only read afterwards.
	requestChildren  childCache[requestKey, requestChildren]
	upstreamChildren childCache[upstreamKey, prometheus.Observer]
	authChildren     childCache[authKey, prometheus.Counter]
	decisionChildren childCache[decisionKey, prometheus.Counter]
	cacheChildren    childCache[cacheKey, prometheus.Counter]
	upstreamKinds    map[string]prometheus.Counter
	mismatchKinds    map[string]prometheus.Counter
	tokenKinds       map[string]prometheus.Counter
	credentialPlaces map[string]prometheus.Counter
	rejectedKinds    map[string]prometheus.Counter
	endedResults     map[string]prometheus.Counter
}

type requestKey struct {
	route, method string
	code          int
}

type requestChildren struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

type upstreamKey struct {
	route string
	code  int
}

type authKey struct {
	source, result string
}

type decisionKey struct {
	allow  bool
	reason string
}

type cacheKey struct {
	cache string
	hit   bool
}

// New builds the metrics and registers them with reg. It panics if reg
// already holds any of them (call New once per registry). A nil reg
// registers nothing, for tests that only need a working *Metrics.
func New(reg prometheus.Registerer, info BuildInfo) *Metrics {
	// From half a millisecond (a cached decision) to 30 s (a slow query);
	// longer requests land in +Inf.
	durations := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests answered by the gate, by route name, method and status code.",
		}, []string{"route", "method", "code"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Time from receiving a request to finishing its response, by route name and method.",
			Buckets: durations,
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "http", Name: "requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "request_duration_seconds",
			Help:    "Duration of requests to Metabase, by route name and status code (\"none\" if no response arrived).",
			Buckets: durations,
		}, []string{"route", "code"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "errors_total",
			Help: "Requests to Metabase that failed without a response, by kind (dial, timeout, canceled, other).",
		}, []string{"kind"}),
		authAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "auth_attempts_total",
			Help: "Attempts to resolve the caller's identity, by source and result.",
		}, []string{"source", "result"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "policy_decisions_total",
			Help: "Policy decisions, by decision (allow, deny) and reason.",
		}, []string{"decision", "reason"}),
		mismatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tenant_mismatches_total",
			Help: "Requests that named another tenant than the caller's, by where it was caught.",
		}, []string{"kind"}),
		tokensMinted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tokens_minted_total",
			Help: "Tokens signed by the gate, by kind (handle, embed).",
		}, []string{"kind"}),
		credentials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "credentials_removed_total",
			Help: "Metabase credentials (a JWT signed with a Metabase secret, the injected session key) found in Metabase's responses and kept from the browser, by where (header, body: the response was refused; stream: overwritten).",
		}, []string{"where"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "upstream", Name: "rejected_tokens_total",
			Help: "Tokens the gate signed that Metabase refused as corrupt or manipulated (its key differs from the gate's), by credential (embed: MB_EMBEDDING_SECRET_KEY, sso: MB_JWT_SHARED_SECRET).",
		}, []string{"credential"}),
		sessionsEnded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "sso_sessions_ended_total",
			Help: "Metabase sessions the gate ended itself (DELETE /api/session) for a revoked sealed session, by result (ended, gone, failed).",
		}, []string{"result"}),
		cacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cache_requests_total",
			Help: "Cache lookups, by cache and result (hit, miss).",
		}, []string{"cache", "result"}),
		providerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "identity_provider_errors_total",
			Help: "Failures of the identity provider, by source (jwks: a JWK Set fetch failed and the last good keys were kept; introspect: the endpoint failed and the caller was refused).",
		}, []string{"source"}),
		tenantRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "tenant_requests_total",
			Help: "Requests of identified callers by tenant (only the configured tenants; the rest are \"_other\") and outcome (allowed, denied).",
		}, []string{"tenant", "outcome"}),
		fairnessWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "fairness_wait_seconds",
			Help:    "Time requests over their tenant's rate waited for their turn before going to Metabase (only those that waited and then went).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "config_reloads_total",
			Help: "Configuration reloads on SIGHUP, by result (success, failure: the old configuration was kept).",
		}, []string{"result"}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "When the configuration in use was loaded (start or last successful reload), as a Unix time.",
		}),
		unsafe: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "unsafe_resources",
			Help: "Dashboards and questions the last successful audit of Metabase found unsafe to embed (the gate refuses them).",
		}),
		buildInfoGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help: "Always 1; its labels name the running build.",
			ConstLabels: prometheus.Labels{
				"version":   orDefault(info.Version, "unknown"),
				"revision":  orDefault(info.Revision, "unknown"),
				"goversion": orDefault(info.GoVersion, runtime.Version()),
			},
		}),
	}
	m.inFlightDone = m.inFlight.Dec
	m.buildInfoGauge.Set(1)
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
	}
	for _, s := range []string{"jwks", "introspect"} {
		m.providerErrors.WithLabelValues(s)
	}

	// Closed sets are bound now, so their series exist (at zero) from the
	// first scrape and rate() works for them before the first event.
	m.upstreamKinds = bind(m.upstreamErrors, UpstreamDial, UpstreamTimeout, UpstreamCanceled, UpstreamOther)
	m.mismatchKinds = bind(m.mismatches, MismatchHandle, MismatchToken, MismatchParam)
	m.tokenKinds = bind(m.tokensMinted, TokenHandle, TokenEmbed)
	m.credentialPlaces = bind(m.credentials, CredentialHeader, CredentialBody, CredentialStream)
	m.rejectedKinds = bind(m.rejected, RejectedEmbed, RejectedSSO)
	m.endedResults = bind(m.sessionsEnded, SessionEnded, SessionGone, SessionFailed)

	if reg != nil {
		reg.MustRegister(
			m.requests, m.requestDuration, m.inFlight,
			m.upstreamDuration, m.upstreamErrors,
			m.authAttempts, m.decisions, m.mismatches, m.tokensMinted, m.credentials, m.rejected, m.sessionsEnded, m.cacheRequests,
			m.buildInfoGauge, m.unsafe, m.reloads, m.reloadTime, m.tenantRequests, m.providerErrors, m.fairnessWait,
		)
	}
	return m
}

// Handler serves the metrics gathered from g in the Prometheus exposition
// format. Mount it on the admin listener only.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{MaxRequestsInFlight: 4})
}

// ObserveRequest records one answered request: route is the route's name
// (never the path), code the status written, d the time to serve it.
func (m *Metrics) ObserveRequest(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	k := requestKey{route: route, method: normalizeMethod(method), code: normalizeCode(code)}
	c := m.requestChildren.get(k, m.newRequestChildren)
	c.count.Inc()
	c.duration.Observe(d.Seconds())
}

func (m *Metrics) newRequestChildren(k requestKey) requestChildren {
	return requestChildren{
		count:    m.requests.WithLabelValues(k.route, k.method, codeLabel(k.code)),
		duration: m.requestDuration.WithLabelValues(k.route, k.method),
	}
}

// InFlight counts a request as being served until done is called; call
// done exactly once, typically deferred.
func (m *Metrics) InFlight() (done func()) {
	if m == nil {
		return noop
	}
	m.inFlight.Inc()
	return m.inFlightDone
}

func noop() {}

// InFlightInc counts a request as being served; pair it with exactly one
// InFlightDec. InFlight is the same as a single call.
func (m *Metrics) InFlightInc() {
	if m != nil {
		m.inFlight.Inc()
	}
}

// InFlightDec ends what InFlightInc began.
func (m *Metrics) InFlightDec() {
	if m != nil {
		m.inFlight.Dec()
	}
}

// ObserveUpstream records one request to Metabase: route is the gate's route
// name, code the status Metabase answered (0 if none arrived), d its duration.
func (m *Metrics) ObserveUpstream(route string, code int, d time.Duration) {
	if m == nil {
		return
	}
	k := upstreamKey{route: route, code: normalizeCode(code)}
	m.upstreamChildren.get(k, m.newUpstreamChild).Observe(d.Seconds())
}

func (m *Metrics) newUpstreamChild(k upstreamKey) prometheus.Observer {
	return m.upstreamDuration.WithLabelValues(k.route, codeLabel(k.code))
}

// UpstreamError counts a request to Metabase that failed without a
// response; kind is UpstreamDial, UpstreamTimeout, UpstreamCanceled or
// UpstreamOther.
func (m *Metrics) UpstreamError(kind string) {
	if m == nil {
		return
	}
	closedSet(m.upstreamKinds, m.upstreamErrors, kind).Inc()
}

// AuthAttempt counts one attempt to resolve an identity: source names the
// identity source (e.g. "jwt", "introspect"), result its outcome (e.g. "ok",
// or a reason code). Both must come from fixed sets.
func (m *Metrics) AuthAttempt(source, result string) {
	if m == nil {
		return
	}
	m.authChildren.get(authKey{source, result}, m.newAuthChild).Inc()
}

func (m *Metrics) newAuthChild(k authKey) prometheus.Counter {
	return m.authAttempts.WithLabelValues(k.source, k.result)
}

// Decision counts one policy decision; reason is its policy.Reason.
func (m *Metrics) Decision(allow bool, reason string) {
	if m == nil {
		return
	}
	m.decisionChildren.get(decisionKey{allow, reason}, m.newDecisionChild).Inc()
}

func (m *Metrics) newDecisionChild(k decisionKey) prometheus.Counter {
	decision := "deny"
	if k.allow {
		decision = "allow"
	}
	return m.decisions.WithLabelValues(decision, k.reason)
}

// TenantMismatch counts a request caught naming another tenant; kind is
// MismatchHandle, MismatchToken or MismatchParam.
func (m *Metrics) TenantMismatch(kind string) {
	if m == nil {
		return
	}
	closedSet(m.mismatchKinds, m.mismatches, kind).Inc()
}

// SSOSessionEnded counts a Metabase session the gate ended for a revoked
// sealed session; result is SessionEnded, SessionGone or SessionFailed.
func (m *Metrics) SSOSessionEnded(result string) {
	if m == nil {
		return
	}
	closedSet(m.endedResults, m.sessionsEnded, result).Inc()
}

// TokenMinted counts a token the gate signed; kind is TokenHandle or TokenEmbed.
func (m *Metrics) TokenMinted(kind string) {
	if m == nil {
		return
	}
	closedSet(m.tokenKinds, m.tokensMinted, kind).Inc()
}

// CredentialRemoved counts a Metabase credential found in a response from
// Metabase; where is CredentialHeader, CredentialBody or CredentialStream.
func (m *Metrics) CredentialRemoved(where string) {
	if m == nil {
		return
	}
	closedSet(m.credentialPlaces, m.credentials, where).Inc()
}

// RejectedToken counts a token the gate signed that Metabase refused as
// corrupt or manipulated; credential is RejectedEmbed or RejectedSSO.
func (m *Metrics) RejectedToken(credential string) {
	if m == nil {
		return
	}
	closedSet(m.rejectedKinds, m.rejected, credential).Inc()
}

// Cache counts one lookup in the named cache (a fixed name such as
// "session" or "introspect").
func (m *Metrics) Cache(cache string, hit bool) {
	if m == nil {
		return
	}
	m.cacheChildren.get(cacheKey{cache, hit}, m.newCacheChild).Inc()
}

func (m *Metrics) newCacheChild(k cacheKey) prometheus.Counter {
	result := "miss"
	if k.hit {
		result = "hit"
	}
	return m.cacheRequests.WithLabelValues(k.cache, result)
}

// FairnessWait records how long a request waited for its tenant's rate
// token before it went to Metabase.
func (m *Metrics) FairnessWait(d time.Duration) {
	if m == nil {
		return
	}
	m.fairnessWait.Observe(d.Seconds())
}

// ProviderError counts a failure of the identity provider ("jwks" or
// "introspect"; anything else is counted as "other").
func (m *Metrics) ProviderError(source string) {
	if m == nil {
		return
	}
	if source != "jwks" && source != "introspect" {
		source = "other"
	}
	m.providerErrors.WithLabelValues(source).Inc()
}

// TrackTenants turns on tenantgate_tenant_requests_total for these tenants;
// every other tenant is counted as "_other", so the label stays bounded.
// Call it once, before serving.
func (m *Metrics) TrackTenants(tenants []string) {
	if m == nil || len(tenants) == 0 {
		return
	}
	bind := func(t string) *[2]prometheus.Counter {
		return &[2]prometheus.Counter{m.tenantRequests.WithLabelValues(t, "denied"), m.tenantRequests.WithLabelValues(t, "allowed")}
	}
	m.tenants = make(map[string]*[2]prometheus.Counter, len(tenants))
	for _, t := range tenants {
		m.tenants[t] = bind(t)
	}
	m.other = bind("_other")
}

// TenantRequest counts one request of an identified caller of tenant.
func (m *Metrics) TenantRequest(tenant string, allowed bool) {
	if m == nil || m.other == nil {
		return
	}
	c, ok := m.tenants[tenant]
	if !ok {
		c = m.other
	}
	i := 0
	if allowed {
		i = 1
	}
	c[i].Inc()
}

// ConfigLoaded records a configuration taken into use at t (start or a
// successful reload) or, with ok false, a reload refused.
func (m *Metrics) ConfigLoaded(ok bool, reload bool, t time.Time) {
	if m == nil {
		return
	}
	if reload {
		result := "success"
		if !ok {
			result = "failure"
		}
		m.reloads.WithLabelValues(result).Inc()
	}
	if ok {
		m.reloadTime.Set(float64(t.Unix()))
	}
}

// UnsafeResources records how many dashboards and questions the last
// successful audit found unsafe.
func (m *Metrics) UnsafeResources(n int) {
	if m == nil {
		return
	}
	m.unsafe.Set(float64(n))
}

// childCache maps a label set to its bound child collectors. A known key
// is found without a lock, and without sync.Map's hashing of the key through
// an interface (typehash) and walk of its trie, which together were most of
// the cost of a request's metrics:
//
//   - first in slots, a small direct-mapped array indexed by K.slot, a
//     cheap hash of the key's lengths, a few bytes and integers, and checked
//     with == on the whole key (cheap: label values are constants, and equal
//     strings with equal data pointers compare without reading the bytes);
//   - then in a plain map read through an atomic pointer, hashed by K's
//     generated hash function; the entry found is put in its slot.
//
// A new key is added under mu to dirty, a copy of the read map, which
// replaces it once lookups have missed the read map as often as dirty has
// keys: n keys then cost O(n) copying in all, not O(n²) (the request vec
// may reach thousands of label sets). create runs once per key, under mu.
// Slots only ever hold entries of the map, so two keys in one slot cost a
// map lookup, never a wrong child.
type childCache[K slotKey, V any] struct {
	slots [cacheSlots]atomic.Pointer[entry[K, V]]
	read  atomic.Pointer[childMap[K, V]]

	mu     sync.Mutex
	dirty  *childMap[K, V] // read's keys and those added since; nil if none were
	misses int             // lookups under mu since read was last replaced
}

// cacheSlots is a power of two, more than a gate's usual label sets.
const cacheSlots = 1 << cacheSlotBits

const cacheSlotBits = 8

// slotKey is a label-set key that can pick its slot.
type slotKey interface {
	comparable
	slot() uint64
}

// entry is a key and its children; the map holds pointers to entries so a
// slot can be filled without allocating.
type entry[K comparable, V any] struct {
	key K
	val V
}

// childMap is boxed so that promoting dirty stores a pointer it already has
// rather than allocating one for the map.
type childMap[K comparable, V any] struct {
	m map[K]*entry[K, V]
}

func (c *childCache[K, V]) get(k K, create func(K) V) V {
	// Fibonacci hashing: the top bits of the product mix all of slot's bits.
	s := &c.slots[(k.slot()*0x9e3779b97f4a7c15)>>(64-cacheSlotBits)]
	if e := s.Load(); e != nil && e.key == k {
		return e.val
	}
	var e *entry[K, V]
	if r := c.read.Load(); r != nil {
		e = r.m[k]
	}
	if e == nil {
		e = c.getSlow(k, create)
	}
	s.Store(e)
	return e.val
}

func (c *childCache[K, V]) getSlow(k K, create func(K) V) *entry[K, V] {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.read.Load()
	if r != nil {
		if e, ok := r.m[k]; ok { // promoted while we waited for mu
			return e
		}
	}
	if c.dirty == nil {
		d := &childMap[K, V]{m: make(map[K]*entry[K, V])}
		if r != nil {
			maps.Copy(d.m, r.m)
		}
		c.dirty = d
	}
	e, ok := c.dirty.m[k]
	if !ok {
		e = &entry[K, V]{key: k, val: create(k)}
		c.dirty.m[k] = e
	}
	// The read map is never written after it is stored: readers hold it
	// without a lock. dirty becomes read and a later key copies it anew.
	if c.misses++; c.misses >= len(c.dirty.m) {
		c.read.Store(c.dirty)
		c.dirty, c.misses = nil, 0
	}
	return e
}

// strSlot is s's contribution to a slot: its length and three of its bytes,
// enough to tell the label values of one vec apart, and cheaper than
// hashing all of s.
func strSlot(s string) uint64 {
	n := len(s)
	if n == 0 {
		return 0
	}
	return uint64(n)<<24 | uint64(s[0])<<16 | uint64(s[n/2])<<8 | uint64(s[n-1])
}

// The key's fields are combined polynomially, so that equal fields do not
// cancel; get mixes the result into a slot.
func (k requestKey) slot() uint64 {
	return (strSlot(k.route)*31+strSlot(k.method))*31 + uint64(k.code)
}

func (k upstreamKey) slot() uint64 { return strSlot(k.route)*31 + uint64(k.code) }

func (k authKey) slot() uint64 { return strSlot(k.source)*31 + strSlot(k.result) }

func (k decisionKey) slot() uint64 { return strSlot(k.reason)*2 + b2u(k.allow) }

func (k cacheKey) slot() uint64 { return strSlot(k.cache)*2 + b2u(k.hit) }

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// bind binds the single-label vec to each value.
func bind(vec *prometheus.CounterVec, values ...string) map[string]prometheus.Counter {
	out := make(map[string]prometheus.Counter, len(values))
	for _, v := range values {
		out[v] = vec.WithLabelValues(v)
	}
	return out
}

// closedSet returns the child bound to kind, or to "other" for a kind
// outside the set.
func closedSet(bound map[string]prometheus.Counter, vec *prometheus.CounterVec, kind string) prometheus.Counter {
	if c, ok := bound[kind]; ok {
		return c
	}
	if c, ok := bound[other]; ok {
		return c
	}
	return vec.WithLabelValues(other)
}

// normalizeMethod maps the standard methods to themselves and anything else
// to "OTHER": the method is client input and must not mint label values.
func normalizeMethod(method string) string {
	switch method {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodConnect:
		return http.MethodConnect
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodTrace:
		return http.MethodTrace
	}
	return "OTHER"
}

// Codes outside 100-599 are folded: codeNone for "no response" (0 or
// negative), codeOther for anything else.
const (
	codeNone  = 0
	codeOther = -1
)

func normalizeCode(code int) int {
	switch {
	case code >= 100 && code <= 599:
		return code
	case code <= 0:
		return codeNone
	}
	return codeOther
}

// codeLabel is the label value of a normalized code; it runs only when a
// label set is first seen, so strconv's allocation is paid once.
func codeLabel(code int) string {
	switch code {
	case codeNone:
		return "none"
	case codeOther:
		return other
	}
	return strconv.Itoa(code)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

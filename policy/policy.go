package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
)

// Decision is the outcome of a policy check: allow, or deny with a reason.
// Denials are values, not errors: an error would mean "could not decide".
type Decision struct {
	Allow  bool
	Reason Reason
	// Detail is for the log only (never for the client): what exactly failed.
	Detail string
	// Mismatch names what carried a foreign tenant ("handle", "token",
	// "param") when Reason is tenant-mismatch or a tenant override.
	Mismatch string
}

var allowed = Decision{Allow: true, Reason: ReasonAllowed}

func deny(r Reason, format string, args ...any) Decision {
	return Decision{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Grant is what an allowed request may carry to Metabase.
type Grant struct {
	Resource auth.Resource
	// Params are the locked params to sign into the Metabase token: the
	// tenant parameter and the resource's extra locked params. Read-only:
	// the map may be shared with other requests.
	Params map[string]any
	// Query is the canonical query string to send upstream, rebuilt from
	// the checked values only, so Metabase parses exactly what we checked.
	Query string
	// Renew is set when an expired handle was accepted for renewal.
	Renew bool
}

// Engine holds the compiled policy. It is immutable and safe for
// concurrent use; build a new one to change the policy.
type Engine struct {
	tenantParam string
	restricted  bool
	rules       map[auth.Resource]*rule
	open        *rule
	renewMax    time.Duration
	maxToken    int
	// tenantOnly memoises the params of rules without extra locked params
	// ({tenantParam: tenant}), bounded: the same value every time.
	tenantOnly *lru.Cache[string, map[string]any]
	// parameters memoises accepted `parameters` JSON, per rule, in its
	// canonical form: every card of a filtered dashboard sends the same.
	parameters *lru.Cache[parametersKey, string]
}

// maxRememberedParameters caps the raw JSON remembered, so the memo holds
// at most session.cache_size × about 1 KiB (10 MB at the default).
const maxRememberedParameters = 512

// parametersKey is what checkParametersJSON reads: the rule and the raw
// JSON (the engine's tenant param is fixed).
type parametersKey struct {
	r   *rule
	raw string
}

type rule struct {
	tenants   map[string]bool // nil: every tenant
	require   map[string]map[string]bool
	locked    map[string]*template.Template
	editable  map[string]bool
	downloads bool
	listings  map[string]bool
}

// New compiles the policy of cfg. cfg must have been validated.
func New(cfg *configs.Config) (*Engine, error) {
	e := &Engine{
		tenantParam: cfg.Tenant.Param,
		restricted:  len(cfg.Policy.Resources) > 0,
		rules:       map[auth.Resource]*rule{},
		open:        &rule{},
		renewMax:    cfg.Handles.RenewMax,
		maxToken:    cfg.Limits.MaxTokenBytes,
	}
	// The memos share the credential caches' bound (session.cache_size).
	size := cfg.Session.CacheSize
	if size <= 0 {
		size = 10000 // an unvalidated config, in tests
	}
	var err error
	if e.tenantOnly, err = lru.New[string, map[string]any](size); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if e.parameters, err = lru.New[parametersKey, string](size); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	for i, rp := range cfg.Policy.Resources {
		res := auth.Resource{Kind: auth.KindDashboard, ID: rp.Dashboard}
		if rp.Question != 0 {
			res = auth.Resource{Kind: auth.KindQuestion, ID: rp.Question}
		}
		r := &rule{downloads: rp.Downloads, editable: set(rp.EditableParams), listings: set(rp.ValueListings)}
		if len(rp.Tenants) > 0 {
			r.tenants = set(rp.Tenants)
		}
		if len(rp.RequireClaims) > 0 {
			r.require = map[string]map[string]bool{}
			for c, vs := range rp.RequireClaims {
				r.require[c] = set(vs)
			}
		}
		for slug, text := range rp.LockedParams {
			t, err := template.New(slug).Option("missingkey=error").Parse(text)
			if err != nil {
				return nil, fmt.Errorf("policy.resources[%d].locked_params.%s: %w", i, slug, err)
			}
			if r.locked == nil {
				r.locked = map[string]*template.Template{}
			}
			r.locked[slug] = t
		}
		e.rules[res] = r
	}
	return e, nil
}

// MaxTokenBytes is the longest token segment the gate parses.
func (e *Engine) MaxTokenBytes() int { return e.maxToken }

// TenantParam is the Metabase slug locked to the caller's tenant.
func (e *Engine) TenantParam() string { return e.tenantParam }

// ListsValues reports whether the policy turned value listing on for
// parameter paramID of res (its value_listings). Only then may the values
// Metabase computes for that filter, over every tenant's rows, reach a
// browser: in a listing or in the embed JSON's param_values.
func (e *Engine) ListsValues(res auth.Resource, paramID string) bool {
	r, ok := e.rules[res]
	return ok && r.listings[paramID]
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// ruleFor applies the resource-level checks shared by minting and use.
func (e *Engine) ruleFor(id *auth.Identity, res auth.Resource) (*rule, Decision) {
	r := e.open
	if e.restricted {
		var ok bool
		if r, ok = e.rules[res]; !ok {
			return nil, deny(ReasonResourceNotAllowed, "%s is not in the resource policy", res)
		}
	}
	if r.tenants != nil && !r.tenants[id.Tenant] {
		return nil, deny(ReasonResourceNotAllowed, "tenant %q is not listed for %s", id.Tenant, res)
	}
	for claim, accepted := range r.require {
		v, ok := claimString(id.Claims[claim])
		if !ok || !accepted[v] {
			return nil, deny(ReasonResourceNotAllowed, "claim %q does not hold an accepted value for %s", claim, res)
		}
	}
	return r, allowed
}

// lockedParams computes the params the Metabase token locks: the tenant
// parameter always, as the identity's tenant, never empty.
func (e *Engine) lockedParams(id *auth.Identity, r *rule) (map[string]any, Decision) {
	if strings.TrimSpace(id.Tenant) == "" {
		return nil, deny(ReasonTenantMissing, "identity has no tenant")
	}
	if auth.IsRouterValue(id.Tenant) {
		// Metabase's database-routing escape value: never a filter value
		// the gate locks (issue 12 §5).
		return nil, deny(ReasonReservedValue, "the tenant is Metabase's routing value")
	}
	if len(r.locked) == 0 {
		if p, ok := e.tenantOnly.Get(id.Tenant); ok {
			return p, allowed
		}
		p := map[string]any{e.tenantParam: id.Tenant}
		e.tenantOnly.Add(id.Tenant, p)
		return p, allowed
	}
	params := map[string]any{e.tenantParam: id.Tenant}
	data := struct {
		Claims                 map[string]any
		Tenant, Subject, Email string
	}{id.Claims, id.Tenant, id.Subject, id.Email}
	var b bytes.Buffer
	for slug, t := range r.locked {
		b.Reset()
		if err := t.Execute(&b, data); err != nil {
			return nil, deny(ReasonClaimMissing, "locked param %q: %v", slug, err)
		}
		v := strings.TrimSpace(b.String())
		if v == "" || v == "<no value>" {
			return nil, deny(ReasonClaimMissing, "locked param %q is empty for this identity", slug)
		}
		if auth.IsRouterValue(v) {
			return nil, deny(ReasonReservedValue, "locked param %q is Metabase's routing value", slug)
		}
		params[slug] = v
	}
	return params, allowed
}

// Mint decides whether id may embed res, and with which locked params.
func (e *Engine) Mint(id *auth.Identity, res auth.Resource) (Grant, Decision) {
	r, d := e.ruleFor(id, res)
	if !d.Allow {
		return Grant{}, d
	}
	params, d := e.lockedParams(id, r)
	if !d.Allow {
		return Grant{}, d
	}
	return Grant{Resource: res, Params: params}, allowed
}

// Credential is what the browser presented in the token segment, already
// verified by auth: a gate handle, or (pass-through mode) a Metabase token.
type Credential struct {
	Handle        *auth.HandleClaims
	HandleExpired bool
	// SubjectMatch: the handle was minted for the caller's subject.
	SubjectMatch bool
	Token        *auth.EmbedToken
}

// Embed decides an /embed/* or /api/embed/* request of id presenting cred
// for path p with query q, at time now.
func (e *Engine) Embed(id *auth.Identity, cred Credential, p EmbedPath, q url.Values, now time.Time) (Grant, Decision) {
	var res auth.Resource
	var renew bool
	switch {
	case cred.Handle != nil:
		h := cred.Handle
		res = h.Resource
		if h.Tenant != id.Tenant {
			d := deny(ReasonTenantMismatch, "handle minted for tenant %q used by tenant %q", h.Tenant, id.Tenant)
			d.Mismatch = "handle"
			return Grant{}, d
		}
		if v, ok := claimString(h.Params[e.tenantParam]); !ok || v != id.Tenant {
			d := deny(ReasonTenantMismatch, "handle's tenant param does not equal the caller's tenant")
			d.Mismatch = "handle"
			return Grant{}, d
		}
		if !cred.SubjectMatch {
			return Grant{}, deny(ReasonSubjectMismatch, "handle minted for another subject")
		}
		if cred.HandleExpired {
			if now.Sub(h.IssuedAt) > e.renewMax {
				return Grant{}, deny(ReasonHandleExpired, "handle issued %s ago, past the renewal limit %s", now.Sub(h.IssuedAt).Round(time.Second), e.renewMax)
			}
			renew = true
		}
	case cred.Token != nil:
		res = cred.Token.Resource
		v, ok := claimString(cred.Token.Params[e.tenantParam])
		if !ok || v != id.Tenant {
			d := deny(ReasonTenantMismatch, "Metabase token's %q param is not the caller's tenant %q", e.tenantParam, id.Tenant)
			d.Mismatch = "token"
			return Grant{}, d
		}
	default:
		return Grant{}, deny(ReasonHandleInvalid, "no verified credential")
	}
	if res.Kind != p.Kind {
		return Grant{}, deny(ReasonHandleInvalid, "credential for a %s used on a %s path", res.Kind, p.Kind)
	}
	r, d := e.ruleFor(id, res)
	if !d.Allow {
		return Grant{}, d
	}
	g := Grant{Resource: res, Renew: renew}
	if cred.Handle != nil {
		if g.Params, d = e.lockedParams(id, r); !d.Allow {
			return Grant{}, d
		}
	} else {
		g.Params = cred.Token.Params
	}
	if g.Query, d = e.checkQuery(r, p, q); !d.Allow {
		return Grant{}, d
	}
	return g, allowed
}

// checkQuery applies the endpoint's rules to the browser's query string and
// returns the canonical query to send upstream.
func (e *Engine) checkQuery(r *rule, p EmbedPath, q url.Values) (string, Decision) {
	switch p.Endpoint {
	case EndpointPageExport, EndpointExport:
		if !r.downloads {
			return "", deny(ReasonDownloadNotAllowed, "downloads are off for this resource")
		}
	case EndpointValues:
		if !r.listings[p.ParamID] {
			return "", deny(ReasonListingNotAllowed, "value listing of parameter %q is not allowed", p.ParamID)
		}
		// Chain-filter constraints are keyed by parameter id; we do not map
		// ids to slugs, so none are accepted (deny by default).
		for k := range q {
			if !(k == "value" && p.Listing == "remapping" && len(q[k]) == 1) {
				return "", deny(ReasonParamNotAllowed, "query key %q not allowed on a value listing", k)
			}
		}
		return q.Encode(), allowed
	case EndpointInfo:
		if len(q) > 0 {
			return "", deny(ReasonParamNotAllowed, "the info endpoint takes no query")
		}
		return "", allowed
	}
	if p.Endpoint == EndpointPage || p.Endpoint == EndpointPageExport {
		// The page's query string holds filter values by slug, which its
		// script forwards to the API.
		for k, vs := range q {
			if d := e.checkSlug(r, k); !d.Allow {
				return "", d
			}
			if len(vs) != 1 {
				return "", deny(ReasonParamNotAllowed, "filter %q given %d times", k, len(vs))
			}
		}
		return q.Encode(), allowed
	}
	out := url.Values{}
	flags := map[string]bool{}
	switch p.Endpoint {
	case EndpointExport:
		flags = map[string]bool{"format_rows": true, "pivot_results": true}
	case EndpointTile:
		flags = map[string]bool{"latField": true, "lonField": true}
	}
	_, hasJSON := q["parameters"]
	for k, vs := range q {
		switch {
		case flags[k]:
			if len(vs) != 1 {
				return "", deny(ReasonParamNotAllowed, "%q given %d times", k, len(vs))
			}
			out[k] = vs
		case k == "parameters":
			if len(vs) != 1 {
				return "", deny(ReasonParamNotAllowed, "parameters given %d times", len(vs))
			}
			canon, d := e.checkParametersJSON(r, vs[0])
			if !d.Allow {
				return "", d
			}
			out.Set("parameters", canon)
		default:
			// Metabase reads every other key as a slug when there is no
			// valid parameters JSON; refuse the mix rather than guess.
			if hasJSON {
				return "", deny(ReasonParamNotAllowed, "query key %q beside a parameters JSON", k)
			}
			if d := e.checkSlug(r, k); !d.Allow {
				return "", d
			}
			if len(vs) != 1 {
				return "", deny(ReasonParamNotAllowed, "filter %q given %d times", k, len(vs))
			}
			out[k] = vs
		}
	}
	return out.Encode(), allowed
}

func (e *Engine) checkSlug(r *rule, slug string) Decision {
	if slug == e.tenantParam {
		d := deny(ReasonParamNotAllowed, "the tenant parameter %q may not be set from the browser", slug)
		d.Mismatch = "param"
		return d
	}
	if !r.editable[slug] {
		return deny(ReasonParamNotAllowed, "parameter %q is not editable", slug)
	}
	return allowed
}

// checkParametersJSON parses the browser's parameters JSON and re-encodes
// it, so that what Metabase parses is what we checked (no duplicate keys,
// no escapes that decode to a locked slug).
func (e *Engine) checkParametersJSON(r *rule, raw string) (string, Decision) {
	k := parametersKey{r, raw}
	if canon, ok := e.parameters.Get(k); ok {
		return canon, allowed
	}
	canon, d := e.canonicalParameters(r, raw)
	// Only accepted JSON (a refusal is rare, and keeps its detail), and only
	// small: the bound on entries must also bound the memory they hold.
	if d.Allow && len(raw) <= maxRememberedParameters {
		e.parameters.Add(k, canon)
	}
	return canon, d
}

// canonicalParameters is checkParametersJSON's work, without the memo.
func (e *Engine) canonicalParameters(r *rule, raw string) (string, Decision) {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return "", deny(ReasonMalformedRequest, "parameters is not one JSON object")
	}
	for k, v := range m {
		if d := e.checkSlug(r, k); !d.Allow {
			return "", d
		}
		if !scalarOrList(v) {
			return "", deny(ReasonParamNotAllowed, "parameter %q has a value of an unsupported type", k)
		}
	}
	// json.Marshal sorts keys: the upstream query is canonical.
	b, err := json.Marshal(m)
	if err != nil {
		return "", deny(ReasonMalformedRequest, "parameters cannot be re-encoded: %v", err)
	}
	return string(b), allowed
}

func scalarOrList(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, json.Number:
		return true
	case []any:
		for _, y := range x {
			switch y.(type) {
			case nil, string, bool, json.Number:
			default:
				return false
			}
		}
		return true
	}
	return false
}

// claimString renders a claim as the tenant comparisons see it: a string
// as is, an integral number in decimal; anything else is not a value.
func claimString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, x != ""
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) {
			return strconv.FormatFloat(x, 'f', -1, 64), true
		}
	case json.Number:
		if _, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return string(x), true
		}
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	}
	return "", false
}

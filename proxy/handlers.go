package proxy

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/policy"
)

// identify authenticates the caller, or denies and returns nil.
func (g *Gate) identify(w http.ResponseWriter, r *http.Request) *auth.Identity {
	id, err := g.auth.Authenticate(r.Context(), r)
	source := "jwt"
	if g.cfg.Introspect.URL != "" {
		source = "introspect"
	}
	if err == nil {
		g.metrics.AuthAttempt(source, "ok")
		scopeOf(r).identity = id
		return id
	}
	reason := authReason(err)
	g.metrics.AuthAttempt(source, string(reason))
	if ie := (*auth.IncompleteIdentityError)(nil); errors.As(err, &ie) {
		scopeOf(r).subject = ie.Subject // verified: the log may say who
	}
	g.deny(w, r, policy.Decision{Reason: reason, Detail: err.Error()})
	return nil
}

// authReason maps auth's sentinel errors to reasons; anything unknown
// fails closed as unavailable.
func authReason(err error) policy.Reason {
	switch {
	case errors.Is(err, auth.ErrNoCredentials):
		return policy.ReasonNoSession
	case errors.Is(err, auth.ErrSessionExpired):
		return policy.ReasonSessionExpired
	case errors.Is(err, auth.ErrSessionInvalid):
		return policy.ReasonSessionInvalid
	case errors.Is(err, auth.ErrTenantMissing):
		return policy.ReasonTenantMissing
	case errors.Is(err, auth.ErrSubjectMissing):
		return policy.ReasonSubjectMissing
	default:
		return policy.ReasonIdentityUnavailable
	}
}

// displayOptions are the embed page's fragment options (contract §1.1); a
// mint request may pass them as query parameters.
var displayOptions = map[string]bool{
	"bordered": true, "titled": true, "theme": true, "hide_parameters": true,
	"refresh": true, "font": true, "downloads": true, "hide_download_button": true, "locale": true,
}

type mintResponse struct {
	URL string `json:"url"`
	// Token is the handle alone, for the token attribute of embed.js's
	// elements in guest mode (embedsdk.go).
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// serveMint answers GET /.tenantgate/embed/{kind}/{id}: it decides what the
// caller may see and hands back an embed URL holding a fresh handle.
func (g *Gate) serveMint(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	id, _ := strconv.Atoi(vars["id"]) // the route pattern guarantees digits
	res := auth.Resource{Kind: vars["kind"], ID: id}
	scopeOf(r).resource = res
	frag := url.Values{"bordered": {"true"}, "titled": {"true"}}
	for k, vs := range r.URL.Query() {
		if !displayOptions[k] || len(vs) != 1 {
			g.deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "mint takes only display options, got " + strconv.Quote(k)})
			return
		}
		frag.Set(k, vs[0])
	}
	who := g.identify(w, r)
	if who == nil {
		return
	}
	if d := policy.Revoked(g.revoked, who.Tenant, who.Subject, g.now()); !d.Allow { // sso.revoke still to come
		g.deny(w, r, d)
		return
	}
	grant, d := g.policy.Mint(who, res)
	d = g.guarded(res, d)
	g.decided(r, d)
	if !d.Allow {
		g.deny(w, r, d)
		return
	}
	handle, exp, err := g.handles.Seal(res, grant.Params, who.Tenant, who.Subject)
	if err != nil {
		g.fail(w, r, err)
		return
	}
	g.metrics.TokenMinted("handle")
	u := g.prefix + "/embed/" + res.Kind + "/" + handle + "#" + frag.Encode()
	w.Header().Set("Cache-Control", "no-store")
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, mintResponse{URL: u, Token: handle, ExpiresAt: exp.UTC()})
		return
	}
	w.Header().Set("Location", u)
	w.WriteHeader(http.StatusFound)
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// serveEmbed handles /embed/* pages and /api/embed/* calls: verify the
// handle and its binding to the caller's current session, decide, re-sign
// for Metabase, proxy.
func (g *Gate) serveEmbed(w http.ResponseWriter, r *http.Request) {
	f, err := g.scannedPath(r).Forwardable(g.policy.MaxTokenBytes())
	if err == nil && f.Route != policy.RouteEmbedAPI && f.Route != policy.RouteEmbedPage {
		err = policy.ErrNotEmbedPath
	}
	if err != nil {
		reason := policy.ReasonRouteNotAllowed
		switch {
		case errors.Is(err, policy.ErrTokenTooLong):
			reason = policy.ReasonRequestTooLarge
		case errors.Is(err, policy.ErrBadToken):
			reason = policy.ReasonHandleInvalid
		case errors.Is(err, policy.ErrMalformedValue):
			reason = policy.ReasonMalformedRequest
		}
		g.deny(w, r, policy.Decision{Reason: reason, Detail: "embed path: " + err.Error()})
		return
	}
	p := f.Embed // the path forwarded is rebuilt from p (WithToken), never the client's bytes
	s := scopeOf(r)
	s.kind = kindEmbedAPI
	switch p.Endpoint {
	case policy.EndpointPage, policy.EndpointPageExport:
		s.kind = kindEmbedPage
	case policy.EndpointInfo:
		s.kind = kindEmbedInfo // its filter values are dropped (dropParamValues)
	}
	s.handle = p.Token
	s.unrated = !countsAgainstRate(p.Endpoint)
	who := g.identify(w, r)
	if who == nil {
		return
	}
	now := g.now() // one clock read for the limits and the policy
	if over, wait := g.fair.refusing(who.Tenant, func() time.Time { return now }); over && !s.unrated {
		// A tenant already over its limits is refused before the handle,
		// policy and signing work: a flood that ignores Retry-After costs
		// the gate as little as it can.
		g.tooMany(w, r, wait)
		return
	}
	cred, d := g.credential(p.Token, who)
	switch {
	case cred.Handle != nil:
		s.resource = cred.Handle.Resource
	case cred.Token != nil:
		s.resource = cred.Token.Resource
	}
	if !d.Allow {
		g.decided(r, d)
		g.deny(w, r, d)
		return
	}
	if h := cred.Handle; h != nil {
		if d := policy.Revoked(g.revoked, h.Tenant, who.Subject, h.IssuedAt); !d.Allow { // sso.revoke
			g.deny(w, r, d)
			return
		}
	}
	var q url.Values // nil for no query: ParseQuery would allocate an empty map
	if r.URL.RawQuery != "" {
		// Strictly: a ";" or a bad escape is refused, not dropped, so
		// nothing of the query goes unread (what is sent on is rebuilt
		// from q by the policy).
		if q, err = url.ParseQuery(r.URL.RawQuery); err != nil {
			g.deny(w, r, policy.Decision{Reason: policy.ReasonMalformedRequest, Detail: "embed query does not parse"})
			return
		}
	}
	grant, d := g.policy.Embed(who, cred, p, q, now)
	d = g.guarded(grant.Resource, d)
	g.decided(r, d)
	if !d.Allow {
		g.deny(w, r, d)
		return
	}
	if grant.Renew {
		fresh, _, err := g.handles.Seal(grant.Resource, grant.Params, who.Tenant, who.Subject)
		if err != nil {
			g.fail(w, r, err)
			return
		}
		g.metrics.TokenMinted("handle")
		if s.kind == kindEmbedPage {
			// A reload of an old iframe: send the browser to the same page
			// under a fresh handle (it keeps the fragment).
			loc := g.prefix + p.WithToken(fresh)
			if grant.Query != "" {
				loc += "?" + grant.Query
			}
			w.Header().Set("Location", loc)
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusFound)
			return
		}
		s.renewed = fresh
		s.handle = p.Token
	}
	upTok := p.Token
	if cred.Handle != nil {
		tok, fresh, err := g.signer.Sign(grant.Resource, grant.Params)
		if err != nil {
			g.fail(w, r, err)
			return
		}
		if fresh {
			g.metrics.TokenMinted("embed")
		}
		upTok = tok
	}
	s.upToken = upTok
	path := p.WithToken(upTok)
	if g.merge != nil && p.Endpoint == policy.EndpointQuery && s.renewed == "" {
		g.forwardMerged(w, r, who, path, grant.Query)
		return
	}
	g.forwardFair(w, r, who, path, grant.Query)
}

// forwardFair forwards under the tenant's fairness limits: only requests
// that reach Metabase count, so a merged crowd of one dashboard does not.
func (g *Gate) forwardFair(w http.ResponseWriter, r *http.Request, who *auth.Identity, path, query string) {
	slot := g.admit(w, r, who)
	if slot == nil {
		return
	}
	defer slot.release()
	g.forward(w, r, path, query)
}

// admit applies per-tenant fairness: a request over its tenant's rate
// waits its turn (up to protect.tenant_max_wait). It answers 429 and
// returns nil when the tenant is further over its rate or at its
// in-flight cap, and 499 (for the log) when the client left while waiting.
func (g *Gate) admit(w http.ResponseWriter, r *http.Request, who *auth.Identity) *tenantState {
	if scopeOf(r).unrated {
		// Metadata: the in-flight cap only, never a wait (countsAgainstRate).
		slot := g.fair.admitUnrated(who.Tenant)
		if slot == nil {
			g.tooMany(w, r, time.Second)
		}
		return slot
	}
	slot, d, gone := g.fair.admit(r.Context(), who.Tenant, g.now)
	switch {
	case gone:
		w.WriteHeader(499)
	case slot == nil:
		g.tooMany(w, r, d)
	case d > 0:
		g.metrics.FairnessWait(d)
	}
	return slot
}

// tooMany answers 429, after holding the request for the tenant's wait
// (protect.tenant_max_wait): the request waited as long as one over the
// rate may, and a client that ignores Retry-After is held to one request
// per wait per connection instead of looping on 429s as fast as the gate
// answers them, which would take the CPU other tenants need. A held
// request costs a parked goroutine, no CPU.
func (g *Gate) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	if hold := g.fair.maxWait; hold > 0 {
		t := time.NewTimer(hold)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			w.WriteHeader(499) // the client left; for the log
			return
		}
	}
	w.Header().Set("Retry-After", retryAfter(wait))
	g.deny(w, r, policy.Decision{Reason: policy.ReasonRateLimited, Detail: "tenant over its rate or concurrency limit"})
}

// forwardMerged forwards a static-embed query, sharing one upstream call
// among identical concurrent ones, and with the micro-cache on, answering
// from an identical one's answer kept for a few seconds (see merger).
func (g *Gate) forwardMerged(w http.ResponseWriter, r *http.Request, who *auth.Identity, path, query string) {
	key := path + "?" + query + "\x00" + r.Header.Get("Accept-Encoding")
	if g.merge.micro != nil {
		now := g.now()
		if res, stored, ok := g.merge.micro.get(key, now); ok {
			g.metrics.Cache("micro", true)
			res.writeTo(w, "cached", now.Sub(stored))
			return
		}
		g.metrics.Cache("micro", false)
	}
	c, leader := g.merge.join(key)
	if !leader {
		select {
		case <-c.done:
		case <-r.Context().Done():
			return
		}
		if c.shared != nil {
			g.metrics.Cache("merge", true)
			c.shared.writeTo(w, "1", 0)
			return
		}
		g.forwardFair(w, r, who, path, query)
		return
	}
	g.metrics.Cache("merge", false)
	tee := &teeWriter{ResponseWriter: w, max: g.merge.max}
	var res *sharedResponse
	defer func() { g.merge.finish(key, c, res, g.now()) }()
	g.forwardFair(tee, r, who, path, query)
	res = tee.result(answeredWhole(r))
}

// answeredWhole reports whether Metabase's answer to r arrived whole: an
// answer, the client still there, and its body not cut (a reset, or closed
// at the upstream deadline, which leaves the request's context alone). Only
// such an answer is kept (asset cache) or shared (merging, micro-cache). Under
// net/http's server a cut body also aborts the handler; this does not rely
// on it.
func answeredWhole(r *http.Request) bool {
	s := scopeOf(r)
	return r.Context().Err() == nil && s.upstreamAt != 0 && !s.upstreamBroken
}

// credential verifies the token segment: a gate handle, or in pass-through
// mode a Metabase token the app's backend signed.
func (g *Gate) credential(tok string, who *auth.Identity) (policy.Credential, policy.Decision) {
	h, err := g.handles.Open(tok)
	switch {
	case err == nil:
		return policy.Credential{Handle: h, SubjectMatch: g.handles.SubjectMatches(h, who.Subject)}, policy.Decision{Allow: true}
	case errors.Is(err, auth.ErrHandleExpired):
		return policy.Credential{Handle: h, HandleExpired: true, SubjectMatch: g.handles.SubjectMatches(h, who.Subject)}, policy.Decision{Allow: true}
	}
	if !g.cfg.PassThrough.Enabled {
		return policy.Credential{}, policy.Decision{Reason: policy.ReasonHandleInvalid, Detail: err.Error()}
	}
	t, terr := g.signer.Verify(tok, g.cfg.PassThrough.MaxLifetime)
	if terr != nil {
		return policy.Credential{}, policy.Decision{Reason: policy.ReasonTokenInvalid, Detail: terr.Error()}
	}
	return policy.Credential{Token: t}, policy.Decision{Allow: true}
}

// serveStatic passes Metabase's static assets through; they hold no data.
// It forwards the path policy.AssetPath rebuilt and the query
// policy.CleanQuery rebuilt; the favicon takes no query.
func (g *Gate) serveStatic(w http.ResponseWriter, r *http.Request) {
	f, err := g.scannedPath(r).Forwardable(0)
	if err != nil || f.Route != policy.RouteAsset {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "not a static asset path"})
		return
	}
	path, query := f.Path, ""
	if r.URL.RawQuery != "" {
		if path == "/favicon.ico" {
			g.deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "favicon takes no query"})
			return
		}
		if query, err = policy.CleanQuery(r.URL.RawQuery); err != nil {
			g.deny(w, r, policy.Decision{Reason: policy.ReasonMalformedRequest, Detail: "asset query: " + err.Error()})
			return
		}
	}
	scopeOf(r).kind = kindStatic
	if !cacheableAsset(path, r) {
		g.forward(w, r, path, query)
		return
	}
	if res, ok := g.assets.get(path); ok {
		g.metrics.Cache("assets", true)
		res.writeTo(w, "", 0)
		return
	}
	g.metrics.Cache("assets", false)
	// Fetch it plainly (no client encoding) so one copy serves everyone.
	r.Header.Del("Accept-Encoding")
	tee := &teeWriter{ResponseWriter: w, max: maxAsset}
	g.forward(tee, r, path, "")
	if r.Method == http.MethodGet {
		g.assets.put(path, tee.result(answeredWhole(r)))
	}
}

// serveProperties passes Metabase's public settings to signed-in callers,
// without the setup token Metabase exposes there until setup is done.
func (g *Gate) serveProperties(w http.ResponseWriter, r *http.Request) {
	if g.identify(w, r) == nil {
		return
	}
	scopeOf(r).kind = kindProperties
	g.forward(w, r, "/api/session/properties", "")
}

// serveGeoJSON passes custom region maps by key, forwarding the path
// rebuilt from the key. The url form (?url=file:///etc/passwd,
// CVE-2021-41277) is refused.
func (g *Gate) serveGeoJSON(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "" {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "geojson takes no query"})
		return
	}
	f, err := g.scannedPath(r).Forwardable(0)
	if err != nil || f.Route != policy.RouteGeoJSON {
		g.deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "not a geojson key"})
		return
	}
	if g.identify(w, r) == nil {
		return
	}
	g.forward(w, r, f.Path, "")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

package proxy

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// The model of TestStateful: three tenants, their users' browsers, and the
// operations a browser (honest or not) performs through the gate.

// spoofHost is the host a hostile client claims; Metabase must never see it.
const spoofHost = "evil.example"

// actor is one browser: who the app says its user is, and what the browser
// holds from the gate.
type actor struct {
	name, subject string
	tenants       []string // organizations the user belongs to
	tenant        string   // the one the app session is for now; "" for none
	sessions      map[string]string

	cookie     string   // the jar's tenantgate_sso cookie
	oldCookies []string // every sealed cookie this user got (other tabs, other devices)
	sdk        []sealedFor
	tickets    []sealedFor
	handles    []heldHandle
}

type sealedFor struct{ value, tenant string }

type heldHandle struct {
	kind   string // "dashboard" or "question"
	id     int
	handle string
	tenant string
}

func (a *actor) key() string { return a.subject + "|" + a.tenant }

// appSession is the app's session JWT for the actor's current tenant.
func (a *actor) appSession() string { return a.sessions[a.tenant] }

// model is one run: the gate, the stand-in, the actors and what the
// invariants need to remember.
type model struct {
	h       *harness
	rnd     *rand.Rand
	actors  []*actor
	foreign map[string]markers
	// emails: subject|tenant → the Metabase emails the gate signed this
	// user in as, for that tenant (read from the SSO JWTs it sent).
	emails map[string][]string

	mu   sync.Mutex
	seen []received // what the stand-in received this step, with session users

	step  int
	trace []string
	// ok counts, per operation kind, answers that carried data (2xx), so a
	// run that only ever got refusals does not pass for a proof.
	ok map[string]int
}

// statefulConfig is a deployment that uses every route: static embedding
// of two dashboards and a question with downloads and an editable status
// filter, interactive embedding and the SDK with ad-hoc queries on
// (sandboxes cover the orders table). Value listings stay off, so no
// answer may carry another tenant's values.
func statefulConfig(c *configs.Config) {
	c.SSO.Dataset = true
	// Fairness is not under test: no request may wait or be refused for
	// its tenant's rate, which would make a run depend on the clock.
	c.Protect.TenantRate, c.Protect.TenantBurst = 1_000_000, 1_000_000
	c.Policy.Resources = []configs.ResourcePolicy{
		{Dashboard: metabasetest.DashboardOrders, EditableParams: []string{"status"}, Downloads: true},
		{Dashboard: metabasetest.DashboardEditableTenant, EditableParams: []string{"status"}, Downloads: true},
		{Question: metabasetest.QuestionOrders, EditableParams: []string{"status"}, Downloads: true},
	}
}

func newModel(h *harness, seed uint64) *model {
	m := &model{h: h, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), foreign: foreignMarkers(),
		emails: map[string][]string{}, ok: map[string]int{}}
	for _, spec := range []struct {
		name    string
		tenants []string
	}{
		{"alice", []string{"acme", "globex"}}, // one person in two organizations
		{"anne", []string{"acme"}},
		{"bob", []string{"globex"}},
		{"ivan", []string{"initech"}},
		{"irene", []string{"initech"}},
		{"mallory", nil}, // no app session at all
	} {
		a := &actor{name: spec.name, subject: spec.name, tenants: spec.tenants, sessions: map[string]string{}}
		for _, t := range spec.tenants {
			a.sessions[t] = ssoSession(spec.name, t, 2*time.Hour)
		}
		if len(spec.tenants) > 0 {
			a.tenant = spec.tenants[0]
		}
		m.actors = append(m.actors, a)
	}
	// Observe, never change: the session's user as Metabase reads it when
	// the request arrives.
	h.mb.SetOverride(func(_ http.ResponseWriter, r *http.Request) bool {
		rec := received{}
		if c, err := r.Cookie("metabase.SESSION"); err == nil {
			rec.sessionKey = c.Value
		} else if k := r.Header.Get("X-Metabase-Session"); k != "" {
			rec.sessionKey = k
		}
		if rec.sessionKey != "" {
			if u, ok := h.mb.SessionUser(rec.sessionKey); ok {
				rec.sessionUser = &u
			}
		}
		rec.Path = r.URL.EscapedPath()
		m.mu.Lock()
		m.seen = append(m.seen, rec)
		m.mu.Unlock()
		return false
	})
	return m
}

// exchange is one request of a step and its answer.
type exchange struct {
	target string
	w      *httptest.ResponseRecorder
}

// req is a request an operation sends.
type req struct {
	method, target, body string
	hdr                  http.Header
	// cookie: which sealed cookie to send ("" none).
	cookie string
	// noSession sends no app session (the request of a stolen credential).
	noSession bool
	// follow: follow redirects into the gate, as a browser loading a page.
	follow bool
}

// send sends rq as a, through the gate in process, following redirects
// into the gate when asked, and keeps the jar up to date.
func (m *model) send(a *actor, rq req) []exchange {
	var out []exchange
	for hop := 0; hop < 4; hop++ {
		w := m.one(a, rq)
		out = append(out, exchange{rq.target, w})
		for _, c := range w.Result().Cookies() {
			if c.Name != ssoCookieName {
				continue
			}
			if c.MaxAge < 0 || c.Value == "" {
				a.cookie = ""
				continue
			}
			a.cookie = c.Value
			a.oldCookies = append(a.oldCookies, c.Value)
		}
		loc := w.Header().Get("Location")
		if !rq.follow || w.Code/100 != 3 || !strings.HasPrefix(loc, testSSOPrefix+"/") {
			break
		}
		rq = req{method: http.MethodGet, target: loc, cookie: a.cookie, follow: true}
	}
	return out
}

// one sends one request. A target net/http would refuse to parse is sent
// as "/" with the parse error noted: a real server answers it 400.
func (m *model) one(a *actor, rq req) *httptest.ResponseRecorder {
	u, err := url.ParseRequestURI(rq.target)
	if err != nil {
		w := httptest.NewRecorder()
		w.WriteHeader(http.StatusBadRequest)
		return w
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if rq.body != "" {
		r = httptest.NewRequest(http.MethodGet, "/", strings.NewReader(rq.body))
		r.Header.Set("Content-Type", "application/json")
	}
	r.Method = rq.method
	r.URL = u
	r.RequestURI = rq.target
	for k, vs := range rq.hdr {
		if k == "Host" {
			r.Host = vs[0]
			continue
		}
		r.Header[k] = vs
	}
	var cookies []string
	if s := a.appSession(); s != "" && !rq.noSession {
		cookies = append(cookies, m.h.cfg.Session.Cookie+"="+s)
	}
	if rq.cookie != "" {
		cookies = append(cookies, ssoCookieName+"="+rq.cookie)
	}
	if extra := r.Header.Get("Cookie"); extra != "" {
		cookies = append(cookies, extra)
	}
	if len(cookies) > 0 {
		r.Header.Set("Cookie", strings.Join(cookies, "; "))
	}
	w := httptest.NewRecorder()
	m.h.stack.Gate.ServeHTTP(w, r)
	return w
}

// op is one operation: its kind (for coverage and reports), a description
// for the trace, and the requests it sends.
type op struct {
	kind, desc string
	run        func() []exchange
}

// actor picks who acts next: the user of two organizations half of the
// time, since the switches between them are where sessions get mixed up.
func (m *model) actor() *actor {
	if m.pick(2) == 0 {
		return m.actors[0]
	}
	return pickOf(m, m.actors[1:])
}

func (m *model) pick(n int) int { return m.rnd.IntN(n) }

func pickOf[T any](m *model, xs []T) T { return xs[m.rnd.IntN(len(xs))] }

// other is a random actor other than a.
func (m *model) other(a *actor) *actor {
	for {
		if b := pickOf(m, m.actors); b != a {
			return b
		}
	}
}

// mintable are the resources actors ask for: three the policy lists, and
// four it does not (one with an unwired card, one with no tenant filter).
var mintable = []struct {
	kind string
	id   int
}{
	{"dashboard", metabasetest.DashboardOrders}, {"dashboard", metabasetest.DashboardEditableTenant},
	{"question", metabasetest.QuestionOrders},
	{"dashboard", metabasetest.DashboardLeaky}, {"dashboard", metabasetest.DashboardNoTenant},
	{"question", metabasetest.QuestionEditableTenant}, {"question", metabasetest.QuestionRevenueByStatus},
}

// dashcards of the dashboards a handle may be for, as {dashcard, card}.
var dashcardsOf = map[int][][2]int{
	metabasetest.DashboardOrders:         {{metabasetest.DashcardOrdersTable, 1}, {metabasetest.DashcardOrdersRevenue, 2}},
	metabasetest.DashboardEditableTenant: {{metabasetest.DashcardEditableTable, 1}, {metabasetest.DashcardEditableRevenue, 2}},
	metabasetest.DashboardLeaky:          {{metabasetest.DashcardLeakyAllOrders, 3}},
	metabasetest.DashboardNoTenant:       {{metabasetest.DashcardNoTenantTable, 1}},
}

// filterQuery is an honest filter choice: none, the parameters JSON the
// frontend sends, or the legacy per-slug form.
func (m *model) filterQuery() string {
	switch m.pick(4) {
	case 0:
		return "?parameters=" + url.QueryEscape(`{"status":"`+pickOf(m, []string{"paid", "pending", "refunded"})+`"}`)
	case 1:
		return "?status=paid"
	}
	return ""
}

// embedTarget is a random static-embedding API path for handle h.
func (m *model) embedTarget(h heldHandle, tok string) (string, string) {
	p := testSSOPrefix + "/api/embed/"
	if h.kind == "question" {
		base := p + "card/" + tok
		switch m.pick(9) {
		case 0:
			return "card info", base
		case 1, 2:
			return "card query", base + "/query" + m.filterQuery()
		case 3:
			f := pickOf(m, []string{"csv", "json", "xlsx"})
			return "card export " + f, base + "/query/" + f + pickOf(m, []string{"", "?format_rows=true", m.filterQuery()})
		case 4:
			return "card pivot", p + "pivot/card/" + tok + "/query"
		case 5:
			return "card values", base + "/params/" + metabasetest.CardParamStatus + "/values"
		case 6:
			return "card search", base + "/params/" + metabasetest.CardParamStatus + "/search/" + pickOf(m, []string{"pa", "Red%20S", "di"})
		case 7:
			return "card remapping", base + "/params/" + metabasetest.CardParamStatus + "/remapping?value=paid"
		}
		return "card tile", p + "tiles/card/" + tok + "/1/0/0?latField=" + url.QueryEscape(`["field",106]`) + "&lonField=" + url.QueryEscape(`["field",106]`)
	}
	base := p + "dashboard/" + tok
	dcs := dashcardsOf[h.id]
	if len(dcs) == 0 {
		dcs = [][2]int{{metabasetest.DashcardOrdersTable, 1}}
	}
	dc := pickOf(m, dcs)
	dcPath := "/dashcard/" + strconv.Itoa(dc[0]) + "/card/" + strconv.Itoa(dc[1])
	switch m.pick(9) {
	case 0:
		return "dashboard info", base
	case 1, 2:
		return "dashcard query", base + dcPath + m.filterQuery()
	case 3:
		f := pickOf(m, []string{"csv", "json", "xlsx"})
		return "dashcard export " + f, base + dcPath + "/" + f + pickOf(m, []string{"", "?format_rows=true&pivot_results=false", m.filterQuery()})
	case 4:
		return "dashcard pivot", p + "pivot/dashboard/" + tok + dcPath
	case 5:
		return "dashboard values", base + "/params/" + metabasetest.ParamStatus + "/values"
	case 6:
		return "dashboard search", base + "/params/" + metabasetest.ParamStatus + "/search/pa"
	case 7:
		return "dashboard remapping", base + "/params/" + metabasetest.ParamStatus + "/remapping?value=paid"
	}
	return "dashcard tile", p + "tiles/dashboard/" + tok + dcPath + "/2/1/1?latField=" + url.QueryEscape(`["field",106]`) + "&lonField=" + url.QueryEscape(`["field",106]`)
}

// ssoAPI are the Metabase API calls the full app and the SDK make.
var ssoAPI = []struct{ method, path, body string }{
	{"GET", "/api/user/current", ""},
	{"GET", "/api/dashboard/1", ""},
	{"GET", "/api/dashboard/3", ""},
	{"GET", "/api/card/1", ""},
	{"GET", "/api/card/2", ""},
	{"POST", "/api/card/2/query", "{}"},
	{"POST", "/api/card/1/query", "{}"},
	{"POST", "/api/dashboard/1/dashcard/12/card/2/query", `{"parameters":[]}`},
	{"POST", "/api/dashboard/1/dashcard/11/card/1/query", `{"parameters":[]}`},
	{"POST", "/api/dataset", `{"database":1,"type":"query","query":{"source-table":10}}`},
	{"POST", "/api/dataset", `{"database":1,"type":"query","query":{"source-table":10,"filter":["=",["field",105,null],"paid"]}}`},
	{"GET", "/api/collection/root/items", ""},
	{"GET", "/api/search?q=orders", ""},
	{"GET", "/api/database", ""},
}

var ssoPages = []string{"/dashboard/1", "/dashboard/1-orders-overview", "/question/2", "/collection/root", "/search?q=orders"}

// ownHandle is one of a's handles for its current tenant, else any of its
// own, else false.
func (m *model) ownHandle(a *actor) (heldHandle, bool) {
	var cur []heldHandle
	for _, h := range a.handles {
		if h.tenant == a.tenant {
			cur = append(cur, h)
		}
	}
	switch {
	case len(cur) > 0 && m.pick(6) > 0:
		return pickOf(m, cur), true
	case len(a.handles) > 0:
		return pickOf(m, a.handles), true
	}
	return heldHandle{}, false
}

func (m *model) ownSDK(a *actor) (sealedFor, bool) {
	var cur []sealedFor
	for _, s := range a.sdk {
		if s.tenant == a.tenant {
			cur = append(cur, s)
		}
	}
	switch {
	case len(cur) > 0 && m.pick(6) > 0:
		return cur[len(cur)-1], true
	case len(a.sdk) > 0:
		return pickOf(m, a.sdk), true
	}
	return sealedFor{}, false
}

// next chooses a's next operation.
func (m *model) next(a *actor) op {
	switch n := m.pick(100); {
	case n < 8:
		return m.opMint(a)
	case n < 14:
		return m.opPage(a)
	case n < 28:
		return m.opEmbedAPI(a)
	case n < 32:
		return m.opAsset(a)
	case n < 34:
		return m.opProperties(a)
	case n < 37:
		return m.opSSOSignIn(a)
	case n < 41:
		return m.opSSOPage(a)
	case n < 50:
		return m.opSSOAPI(a, false)
	case n < 53:
		return m.opSDKSignIn(a)
	case n < 63:
		return m.opSSOAPI(a, true)
	case n < 69:
		return m.opSwitch(a)
	}
	return m.adversarial(a)
}

func (m *model) opMint(a *actor) op {
	r := pickOf(m, mintable)
	target := testSSOPrefix + "/.tenantgate/embed/" + r.kind + "/" + strconv.Itoa(r.id)
	if m.pick(4) == 0 {
		target += "?theme=night&bordered=false"
	}
	if m.pick(3) == 0 {
		return m.opGuestToken(a, r.kind, r.id)
	}
	return op{"mint", "mint " + r.kind + "/" + strconv.Itoa(r.id), func() []exchange {
		ex := m.send(a, req{method: "GET", target: target, hdr: http.Header{"Accept": {"application/json"}}})
		w := ex[0].w
		if w.Code == http.StatusOK {
			var res mintResponse
			if json.Unmarshal(w.Body.Bytes(), &res) == nil {
				rest := strings.TrimPrefix(res.URL, testSSOPrefix+"/embed/"+r.kind+"/")
				if i := strings.IndexByte(rest, '#'); i > 0 {
					a.handles = append(a.handles, heldHandle{r.kind, r.id, rest[:i], a.tenant})
				}
			}
		}
		return ex
	}}
}

// opGuestToken mints through embed.js's guest token provider, with a
// customContext that tries to name another tenant (ignored by the gate).
func (m *model) opGuestToken(a *actor, kind string, id int) op {
	body, _ := json.Marshal(map[string]any{"entityType": kind, "entityId": id,
		"customContext": map[string]any{"organization_id": m.other(a).tenant, "params": map[string]string{"organization_id": m.other(a).tenant}}})
	return op{"mint", "guest token " + kind + "/" + strconv.Itoa(id), func() []exchange {
		ex := m.send(a, req{method: "POST", target: testSSOPrefix + "/.tenantgate/guest/token?response=json", body: string(body),
			hdr: http.Header{"Content-Type": {"application/json"}}})
		var res struct{ JWT string }
		if ex[0].w.Code == http.StatusOK && json.Unmarshal(ex[0].w.Body.Bytes(), &res) == nil && res.JWT != "" {
			a.handles = append(a.handles, heldHandle{kind, id, res.JWT, a.tenant})
		}
		return ex
	}}
}

func (m *model) opPage(a *actor) op {
	h, ok := m.ownHandle(a)
	if !ok {
		return m.opMint(a)
	}
	target := testSSOPrefix + "/embed/" + h.kind + "/" + h.handle
	desc := "page " + h.kind
	switch {
	case h.kind == "question" && m.pick(3) == 0:
		f := pickOf(m, []string{"csv", "json", "xlsx"})
		target += "." + f
		desc = "page export " + f
	case m.pick(3) == 0:
		target += "?status=paid"
	}
	return op{"page", desc + " (handle of " + h.tenant + ")", func() []exchange {
		return m.send(a, req{method: "GET", target: target, follow: true})
	}}
}

func (m *model) opEmbedAPI(a *actor) op {
	h, ok := m.ownHandle(a)
	if !ok {
		return m.opMint(a)
	}
	desc, target := m.embedTarget(h, h.handle)
	kind := "embed api"
	if strings.Contains(desc, "export") {
		kind = "export"
	}
	return op{kind, desc + " (handle of " + h.tenant + ")", func() []exchange {
		return m.send(a, req{method: "GET", target: target})
	}}
}

func (m *model) opAsset(a *actor) op {
	p := pickOf(m, []string{"/app/dist/app.js", "/app/dist/app.css", "/favicon.ico", "/app/dist/missing-chunk.js", "/app/fonts/Lato/lato-v16.woff2"})
	return op{"asset", "asset " + p, func() []exchange {
		return m.send(a, req{method: pickOf(m, []string{"GET", "GET", "HEAD"}), target: testSSOPrefix + p})
	}}
}

func (m *model) opProperties(a *actor) op {
	p := pickOf(m, []string{"/api/session/properties", "/api/session/properties", "/api/geojson/world_countries"})
	return op{"properties", p, func() []exchange {
		return m.send(a, req{method: "GET", target: testSSOPrefix + p})
	}}
}

func (m *model) opSSOSignIn(a *actor) op {
	ret := pickOf(m, ssoPages)
	return op{"sso sign-in", "sso sign-in, back to " + ret, func() []exchange {
		return m.send(a, req{method: "GET", target: testSSOPrefix + "/.tenantgate/sso?return_to=" + url.QueryEscape(ret), cookie: a.cookie, follow: true})
	}}
}

func (m *model) opSSOPage(a *actor) op {
	p := pickOf(m, ssoPages)
	return op{"sso page", "sso page " + p, func() []exchange {
		return m.send(a, req{method: "GET", target: testSSOPrefix + p, cookie: a.cookie, follow: true})
	}}
}

// opSSOAPI calls the Metabase API as the full app (the jar's cookie) or as
// the SDK (one of the actor's own session ids).
func (m *model) opSSOAPI(a *actor, sdk bool) op {
	c := pickOf(m, ssoAPI)
	rq := req{method: c.method, target: testSSOPrefix + c.path, body: c.body, cookie: a.cookie}
	kind, desc := "sso api", "sso api "+c.method+" "+c.path
	if sdk {
		s, ok := m.ownSDK(a)
		if !ok {
			return m.opSDKSignIn(a)
		}
		rq.cookie = ""
		rq.hdr = http.Header{"X-Metabase-Session": {s.value}, "X-Metabase-Client": {sdkClient}}
		kind, desc = "sdk api", "sdk api "+c.method+" "+c.path+" (session of "+s.tenant+")"
	} else if m.pick(5) == 0 && len(a.oldCookies) > 0 {
		// Another tab or device of the same user, still holding an
		// earlier cookie.
		rq.cookie = pickOf(m, a.oldCookies)
		desc += " (an earlier cookie of mine)"
	}
	return op{kind, desc, func() []exchange { return m.send(a, rq) }}
}

// opSDKSignIn walks the SDK's handshake: discovery, the JWT provider,
// then /auth/sso with the ticket.
func (m *model) opSDKSignIn(a *actor) op {
	client := sdkClient
	if m.pick(4) == 0 {
		client = "embedding-simple" // embed.js
	}
	post := m.pick(3) == 0 // the 2026 SDK posts the JWT (contract §8)
	desc := "sdk sign-in (" + client + ")"
	if post {
		desc += " by POST"
	}
	return op{"sdk sign-in", desc, func() []exchange {
		sdkHdr := func() http.Header { return http.Header{"X-Metabase-Client": {client}} }
		ex := m.send(a, req{method: "GET", target: testSSOPrefix + "/auth/sso", hdr: sdkHdr()})
		jx := m.send(a, req{method: "GET", target: testSSOPrefix + "/.tenantgate/sdk/jwt?response=json"})
		ex = append(ex, jx...)
		var tk struct{ JWT string }
		if jx[0].w.Code != http.StatusOK || json.Unmarshal(jx[0].w.Body.Bytes(), &tk) != nil || tk.JWT == "" {
			return ex
		}
		a.tickets = append(a.tickets, sealedFor{tk.JWT, a.tenant})
		rq := req{method: "GET", target: testSSOPrefix + "/auth/sso?jwt=" + url.QueryEscape(tk.JWT), hdr: sdkHdr()}
		if post {
			b, _ := json.Marshal(map[string]string{"jwt": tk.JWT})
			hdr := sdkHdr()
			hdr.Set("Content-Type", "application/json") // as the SDK's jwt.ts sends it
			rq = req{method: "POST", target: testSSOPrefix + "/auth/sso", body: string(b), hdr: hdr}
		}
		sx := m.send(a, rq)
		ex = append(ex, sx...)
		var s sdkSession
		if sx[0].w.Code == http.StatusOK && json.Unmarshal(sx[0].w.Body.Bytes(), &s) == nil && s.ID != "" {
			a.sdk = append(a.sdk, sealedFor{s.ID, a.tenant})
		}
		return ex
	}}
}

// opSwitch moves a two-organization user to its other organization (the
// app's organization switcher); for everyone else it is an asset fetch.
func (m *model) opSwitch(a *actor) op {
	if len(a.tenants) < 2 {
		return m.opAsset(a)
	}
	return op{"switch", "", func() []exchange {
		for {
			if t := pickOf(m, a.tenants); t != a.tenant {
				a.tenant = t
				return nil
			}
		}
	}}
}

// adversarial is a hostile move: someone else's credential, a mangled
// path, an upgrade, spoofed forwarding headers, the tenant filter set from
// the browser, a client-chosen Metabase credential, junk.
func (m *model) adversarial(a *actor) op {
	b := m.other(a)
	switch m.pick(11) {
	case 0: // another browser's handle
		if len(b.handles) == 0 {
			break
		}
		h := pickOf(m, b.handles)
		desc, target := m.embedTarget(h, h.handle)
		if m.pick(3) == 0 {
			target, desc = testSSOPrefix+"/embed/"+h.kind+"/"+h.handle, "page"
		}
		return op{"replay", "replay " + b.name + "'s handle (" + h.tenant + "): " + desc, func() []exchange {
			return m.send(a, req{method: "GET", target: target, noSession: m.pick(4) == 0})
		}}
	case 1: // another browser's SDK session id
		if len(b.sdk) == 0 {
			break
		}
		s := pickOf(m, b.sdk)
		c := pickOf(m, ssoAPI)
		return op{"replay", "replay " + b.name + "'s SDK id (" + s.tenant + "): " + c.method + " " + c.path, func() []exchange {
			return m.send(a, req{method: c.method, target: testSSOPrefix + c.path, body: c.body,
				hdr: http.Header{"X-Metabase-Session": {s.value}, "X-Metabase-Client": {sdkClient}}})
		}}
	case 2: // another browser's sealed cookie
		if len(b.oldCookies) == 0 {
			break
		}
		ck := pickOf(m, b.oldCookies)
		c := pickOf(m, ssoAPI)
		page := m.pick(3) == 0
		return op{"replay", "replay " + b.name + "'s sealed cookie: " + c.path, func() []exchange {
			if page {
				return m.send(a, req{method: "GET", target: testSSOPrefix + pickOf(m, ssoPages), cookie: ck})
			}
			return m.send(a, req{method: c.method, target: testSSOPrefix + c.path, body: c.body, cookie: ck})
		}}
	case 3: // another browser's SDK ticket
		if len(b.tickets) == 0 {
			break
		}
		tk := pickOf(m, b.tickets)
		return op{"replay", "replay " + b.name + "'s SDK ticket (" + tk.tenant + ")", func() []exchange {
			return m.send(a, req{method: "GET", target: testSSOPrefix + "/auth/sso?jwt=" + url.QueryEscape(tk.value),
				hdr: http.Header{"X-Metabase-Client": {sdkClient}}})
		}}
	case 4:
		return m.opMangledPath(a)
	case 5:
		return m.opWithHeaders(a, "upgrade", upgradeHeaders(m))
	case 6:
		return m.opWithHeaders(a, "spoofed headers", spoofHeaders(m))
	case 7:
		return m.opTenantParam(a)
	case 8:
		return m.opClientCredential(a)
	case 9:
		return m.opLeakedToken(a)
	}
	// Case 10, or a replay when the other browser holds nothing yet.
	return m.opJunk(a)
}

func upgradeHeaders(m *model) http.Header {
	if m.pick(2) == 0 {
		return http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Version": {"13"}}
	}
	return http.Header{"Connection": {"Upgrade, HTTP2-Settings"}, "Upgrade": {"h2c"}, "Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}}
}

func spoofHeaders(m *model) http.Header {
	all := []http.Header{
		{"X-Forwarded-Host": {spoofHost}},
		{"Origin": {"https://" + spoofHost}},
		{"Host": {spoofHost}},
		{"X-Forwarded-Prefix": {"/" + spoofHost}},
		{"X-Original-Url": {"/api/user/current"}},
		{"X-Rewrite-Url": {"/api/user/current"}},
		{"X-Http-Method-Override": {"DELETE"}},
	}
	h := http.Header{}
	for i := 0; i < 1+m.pick(3); i++ {
		for k, v := range pickOf(m, all) {
			h[k] = v
		}
	}
	return h
}

// honest is a random honest request of a, for the moves that disguise one.
func (m *model) honest(a *actor) (string, req) {
	if h, ok := m.ownHandle(a); ok && m.pick(3) > 0 {
		desc, target := m.embedTarget(h, h.handle)
		return desc, req{method: "GET", target: target}
	}
	if s, ok := m.ownSDK(a); ok && m.pick(2) == 0 {
		c := pickOf(m, ssoAPI)
		return "sdk " + c.path, req{method: c.method, target: testSSOPrefix + c.path, body: c.body,
			hdr: http.Header{"X-Metabase-Session": {s.value}, "X-Metabase-Client": {sdkClient}}}
	}
	if a.cookie != "" && m.pick(2) == 0 {
		if m.pick(2) == 0 {
			p := pickOf(m, ssoPages)
			return "sso page " + p, req{method: "GET", target: testSSOPrefix + p, cookie: a.cookie}
		}
		c := pickOf(m, ssoAPI)
		return "sso " + c.path, req{method: c.method, target: testSSOPrefix + c.path, body: c.body, cookie: a.cookie}
	}
	p := pickOf(m, []string{"/app/dist/app.js", "/favicon.ico", "/api/session/properties"})
	return p, req{method: "GET", target: testSSOPrefix + p}
}

func (m *model) opWithHeaders(a *actor, what string, extra http.Header) op {
	desc, rq := m.honest(a)
	if rq.hdr == nil {
		rq.hdr = http.Header{}
	}
	var names []string
	for k, v := range extra {
		rq.hdr[k] = v
		names = append(names, k)
	}
	return op{"headers", what + " (" + strings.Join(names, ",") + ") on " + desc, func() []exchange { return m.send(a, rq) }}
}

// opMangledPath sends a request whose path a server behind or in front of
// the gate might read differently: path parameters, encoded dots and
// slashes, backslashes, case, doubled slashes, traversal out of /app/.
func (m *model) opMangledPath(a *actor) op {
	_, rq := m.honest(a)
	target, query, _ := strings.Cut(rq.target, "?")
	segs := strings.Split(target, "/")
	i := 2 + m.pick(max(1, len(segs)-2)) // never the empty first or the prefix
	if i >= len(segs) {
		i = len(segs) - 1
	}
	leak := m.leakedToken(a)
	traversals := []string{
		"/app/..;/api/session/properties",
		"/app/..;/api/user/current",
		"/app/dist/..;/..;/api/embed/dashboard/" + leak,
		"/app/..;/api/embed/card/" + leak + "/query",
		"/app/..;/api/card/1/query",
		"/app/dist/%2e%2e/%2e%2e/api/session/properties",
		"/app/dist/..%2f..%2fapi/user/current",
		"/app/dist/%5c..%5c..%5capi/user/current",
		"/app/.;/dist/app.js",
		"/favicon.ico;x",
		"/app/dist/app.js;jsessionid=1",
		"/app//dist/app.js",
		"/APP/dist/app.js",
	}
	var how string
	switch m.pick(9) {
	case 0:
		segs[i] += ";x"
		how = "';x' on a segment"
	case 1:
		segs[i] += ";jsessionid=1"
		how = "';jsessionid' on a segment"
	case 2:
		segs = append(segs[:i], append([]string{"..;"}, segs[i:]...)...)
		how = "a '..;' segment"
	case 3:
		segs[i] = strings.ToUpper(segs[i])
		how = "a segment upper-cased"
	case 4:
		segs[i] = strings.ReplaceAll(url.PathEscape(segs[i]), "-", "%2D")
		segs[i] = strings.ReplaceAll(segs[i], "a", "%61")
		how = "a segment percent-encoded"
	case 5:
		segs = append(segs[:i], append([]string{""}, segs[i:]...)...)
		how = "a doubled slash"
	case 6:
		segs = append(segs[:i], append([]string{"%2e%2e", "x"}, segs[i:]...)...)
		how = "an encoded dot segment"
	default:
		tr := pickOf(m, traversals)
		return op{"mangled path", "mangled path " + tr, func() []exchange {
			return m.send(a, req{method: "GET", target: testSSOPrefix + tr, cookie: a.cookie})
		}}
	}
	rq.target = strings.Join(segs, "/")
	if query != "" {
		rq.target += "?" + query
	}
	return op{"mangled path", "mangled path (" + how + ") " + rq.target, func() []exchange { return m.send(a, rq) }}
}

// opTenantParam tries to set the tenant filter from the browser: by slug,
// inside parameters, emptied, or through the SSO user's ad-hoc query.
func (m *model) opTenantParam(a *actor) op {
	other := pickOf(m, metabasetest.Tenants)
	tp := m.h.cfg.Tenant.Param
	qs := []string{
		"?" + tp + "=" + other,
		"?parameters=" + url.QueryEscape(`{"`+tp+`":"`+other+`"}`),
		"?parameters=" + url.QueryEscape(`{"status":"paid","`+tp+`":[]}`),
		"?parameters=" + url.QueryEscape(`{"organization\u005fid":"`+other+`"}`),
		"?" + strings.ToUpper(tp) + "=" + other,
		"?status=paid&" + tp + "=",
		"?parameters=" + url.QueryEscape(`{"status":"paid"}`) + "&" + tp + "=" + other,
	}
	if h, ok := m.ownHandle(a); ok && m.pick(4) > 0 {
		_, target := m.embedTarget(h, h.handle)
		target, _, _ = strings.Cut(target, "?")
		if m.pick(4) == 0 {
			target = testSSOPrefix + "/embed/" + h.kind + "/" + h.handle
		}
		q := pickOf(m, qs)
		return op{"tenant param", "tenant filter from the browser " + q, func() []exchange {
			return m.send(a, req{method: "GET", target: target + q})
		}}
	}
	body := `{"database":1,"type":"query","query":{"source-table":10,"filter":["=",["field",102,null],"` + other + `"]}}`
	rq := req{method: "POST", target: testSSOPrefix + "/api/dataset", body: body, cookie: a.cookie}
	if s, ok := m.ownSDK(a); ok && m.pick(2) == 0 {
		rq.cookie = ""
		rq.hdr = http.Header{"X-Metabase-Session": {s.value}, "X-Metabase-Client": {sdkClient}}
	}
	return op{"tenant param", "ad-hoc query filtered on " + other, func() []exchange { return m.send(a, rq) }}
}

// opClientCredential sends a Metabase credential of the client's choosing:
// a real session key (as if leaked), as header or cookie, beside an honest
// request.
func (m *model) opClientCredential(a *actor) op {
	keys := m.h.mb.SessionKeys()
	key := "00000000-0000-4000-8000-000000000000"
	if len(keys) > 0 {
		key = pickOf(m, keys)
	}
	desc, rq := m.honest(a)
	if rq.hdr == nil {
		rq.hdr = http.Header{}
	}
	how := "X-Metabase-Session"
	switch m.pick(3) {
	case 0:
		if rq.hdr.Get("X-Metabase-Session") != "" {
			rq.hdr.Add("X-Metabase-Session", key) // a second one beside the SDK's
		} else {
			rq.hdr.Set("X-Metabase-Session", key)
		}
	case 1:
		rq.hdr.Set("Cookie", "metabase.SESSION="+key)
		how = "metabase.SESSION cookie"
	default:
		rq.hdr.Set("X-Api-Key", "mb_"+key)
		how = "X-Api-Key"
	}
	return op{"client credential", "a leaked Metabase session as " + how + " on " + desc, func() []exchange { return m.send(a, rq) }}
}

// leakedToken is a real Metabase embed token the attacker might have from
// a leak: for another tenant, or with the tenant filter turned off ([]).
func (m *model) leakedToken(a *actor) string {
	var params map[string]any
	if m.pick(2) == 0 {
		params = map[string]any{m.h.cfg.Tenant.Param: []any{}}
	} else {
		params = map[string]any{m.h.cfg.Tenant.Param: pickOf(m, metabasetest.Tenants)}
	}
	return metabasetest.Sign(testMBKey, map[string]any{"resource": map[string]any{"dashboard": metabasetest.DashboardOrders}, "params": params})
}

func (m *model) opLeakedToken(a *actor) op {
	tok := m.leakedToken(a)
	target := testSSOPrefix + "/api/embed/dashboard/" + tok + "/dashcard/11/card/1"
	if m.pick(2) == 0 {
		target = testSSOPrefix + "/embed/dashboard/" + tok
	}
	return op{"leaked token", "a Metabase token in the handle's place", func() []exchange {
		return m.send(a, req{method: "GET", target: target})
	}}
}

// opJunk sends random bytes, methods and prefixes.
func (m *model) opJunk(a *actor) op {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789/._-;%?=&~"
	var b strings.Builder
	for i := 0; i < 1+m.pick(40); i++ {
		b.WriteByte(alphabet[m.pick(len(alphabet))])
	}
	base := pickOf(m, []string{"/api/", "/app/", "/embed/", "/auth/", "/.tenantgate/", "/", "/api/embed/dashboard/"})
	target := testSSOPrefix + base + b.String()
	method := pickOf(m, []string{"GET", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"})
	return op{"junk", fmt.Sprintf("junk %s %s", method, target), func() []exchange {
		return m.send(a, req{method: method, target: target, cookie: a.cookie, body: pickOf(m, []string{"", "{}"})})
	}}
}

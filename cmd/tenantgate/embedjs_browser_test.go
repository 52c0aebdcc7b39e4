package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantgate/tenantgate/proxy"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// TestEmbedJSBrowser runs modular embedding (Metabase's embed.js, as the
// stand-in serves it: metabasetest/embedjs.go) through the gate in
// headless Chromium (issue 13, "Modular embedding"). A host page on the
// app's origin loads /analytics/app/embed.js and places a
// <metabase-question> and a <metabase-dashboard>:
//
//   - SSO mode: embed.js runs the JWT handshake at the gate (discovery, the
//     gate's provider, POST /auth/sso) and hands the iframe the sealed
//     session, which its API calls carry as X-Metabase-Session;
//   - guest mode: the host page takes a handle from the gate's mint
//     endpoint for each element's token; the iframe calls /api/embed/*;
//   - guest mode with embed.js's token provider: the elements name their
//     resource, and embed.js asks guestEmbedProviderUri, the gate's POST
//     /.tenantgate/guest/token, for a handle.
//
// alice (acme) then bob (globex) see only their organization's rows, and
// bob given a page with alice's guest handle sees the gate's refusal. The
// test asserts on what the stand-in received (the session of the right
// user and organization; tokens the gate signed, locked to the caller's
// organization) and that no Metabase credential, SSO JWT or secret of the
// demo ever reached the browser.
func TestEmbedJSBrowser(t *testing.T) {
	chromium := findChromium(t)
	artifacts := artifactsDir(t)
	rec := &recorder{}
	d := startDemoWith(t, demoOptions{noSDK: true, wrap: func(h http.Handler) http.Handler { return rec.wrap(embedJSHostPages(h)) }})

	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	tab := newTab(t, ctx, chromium, 1280, 1500)
	console := watchConsole(t, tab)
	b := &browserSteps{t: t, ctx: tab, base: d.base, artifacts: artifacts}
	s := &sdkSteps{browserSteps: b, d: d, rec: rec, console: console}
	e := &embedJSSteps{sdkSteps: s}

	n := 0
	for _, mode := range []string{"sso", "guest", "guest-provider"} {
		for _, u := range []struct{ key, org string }{{"alice", "acme"}, {"bob", "globex"}} {
			n++
			e.signInQuietly(u.key, u.org)
			e.open(mode, u.key, u.org)
			b.screenshot(fmt.Sprintf("embedjs-%d-%s-%s-%s.png", n, mode, u.key, u.org))
		}
	}
	// bob (still signed in) gets a page that places alice's guest handle
	// in an element: the gate refuses it, the iframe shows the refusal,
	// and Metabase is not asked.
	stolen := e.replayGuestHandle()
	b.screenshot(fmt.Sprintf("embedjs-%d-bob-given-alices-guest-handle.png", n+1))

	e.noCredentialInBrowser()
	for _, entry := range rec.entries() {
		replayed := strings.Contains(entry.path, stolen) && entry.status == http.StatusForbidden && strings.Contains(entry.body, `"reason":"tenant-mismatch"`)
		if entry.status >= 400 && !replayed {
			t.Errorf("the browser got %d for %s %s: %.300s", entry.status, entry.method, entry.path, entry.body)
		}
	}
	for _, m := range console.stop(b) {
		refused := m.Source == "network" && strings.Contains(m.URL, stolen) && strings.Contains(m.Text, "status of 403")
		if m.isError() && !refused {
			t.Errorf("console: %s", m)
		}
	}
	t.Logf("screenshots in %s", artifacts)
}

// embedJSHostPages serves the host pages of the test on the app's origin,
// as a customer's app would: each loads embed.js from the gate and places
// one question and one dashboard; everything else goes to the demo.
func embedJSHostPages(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var page string
		switch r.URL.Path {
		case "/embedjs/sso":
			page = fmt.Sprintf(embedJSSSOPage, metabasetest.QuestionOrdersQuery, metabasetest.DashboardSDK)
		case "/embedjs/guest":
			page = fmt.Sprintf(embedJSGuestPage, metabasetest.QuestionOrders, metabasetest.DashboardOrders)
		case "/embedjs/replay":
			tok := r.URL.Query().Get("token")
			if strings.Trim(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
				http.Error(w, "not a handle", http.StatusBadRequest)
				return
			}
			page = fmt.Sprintf(embedJSReplayPage, tok)
		case "/embedjs/guest-provider":
			page = fmt.Sprintf(embedJSProviderPage, metabasetest.QuestionOrders, metabasetest.DashboardOrders)
		default:
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprint(w, page)
	})
}

// The host pages are README's snippets ("Modular embedding (embed.js)").
const embedJSHead = `<!doctype html><html><head><meta charset="utf-8"><title>embed.js through the gate</title>
<style>body{font:14px system-ui,sans-serif;margin:12px} metabase-question,metabase-dashboard{height:620px;border:1px solid #ccc;margin-bottom:12px}</style>
<script defer src="/analytics/app/embed.js"></script>
`

const embedJSSSOPage = embedJSHead + `<script>
  function defineMetabaseConfig(config) { window.metabaseConfig = config; }
  defineMetabaseConfig({ instanceUrl: location.origin + "/analytics" });
</script></head><body><h1>SSO mode</h1>
<metabase-question question-id="%d"></metabase-question>
<metabase-dashboard dashboard-id="%d"></metabase-dashboard>
</body></html>`

const embedJSGuestPage = embedJSHead + `<script>
  function defineMetabaseConfig(config) { window.metabaseConfig = config; }
  defineMetabaseConfig({ isGuest: true, instanceUrl: location.origin + "/analytics" });
  // Each element's token is a handle the gate mints for the signed-in user.
  async function guestEmbed(tag, kind, id) {
    const res = await fetch("/analytics/.tenantgate/embed/" + kind + "/" + id, { headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error("mint " + kind + " " + id + ": " + res.status);
    const el = document.createElement(tag);
    el.setAttribute("token", (await res.json()).token);
    document.body.appendChild(el);
  }
  addEventListener("DOMContentLoaded", async () => {
    await guestEmbed("metabase-question", "question", %d);
    await guestEmbed("metabase-dashboard", "dashboard", %d);
  });
</script></head><body><h1>Guest mode</h1>
</body></html>`

// embedJSProviderPage is guest mode with embed.js's token provider: the
// elements name their resource, and embed.js asks the gate's guest token
// endpoint for a handle.
const embedJSProviderPage = embedJSHead + `<script>
  function defineMetabaseConfig(config) { window.metabaseConfig = config; }
  defineMetabaseConfig({ isGuest: true, instanceUrl: location.origin + "/analytics",
    guestEmbedProviderUri: "/analytics/.tenantgate/guest/token" });
</script></head><body><h1>Guest mode, embed.js's token provider</h1>
<metabase-question question-id="%d"></metabase-question>
<metabase-dashboard dashboard-id="%d"></metabase-dashboard>
</body></html>`

// embedJSReplayPage places a given guest token in an element.
const embedJSReplayPage = embedJSHead + `<script>
  function defineMetabaseConfig(config) { window.metabaseConfig = config; }
  defineMetabaseConfig({ isGuest: true, instanceUrl: location.origin + "/analytics" });
</script></head><body><h1>Guest mode, another user's handle</h1>
<metabase-question token="%s"></metabase-question>
</body></html>`

type embedJSSteps struct {
	*sdkSteps
	// upstreamTokens are the tokens the gate signed for Metabase in guest
	// mode: none may reach the browser.
	upstreamTokens []string
}

// signInQuietly signs user in from the SDK page, which embeds nothing
// when the bundle is not built (noSDK): no embed of another page is in
// flight when a step starts.
func (e *embedJSSteps) signInQuietly(user, org string) {
	e.t.Helper()
	e.do("opening the SDK page", chromedp.Navigate(e.base+"/sdk"))
	resp, err := chromedp.RunResponse(e.timeout(), chromedp.Click(chromedp.ID("login-"+user)))
	if err != nil || resp.Status != http.StatusOK {
		e.fail("signing in as %s: %v", user, err)
	}
	e.expectText("#who", org)
}

// embedJSRendered is "ok" once the page's two embeds' iframes have
// rendered all their cards, "error" as soon as one shows an error.
var embedJSRendered = embedJSRenderedN(2)

// embedJSRenderedN is embedJSRendered for a page of n embeds.
func embedJSRenderedN(n int) string {
	return fmt.Sprintf(`(() => {
	const frames = [...document.querySelectorAll("iframe[data-metabase-embed]")];
	if (frames.length !== %d) return "loading";`, n) + embedJSRenderedRest
}

const embedJSRenderedRest = `
	let state = "ok";
	for (const f of frames) {
		const doc = f.contentDocument;
		const root = doc && doc.getElementById("root");
		if (!root && doc && doc.readyState === "complete" && f.contentWindow.location.pathname.endsWith("/embed/sdk/v1")) {
			return "refused: " + doc.body.innerText.slice(0, 300); // the gate's denial page
		}
		const s = root ? root.getAttribute("data-state") : "loading";
		if (s === "error") return "error";
		if (s !== "done") state = "loading";
	}
	return state;
})()`

const embedJSText = `[...document.querySelectorAll("iframe[data-metabase-embed]")].map(f => f.contentDocument.body.innerText).join("\n---\n")`

// replayGuestHandle opens, as the user signed in last, a page that places
// the guest handle alice's host page got from the mint, and checks that
// the iframe shows the gate's refusal and that Metabase was not asked. It
// returns the handle.
func (e *embedJSSteps) replayGuestHandle() string {
	e.t.Helper()
	stolen := ""
	for _, en := range e.rec.entries() {
		if en.path == fmt.Sprintf("/analytics/.tenantgate/embed/question/%d", metabasetest.QuestionOrders) && en.status == http.StatusOK {
			var m struct{ Token string }
			if json.Unmarshal([]byte(en.body), &m) == nil && m.Token != "" {
				stolen = m.Token // alice's: her guest step came first
				break
			}
		}
	}
	if stolen == "" {
		e.fail("no guest handle was minted to replay")
	}
	seen := len(e.d.mb.Requests())
	e.do("opening a page with alice's guest handle", chromedp.Navigate(e.base+"/embedjs/replay?token="+stolen))
	ctx, cancel := context.WithTimeout(e.ctx, 20*time.Second)
	defer cancel()
	state := ""
	for ctx.Err() == nil {
		if st, err := chromedp.Run(ctx, chromedp.Evaluate[string](embedJSRenderedN(1))); err == nil && st != "loading" {
			state = st
			break
		}
		time.Sleep(150 * time.Millisecond)
	}
	text, _ := chromedp.Run(e.timeout(), chromedp.Evaluate[string](embedJSText))
	if state != "error" || !strings.Contains(text, "tenant-mismatch") {
		e.fail("bob with alice's guest handle: the embed is %q, want the gate's tenant-mismatch refusal shown:\n%s", state, text)
	}
	for _, o := range metabasetest.Orders() {
		if strings.Contains(text, o.Customer) {
			e.t.Errorf("bob with alice's guest handle sees %s's customer %q", o.OrganizationID, o.Customer)
		}
	}
	for _, r := range browserDriven(e.d.mb.Requests()[seen:]) {
		if strings.HasPrefix(r.Path, "/api/") {
			e.t.Errorf("alice's handle replayed by bob, yet Metabase received %s %s", r.Method, r.Path)
		}
	}
	return stolen
}

// open loads the host page of mode and checks what the user sees and what
// Metabase received.
func (e *embedJSSteps) open(mode, user, org string) {
	e.t.Helper()
	e.seen = len(e.d.mb.Requests())
	start := len(e.rec.entries())
	e.do("opening the "+mode+" host page", chromedp.Navigate(e.base+"/embedjs/"+mode))
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	state, err := "", error(nil)
	for ctx.Err() == nil {
		if state, err = chromedp.Run(ctx, chromedp.Evaluate[string](embedJSRendered)); err != nil || state != "loading" {
			break
		}
		time.Sleep(150 * time.Millisecond)
	}
	text, _ := chromedp.Run(e.timeout(), chromedp.Evaluate[string](embedJSText))
	if state != "ok" {
		e.screenshot("embedjs-failed-" + mode + "-" + user + ".png")
		e.fail("%s mode, %s (%s): the embeds did not render: %q (%v)\n%s", mode, user, org, state, err, text)
	}
	e.expectRowsOf(text, user, org)
	e.expectCalls(mode, start)
	reqs := browserDriven(e.d.mb.Requests()[e.seen:])
	pages := 0
	for _, r := range reqs {
		if r.Path == "/embed/sdk/v1" {
			pages++
			if !strings.HasPrefix(r.RawQuery, "embed-js-identifier=") || r.Header.Get("Cookie") != "" {
				e.t.Errorf("%s mode: Metabase received the iframe page with query %q, cookies %q", mode, r.RawQuery, r.Header.Get("Cookie"))
			}
		}
	}
	if pages != 2 {
		e.t.Errorf("%s mode, %s: Metabase served %d iframe pages, want 2", mode, user, pages)
	}
	if mode == "sso" {
		e.expectSessionsOf(user, org) // sdk_browser_test.go: every API call as user of org
		e.expectExchange(reqs)
		return
	}
	e.expectGuestTokens(reqs, user, org)
}

// browserDriven keeps the requests Metabase received on behalf of a
// browser's request, not the gate's key probe (its own User-Agent).
func browserDriven(reqs []metabasetest.Request) []metabasetest.Request {
	var out []metabasetest.Request
	for _, r := range reqs {
		if r.Header.Get("User-Agent") != proxy.ProbeUserAgent {
			out = append(out, r)
		}
	}
	return out
}

// expectCalls checks the calls the browser made through the gate in this
// step: the script and the two iframe pages, and in SSO mode embed.js's
// handshake (discovery, the gate's provider, POST /auth/sso), or in guest
// mode the mint and the embed API.
func (e *embedJSSteps) expectCalls(mode string, start int) {
	e.t.Helper()
	want := []string{"GET /analytics/app/embed.js", "GET /analytics/embed/sdk/v1?embed-js-identifier=0", "GET /analytics/embed/sdk/v1?embed-js-identifier=1"}
	if mode == "sso" {
		want = append(want, "GET /analytics/auth/sso", "GET /analytics/.tenantgate/sdk/jwt?response=json", "POST /analytics/auth/sso",
			fmt.Sprintf("POST /analytics/api/card/%d/query", metabasetest.QuestionOrdersQuery),
			fmt.Sprintf("POST /analytics/api/dashboard/%d/dashcard/%d/card/%d/query", metabasetest.DashboardSDK, metabasetest.DashcardSDKTable, metabasetest.QuestionOrdersQuery))
	} else if mode == "guest" {
		want = append(want, fmt.Sprintf("GET /analytics/.tenantgate/embed/question/%d", metabasetest.QuestionOrders),
			fmt.Sprintf("GET /analytics/.tenantgate/embed/dashboard/%d", metabasetest.DashboardOrders))
	} else {
		want = append(want, "POST /analytics/.tenantgate/guest/token?response=json")
	}
	got := map[string]bool{}
	var all []string
	guestAPI := 0
	for _, en := range e.rec.entries()[start:] {
		call := en.method + " " + en.path
		if en.query != "" {
			call += "?" + en.query
		}
		got[call] = true
		all = append(all, call)
		if strings.HasPrefix(en.path, "/analytics/api/embed/") {
			guestAPI++
		}
	}
	for _, w := range want {
		if !got[w] {
			e.fail("%s mode: the browser never called %s; it called\n  %s", mode, w, strings.Join(all, "\n  "))
		}
	}
	if (mode != "sso") != (guestAPI > 0) {
		e.t.Errorf("%s mode: %d calls of the embed API", mode, guestAPI)
	}
}

// expectExchange checks that the gate exchanged its own SSO JWT with
// Metabase once per element (each runs its own handshake, as Metabase's
// embed.js does), as embed.js's client.
func (e *embedJSSteps) expectExchange(reqs []metabasetest.Request) {
	e.t.Helper()
	n := 0
	for _, r := range reqs {
		if r.Path == "/auth/sso" {
			n++
			if c := r.Header.Get("X-Metabase-Client"); c != "embedding-simple" {
				e.t.Errorf("the gate's exchange reached Metabase as client %q, want embedding-simple", c)
			}
		}
	}
	if n != 2 {
		e.t.Errorf("Metabase received %d SSO exchanges, want 2 (one per element)", n)
	}
}

// expectGuestTokens checks every /api/embed call Metabase received in
// guest mode: a token the gate signed (its claims verify with the
// embedding secret), locked to org, never a handle the browser holds.
func (e *embedJSSteps) expectGuestTokens(reqs []metabasetest.Request, user, org string) {
	e.t.Helper()
	n := 0
	for _, r := range reqs {
		if !strings.HasPrefix(r.Path, "/api/embed/") {
			if strings.HasPrefix(r.Path, "/api/") && r.Header.Get("X-Metabase-Session") != "" {
				e.t.Errorf("guest mode: %s %s reached Metabase with a session", r.Method, r.Path)
			}
			continue
		}
		n++
		params, _ := r.Claims["params"].(map[string]any)
		if locked := fmt.Sprint(params["organization_id"]); r.Claims == nil || locked != org && locked != "["+org+"]" {
			e.t.Errorf("guest mode, %s (%s): %s reached Metabase with claims %v", user, org, r.Path, r.Claims)
		}
		e.upstreamTokens = append(e.upstreamTokens, r.Token)
	}
	if n == 0 {
		e.fail("guest mode, %s: Metabase received no /api/embed call", user)
	}
}

// noCredentialInBrowser scans every response the browser got for a
// Metabase session key, an SSO JWT the gate sent Metabase (in a query or
// a POST body), a token the gate signed for Metabase, and the demo's
// secrets.
func (e *embedJSSteps) noCredentialInBrowser() {
	e.t.Helper()
	secrets := map[string]string{}
	for _, k := range e.d.mb.SessionKeys() {
		secrets[k] = "a Metabase session key"
	}
	for _, k := range e.d.secrets {
		secrets[k] = "a secret of the demo"
	}
	for _, tok := range e.upstreamTokens {
		secrets[tok] = "a token the gate signed for Metabase"
	}
	jwts := 0
	for _, r := range e.d.mb.Requests() {
		if r.Path != "/auth/sso" {
			continue
		}
		q, _ := url.ParseQuery(r.RawQuery)
		j := q.Get("jwt")
		var body struct{ JWT string }
		if json.Unmarshal([]byte(r.Body), &body) == nil && body.JWT != "" {
			j = body.JWT
		}
		if j != "" {
			secrets[j] = "an SSO JWT the gate sent Metabase"
			jwts++
		}
	}
	if jwts == 0 || len(e.d.mb.SessionKeys()) == 0 || len(e.upstreamTokens) == 0 {
		e.t.Errorf("nothing to look for: %d SSO JWTs, %d session keys, %d upstream tokens", jwts, len(e.d.mb.SessionKeys()), len(e.upstreamTokens))
	}
	for _, en := range e.rec.entries() {
		for sec, what := range secrets {
			if strings.Contains(en.body, sec) || strings.Contains(en.header, sec) {
				e.t.Errorf("the browser got %s in the response to %s %s", what, en.method, en.path)
			}
		}
	}
	e.t.Logf("scanned %d responses for %d secrets", len(e.rec.entries()), len(secrets))
}

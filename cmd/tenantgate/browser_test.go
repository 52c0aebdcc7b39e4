package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// TestBrowser drives a real, headless Chromium through the demo as a
// customer would (issue 5, "A real browser"): alice of acme signs in and
// sees acme's orders and no one else's, bob of globex sees globex's, and
// alice's embed link opened in bob's session shows the gate's denial page.
// The page must log no console error on the way. A screenshot of each step
// is written to $TENANTGATE_ARTIFACTS (a temporary directory when unset);
// README's "What you will see" describes them.
//
// Without Chromium the test is skipped, unless TENANTGATE_BROWSER_TESTS=1
// (as .ci/run sets it, after installing Chromium) makes that a failure.
func TestBrowser(t *testing.T) {
	chromium := findChromium(t)
	artifacts := artifactsDir(t)
	base := startDemo(t)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tab := newTab(t, ctx, chromium, 1280, 1000)

	console := watchConsole(t, tab)
	b := &browserSteps{t: t, ctx: tab, base: base, artifacts: artifacts}

	b.do("opening the sample app", chromedp.Navigate(base+"/"))
	b.expectText("#who", "Not signed in")

	// 1. alice (acme) signs in: the iframe shows acme's orders only.
	b.signIn("alice")
	b.expectText("#who", "Alice Archer", "acme")
	b.expectOnlyRowsOf("acme")
	aliceEmbed := b.embedLocation()
	if !strings.HasPrefix(aliceEmbed, base+"/analytics/embed/dashboard/") {
		t.Fatalf("alice's iframe is at %q, want a handle under %s/analytics/embed/dashboard/", aliceEmbed, base)
	}
	// The text card's markdown renders as Metabase's frontend renders it: a
	// heading with the locked value, not "## Orders for ...".
	heading := fmt.Sprintf(`%s.querySelector('[data-dashcard-id="%d"] .text h2')?.textContent ?? ""`, embedDoc, metabasetest.DashcardOrdersText)
	if h, err := chromedp.Run(b.timeout(), chromedp.Evaluate[string](heading)); err != nil || h != "Orders for acme" {
		t.Errorf("the text card's heading is %q (%v), want \"Orders for acme\"", h, err)
	}
	b.screenshot("1-alice-sees-acme.png")

	// 2. bob (globex) signs in on the same browser: globex's orders only,
	// behind a handle of his own.
	b.signIn("bob")
	b.expectText("#who", "Bob Brown", "globex")
	b.expectOnlyRowsOf("globex")
	if bobEmbed := b.embedLocation(); bobEmbed == aliceEmbed {
		t.Errorf("bob's iframe has alice's URL %q", bobEmbed)
	}
	b.screenshot("2-bob-sees-globex.png")

	// On a phone-sized screen the page fits its width (one column).
	b.do("a phone-sized viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	fits := `document.documentElement.scrollWidth <= 390`
	if ok, err := chromedp.Run(b.timeout(), chromedp.Evaluate[bool](fits)); err != nil || !ok {
		t.Errorf("on a 390 px wide screen the page scrolls sideways (%v)", err)
	}
	b.screenshot("2b-bob-on-a-phone.png")
	b.do("back to a desktop viewport", chromedp.EmulateReset())

	// The leaky dashboard is refused, and the activity panel says why:
	// the card that is not wired to the tenant filter.
	b.do("opening the leaky dashboard", chromedp.Click(chromedp.ID("show-leaky")))
	named := `document.getElementById("activity").innerText.includes("All orders count")`
	if _, err := chromedp.Run(b.timeout(), chromedp.Poll[bool](named, chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		t.Errorf("the activity panel never names the leaky dashboard's unwired card: %v", err)
	}
	b.screenshot("2c-leaky-dashboard-refused.png")

	// 3. bob pastes alice's embed URL into the address bar: the gate answers
	// its readable denial page (proxy's e2e tests prove Metabase is not
	// asked).
	resp, err := chromedp.Run(b.timeout(), chromedp.NavigateResponse(aliceEmbed))
	if err != nil {
		t.Fatalf("opening alice's embed URL as bob: %v", err)
	}
	if resp.Status != http.StatusForbidden {
		t.Errorf("alice's embed URL as bob: status %d, want %d", resp.Status, http.StatusForbidden)
	}
	b.expectText("h1", "Analytics unavailable")
	b.expectText("body", "belongs to another organization", "reason: tenant-mismatch", "request id:")
	if page := b.text("body"); strings.Contains(page, "Acme") {
		t.Errorf("the denial page shows acme's data:\n%s", page)
	}
	b.screenshot("3-bob-opens-alices-link.png")

	// The errors the walk may log are Chromium's reports of the 403s it was
	// meant to get: the denied loads of alice's link and the leaky dashboard. Anything else, from
	// the app, the gate or the embedded page, fails the test.
	for _, m := range console.stop(b) {
		leaky := base + "/analytics/.tenantgate/embed/dashboard/" + strconv.Itoa(metabasetest.DashboardLeaky)
		denied := m.Source == "network" && (m.URL == aliceEmbed || m.URL == leaky) && strings.Contains(m.Text, "status of 403")
		if m.isError() && !denied {
			t.Errorf("console: %s", m)
		}
	}
	t.Logf("screenshots in %s", artifacts)
}

// newTab starts headless Chromium with a window of width × height and
// returns a tab; both end with the test.
func newTab(t *testing.T, ctx context.Context, chromium string, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.Flag("no-sandbox", true), // CI runs as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	tab, closeTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { closeTab(); cancelAlloc() })
	return tab
}

// findChromium returns the path of Chromium (or Chrome), skipping the test
// when there is none, unless TENANTGATE_BROWSER_TESTS=1 asks for it.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TENANTGATE_BROWSER_TESTS") == "1" {
		t.Fatal("TENANTGATE_BROWSER_TESTS=1 but no Chromium was found (apt-get install chromium)")
	}
	t.Skip("no Chromium on PATH: apt-get install chromium, or set TENANTGATE_BROWSER_TESTS=1 to make this a failure")
	return ""
}

// artifactsDir is where the screenshots go: $TENANTGATE_ARTIFACTS, created
// if need be, or a directory removed after the test.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TENANTGATE_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startDemo runs `tenantgate demo` on a free port until the test ends, and
// returns the sample app's base URL.
func startDemo(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	baseCh := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- runDemo(ctx, "127.0.0.1:0", io.Discard, func(b string) { baseCh <- b }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo stopped with %v", err)
		}
	})
	select {
	case base := <-baseCh:
		return base
	case err := <-done:
		done <- err // for the cleanup
		t.Fatalf("demo stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("demo did not start")
	}
	return ""
}

// browserSteps runs the steps of one tab, each within stepTimeout, failing
// the test with the step's name.
type browserSteps struct {
	t         *testing.T
	ctx       context.Context
	base      string
	artifacts string
}

const stepTimeout = 10 * time.Second

// timeout returns a context for one step. The tab's context must have run
// once already (the first Run starts the browser and binds it to its
// context), which do does.
func (b *browserSteps) timeout() context.Context {
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	b.t.Cleanup(cancel)
	return ctx
}

func (b *browserSteps) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

// signIn clicks the sample app's "Sign in as <user>" button and waits for
// the page it leads to.
func (b *browserSteps) signIn(user string) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.timeout(), chromedp.Click(chromedp.ID("login-"+user)))
	if err != nil {
		b.t.Fatalf("signing in as %s: %v", user, err)
	}
	if resp.Status != http.StatusOK || resp.URL != b.base+"/" {
		b.t.Fatalf("signing in as %s led to %s (%d), want %s/ (200)", user, resp.URL, resp.Status, b.base)
	}
}

// text returns the visible text of the first element matching the CSS
// selector in the top page.
func (b *browserSteps) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.timeout(), chromedp.Text(chromedp.CSS(sel), chromedp.NodeReady))
	if err != nil {
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

func (b *browserSteps) expectText(sel string, want ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s = %q, want it to contain %q", sel, got, w)
		}
	}
}

// The embedded page is same-origin (the gate is mounted at /analytics on
// the app's host, as README recommends), so the top page's script can read
// it.
const embedDoc = `document.getElementById("embed").contentDocument`

// expectOnlyRowsOf waits until the iframe has rendered every card of the
// dashboard and checks that its orders table lists every order of tenant
// and none of another tenant.
func (b *browserSteps) expectOnlyRowsOf(tenant string) {
	b.t.Helper()
	// The embed page adds every dashcard at once, then fills them one by
	// one with a table, a text or an error.
	ready := fmt.Sprintf(`(() => {
		const cards = [...(%s?.querySelectorAll(".dashcard") ?? [])];
		return cards.length > 0 && cards.every(c => c.querySelector("table.rows, .text, .error"));
	})()`, embedDoc)
	if _, err := chromedp.Run(b.timeout(), chromedp.Poll[bool](ready, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		b.t.Fatalf("the embedded dashboard never finished rendering: %v", err)
	}
	table := fmt.Sprintf(`%s.querySelector('[data-dashcard-id="%d"] table.rows')?.rows.length ?? 0`, embedDoc, metabasetest.DashcardOrdersTable)
	if rows, err := chromedp.Run(b.timeout(), chromedp.Evaluate[int](table)); err != nil || rows < 2 {
		b.t.Fatalf("the orders table has %d rows (header included), want some: %v", rows, err)
	}
	text, err := chromedp.Run(b.timeout(), chromedp.Evaluate[string](embedDoc+".body.innerText"))
	if err != nil {
		b.t.Fatalf("reading the embedded dashboard: %v", err)
	}
	if strings.Contains(text, "HTTP ") || strings.Contains(text, "Loading...") {
		b.t.Fatalf("the embedded dashboard shows an error:\n%s", text)
	}
	shown := 0
	for _, o := range metabasetest.Orders() {
		switch in := strings.Contains(text, o.Customer); {
		case o.OrganizationID == tenant && !in:
			b.t.Errorf("%s's dashboard lacks its order %d (%s)", tenant, o.ID, o.Customer)
		case o.OrganizationID != tenant && in:
			b.t.Errorf("%s's dashboard shows %s's customer %q", tenant, o.OrganizationID, o.Customer)
		case in:
			shown++
		}
	}
	if shown == 0 {
		b.t.Errorf("%s's dashboard shows none of its orders:\n%s", tenant, text)
	}
}

// embedLocation is where the iframe ended up: the gate's mint redirect
// leads it to a handle URL.
func (b *browserSteps) embedLocation() string {
	b.t.Helper()
	loc, err := chromedp.Run(b.timeout(), chromedp.Evaluate[string](`document.getElementById("embed").contentWindow.location.href`))
	if err != nil {
		b.t.Fatalf("reading the iframe's location: %v", err)
	}
	return loc
}

func (b *browserSteps) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.timeout(), chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.artifacts, name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// consoleLog collects what the tab writes to its console: calls of the
// console API, uncaught exceptions and the browser's own log (failed loads
// among them), from the top page and its same-origin iframe.
type consoleLog struct {
	mu   sync.Mutex
	msgs []consoleEntry
	end  chan struct{} // closed when the end marker is seen
}

// endMarker is logged by stop, so that stop knows every earlier message
// has been collected.
const endMarker = "tenantgate-browser-test: end"

type consoleEntry struct {
	chromedp.ConsoleMessage
}

func (e consoleEntry) isError() bool {
	return e.Type == chromedp.ConsoleError || e.IsException()
}

func (e consoleEntry) String() string {
	s := e.ConsoleMessage.String()
	if u := e.URL; u != "" {
		if len(u) > 80 { // a handle is long, and of no help here
			u = u[:80] + "…"
		}
		s += " (" + u + ")"
	}
	return s
}

// stop logs the end marker, waits until it is collected and returns
// every message before it.
func (c *consoleLog) stop(b *browserSteps) []consoleEntry {
	b.t.Helper()
	b.do("logging the end marker", chromedp.Evaluate[chromedp.Void](fmt.Sprintf("console.log(%q)", endMarker)))
	select {
	case <-c.end:
	case <-time.After(stepTimeout):
		b.t.Fatal("the console's end marker never arrived")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]consoleEntry(nil), c.msgs...)
}

// watchConsole starts the browser and collects its console until stop.
func watchConsole(t *testing.T, tab context.Context) *consoleLog {
	t.Helper()
	if err := chromedp.Do(tab); err != nil { // starts the browser, opens the tab
		t.Fatalf("starting Chromium: %v", err)
	}
	c := &consoleLog{end: make(chan struct{})}
	msgs := chromedp.Console(tab)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleLog && m.Text == endMarker {
				close(c.end)
				return
			}
			c.mu.Lock()
			c.msgs = append(c.msgs, consoleEntry{m})
			c.mu.Unlock()
			t.Logf("console: %s", consoleEntry{m})
		}
	}()
	t.Cleanup(func() { <-done })
	return c
}

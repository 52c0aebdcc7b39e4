package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// demoUser is a person of the sample app. Org is the organization a
// sign-in opens; Others are the ones the user may switch to.
type demoUser struct {
	Key, Name, Email, Org string
	Others                []string
}

var demoUsers = []demoUser{
	{"alice", "Alice Archer", "alice@acme.example", "acme", nil},
	{"bob", "Bob Brown", "bob@globex.example", "globex", nil},
	{"carol", "Carol Chen", "carol@initech.example", "initech", nil},
	{"dave", "Dave Dunn (two organizations)", "dave@example.com", "acme", []string{"globex"}},
	{"mallory", "Mallory (no organization)", "mallory@example.com", "", nil},
}

// demoAppGroup is the app's group of every demo user; the gate maps it to
// the stand-in's sandboxed "Embedded customers" group for SSO.
const demoAppGroup = "customer"

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// demo runs the Metabase stand-in, the gate mounted at /analytics and a
// sample app on one origin (the same-origin setup README recommends).
func demo(listen string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runDemoWith(ctx, demoOptions{listen: listen, stdout: stdout}); err != nil {
		fmt.Fprintf(stderr, "tenantgate demo: %v\n", err)
		return 1
	}
	return 0
}

// runDemo serves until ctx ends; ready (for tests) gets the app's base URL.
func runDemo(ctx context.Context, listen string, stdout io.Writer, ready func(base string)) error {
	o := demoOptions{listen: listen, stdout: stdout}
	if ready != nil {
		o.ready = func(d demoRunning) { ready(d.base) }
	}
	return runDemoWith(ctx, o)
}

// demoOptions configure runDemoWith. Tests set ready and wrap.
type demoOptions struct {
	listen string
	stdout io.Writer
	ready  func(demoRunning)
	// wrap, when set, is put in front of the sample app's handler: the
	// browser tests record there every response the browser gets.
	wrap func(http.Handler) http.Handler
	// sdkDir is the built SDK host page (sdkhost's dist); "" looks for it
	// (findSDKBundle), unless noSDK says to behave as a fresh clone does.
	sdkDir string
	noSDK  bool
}

// demoRunning is what a running demo tells its test: the app's base URL,
// the Metabase stand-in and every secret the demo made up (none may reach
// a browser).
type demoRunning struct {
	base          string
	mb            *metabasetest.Server
	sessionSecret string
	secrets       []string
}

// runDemoWith serves the demo until ctx ends.
func runDemoWith(ctx context.Context, o demoOptions) error {
	stdout := o.stdout
	mbSecret := randomHex(32) // 64 hex characters, as Metabase generates
	sessionSecret := randomHex(32)
	apiKey := "mb_" + randomHex(16)
	ssoSecret := randomHex(32)  // jwt-shared-secret: Metabase generates 64 hex characters too
	sealingKey := randomHex(32) // TENANTGATE_SSO_SEALING_KEY
	mb := metabasetest.New(metabasetest.Options{SecretKey: mbSecret, APIKey: apiKey, Sandboxing: true,
		SSO: metabasetest.SSOOptions{SharedSecret: ssoSecret, GroupSync: true}})
	// The stand-in plants a hole (the embedded group reads customers
	// unrestricted) that the audit reports and for which the gate refuses
	// every SSO call; the demo closes it, as README asks of a Metabase admin.
	if err := mb.SetViewData(metabasetest.GroupEmbedded, metabasetest.TableCustomers, metabasetest.ViewBlocked); err != nil {
		return fmt.Errorf("setting up the Metabase stand-in: %w", err)
	}
	mbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the Metabase stand-in: %w", err)
	}
	mbSrv := &http.Server{Handler: mb, ReadHeaderTimeout: 5 * time.Second}
	go mbSrv.Serve(mbLn) //nolint:errcheck
	defer mbSrv.Close()

	appLn, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("listening on %s (choose another with --listen): %w", o.listen, err)
	}
	base := "http://" + appLn.Addr().String()
	gateLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting the gateway: %w", err)
	}
	admLn, err := net.Listen("tcp", "127.0.0.1:9090")
	if err != nil { // 9090 taken: any free port, printed below
		if admLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("starting the admin listener: %w", err)
		}
	}
	env := map[string]string{
		"METABASE_SITE_URL":             "http://" + mbLn.Addr().String(),
		"MB_EMBEDDING_SECRET_KEY":       mbSecret,
		"TENANTGATE_SESSION_JWT_SECRET": sessionSecret,
		"TENANTGATE_HANDLE_SECRET":      randomHex(32),
		"TENANTGATE_PUBLIC_PREFIX":      "/analytics",
		"TENANTGATE_PUBLIC_URL":         base, // the app's origin: the gate is mounted on it
		"TENANTGATE_FRAME_ANCESTORS":    "'self'",
		"TENANTGATE_SESSION_COOKIE":     "demo_session",
		"TENANTGATE_LISTEN":             gateLn.Addr().String(),
		"TENANTGATE_ADMIN_LISTEN":       admLn.Addr().String(),
		"TENANTGATE_LOG_LEVEL":          "info",
		// With an API key the gate audits Metabase's wiring and refuses the
		// leaky dashboard (resource-unsafe).
		"METABASE_API_KEY":          apiKey,
		"TENANTGATE_AUDIT_INTERVAL": "10s",
		// JWT SSO for the SDK page: the gate mints Metabase's SSO JWT, the
		// browser holds only sealed values.
		"MB_JWT_SHARED_SECRET":          ssoSecret,
		"TENANTGATE_SSO_SEALING_KEY":    sealingKey,
		"TENANTGATE_SSO_GROUP_MAPPINGS": demoAppGroup + "=Embedded customers",
	}
	cfg, err := configs.Load("", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		return err
	}
	cfg.Policy.Resources = []configs.ResourcePolicy{
		{Dashboard: metabasetest.DashboardOrders, EditableParams: []string{"status"}, Downloads: true},
		{Question: metabasetest.QuestionOrders, EditableParams: []string{"status"}, Downloads: true},
		// Listed, but its "All orders count" card is not wired to the tenant
		// filter: the audit guard refuses it, and the page shows why.
		{Dashboard: metabasetest.DashboardLeaky},
	}
	if err := cfg.Validate(configs.ModeDemo); err != nil {
		return fmt.Errorf("demo configuration: %w", err)
	}
	// The sample page shows what the gate did: its access and decision
	// lines are kept in a small ring. The terminal gets readable denials
	// and the audit's verdict (demoTerminal), not JSON.
	activity := &activityLog{}
	log := zap.New(zapcore.NewTee(newDemoTerminal(stdout), activity))
	gateErr := make(chan error, 1)
	go func() { gateErr <- runGate(ctx, cfg, log.Named("gate"), gateLn, admLn) }()

	app := &demoApp{secret: []byte(sessionSecret), cookie: cfg.Session.Cookie, gate: "http://" + gateLn.Addr().String(), activity: activity,
		sdkDir: o.sdkDir}
	if app.sdkDir == "" && !o.noSDK {
		app.sdkDir = findSDKBundle()
	}
	handler := app.routes()
	if o.wrap != nil {
		handler = o.wrap(handler)
	}
	appSrv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go appSrv.Serve(appLn) //nolint:errcheck
	defer appSrv.Close()

	fmt.Fprintf(stdout, `
tenantgate demo is running.

  Open the sample app:   %s/
  Sign in as alice (acme), bob (globex) or carol (initech); each sees the same
  dashboard, embedded through the gateway (mounted at /analytics/ on the same
  origin), with only the rows of their own organization. mallory has no
  organization and is refused; dave can switch between acme and globex.
  The same data through Metabase's React SDK and JWT SSO:  %s/sdk
  (%s)

  Metabase stand-in (never exposed to the browser): %s
  Metrics, health:       http://%s/metrics  /healthz  /readyz

Try to break it: copy the iframe's URL, sign in as someone else and open it;
add ?organization_id=globex to it; call %s/analytics/api/public/... or
%s/analytics/api/session. Every denial names its reason.
Press Ctrl-C to stop. Denials and the audit's verdict are printed below.

`, base, base, app.sdkStatus(), env["METABASE_SITE_URL"], admLn.Addr(), base, base)
	if o.ready != nil {
		o.ready(demoRunning{base: base, mb: mb, sessionSecret: sessionSecret,
			secrets: []string{mbSecret, sessionSecret, apiKey, ssoSecret, sealingKey, env["TENANTGATE_HANDLE_SECRET"]}})
	}
	select {
	case <-ctx.Done():
		<-gateErr
		return nil
	case err := <-gateErr:
		return err
	}
}

type demoApp struct {
	secret   []byte
	cookie   string
	gate     string
	activity *activityLog
	sdkDir   string // the built SDK host page; "" when not built
}

// activityLog is a zapcore.Core keeping the gate's last request lines
// (with the decision's reason) for the sample page. Demo only.
type activityLog struct {
	mu     sync.Mutex
	events []map[string]any
	// details are the denials' log details by request id, until the
	// request's access line (written after it) takes its own.
	details map[any]any
}

func (a *activityLog) Enabled(l zapcore.Level) bool      { return l >= zapcore.InfoLevel }
func (a *activityLog) With([]zapcore.Field) zapcore.Core { return a }
func (a *activityLog) Sync() error                       { return nil }
func (a *activityLog) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Message == "request" || e.Message == "denied" {
		return ce.AddCore(e, a)
	}
	return ce
}

func (a *activityLog) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range fields {
		f.AddTo(enc)
	}
	if e.Message == "denied" {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.details == nil || len(a.details) > 100 {
			a.details = map[any]any{}
		}
		a.details[enc.Fields["request_id"]] = enc.Fields["detail"]
		return nil
	}
	ev := map[string]any{"time": e.Time.Format("15:04:05")}
	for _, k := range []string{"route", "method", "path", "status", "tenant", "subject", "reason"} {
		if v, ok := enc.Fields[k]; ok {
			ev[k] = v
		}
	}
	if ev["route"] == "static" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if d, ok := a.details[enc.Fields["request_id"]]; ok {
		ev["detail"] = d
		delete(a.details, enc.Fields["request_id"])
	}
	a.events = append(a.events, ev)
	if len(a.events) > 40 {
		a.events = a.events[len(a.events)-40:]
	}
	return nil
}

func (a *activityLog) snapshot() []map[string]any {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]map[string]any, len(a.events))
	for i := range a.events {
		out[len(a.events)-1-i] = a.events[i] // newest first
	}
	return out
}

func (a *demoApp) routes() http.Handler {
	m := http.NewServeMux()
	// The app's ingress sends /analytics/* to the gate unchanged.
	target, _ := url.Parse(a.gate)
	m.Handle("/analytics/", httputil.NewSingleHostReverseProxy(target))
	m.HandleFunc("POST /login", a.login)
	m.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: a.cookie, Value: "", Path: "/", MaxAge: -1})
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	m.HandleFunc("GET /{$}", a.home)
	m.HandleFunc("GET /sdk", a.sdkPage)
	m.Handle("GET /sdk/assets/", a.sdkAssets())
	m.HandleFunc("GET /demo/activity", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(a.activity.snapshot())
	})
	// Browsers ask every origin for a favicon; an empty answer keeps a 404
	// out of the console.
	m.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	return m
}

// login signs the app's own session JWT, as the customer's app would.
func (a *demoApp) login(w http.ResponseWriter, r *http.Request) {
	key, org := r.FormValue("user"), r.FormValue("org")
	for _, u := range demoUsers {
		if u.Key != key {
			continue
		}
		switch {
		case org == "":
			org = u.Org
		case org != u.Org && !slices.Contains(u.Others, org):
			http.Error(w, "not an organization of "+u.Key, http.StatusBadRequest)
			return
		}
		claims := jwt.MapClaims{"sub": u.Key, "email": u.Email, "name": u.Name, "groups": []string{demoAppGroup},
			"exp": time.Now().Add(8 * time.Hour).Unix(), "iat": time.Now().Unix()}
		if org != "" {
			claims["organization_id"] = org
		}
		back := "/"
		if r.FormValue("back") == "/sdk" {
			back = "/sdk"
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(a.secret)
		if err != nil {
			http.Error(w, "signing session", http.StatusInternalServerError)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: a.cookie, Value: tok, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	http.Error(w, "unknown user", http.StatusBadRequest)
}

var demoPages = template.Must(template.New("top").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme SaaS — tenantgate demo</title>
<style>
body{font:15px system-ui,sans-serif;margin:0;color:#222}
header{background:#1d3557;color:#fff;padding:12px 20px;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
header form{display:inline} header a{color:#fff} header a[aria-current]{font-weight:bold;text-decoration:none} button{font:inherit;padding:4px 10px;cursor:pointer}
main{padding:16px 20px;display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:20px}
iframe{width:100%;height:700px;border:1px solid #ccc;border-radius:6px}
.who{margin-left:auto} code{background:#eee;padding:1px 4px;overflow-wrap:anywhere}
table{border-collapse:collapse;font-size:13px;width:100%} td,th{padding:3px 6px;border-bottom:1px solid #eee;text-align:left}
.deny{color:#b00020} .allow{color:#1b5e20} h2{font-size:16px;margin:8px 0}
.detail{display:block;color:#555;font-size:12px;word-break:break-word}
@media (max-width:800px){main{grid-template-columns:minmax(0,1fr);padding:10px}iframe{height:520px}.who{margin-left:0}}
</style></head><body>
<header><strong>Sample SaaS app</strong>
<nav><a id="nav-iframe" href="/"{{if eq .Page "/"}} aria-current="page"{{end}}>iframe</a> · <a id="nav-sdk" href="/sdk"{{if eq .Page "/sdk"}} aria-current="page"{{end}}>React SDK</a></nav>
{{$page := .Page}}{{range .Users}}<form method="post" action="/login"><input type="hidden" name="user" value="{{.Key}}"><input type="hidden" name="back" value="{{$page}}"><button id="login-{{.Key}}">Sign in as {{.Key}}{{if .Org}} ({{.Org}}{{range .Others}}, {{.}}{{end}}){{end}}</button></form>{{end}}
<span class="who" id="who">{{if .Signed}}Signed in as <b>{{.Name}}</b>{{if .Org}} · organization <b>{{.Org}}</b>{{end}}{{else}}Not signed in{{end}}</span>
{{$key := .Key}}{{range .Switch}}<form method="post" action="/login"><input type="hidden" name="user" value="{{$key}}"><input type="hidden" name="org" value="{{.}}"><input type="hidden" name="back" value="{{$page}}"><button id="switch-{{.}}">Switch to {{.}}</button></form>{{end}}
<form method="post" action="/logout"><button>Sign out</button></form></header>
`))

func init() {
	template.Must(demoPages.New("activity").Parse(`</section><section>
<h2>What the gate did</h2>
<p>Every request the iframe or the SDK makes passes the gate: it checks the caller's session,
the binding of the embed handle (or of the SDK's sealed Metabase session) and the filters,
re-signs a Metabase token locked to the caller's organization (or injects the caller's own
Metabase session), and refuses everything else with a reason. "Open the leaky dashboard" shows the
audit guard refusing a dashboard whose card is not wired to the tenant filter.</p>
<table><thead><tr><th>time</th><th>who</th><th>route</th><th>status</th><th>decision</th></tr></thead><tbody id="activity"></tbody></table>
</section></main>
<script>
async function refresh() {
  try {
    const r = await fetch('/demo/activity', {cache: 'no-store'});
    const events = await r.json();
    const rows = events.map(e => {
      const deny = e.status >= 400;
      const who = e.subject ? e.subject + ' (' + (e.tenant || '-') + ')' : '-';
      const why = deny ? (e.reason || 'refused') : (e.route === 'mint' ? 'minted a handle' : 'allowed');
      const tr = document.createElement('tr');
      for (const v of [e.time, who, e.route, e.status, why]) {
        const td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
      }
      if (deny && e.detail) { // what the log says: e.g. which card is not wired
        const d = document.createElement('span'); d.className = 'detail'; d.textContent = e.detail;
        tr.lastChild.appendChild(d);
      }
      tr.className = deny ? 'deny' : 'allow';
      return tr;
    });
    document.getElementById('activity').replaceChildren(...rows);
  } catch (err) { /* the demo is stopping */ }
}
refresh(); setInterval(refresh, 1500);
</script>
`))
	template.Must(demoPages.New("home").Parse(`{{template "top" .}}<main><section>
{{if .Signed}}
<p>The app's page holds one line of embedding code and no backend code:
<code>&lt;iframe src="/analytics/.tenantgate/embed/dashboard/{{.Dashboard}}"&gt;</code>
<button id="show-leaky" onclick="document.getElementById('embed').src='/analytics/.tenantgate/embed/dashboard/{{.Leaky}}'">Open the leaky dashboard</button>
<button onclick="document.getElementById('embed').src='/analytics/.tenantgate/embed/dashboard/{{.Dashboard}}'">Back</button></p>
<iframe id="embed" src="/analytics/.tenantgate/embed/dashboard/{{.Dashboard}}"></iframe>
{{else}}<p>Sign in with one of the buttons above.</p>{{end}}
{{template "activity" .}}</body></html>`))
}

func (a *demoApp) home(w http.ResponseWriter, r *http.Request) {
	data := a.pageData(r, "/")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = demoPages.ExecuteTemplate(w, "home", data)
}

// demoPageData is what the demo's pages show.
type demoPageData struct {
	Page           string // "/" or "/sdk"
	Users          []demoUser
	Signed         bool
	Key, Name, Org string
	Switch         []string // the other organizations the user may switch to
	Dashboard      int
	Leaky          int
	Question       int
	// The SDK page's: the gate's URL for the SDK, and whether the bundle
	// is built (else how to build it).
	InstanceURL string
	SDKBuilt    bool
	SDKBuild    string
}

// pageData reads the caller's app session.
func (a *demoApp) pageData(r *http.Request, page string) demoPageData {
	data := demoPageData{Page: page, Users: demoUsers, Dashboard: metabasetest.DashboardOrders, Leaky: metabasetest.DashboardLeaky,
		Question: metabasetest.QuestionOrders}
	if c, err := r.Cookie(a.cookie); err == nil {
		if t, err := jwt.Parse(c.Value, func(*jwt.Token) (any, error) { return a.secret, nil }, jwt.WithValidMethods([]string{"HS256"})); err == nil {
			m := t.Claims.(jwt.MapClaims)
			data.Signed = true
			data.Key, _ = m["sub"].(string)
			data.Name, _ = m["name"].(string)
			data.Org, _ = m["organization_id"].(string)
			for _, u := range demoUsers {
				if u.Key == data.Key {
					for _, o := range append([]string{u.Org}, u.Others...) {
						if o != data.Org && len(u.Others) > 0 {
							data.Switch = append(data.Switch, o)
						}
					}
				}
			}
		}
	}
	return data
}

package proxy

import (
	"html/template"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/policy"
)

// errorBody is every denial's JSON: a sentence for a person, a stable code
// for a program, and the id that finds the log line.
type errorBody struct {
	Error     string `json:"error"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id"`
}

var errorPage = template.Must(template.New("denied").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Analytics unavailable</title>
<style>body{font:15px system-ui,sans-serif;color:#333;margin:2em}code{color:#888}</style></head>
<body><h1>Analytics unavailable</h1><p>{{.Error}}</p><p><code>reason: {{.Reason}} · request id: {{.RequestID}}</code></p></body></html>
`))

// decided records a policy decision once per request (metrics and scope).
func (g *Gate) decided(r *http.Request, d policy.Decision) {
	s := scopeOf(r)
	if s.decided {
		return
	}
	s.decided = true
	s.decision = d
	g.metrics.Decision(d.Allow, string(d.Reason))
	if d.Reason == policy.ReasonTenantMismatch || d.Mismatch != "" {
		g.metrics.TenantMismatch(mismatchKind(d))
	}
}

func mismatchKind(d policy.Decision) string {
	if d.Mismatch != "" {
		return d.Mismatch
	}
	return "handle"
}

// deny answers a denial and logs it once, with the detail the client does
// not get. Page loads get an HTML page, everything else JSON.
func (g *Gate) deny(w http.ResponseWriter, r *http.Request, d policy.Decision) {
	s := scopeOf(r)
	if !s.decided {
		g.decided(r, d)
	}
	fields := []zap.Field{
		zap.String("request_id", s.requestID),
		zap.String("route", s.route),
		zap.String("reason", string(d.Reason)),
		zap.String("detail", d.Detail),
		zap.String("path", redactPath(escapedPath(r))),
	}
	if s.identity != nil {
		fields = append(fields, zap.String("tenant", s.identity.Tenant), zap.String("subject", s.identity.Subject))
	} else if s.subject != "" {
		fields = append(fields, zap.String("subject", s.subject))
	}
	if s.resource.ID != 0 {
		fields = append(fields, zap.Stringer("resource", s.resource))
	}
	g.log.Warn("denied", fields...)
	body := errorBody{Error: d.Reason.Message(), Reason: string(d.Reason), RequestID: s.requestID}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if pageLoad(s.route, r) {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", g.csp)
		w.WriteHeader(d.Reason.Status())
		_ = errorPage.Execute(w, body)
		return
	}
	writeJSON(w, d.Reason.Status(), body)
}

// fail answers an internal error (could not decide): fail closed.
func (g *Gate) fail(w http.ResponseWriter, r *http.Request, err error) {
	g.deny(w, r, policy.Decision{Reason: policy.ReasonInternal, Detail: err.Error()})
}

// pageLoad reports whether a person's browser is loading a page (an
// iframe's src): it gets a readable HTML page, programs get JSON.
func pageLoad(route string, r *http.Request) bool {
	if r.Method != http.MethodGet || wantsJSON(r) {
		return false
	}
	switch route {
	case routeEmbedPage, routeEmbedSDK, routeSSOPage, routeSSOLogin:
		return true
	case routeMint, routeUnmatched:
		// A browser navigating (a link, the address bar) asks for HTML; a
		// script's fetch does not.
		return strings.Contains(r.Header.Get("Accept"), "text/html")
	}
	return false
}

package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"strings"

	"github.com/tenantgate/tenantgate/policy"
)

// Protocol upgrades (issue 12, class 3). httputil.ReverseProxy forwards
// Upgrade when the request asks for one, and relays Metabase's 101 as a raw
// tunnel: every later byte on that connection would then pass the router,
// the policy and the header rewrite unseen. Metabase's Jetty serves neither
// WebSocket nor h2c (contract §8), so the gate switches protocols never, in
// three layers that each hold on their own:
//
//  1. refuseUpgrades answers a request that asks to switch
//     (upgrade-not-allowed) before any route, and closes the connection;
//  2. rewrite forwards only allowlisted headers, so neither Upgrade nor
//     Connection (nor HTTP2-Settings) reaches Metabase;
//  3. noSwitchTransport turns any 1xx final answer (101 included) into an
//     error, the reverse proxy's 502 upstream-unavailable, and hides the
//     reverse proxy's client trace, which would relay informational answers
//     (103 Early Hints, headers and all) to the client unfiltered.

// refuseUpgrades wraps the router: a request that asks to switch protocols
// is refused whatever its route, and its connection is closed after the
// answer, so nothing the client sends next on it is read as a tunnel.
func (g *Gate) refuseUpgrades(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := upgradeAsked(r); why != "" {
			w.Header().Set("Connection", "close")
			g.deny(w, r, policy.Decision{Reason: policy.ReasonUpgradeNotAllowed, Detail: why})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// upgradeAsked says how r asks to leave plain HTTP request and response,
// or "" when it does not: any Upgrade header (any value, even empty), a
// Connection header naming upgrade among its tokens (any case), h2c's
// HTTP2-Settings, CONNECT (a tunnel; over HTTP/2 also extended CONNECT,
// RFC 8441, whose :protocol names websocket) and h2c's prior-knowledge
// preface (PRI * HTTP/2.0), which net/http hands to the handler when the
// server does not speak unencrypted HTTP/2.
func upgradeAsked(r *http.Request) string {
	switch {
	case r.Method == http.MethodConnect:
		return "CONNECT request: the gate opens no tunnel"
	case r.Method == "PRI":
		return "h2c prior-knowledge preface: the gate speaks no unencrypted HTTP/2"
	case r.Header["Upgrade"] != nil:
		return "Upgrade header: the gate switches to no other protocol"
	case r.Header["Http2-Settings"] != nil:
		return "HTTP2-Settings header: the gate does no h2c upgrade"
	case hasToken(r.Header["Connection"], "upgrade"):
		return "Connection header names upgrade: the gate switches to no other protocol"
	}
	return ""
}

// hasToken reports whether a comma-separated header list names token, in
// any case, in any of its values. It allocates nothing: this runs on every
// request, most of which carry Connection: keep-alive.
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.Trim(t, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// errUpstreamSwitch: Metabase answered 1xx as a final answer.
var errUpstreamSwitch = errors.New("Metabase answered with a protocol switch or another 1xx as its final answer; the gate relays none")

// noSwitchTransport is the reverse proxy's transport: rt, except that no
// 1xx answer reaches the reverse proxy. A 101 (or any 1xx a RoundTripper
// returns as final) is closed, which closes its connection, and becomes
// errUpstreamSwitch: the reverse proxy then answers 502 through
// upstreamError, which logs and counts it. So ModifyResponse, which the
// reverse proxy would run on a 101 before it opens the tunnel, never sees
// one either.
type noSwitchTransport struct{ rt http.RoundTripper }

func (t noSwitchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.WithContext(withoutClientTrace{r.Context()})
	resp, err := t.rt.RoundTrip(out)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 {
		if resp.Body != nil {
			resp.Body.Close()
		}
		return nil, fmt.Errorf("%w (status %d)", errUpstreamSwitch, resp.StatusCode)
	}
	resp.Request = r
	return resp, nil
}

// withoutClientTrace hides every httptrace.ClientTrace from the transport.
// httputil.ReverseProxy installs one whose Got1xxResponse writes each
// informational answer of Metabase (103 Early Hints, a 100 nobody asked
// for) with all its headers, Set-Cookie included, straight to the client,
// before ModifyResponse or any filter of the gate runs; hooks compose, so
// a trace of our own could not stop it. Without a trace, the transport
// reads past informational answers and returns the final one.
type withoutClientTrace struct{ context.Context }

func (c withoutClientTrace) Value(key any) any {
	v := c.Context.Value(key)
	if _, ok := v.(*httptrace.ClientTrace); ok {
		return nil
	}
	return v
}

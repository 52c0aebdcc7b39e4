package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/policy"
)

// Issue 12, class 3: protocol upgrades and forwarding headers. Every case
// is an attack that must fail, checked on what the Metabase stand-in
// received.

// upgradeVariants are the ways a request asks to switch protocols.
var upgradeVariants = []struct {
	name   string
	method string
	hdr    http.Header
}{
	{"websocket", "GET", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Version": {"13"}}},
	{"h2c", "GET", http.Header{"Connection": {"Upgrade, HTTP2-Settings"}, "Upgrade": {"h2c"}, "Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}}},
	{"mixed-case tokens", "GET", http.Header{"Connection": {"uPgRaDe"}, "Upgrade": {"WebSocket"}}},
	{"keep-alive, Upgrade", "GET", http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}}},
	{"Upgrade in a second Connection line", "GET", http.Header{"Connection": {"keep-alive", " upgrade "}, "Upgrade": {"websocket"}}},
	{"Upgrade header alone", "GET", http.Header{"Upgrade": {"websocket"}}},
	{"empty Upgrade header", "GET", http.Header{"Upgrade": {""}}},
	{"any protocol", "GET", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"TLS/1.2, HTTP/1.1"}}},
	{"Connection upgrade alone", "GET", http.Header{"Connection": {"close,upgrade"}}},
	{"HTTP2-Settings alone", "GET", http.Header{"Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}}},
	{"CONNECT", "CONNECT", nil},
}

// TestUpgradeRequestsRefused: on every kind of route, a request asking to
// switch protocols is answered 400 upgrade-not-allowed with its connection
// closed, and Metabase never hears of it.
func TestUpgradeRequestsRefused(t *testing.T) {
	h := newSSOHarness(t, nil)
	sess := ssoSession("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	sealed := h.signIn(sess, "/dashboard/1")
	sdk := h.sdkSignIn(sess)
	p := testSSOPrefix
	routes := []struct {
		name, path string
		hdr        http.Header
	}{
		{"mint", p + "/.tenantgate/embed/dashboard/1", nil},
		{"embed page", p + "/embed/dashboard/" + handle, nil},
		{"embed api", p + "/api/embed/dashboard/" + handle, nil},
		{"asset", p + "/app/dist/app.js", nil},
		{"favicon", p + "/favicon.ico", nil},
		{"session properties", p + "/api/session/properties", nil},
		{"geojson", p + "/api/geojson/world", nil},
		{"sso login", p + "/.tenantgate/sso?return_to=/dashboard/1", nil},
		{"sdk jwt", p + "/.tenantgate/sdk/jwt?response=json", nil},
		{"sdk auth", p + "/auth/sso", http.Header{"X-Metabase-Client": {sdkClient}}},
		{"sso api", p + "/api/user/current", sdkHeader(sdk)},
		{"sso page", p + "/dashboard/1", cookieHeader(sealed)},
		{"unmatched", p + "/api/setup", nil},
		{"outside the prefix", "/ws", nil},
	}
	for _, rt := range routes {
		for _, v := range upgradeVariants {
			t.Run(rt.name+"/"+v.name, func(t *testing.T) {
				h.mb.Reset()
				hdr := http.Header{}
				for k, vs := range rt.hdr {
					hdr[k] = vs
				}
				for k, vs := range v.hdr {
					hdr[k] = vs
				}
				w := h.send(v.method, rt.path, sess, hdr, "") // the session cookie joins any Cookie header
				if w.Code != http.StatusBadRequest || reason(w) != string(policy.ReasonUpgradeNotAllowed) {
					t.Errorf("got %d %q, want 400 upgrade-not-allowed", w.Code, reason(w))
				}
				if w.Header().Get("Connection") != "close" {
					t.Errorf("Connection = %q, want close", w.Header().Get("Connection"))
				}
				if got := h.mb.Requests(); len(got) != 0 {
					t.Errorf("Metabase received %d requests, first %s %s %v", len(got), got[0].Method, got[0].Path, got[0].Header)
				}
			})
		}
	}
}

// rawConn is a client connection to the gate that sends bytes as written.
type rawConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialGate(t *testing.T, h *harness) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", h.gate.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return &rawConn{t: t, c: c, br: bufio.NewReader(c)}
}

func (rc *rawConn) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.c, s); err != nil {
		rc.t.Fatalf("writing to the gate: %v", err)
	}
}

// next reads one response; nil when the gate closed the connection.
func (rc *rawConn) next() (*http.Response, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, nil)
	if err != nil {
		return nil, ""
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestUpgradeOnTheWire: over a real connection, a WebSocket upgrade with a
// second request pipelined behind it gets its refusal, then the connection
// ends; neither request reaches Metabase, which here answers 101 to
// anything.
func TestUpgradeOnTheWire(t *testing.T) {
	h := newHarness(t, nil)
	tunnel := switchEverything(t, h)
	rc := dialGate(t, h)
	rc.send("GET /app/dist/app.js HTTP/1.1\r\nHost: gate\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
		"GET /api/setup HTTP/1.1\r\nHost: gate\r\n\r\n")
	resp, body := rc.next()
	if resp == nil || resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "upgrade-not-allowed") {
		t.Fatalf("upgrade answered %v %s, want 400 upgrade-not-allowed", resp, body)
	}
	if again, _ := rc.next(); again != nil {
		t.Errorf("the connection served another response (%d) after a refused upgrade", again.StatusCode)
	}
	if got := h.mb.Requests(); len(got) != 0 {
		t.Errorf("Metabase received %d requests: %+v", len(got), got[0])
	}
	tunnel.none(t)
}

// TestH2CPriorKnowledge: the h2c preface (PRI * HTTP/2.0) and an h2c
// upgrade never reach Metabase, and the gate answers in HTTP/1.1.
func TestH2CPriorKnowledge(t *testing.T) {
	h := newHarness(t, nil)
	tunnel := switchEverything(t, h)
	for _, tc := range []struct{ name, wire, reason string }{
		// net/http hands PRI * to the handler; "*" is no path, refused
		// before any route (upgradeAsked would refuse PRI too).
		{"prior knowledge", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00", "malformed-request"},
		{"upgrade", "GET /favicon.ico HTTP/1.1\r\nHost: gate\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", "upgrade-not-allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.mb.Reset()
			rc := dialGate(t, h)
			rc.send(tc.wire)
			resp, body := rc.next()
			if resp == nil || resp.StatusCode != http.StatusBadRequest || resp.ProtoMajor != 1 || !strings.Contains(body, `"reason":"`+tc.reason+`"`) {
				t.Errorf("answered %v %s, want an HTTP/1.1 400 %s", resp, body, tc.reason)
			}
			if got := h.mb.Requests(); len(got) != 0 {
				t.Errorf("Metabase received %d requests: %+v", len(got), got[0])
			}
		})
	}
	tunnel.none(t)
}

// tunnelWatch collects what reaches a hijacked upstream connection after
// the stand-in's 101: the bytes a tunnel would carry.
type tunnelWatch chan string

func (tw tunnelWatch) none(t *testing.T) {
	t.Helper()
	select {
	case b := <-tw:
		t.Errorf("bytes reached Metabase through a tunnel: %q", b)
	case <-time.After(50 * time.Millisecond):
	}
}

// switchEverything makes the stand-in answer every request with 101
// Switching Protocols and then read its connection raw, as a Metabase
// behind a WebSocket-capable proxy would.
func switchEverything(t *testing.T, h *harness) tunnelWatch {
	tw := make(tunnelWatch, 16)
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("stand-in hijack: %v", err)
			return false
		}
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
		brw.Flush()
		go func() {
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(3 * time.Second))
			buf := make([]byte, 4096)
			for {
				n, err := brw.Read(buf)
				if n > 0 {
					tw <- string(buf[:n])
				}
				if err != nil {
					return
				}
			}
		}()
		return true
	})
	return tw
}

// TestUpstreamSwitchingProtocols: Metabase answers 101 to everything. On
// every route kind the client gets 502 upstream-unavailable, never the 101;
// the switch is logged and counted; the upstream connection is dropped, so
// nothing tunnels; and the next request on the client's connection is
// checked like any other (here refused, unseen by Metabase).
func TestUpstreamSwitchingProtocols(t *testing.T) {
	h := newSSOHarness(t, nil)
	sess := ssoSession("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	sealed := h.signIn(sess, "/dashboard/1")
	sdk := h.sdkSignIn(sess)
	tunnel := switchEverything(t, h)
	p := testSSOPrefix
	cookie := "Cookie: " + h.cfg.Session.Cookie + "=" + sess + "\r\n"
	routes := []struct{ name, path, hdr string }{
		{"asset", p + "/app/dist/app.css", ""},
		{"embed page", p + "/embed/dashboard/" + handle, cookie},
		{"embed api", p + "/api/embed/dashboard/" + handle, cookie},
		{"session properties", p + "/api/session/properties", cookie},
		{"sso api", p + "/api/user/current", cookie + "X-Metabase-Session: " + sdk + "\r\nX-Metabase-Client: " + sdkClient + "\r\n"},
		{"sso page", p + "/dashboard/1", "Cookie: " + h.cfg.Session.Cookie + "=" + sess + "; " + ssoCookieName + "=" + sealed + "\r\n"},
	}
	for i, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			h.mb.Reset()
			rc := dialGate(t, h)
			rc.send("GET " + rt.path + " HTTP/1.1\r\nHost: gate\r\n" + rt.hdr + "\r\n")
			resp, body := rc.next()
			if resp == nil || resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "upstream-unavailable") {
				t.Fatalf("answered %v %.200s, want 502 upstream-unavailable", resp, body)
			}
			if resp.Header.Get("Upgrade") != "" || strings.EqualFold(resp.Header.Get("Connection"), "upgrade") {
				t.Errorf("the refusal carries switch headers: %v", resp.Header)
			}
			// The same connection, next request: checked by the gate.
			rc.send("GET " + p + "/api/setup HTTP/1.1\r\nHost: gate\r\n\r\n")
			next, body := rc.next()
			if next == nil || next.StatusCode != http.StatusForbidden || !strings.Contains(body, "route-not-allowed") {
				t.Errorf("next request on the connection answered %v %.200s, want 403 route-not-allowed", next, body)
			}
			if got := h.mb.Requests(); len(got) != 1 || got[0].Path == "/api/setup" {
				t.Errorf("Metabase received %d requests, want only the first: %+v", len(got), got)
			}
			tunnel.none(t)
			if got := counterValue(t, h, "tenantgate_upstream_errors_total", "kind", "other"); got != float64(i+1) {
				t.Errorf("upstream errors (other) = %v, want %d", got, i+1)
			}
		})
	}
	switched := 0
	for _, e := range h.logs.FilterMessage("denied").All() {
		if d, _ := e.ContextMap()["detail"].(string); strings.Contains(d, errUpstreamSwitch.Error()) && e.ContextMap()["reason"] == "upstream-unavailable" {
			switched++
		}
	}
	if switched != len(routes) {
		t.Errorf("%d denial lines name the protocol switch, want %d", switched, len(routes))
	}
}

// TestRewriteDropsUpgrade: with the refusal of upgrade requests bypassed
// (the reverse proxy called directly), the allowlist still sends Metabase
// no Upgrade, Connection or HTTP2-Settings, and its 101 is still refused.
func TestRewriteDropsUpgrade(t *testing.T) {
	h := newHarness(t, nil)
	tunnel := switchEverything(t, h)
	for _, v := range upgradeVariants {
		if v.method != "GET" {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			h.mb.Reset()
			r := httptest.NewRequest("GET", "/app/dist/app.js", nil)
			for k, vs := range v.hdr {
				r.Header[k] = vs
			}
			w := httptest.NewRecorder()
			h.stack.Gate.proxy.ServeHTTP(w, r)
			if w.Code != http.StatusBadGateway {
				t.Errorf("status %d, want 502", w.Code)
			}
			got := h.mb.Requests()
			if len(got) != 1 {
				t.Fatalf("Metabase received %d requests, want 1", len(got))
			}
			for _, k := range []string{"Upgrade", "Connection", "Http2-Settings", "Sec-Websocket-Key", "Sec-Websocket-Version"} {
				if v := got[0].Header.Values(k); v != nil {
					t.Errorf("Metabase received %s: %q", k, v)
				}
			}
		})
	}
	tunnel.none(t)
}

// TestNoSwitchTransport: whatever a RoundTripper answers with status
// below 200 is closed and becomes an error; 2xx and up pass.
func TestNoSwitchTransport(t *testing.T) {
	for _, code := range []int{100, 101, 102, 103, 199, 200, 302, 502} {
		body := &closeRecorder{}
		rt := noSwitchTransport{roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if httptrace.ContextClientTrace(r.Context()) != nil {
				t.Errorf("%d: the transport sees a client trace", code)
			}
			return &http.Response{StatusCode: code, Header: http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, Body: body, Request: r}, nil
		})}
		req := httptest.NewRequest("GET", "http://metabase/", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{Got1xxResponse: func(int, textproto.MIMEHeader) error { return nil }}))
		resp, err := rt.RoundTrip(req)
		switch {
		case code < 200 && (err == nil || resp != nil || !body.closed):
			t.Errorf("%d: got %v, %v, body closed %v; want an error and the body closed", code, resp, err, body.closed)
		case code >= 200 && (err != nil || resp.StatusCode != code || resp.Request != req || body.closed):
			t.Errorf("%d: got %v, %v; want the response as it came", code, resp, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type closeRecorder struct{ closed bool }

func (c *closeRecorder) Read([]byte) (int, error) { return 0, io.EOF }
func (c *closeRecorder) Write(b []byte) (int, error) {
	return len(b), nil
}
func (c *closeRecorder) Close() error { c.closed = true; return nil }

// TestInformationalAnswersNotRelayed: Metabase sends 103 Early Hints with
// a cookie and a header of its own before its answer; the client sees
// neither the 103 nor its headers.
func TestInformationalAnswersNotRelayed(t *testing.T) {
	h := newHarness(t, nil)
	h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Link", "</app/dist/app.css>; rel=preload")
		w.Header().Set("Set-Cookie", "metabase.SESSION=leaked-session-key; Path=/")
		w.Header().Set("X-Leak", "1")
		w.WriteHeader(http.StatusEarlyHints)
		for k := range w.Header() {
			delete(w.Header(), k)
		}
		return false // then answer as Metabase does
	})
	var got1xx []int
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
		got1xx = append(got1xx, code)
		return nil
	}}
	req, _ := http.NewRequest("GET", h.gate.URL+"/app/dist/app.js", nil)
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := h.gate.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200", resp.StatusCode)
	}
	if len(got1xx) != 0 {
		t.Errorf("the client received informational answers %v", got1xx)
	}
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Leak") != "" {
		t.Errorf("Metabase's early headers reached the client: %v", resp.Header)
	}
}

// spoofedHeaders are request headers an untrusted client may set to make
// Metabase (or a server between) believe another host, scheme, path or
// method. None may reach Metabase.
var spoofedHeaders = []struct{ name, value string }{
	{"Origin", "https://evil.example"},
	{"X-Forwarded-Host", "evil.example"},
	{"X-Forwarded-Prefix", "/evil"},
	{"X-Original-Url", "/api/setup"},
	{"X-Rewrite-Url", "/api/user"},
	{"X-Http-Method-Override", "DELETE"},
	{"X-Method-Override", "PUT"},
	{"X-Http-Method", "DELETE"},
	{"X-Forwarded-Server", "evil.example"},
	{"X-Forwarded-Port", "4443"},
	{"X-Forwarded-Scheme", "javascript"},
	{"X-Forwarded-Ssl", "off"},
	{"X-Forwarded-Protocol", "http"},
	{"X-Url-Scheme", "http"},
	{"Front-End-Https", "off"},
	{"X-Original-Host", "evil.example"},
	{"X-Host", "evil.example"},
	{"Forwarded", "for=1.2.3.4;host=evil.example;proto=http"},
	{"Referer", "https://evil.example/page?secret=1"},
	{"X-Real-Ip", "1.2.3.4"},
	{"True-Client-Ip", "1.2.3.4"},
	{"X-Client-Ip", "1.2.3.4"},
	{"X-Metabase-Embedded-Preview", "true"},
	{"X-Metabase-Anti-Csrf-Token", "abc"},
	{"X-Api-Key", "mb_stolen"},
	{"Authorization", "Bearer stolen"},
	{"Range", "bytes=0-1"},
	{"Te", "trailers"},
	{"Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
	{"X_forwarded_host", "evil.example"}, // underscores: net/http keeps the key as sent
}

// gateSets are the headers the gate itself sends Metabase.
var gateSets = map[string]bool{"X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Forwarded-For": true, "X-Request-Id": true, "X-Metabase-Session": true}

// TestSpoofedForwardingHeadersDropped: on a static embed call and on an
// SDK call, every spoofed header is dropped, and Metabase is told the
// configured public host and scheme (X-Forwarded-Host, -Proto), whatever
// the client sent, from a trusted proxy or not.
func TestSpoofedForwardingHeadersDropped(t *testing.T) {
	h := newSSOHarness(t, func(c *configs.Config) {
		c.PublicURL = "https://app.example.com"
		c.TrustedProxies = []string{"10.0.0.0/8"}
	})
	sess := ssoSession("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	sdk := h.sdkSignIn(sess)
	calls := []struct {
		name, path string
		hdr        http.Header
	}{
		{"embed api", testSSOPrefix + "/api/embed/dashboard/" + handle, nil},
		{"sdk api", testSSOPrefix + "/api/user/current", sdkHeader(sdk)},
		{"asset", testSSOPrefix + "/favicon.ico", nil}, // /app/dist assets are cached after the first
	}
	for _, remote := range []string{"203.0.113.9:5555", "10.1.2.3:5555"} {
		for _, c := range calls {
			for _, sp := range spoofedHeaders {
				t.Run(remote+"/"+c.name+"/"+sp.name, func(t *testing.T) {
					h.mb.Reset()
					r := httptest.NewRequest("GET", c.path, nil)
					r.RemoteAddr = remote
					r.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: sess})
					for k, vs := range c.hdr {
						r.Header[k] = vs
					}
					r.Header[sp.name] = []string{sp.value}
					r.Header.Set("X-Forwarded-Proto", "http")
					w := httptest.NewRecorder()
					h.stack.Gate.ServeHTTP(w, r)
					if w.Code != http.StatusOK && w.Code != http.StatusAccepted {
						t.Fatalf("status %d %.200s", w.Code, w.Body)
					}
					got := h.mb.Requests()
					if len(got) != 1 {
						t.Fatalf("Metabase received %d requests, want 1", len(got))
					}
					up := got[0].Header
					if v := up.Values(sp.name); v != nil && (!gateSets[sp.name] || slices.Contains(v, sp.value)) {
						t.Errorf("Metabase received %s: %q", sp.name, v)
					}
					if v := up.Values("X-Forwarded-Host"); len(v) != 1 || v[0] != "app.example.com" {
						t.Errorf("X-Forwarded-Host = %q, want [app.example.com]", v)
					}
					if v := up.Values("X-Forwarded-Proto"); len(v) != 1 || v[0] != "https" {
						t.Errorf("X-Forwarded-Proto = %q, want [https]", v)
					}
					for k, v := range up {
						if strings.Contains(strings.Join(v, ","), "evil.example") {
							t.Errorf("Metabase received %s: %q", k, v)
						}
					}
				})
			}
		}
	}
}

// TestForwardedHostWithoutPublicURL: with no public URL, Metabase is sent
// its own host and the connection's scheme (a trusted proxy's), never the
// client's Host or X-Forwarded-*; the gate says so at start.
func TestForwardedHostWithoutPublicURL(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) { c.TrustedProxies = []string{"10.0.0.0/8"} })
	if n := h.logs.FilterMessageSnippet("no TENANTGATE_PUBLIC_URL").Len(); n != 1 {
		t.Errorf("%d start warnings about the public URL, want 1", n)
	}
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	mbHost := strings.TrimPrefix(h.mbSrv.URL, "http://")
	for _, tc := range []struct {
		name, remote, proto, wantProto string
	}{
		{"untrusted", "203.0.113.9:5555", "https", "http"},
		{"trusted https", "10.1.2.3:5555", "https", "https"},
		{"trusted HTTP", "10.1.2.3:5555", "HTTP", "http"},
		{"trusted junk", "10.1.2.3:5555", "https, http", "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.mb.Reset()
			r := httptest.NewRequest("GET", "/api/embed/dashboard/"+handle, nil)
			r.Host = "evil.example"
			r.RemoteAddr = tc.remote
			r.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: sess})
			r.Header.Set("X-Forwarded-Host", "evil.example")
			r.Header.Set("X-Forwarded-Proto", tc.proto)
			w := httptest.NewRecorder()
			h.stack.Gate.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			up := h.mb.Requests()[0].Header
			if v := up.Values("X-Forwarded-Host"); len(v) != 1 || v[0] != mbHost {
				t.Errorf("X-Forwarded-Host = %q, want [%s]", v, mbHost)
			}
			if v := up.Values("X-Forwarded-Proto"); len(v) != 1 || v[0] != tc.wantProto {
				t.Errorf("X-Forwarded-Proto = %q, want [%s]", v, tc.wantProto)
			}
		})
	}
}

// TestSiteURLNotAdoptedFromAttacker: Metabase without MB_SITE_URL adopts
// the first request's Origin or X-Forwarded-Host. The attacker sends the
// first request, with both; Metabase's site URL is still built from the
// gate's public host, and the export redirect it builds from it points
// there, never at the attacker.
func TestSiteURLNotAdoptedFromAttacker(t *testing.T) {
	for _, tc := range []struct {
		name, publicURL, want string
	}{
		{"public URL", "https://app.example.com", "http://app.example.com"},
		{"no public URL", "", ""}, // Metabase's own address
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *configs.Config) {
				c.PublicURL = tc.publicURL
				c.Policy.Resources = []configs.ResourcePolicy{{Question: 1, Downloads: true}}
			})
			want := tc.want
			if want == "" {
				want = h.mbSrv.URL
			}
			sess := session("mallory", "acme", time.Hour)
			handle := h.mint(sess, "question", 1)
			evil := http.Header{"Origin": {"https://evil.example"}, "X-Forwarded-Host": {"evil.example"}, "Referer": {"https://evil.example/"}}
			w := h.do("GET", "/embed/question/"+handle+".csv", sess, evil)
			if got := h.mb.SiteURL(); got != want {
				t.Errorf("Metabase's site URL = %q, want %q", got, want)
			}
			if loc := w.Header().Get("Location"); w.Code != http.StatusFound || strings.Contains(loc, "evil") {
				t.Errorf("export redirect %d Location %q", w.Code, loc)
			}
		})
	}
}

// counterValue reads one series of a counter from the harness's registry.
func counterValue(t *testing.T, h *harness, name, label, value string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestUpgradeAsked: what counts as asking to switch, and what a browser
// sends on every page load that does not.
func TestUpgradeAsked(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		hdr    http.Header
		asks   bool
	}{
		{"plain GET", "GET", nil, false},
		{"keep-alive", "GET", http.Header{"Connection": {"keep-alive"}}, false},
		{"close", "GET", http.Header{"Connection": {"close"}}, false},
		{"Upgrade-Insecure-Requests (every navigation)", "GET", http.Header{"Upgrade-Insecure-Requests": {"1"}}, false},
		{"a token that only contains upgrade", "GET", http.Header{"Connection": {"upgrades, x-upgrade"}}, false},
		{"POST", "POST", nil, false},
		{"PRI", "PRI", nil, true},
		{"CONNECT", "CONNECT", nil, true},
		{"upgrade token with tabs", "GET", http.Header{"Connection": {"keep-alive,\tUPGRADE\t"}}, true},
		{"empty Upgrade", "GET", http.Header{"Upgrade": {""}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/", nil)
			for k, v := range tc.hdr {
				r.Header[k] = v
			}
			if got := upgradeAsked(r) != ""; got != tc.asks {
				t.Errorf("upgradeAsked = %q, want asking %v", upgradeAsked(r), tc.asks)
			}
		})
	}
}

// FuzzUpgradeAsked: the refusal alone (without the header allowlist)
// covers every request that httputil.ReverseProxy would forward as an
// upgrade. Any request net/http parses, if upgradeAsked lets it through,
// leaves a bare ReverseProxy with neither Upgrade nor an upgrade token in
// Connection.
func FuzzUpgradeAsked(f *testing.F) {
	for _, seed := range []string{
		"Connection: Upgrade\r\nUpgrade: websocket\r\n",
		"Connection: keep-alive, Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
		"Connection: uPgRaDe\r\nUpgrade: WebSocket\r\n",
		"Connection: keep-alive\r\nConnection: upgrade\r\nUpgrade: x\r\n",
		"Upgrade-Insecure-Requests: 1\r\nConnection: keep-alive\r\n",
		"Connection: Upgrade\r\nUpgrade:\r\n",
		"Connection: Upgrade\r\nUpgrade: \x7f\r\n",
	} {
		f.Add(seed)
	}
	var sent http.Header
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "metabase" },
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			sent = r.Header.Clone()
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
		}),
		ErrorHandler: func(http.ResponseWriter, *http.Request, error) {},
	}
	f.Fuzz(func(t *testing.T, headers string) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET / HTTP/1.1\r\nHost: gate\r\n" + headers + "\r\n")))
		if err != nil || upgradeAsked(r) != "" {
			return
		}
		sent = nil
		rp.ServeHTTP(httptest.NewRecorder(), r)
		if sent == nil {
			return
		}
		if sent["Upgrade"] != nil || hasToken(sent["Connection"], "upgrade") {
			t.Errorf("let through %q; the reverse proxy forwarded Upgrade %q, Connection %q", headers, sent["Upgrade"], sent["Connection"])
		}
	})
}

package proxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
)

// getThroughGate sends GET path to the gate's real HTTP listener with the
// session cookie and returns the response, the body read so far, the read
// error and how long it all took.
func getThroughGate(t *testing.T, h *harness, path, sess string) (*http.Response, string, error, time.Duration) {
	t.Helper()
	req, err := http.NewRequest("GET", h.gate.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: sess})
	client := &http.Client{Timeout: 10 * time.Second}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(resp.Body)
	return resp, string(body), rerr, time.Since(start)
}

// partialQuery answers a card query the way Metabase starts one (202,
// rows flushed) and then misbehaves with fault: the connection reset, or
// the stream stalled until the gate gives up.
func partialQuery(fault string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.Contains(r.URL.Path, "/dashcard/") {
			return false
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, `{"data":{"rows":[["acme",1],["acme",2]`)
		_ = http.NewResponseController(w).Flush()
		switch fault {
		case "reset":
			panic(http.ErrAbortHandler) // the server drops the connection mid-body
		case "stall":
			<-r.Context().Done()
		}
		return true
	}
}

// TestUpstreamCutMidStream: Metabase dies or stalls in the middle of a 202
// query body. The browser gets the 202 and the rows already sent, then a
// stream it can see is cut (an error reading the body, never a clean end
// of a truncated JSON document), fast; Metabase got the one request, with
// the caller's tenant locked.
func TestUpstreamCutMidStream(t *testing.T) {
	tests := []struct {
		fault  string
		within time.Duration
	}{
		{"reset", 2 * time.Second},
		{"stall", 3 * time.Second}, // upstream.timeout is 500ms below
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			h := newHarness(t, func(c *configs.Config) { c.Upstream.Timeout = 500 * time.Millisecond })
			sess := session("alice", "acme", time.Hour)
			handle := h.mint(sess, "dashboard", 1)
			h.mb.Reset()
			h.mb.SetOverride(partialQuery(tt.fault))

			resp, body, err, took := getThroughGate(t, h, "/api/embed/dashboard/"+handle+"/dashcard/11/card/1", sess)
			if resp.StatusCode != http.StatusAccepted {
				t.Errorf("status = %d, want Metabase's 202", resp.StatusCode)
			}
			if !strings.HasPrefix(body, `{"data":{"rows":[["acme",1]`) {
				t.Errorf("body = %q, want the rows Metabase sent before the fault", body)
			}
			if err == nil {
				t.Errorf("body read ended cleanly after %q: a cut stream must be visible as cut", body)
			} else if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Logf("body read error: %v", err)
			}
			if took > tt.within {
				t.Errorf("took %s, want under %s", took, tt.within)
			}
			got := h.mb.Requests()
			if len(got) != 1 {
				t.Fatalf("Metabase received %d requests, want 1", len(got))
			}
			if params, _ := got[0].Claims["params"].(map[string]any); params["organization_id"] != "acme" {
				t.Errorf("Metabase received params %v, want organization_id acme", got[0].Claims["params"])
			}
		})
	}
}

// TestUpstream5xxPassedThrough: a Metabase error is Metabase's answer,
// not the gate's: its status and body reach the browser (the embed
// frontend shows Metabase's own message), but never its cookies or the
// upstream token, and the answer is not cacheable. The gate's own
// upstream-unavailable/-timeout JSON is kept for failures to get an
// answer at all (TestUpstreamFailures).
func TestUpstream5xxPassedThrough(t *testing.T) {
	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			h := newHarness(t, nil)
			sess := session("alice", "acme", time.Hour)
			handle := h.mint(sess, "dashboard", 1)
			h.mb.Reset()
			var upstream string
			h.mb.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
				seg := strings.Split(r.URL.Path, "/")
				upstream = seg[4] // /api/embed/dashboard/{token}/...
				w.Header().Add("Set-Cookie", "metabase.SESSION=stolen; Path=/; HttpOnly")
				w.Header().Set("X-Debug-Token", upstream)
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(status)
				_, _ = io.WriteString(w, "Query failed: connection to warehouse lost")
				return true
			})
			resp, body, err, took := getThroughGate(t, h, "/api/embed/dashboard/"+handle+"/dashcard/11/card/1", sess)
			if err != nil {
				t.Fatalf("reading body: %v", err)
			}
			if resp.StatusCode != status || body != "Query failed: connection to warehouse lost" {
				t.Errorf("got %d %q, want Metabase's %d and its message", resp.StatusCode, body, status)
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
				t.Errorf("Set-Cookie passed: %v", c)
			}
			for k, vs := range resp.Header {
				for _, v := range vs {
					if upstream != "" && strings.Contains(v, upstream) {
						t.Errorf("header %s carries the upstream token", k)
					}
				}
			}
			if got := resp.Header.Get("X-Debug-Token"); got != handle {
				t.Errorf("X-Debug-Token = %q, want the handle in place of the token", got)
			}
			if got := resp.Header.Get("Cache-Control"); got != "private, no-store" {
				t.Errorf("Cache-Control = %q, want private, no-store", got)
			}
			if took > 2*time.Second {
				t.Errorf("took %s", took)
			}
			if n := len(h.mb.Requests()); n != 1 {
				t.Errorf("Metabase received %d requests, want 1 (no retry of a query)", n)
			}
		})
	}
}

// TestCutAnswerNotKept: an answer whose body Metabase cut (a reset) or the
// gate cut at the upstream deadline (a stall) is never kept or shared:
// neither by the asset cache nor by the micro-cache of merged queries. The
// harness serves through a ResponseRecorder, where the reverse proxy does
// not abort the handler on a cut body, so this holds without net/http's
// abort: the next identical request reaches Metabase again.
func TestCutAnswerNotKept(t *testing.T) {
	cut := func(fault, on string) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.Contains(r.URL.Path, on) {
				return false
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"data":{"rows":[["acme",1]`)
			_ = http.NewResponseController(w).Flush()
			if fault == "reset" {
				panic(http.ErrAbortHandler)
			}
			<-r.Context().Done()
			return true
		}
	}
	for _, fault := range []string{"reset", "stall"} {
		for _, tc := range []struct{ name, on, path string }{
			{"asset", "/app/dist/", "/app/dist/app.js"},
			{"merged query", "/dashcard/", ""},
		} {
			t.Run(fault+"/"+tc.name, func(t *testing.T) {
				h := newHarness(t, func(c *configs.Config) {
					c.Upstream.Timeout = 300 * time.Millisecond
					c.Protect.MicroCacheTTL = 10 * time.Second
				})
				sess := session("alice", "acme", time.Hour)
				path := tc.path
				if path == "" {
					path = "/api/embed/dashboard/" + h.mint(sess, "dashboard", 1) + "/dashcard/11/card/1"
				}
				h.mb.Reset()
				h.mb.SetOverride(cut(fault, tc.on))
				for i := range 2 {
					_ = h.do("GET", path, sess, nil)
					if n := len(h.mb.Requests()); n != i+1 {
						t.Fatalf("request %d: Metabase received %d requests, want %d: a cut answer was kept", i+1, n, i+1)
					}
				}
			})
		}
	}
}

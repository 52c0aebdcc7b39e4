package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawRequest writes req on a new connection to the gate and reads one
// response.
func rawRequest(t *testing.T, g *liveGate, req string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("writing request: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	return resp
}

// TestSlowlorisHeaders: a client that sends its headers a byte at a time
// is disconnected once TENANTGATE_READ_HEADER_TIMEOUT has passed, and a
// normal client is served meanwhile.
func TestSlowlorisHeaders(t *testing.T) {
	const timeout = 400 * time.Millisecond
	g := startGate(t, map[string]string{"TENANTGATE_READ_HEADER_TIMEOUT": timeout.String()})
	c, err := net.Dial("tcp", strings.TrimPrefix(g.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		_, _ = io.Copy(io.Discard, c) // returns when the server closes
		closed <- time.Since(start)
	}()
	go func() {
		for _, b := range []byte("GET /app/dist/app.js HTTP/1.1\r\nHost: gate\r\nX-Slow: " + strings.Repeat("a", 200)) {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	sess := sessionToken(t, sessKeyOld, "alice", "acme")
	if code, reason, _ := g.get(&http.Client{Timeout: 5 * time.Second}, "/.tenantgate/embed/dashboard/1", sess, "Accept", "application/json"); code != http.StatusOK {
		t.Errorf("a normal client beside the slow one: %d %s", code, reason)
	}
	select {
	case d := <-closed:
		if d < timeout || d > timeout+2*time.Second {
			t.Errorf("slow client disconnected after %s, want just past %s", d, timeout)
		}
	case <-time.After(timeout + 5*time.Second):
		t.Fatal("slow client still connected")
	}
}

// TestOversizedRequests: headers past TENANTGATE_MAX_HEADER_BYTES get the
// HTTP server's 431 before the gate runs; a path and query longer than
// twice TENANTGATE_MAX_TOKEN_BYTES get the gate's 431 request-too-large.
func TestOversizedRequests(t *testing.T) {
	g := startGate(t, nil)
	sess := sessionToken(t, sessKeyOld, "alice", "acme")
	tests := []struct {
		name, req  string
		status     int
		gateReason string
	}{
		{"huge header", "GET /app/dist/app.js HTTP/1.1\r\nHost: gate\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", 431, ""},
		{"many headers", "GET /app/dist/app.js HTTP/1.1\r\nHost: gate\r\n" + strings.Repeat("X-H: 0123456789012345678901234567890123456789\r\n", 1500) + "\r\n", 431, ""},
		{"huge query string", "GET /api/embed/dashboard/a.b.c?x=" + strings.Repeat("a", 100<<10) + " HTTP/1.1\r\nHost: gate\r\n\r\n", 431, ""},
		{"long query within the header limit", "GET /api/embed/dashboard/a.b.c/dashcard/1/card/1?parameters=" + strings.Repeat("a", 10<<10) + " HTTP/1.1\r\nHost: gate\r\nAuthorization: Bearer " + sess + "\r\n\r\n", 431, "request-too-large"},
		{"long path", "GET /api/embed/dashboard/" + strings.Repeat("a", 9000) + ".b.c HTTP/1.1\r\nHost: gate\r\nAuthorization: Bearer " + sess + "\r\n\r\n", 431, "request-too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := rawRequest(t, g, tt.req)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if tt.gateReason != "" && !strings.Contains(string(body), `"reason":"`+tt.gateReason+`"`) {
				t.Errorf("body = %s, want reason %s", body, tt.gateReason)
			}
		})
	}
}

// TestManyConnections: 1000 connections open at once on loopback, each
// sending one request when all are open: every one is answered, with the
// right answer, in bounded time.
func TestManyConnections(t *testing.T) {
	const n = 1000
	g := startGate(t, nil)
	sess := sessionToken(t, sessKeyOld, "alice", "acme")
	addr := strings.TrimPrefix(g.base, "http://")
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Go(func() {
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			path, want := "/.tenantgate/embed/dashboard/1", http.StatusOK
			if i%2 == 1 {
				path, want = "/api/setup", http.StatusForbidden
			}
			if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: gate\r\nAccept: application/json\r\nAuthorization: Bearer %s\r\n\r\n", path, sess); err != nil {
				errs <- fmt.Errorf("conn %d: write: %w", i, err)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				errs <- fmt.Errorf("conn %d: %w", i, err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				errs <- fmt.Errorf("conn %d: %s answered %d, want %d", i, path, resp.StatusCode, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d connections not answered correctly", failed, n)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("%d connections took %s", n, d)
	}
	t.Logf("%d concurrent connections answered in %s", n, time.Since(start).Round(time.Millisecond))
}

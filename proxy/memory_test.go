package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/auth"
)

// TestMemoryBound: after 100,000 distinct sessions and 1,000 concurrent
// connections the gate's memory stays bounded (every cache has a size),
// under 100 MB resident. It measures the test process itself, so CI runs
// it on its own (see .ci/run), not under the race detector.
func TestMemoryBound(t *testing.T) {
	if raceEnabled || os.Getenv("TENANTGATE_MEMORY_TEST") != "1" {
		t.Skip("set TENANTGATE_MEMORY_TEST=1 (and no -race) to run; .ci/run does")
	}
	_, gate, _ := overheadTargets(t)
	g := gate.(*Gate)
	keys, _ := auth.NewHandleKeyring([]string{testHandleKey}, time.Hour, 10, nil)

	// 100,000 sessions of 100 tenants, each minting and querying once.
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for i := w; i < 100_000; i += 4 {
				tenant := "t" + strconv.Itoa(i%100)
				sub := "user-" + strconv.Itoa(i)
				sess := session(sub, tenant, time.Hour)
				h, _, _ := keys.Seal(auth.Resource{Kind: auth.KindDashboard, ID: 1}, map[string]any{"organization_id": tenant}, tenant, sub)
				r := httptest.NewRequest("GET", "/api/embed/dashboard/"+h+"/dashcard/11/card/1", nil)
				r.Header.Set("Cookie", "session="+sess)
				rec := &discardWriter{h: http.Header{}}
				g.ServeHTTP(rec, r)
				if rec.code != http.StatusOK {
					t.Errorf("session %d: status %d", i, rec.code)
					return
				}
			}
		})
	}
	wg.Wait()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("after 100,000 sessions: heap in use %d MB", ms.HeapInuse>>20)

	// 1,000 concurrent connections, each held open (keep-alive) while we
	// measure. Raw connections keep the client side of this process small.
	srv := httptest.NewServer(g)
	defer srv.Close()
	sess := session("alice", "acme", time.Hour)
	h, _, _ := keys.Seal(auth.Resource{Kind: auth.KindDashboard, ID: 1}, map[string]any{"organization_id": "acme"}, "acme", "alice")
	reqText := "GET /api/embed/dashboard/" + h + "/dashcard/11/card/1 HTTP/1.1\r\nHost: gate\r\nCookie: session=" + sess + "\r\n\r\n"
	conns := make([]net.Conn, 1000)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			conns[i] = c
			if _, err := io.WriteString(c, reqText); err != nil {
				t.Error(err)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReaderSize(c, 512), nil)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
	wg.Wait()
	// The clients live in this process too; what is measured is the
	// process with every connection still open on both sides.
	debug.FreeOSMemory() // return freed pages, as the runtime does over time
	runtime.ReadMemStats(&ms)
	rss := residentBytes(t)
	t.Logf("after 100,000 sessions and 1,000 connections: heap in use %d MB, resident %d MB", ms.HeapInuse>>20, rss>>20)
	if rss > 100<<20 {
		t.Errorf("resident memory %d MB, want under 100 MB", rss>>20)
	}
}

// residentBytes reads this process's resident set size from /proc.
func residentBytes(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
)

// TestPerRequestHeaderValuesConcurrent: the request id and X-Forwarded-For
// are backed by each request's own scopeCtx, not by the pooled scope: under
// concurrent requests from different peers, Metabase gets each request's
// own values, and the browser the id Metabase got; nothing is shared or
// overwritten (run with -race).
func TestPerRequestHeaderValuesConcurrent(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) {
		c.Protect.DisableQueryMerging = true
		c.Protect.TenantRate, c.Protect.TenantBurst, c.Protect.TenantConcurrency = 1e9, 1e9, 1e6
	})
	sess := session("alice", "acme", time.Hour)
	handle := h.mint(sess, "dashboard", 1)
	h.mb.Reset()
	const n = 32
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest("GET", fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/1", handle, 11), nil)
			r.RemoteAddr = fmt.Sprintf("203.0.113.%d:5555", i+1)
			r.AddCookie(&http.Cookie{Name: "session", Value: sess})
			w := httptest.NewRecorder()
			h.stack.Gate.ServeHTTP(w, r)
			ids[i] = w.Header().Get("X-Request-Id")
			if w.Code != http.StatusOK && w.Code != http.StatusAccepted {
				t.Errorf("request %d: status %d", i, w.Code)
			}
		}()
	}
	wg.Wait()
	got := h.mb.Requests()
	if len(got) != n {
		t.Fatalf("Metabase got %d requests, want %d", len(got), n)
	}
	byID := map[string]string{}
	for _, r := range got {
		byID[r.Header.Get("X-Request-Id")] = r.Header.Get("X-Forwarded-For")
	}
	for i, id := range ids {
		if want := fmt.Sprintf("203.0.113.%d", i+1); byID[id] != want {
			t.Errorf("request %d (id %q): Metabase got X-Forwarded-For %q, want %q", i, id, byID[id], want)
		}
	}
}

// TestDeadlineWatcher: the request context's deadline (no runtime timer of
// its own) is reported by Deadline, cuts the context within a tick or two
// of it with DeadlineExceeded, cancels contexts derived from it (as the
// transport's is), ends with Canceled on release, and the one watcher
// goroutine exits once nothing is in flight.
func TestDeadlineWatcher(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	start := time.Now()
	c := &scopeCtx{s: &scope{}}
	r = withScope(r, c, start, 60*time.Millisecond)
	if d, ok := r.Context().Deadline(); !ok || !d.Equal(start.Add(60*time.Millisecond)) {
		t.Errorf("Deadline() = %v, %v; want start+60ms", d, ok)
	}
	child, cancelChild := context.WithCancel(r.Context())
	defer cancelChild()
	select {
	case <-child.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("not cut 2s after a 60ms deadline")
	}
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("cut after %v, before its 60ms deadline", took)
	}
	if err := r.Context().Err(); err != context.DeadlineExceeded {
		t.Errorf("Err() = %v, want DeadlineExceeded", err)
	}
	if cause := context.Cause(child); cause != context.DeadlineExceeded {
		t.Errorf("derived context's cause = %v, want DeadlineExceeded", cause)
	}
	c.release()

	// Released before its deadline: Canceled, never DeadlineExceeded.
	r2 := withScope(httptest.NewRequest("GET", "/", nil), &scopeCtx{s: &scope{}}, time.Now(), time.Hour)
	c2 := r2.Context().(*scopeCtx)
	c2.release()
	if err := r2.Context().Err(); err != context.Canceled {
		t.Errorf("released: Err() = %v, want Canceled", err)
	}
	deadlines.mu.Lock()
	listed := c2.listed || deadlines.head == c2
	deadlines.mu.Unlock()
	if listed {
		t.Errorf("a released request is still in the watcher's list")
	}
	for wait := time.Now(); ; time.Sleep(deadlineTick) {
		deadlines.mu.Lock()
		running, others := deadlines.running, deadlines.head != nil
		deadlines.mu.Unlock()
		if !running || others { // another test's requests in flight keep it running, rightly
			break
		}
		if time.Since(wait) > 2*time.Second {
			t.Fatal("the deadline watcher still runs 2s after the last request ended")
		}
	}
}

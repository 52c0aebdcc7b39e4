package proxy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
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

// closeCounter is a body whose Close the test can see.
type closeCounter struct{ n atomic.Int32 }

func (c *closeCounter) Close() error { c.n.Add(1); return nil }

// TestDeadlineWatcher: the watcher closes Metabase's body at the deadline
// (not before), a body arriving after it is closed at once and refused as
// a timeout, the request's context is the client's (no cancel of the
// gate's own), a released request leaves the list, and the watcher stops
// when none is left.
func TestDeadlineWatcher(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	start := time.Now()
	c := &scopeCtx{s: &scope{}}
	r = withScope(r, c, start, 60*time.Millisecond)
	if r.Context().Done() != nil || r.Context().Err() != nil {
		t.Errorf("the request's context has a cancellation of its own: Done %v, Err %v", r.Context().Done(), r.Context().Err())
	}
	body := &closeCounter{}
	if err := scopeOf(r).ctx.watchBody(body); err != nil {
		t.Fatalf("watchBody before the deadline: %v", err)
	}
	for body.n.Load() == 0 {
		if time.Since(start) > 2*time.Second {
			t.Fatal("body not closed 2s after a 60ms deadline")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("closed after %v, before its 60ms deadline", took)
	}
	late := &closeCounter{}
	if err := c.watchBody(late); !errors.Is(err, context.DeadlineExceeded) || late.n.Load() != 1 {
		t.Errorf("a body after the deadline: err %v, closed %d times; want DeadlineExceeded and closed", err, late.n.Load())
	}
	if kind, _ := classifyUpstream(r, errPastDeadline); kind != "timeout" {
		t.Errorf("errPastDeadline classified %q, want timeout", kind)
	}
	c.release()

	// Released before its deadline: unlisted, its body never closed.
	c2 := &scopeCtx{s: &scope{}}
	withScope(httptest.NewRequest("GET", "/", nil), c2, time.Now(), 30*time.Millisecond)
	kept := &closeCounter{}
	_ = c2.watchBody(kept)
	c2.release()
	deadlines.mu.Lock()
	listed := c2.listed || deadlines.head == c2
	deadlines.mu.Unlock()
	if listed {
		t.Errorf("a released request is still in the watcher's list")
	}
	time.Sleep(30*time.Millisecond + 3*deadlineTick)
	if kept.n.Load() != 0 {
		t.Errorf("a released request's body was closed by the watcher")
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

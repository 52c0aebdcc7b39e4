package proxy

import (
	"net/http"
	"sync"
)

// merger sends identical concurrent static-embed queries to Metabase once
// (Metabase does not merge them: issues 7217, 11199, 27652). The key is the
// upstream path, which holds the signed token and so the tenant and every
// locked param, plus the canonical query and the encodings the client
// accepts: nothing is shared between tenants or parameter values.
// Only a complete 2xx answer no larger than max is shared; otherwise each
// waiting caller asks Metabase itself.
type merger struct {
	max   int
	mu    sync.Mutex
	calls map[string]*mergeCall
}

type mergeCall struct {
	done   chan struct{}
	shared *sharedResponse // nil: not shareable, ask upstream yourself
}

type sharedResponse struct {
	status int
	header http.Header
	body   []byte
}

func newMerger(max int) *merger {
	return &merger{max: max, calls: map[string]*mergeCall{}}
}

// join returns the call in flight for key, or starts one (leader true).
func (m *merger) join(key string) (c *mergeCall, leader bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.calls[key]; ok {
		return c, false
	}
	c = &mergeCall{done: make(chan struct{})}
	m.calls[key] = c
	return c, true
}

// finish publishes the leader's answer (nil if not shareable) and lets the
// next identical request start a new call.
func (m *merger) finish(key string, c *mergeCall, res *sharedResponse) {
	m.mu.Lock()
	delete(m.calls, key)
	m.mu.Unlock()
	c.shared = res
	close(c.done)
}

// sharedHeaders are the response headers a follower may receive: nothing
// that names the leader (its request id, a renewed handle).
var sharedHeaders = []string{
	"Content-Type", "Content-Disposition", "Content-Encoding", "Cache-Control",
	"Content-Security-Policy", "X-Content-Type-Options", "X-Metabase-Version", "Vary",
}

// teeWriter passes the leader's response through, streaming, and keeps a
// copy up to max bytes for the followers.
type teeWriter struct {
	http.ResponseWriter
	max      int
	status   int
	header   http.Header
	body     []byte
	overflow bool
}

func (t *teeWriter) WriteHeader(code int) {
	if t.status == 0 {
		t.status = code
		t.header = make(http.Header, len(sharedHeaders))
		for _, k := range sharedHeaders {
			if v := t.ResponseWriter.Header().Values(k); len(v) > 0 {
				t.header[k] = append([]string(nil), v...)
			}
		}
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.WriteHeader(http.StatusOK)
	}
	if !t.overflow {
		if len(t.body)+len(b) > t.max {
			t.overflow, t.body = true, nil
		} else {
			t.body = append(t.body, b...)
		}
	}
	return t.ResponseWriter.Write(b)
}

func (t *teeWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (t *teeWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }

// result is what followers may get: a complete 2xx within the bound.
func (t *teeWriter) result(complete bool) *sharedResponse {
	if !complete || t.overflow || t.status < 200 || t.status > 299 {
		return nil
	}
	return &sharedResponse{status: t.status, header: t.header, body: t.body}
}

// writeTo answers a follower (merged, marked so in a header) or a cache hit.
func (s *sharedResponse) writeTo(w http.ResponseWriter, merged bool) {
	h := w.Header()
	for k, v := range s.header {
		h[k] = v
	}
	if merged {
		h.Set("X-Tenantgate-Merged", "1")
	}
	w.WriteHeader(s.status)
	_, _ = w.Write(s.body)
}

package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// merger sends identical concurrent static-embed queries to Metabase once
// (Metabase does not merge them: issues 7217, 11199, 27652). The key is the
// upstream path, which holds the signed token and so the tenant and every
// locked param, plus the canonical query and the encodings the client
// accepts: nothing is shared between tenants or parameter values.
// Only a complete 2xx answer no larger than max whose body says the query
// completed is shared; otherwise each waiting caller asks Metabase itself.
//
// With a micro-cache (ttl > 0), such an answer is also kept for ttl under
// the same key, so identical requests that arrive just after the call
// (a dashboard opened by many people at 9:00) are answered from memory.
type merger struct {
	max   int
	mu    sync.Mutex
	calls map[string]*mergeCall
	micro *responseCache // nil: no micro-cache
	ttl   time.Duration
}

type mergeCall struct {
	done      chan struct{}
	followers int             // joined while in flight; final once the call left calls
	shared    *sharedResponse // nil: not shareable, ask upstream yourself
}

type sharedResponse struct {
	status int
	header http.Header
	body   []byte
}

// newMerger merges answers up to max bytes; with ttl > 0 it also keeps
// them for ttl, in at most cacheBytes.
func newMerger(max int, ttl time.Duration, cacheBytes int) *merger {
	m := &merger{max: max, calls: map[string]*mergeCall{}, ttl: ttl}
	if ttl > 0 {
		m.micro = newResponseCache(cacheBytes, max)
	}
	return m
}

// join returns the call in flight for key, or starts one (leader true).
func (m *merger) join(key string) (c *mergeCall, leader bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.calls[key]; ok {
		c.followers++
		return c, false
	}
	c = &mergeCall{done: make(chan struct{})}
	m.calls[key] = c
	return c, true
}

// finish publishes the leader's answer (nil if not shareable) to its
// followers and the micro-cache, and lets the next identical request start
// a new call. The body is read for its status only when someone would get
// it: most calls have no follower.
func (m *merger) finish(key string, c *mergeCall, res *sharedResponse, now time.Time) {
	checked := res != nil && m.micro != nil
	if checked {
		// Kept before the call leaves calls: an identical request finds
		// the call or the cache, never neither.
		if completedQuery(res) {
			m.micro.put(key, res, now, now.Add(m.ttl))
		} else {
			res = nil
		}
	}
	m.mu.Lock()
	delete(m.calls, key)
	followers := c.followers
	m.mu.Unlock()
	if res != nil && !checked && followers > 0 && !completedQuery(res) {
		res = nil
	}
	c.shared = res
	close(c.done)
}

// completedQuery reports whether a query answer says it completed.
// Metabase sends its 202 before the query ends, so a failed query (the
// warehouse down, a timeout) is a 2xx whose body says "status":"failed":
// such an answer is the caller's own, never shared. A body compressed
// other than with gzip, or unreadable, is not shared either.
func completedQuery(res *sharedResponse) bool {
	var body io.Reader = bytes.NewReader(res.body)
	switch res.header.Get("Content-Encoding") {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return false
		}
		body = zr
	default:
		return false
	}
	// Walk the whole top-level object (a body cut anywhere is refused)
	// for its "status"; other values are skipped.
	dec := json.NewDecoder(body)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	status := ""
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return false
		}
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
		if k == "status" && json.Unmarshal(v, &status) != nil {
			return false
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		return false // something after the object
	}
	return status == "completed"
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

// writeTo answers a follower or a cache hit. A shared query answer is
// marked X-Tenantgate-Merged: "1" for a follower of a call in flight,
// "cached" (with its Age) for a micro-cache hit; mark "" marks nothing.
func (s *sharedResponse) writeTo(w http.ResponseWriter, mark string, age time.Duration) {
	h := w.Header()
	for k, v := range s.header {
		h[k] = v
	}
	if mark != "" {
		h.Set("X-Tenantgate-Merged", mark)
	}
	if mark == "cached" {
		h.Set("Age", strconv.Itoa(int(age.Seconds())))
	}
	w.WriteHeader(s.status)
	_, _ = w.Write(s.body)
}

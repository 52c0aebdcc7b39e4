package sso

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/metrics"
	"github.com/tenantgate/tenantgate/policy"
)

// Revocation (sso.revoke, reloaded on SIGHUP): Metabase can neither list
// nor end a user's sessions (issue 66369), and they outlive the SSO JWT by
// up to 14 days. So the gate refuses every sealed cookie, SDK handle and
// ticket a revocation covers (policy.Revoked on its tenant, subject and
// issue time), and ends the Metabase session behind a refused cookie or
// handle itself: DELETE /api/session with its key, best effort, once per
// key and gate. A revocation whose time is still to come also refuses new
// sign-ins (keptOut) until then. Every replica reads the same
// configuration, so they agree without shared state. Sessions nobody
// presents again are not ended at Metabase (the gate keeps no list of
// them); they die at Metabase's session age.

// endTimeout bounds one DELETE /api/session.
const endTimeout = 5 * time.Second

// maxEnded bounds the memory of keys already ended; past it, it starts
// over (a second DELETE of a key is harmless: Metabase answers 404).
const maxEnded = 4096

// endedKeys remembers the Metabase sessions this gate ended, by hash.
type endedKeys struct {
	mu   sync.Mutex
	keys map[[sha256.Size]byte]bool
}

// first reports whether key is seen for the first time, and remembers it.
func (e *endedKeys) first(key string) bool {
	h := sha256.Sum256([]byte(key))
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.keys[h] {
		return false
	}
	if e.keys == nil || len(e.keys) >= maxEnded {
		e.keys = map[[sha256.Size]byte]bool{}
	}
	e.keys[h] = true
	return true
}

// revoked decides whether a sealed value may still be used. A revoked one
// that holds a Metabase session key has that session ended first.
func (s *Surface) revoked(r *http.Request, sess *auth.SSOSession) policy.Decision {
	d := policy.Revoked(s.revocations, sess.Tenant, sess.Subject, time.Unix(sess.IssuedAt, 0))
	if !d.Allow && sess.Key != "" && s.ended.first(sess.Key) {
		s.endSession(r, sess)
	}
	return d
}

// keptOut refuses a sign-in while a revocation still to come covers the
// caller: it would be refused at its first use.
func (s *Surface) keptOut(who *auth.Identity) policy.Decision {
	return policy.Revoked(s.revocations, who.Tenant, who.Subject, s.now())
}

// endSession ends sess's Metabase session: DELETE /api/session with its
// key, detached from the client (which may leave) but bounded, and counts
// the result. It never fails the request: the sealed value is refused
// either way.
func (s *Surface) endSession(r *http.Request, sess *auth.SSOSession) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), endTimeout)
	defer cancel()
	result, status, err := s.deleteSession(ctx, s.host.RequestID(r), sess.Key)
	s.metrics.SSOSessionEnded(result)
	fields := []zap.Field{zap.String("request_id", s.host.RequestID(r)), zap.String("tenant", sess.Tenant),
		zap.String("subject", sess.Subject), zap.String("result", result), zap.Int("status", status)}
	if err != nil {
		s.log.Warn("sso: ending a revoked Metabase session failed; it lives until Metabase's session age", append(fields, zap.Error(err))...)
		return
	}
	s.log.Info("sso: ended a revoked Metabase session", fields...)
}

// deleteSession is Metabase's logout for one key: 204 ended, 404 (or 401)
// already gone.
func (s *Surface) deleteSession(ctx context.Context, requestID, key string) (string, int, error) {
	u := *s.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/session"
	u.RawPath, u.RawQuery = "", ""
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u.String(), nil)
	if err != nil {
		return metrics.SessionFailed, 0, errors.New("building the logout request")
	}
	req.Header.Set("X-Metabase-Session", key)
	req.Header.Set("X-Request-Id", requestID)
	resp, err := s.client.Do(req)
	if err != nil {
		return metrics.SessionFailed, 0, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNoContent, http.StatusOK:
		return metrics.SessionEnded, resp.StatusCode, nil
	case http.StatusNotFound, http.StatusUnauthorized:
		return metrics.SessionGone, resp.StatusCode, nil
	}
	return metrics.SessionFailed, resp.StatusCode, errors.New("Metabase answered " + http.StatusText(resp.StatusCode) + " to DELETE /api/session")
}

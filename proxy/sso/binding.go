package sso

import (
	"errors"
	"net/http"
	"time"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/policy"
)

// binding checks a sealed value's binding against the caller: its tenant,
// its subject, and the Metabase identity the caller's session renders now.
// The last one is what keeps a session to the Metabase user it was opened
// for: Metabase reads a user's attributes at request time, so a session is
// safe only while the caller would still sign in as that user (issue 12).
// A caller whose session renders no identity fails it too.
func (s *Surface) binding(sess *auth.SSOSession, who *auth.Identity, tenantReason, subjectReason policy.Reason, mismatch string) policy.Decision {
	email, err := s.minter.Email(who)
	tenantOK, subjectOK, emailOK := sess.BoundTo(who.Tenant, who.Subject, email)
	switch {
	case !tenantOK:
		return policy.Decision{Reason: tenantReason, Mismatch: mismatch, Detail: "sealed for another tenant"}
	case !subjectOK:
		return policy.Decision{Reason: subjectReason, Detail: "sealed for another user"}
	case err != nil:
		return policy.Decision{Reason: subjectReason, Detail: "the caller's session gives no Metabase identity: " + err.Error()}
	case !emailOK:
		return policy.Decision{Reason: subjectReason, Detail: "sealed for another Metabase identity"}
	}
	return allowed
}

// session opens the caller's Metabase session: the SDK's handle in
// X-Metabase-Session if present, else the interactive cookie (pages use
// the cookie only). It reports whether the cookie was used.
func (s *Surface) session(r *http.Request, who *auth.Identity, cookieOnly bool) (*auth.SSOSession, bool, policy.Decision) {
	purpose, val := "", ""
	if hs := r.Header.Values("X-Metabase-Session"); len(hs) > 0 && !cookieOnly {
		if len(hs) > 1 {
			return nil, false, policy.Decision{Reason: policy.ReasonSSOSessionInvalid, Detail: "two X-Metabase-Session headers"}
		}
		purpose, val = auth.SealSDK, hs[0]
	} else if c, err := r.Cookie(CookieName); err == nil {
		purpose, val = auth.SealCookie, c.Value
	} else {
		return nil, false, policy.Decision{Reason: policy.ReasonSSORequired, Detail: "no sealed Metabase session"}
	}
	fromCookie := purpose == auth.SealCookie
	sess, err := s.sealer.OpenSession(purpose, val)
	switch {
	case errors.Is(err, auth.ErrSealExpired):
		return nil, fromCookie, policy.Decision{Reason: policy.ReasonSSOSessionExpired, Detail: err.Error()}
	case err != nil:
		return nil, fromCookie, policy.Decision{Reason: policy.ReasonSSOSessionInvalid, Detail: purpose + ": " + err.Error()}
	}
	// Revocation first: a revoked session's Metabase session is ended
	// whoever presents it.
	if d := s.revoked(r, sess); !d.Allow {
		return nil, fromCookie, d
	}
	return sess, fromCookie, s.binding(sess, who, policy.ReasonSSOSessionMismatch, policy.ReasonSSOSessionMismatch, "handle")
}

// cookie is the sealed session cookie: HttpOnly, Secure over TLS (and
// always when SameSite=None or Partitioned, which browsers require),
// scoped to the gate's prefix. An empty value clears it.
func (s *Surface) cookie(r *http.Request, value string, exp time.Time) *http.Cookie {
	c := &http.Cookie{Name: CookieName, Value: value, Path: s.cookiePath, HttpOnly: true,
		SameSite: s.sameSite, Partitioned: s.partitioned,
		Secure: s.host.Secure(r) || s.sameSite == http.SameSiteNoneMode || s.partitioned}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = exp.UTC()
	}
	return c
}

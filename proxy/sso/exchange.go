package sso

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/policy"
)

// signIn mints an SSO JWT for who, exchanges it with Metabase (client ""
// for the browser flow, else the SDK's X-Metabase-Client) and seals the
// session for purpose, bound to who. It returns the sealed value and its
// expiry, or a denial.
func (s *Surface) signIn(r *http.Request, who *auth.Identity, client, purpose, returnTo string) (string, time.Time, policy.Decision) {
	if d := s.keptOut(who); !d.Allow {
		return "", time.Time{}, d
	}
	tok, claims, err := s.minter.Mint(who)
	if d, refused := mintRefusal(err); refused {
		return "", time.Time{}, d
	}
	if err != nil {
		return "", time.Time{}, policy.Decision{Reason: policy.ReasonInternal, Detail: err.Error()}
	}
	key, err := s.exchange(r.Context(), s.host.RequestID(r), tok, client, r.Header.Get("X-Metabase-Client-Version"), returnTo)
	if err != nil {
		return "", time.Time{}, policy.Decision{Reason: policy.ReasonSSOExchangeFailed, Detail: err.Error()}
	}
	now := s.now()
	exp := now.Add(sessionMax)
	if who.Source == "jwt" && !who.Expiry.IsZero() && who.Expiry.Before(exp) {
		exp = who.Expiry
	}
	email, _ := claims["email"].(string)
	sealed, err := s.sealer.SealSession(purpose, auth.SSOSession{Key: key, Tenant: who.Tenant, Subject: who.Subject,
		Email: email, IssuedAt: now.Unix(), ExpiresAt: exp.Unix()})
	if err != nil {
		return "", time.Time{}, policy.Decision{Reason: policy.ReasonInternal, Detail: err.Error()}
	}
	return sealed, exp, allowed
}

// mintRefusal maps the minter's identity errors to denials.
func mintRefusal(err error) (policy.Decision, bool) {
	switch {
	case errors.Is(err, auth.ErrSSOReserved):
		return policy.Decision{Reason: policy.ReasonReservedValue, Detail: err.Error()}, true
	case errors.Is(err, auth.ErrSSOIdentity):
		return policy.Decision{Reason: policy.ReasonClaimMissing, Detail: err.Error()}, true
	}
	return policy.Decision{}, false
}

// The gate's own exchange. The interactive flow always uses GET
// /auth/sso?jwt=&return_to= (it needs Metabase's 302 and its cookie). The
// SDK flow uses POST /auth/sso {"jwt"} when Metabase serves it (since 2026),
// which keeps the SSO JWT out of Metabase's access log (Metabase issue
// 82714), and GET before: sso.exchange_method post, get, or auto. Auto posts
// until Metabase refuses a JWT POST (400 or 501, "POST not valid for JWT SSO
// requests"), then uses GET, at once for that sign-in and for the rest of
// this gate's life (a reload posts again once).

// Exchange methods (sso.exchange_method).
const (
	methodAuto = "auto"
	methodPost = "post"
	methodGet  = "get"
)

// errPostRefused: Metabase refused the JWT POST, as Metabase before 2026
// does.
var errPostRefused = errors.New("Metabase refused POST /auth/sso for JWT (a Metabase before 2026): set sso.exchange_method to get or auto")

// exchange hands the SSO JWT to Metabase and returns the session key: from
// the metabase.SESSION cookie of its 302 (browser flow, client ""), or from
// the JSON id (SDK flow). Errors never quote the JWT.
func (s *Surface) exchange(ctx context.Context, requestID, jwt, client, version, returnTo string) (string, error) {
	if client == "" || s.method == methodGet || (s.method == methodAuto && s.postRefused.Load()) {
		return s.exchangeOnce(ctx, http.MethodGet, requestID, jwt, client, version, returnTo)
	}
	key, err := s.exchangeOnce(ctx, http.MethodPost, requestID, jwt, client, version, "")
	if errors.Is(err, errPostRefused) && s.method == methodAuto {
		if !s.postRefused.Swap(true) {
			s.log.Warn("sso: Metabase refuses POST /auth/sso for JWT (a Metabase before 2026): exchanging by GET from now on, which puts the SSO JWT in Metabase's access log; upgrade Metabase, or set sso.exchange_method get to say so")
		}
		return s.exchangeOnce(ctx, http.MethodGet, requestID, jwt, client, version, returnTo)
	}
	return key, err
}

// exchangeOnce is one exchange by method.
func (s *Surface) exchangeOnce(ctx context.Context, method, requestID, jwt, client, version, returnTo string) (string, error) {
	u := *s.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + "/auth/sso"
	u.RawPath = ""
	var body io.Reader
	if method == http.MethodPost {
		b, err := json.Marshal(map[string]string{"jwt": jwt})
		if err != nil {
			return "", errors.New("building the SSO request body")
		}
		body = bytes.NewReader(b)
	} else {
		q := url.Values{"jwt": {jwt}}
		if client == "" {
			q.Set("return_to", returnTo)
		}
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return "", errors.New("building the SSO request")
	}
	req.Header.Set("X-Request-Id", requestID)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	if client != "" {
		req.Header.Set("X-Metabase-Client", client)
		if version != "" && len(version) <= 64 {
			req.Header.Set("X-Metabase-Client-Version", version)
		}
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its text holds the URL, hence the JWT
			err = ue.Err
		}
		return "", fmt.Errorf("SSO exchange with Metabase: %v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	// The browser flow's answer is a 302 with the session cookie. So is an
	// older Metabase's answer to the SDK's exchange when it wants what the
	// gate does not send: ≤0.52 its token=true, ≈0.53–0.56 the discovery's
	// single-use hash. The session is the same; take it from the cookie.
	if client == "" || resp.StatusCode == http.StatusFound {
		if resp.StatusCode != http.StatusFound {
			return "", fmt.Errorf("Metabase answered %d to the SSO exchange: %.200q", resp.StatusCode, answer)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "metabase.SESSION" && c.Value != "" {
				return c.Value, nil
			}
		}
		return "", errors.New("Metabase's SSO answer set no metabase.SESSION cookie")
	}
	if method == http.MethodPost && postRefused(resp.StatusCode, answer) {
		return "", errPostRefused
	}
	var res struct {
		Status string `json:"status"`
		ID     string `json:"id"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(answer, &res) != nil || res.Status != "ok" || res.ID == "" {
		return "", fmt.Errorf("Metabase answered %d to the SDK's SSO exchange (%s) without a session: %.200q", resp.StatusCode, method, answer)
	}
	return res.ID, nil
}

// postRefused reports whether Metabase's answer to a JWT POST is its
// refusal of the method (400 before, 501 error-post-jwt-not-valid later),
// not a refusal of the JWT (401) or of the flavour (402).
func postRefused(status int, body []byte) bool {
	if status != http.StatusBadRequest && status != http.StatusNotImplemented {
		return false
	}
	var e struct {
		Status  string `json:"status"`
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Status == "error-post-jwt-not-valid" || strings.Contains(e.Message, "POST not valid for JWT") ||
		bytes.Contains(body, []byte("POST not valid for JWT"))
}

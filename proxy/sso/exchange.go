package sso

import (
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

// exchange calls Metabase's GET /auth/sso with the SSO JWT and returns the
// session key: from the metabase.SESSION cookie of its 302 (browser flow),
// or from the JSON id (SDK flow). Errors never quote the JWT.
func (s *Surface) exchange(ctx context.Context, requestID, jwt, client, version, returnTo string) (string, error) {
	u := *s.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + "/auth/sso"
	u.RawPath = ""
	q := url.Values{"jwt": {jwt}}
	if client == "" {
		q.Set("return_to", returnTo)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", errors.New("building the SSO request")
	}
	req.Header.Set("X-Request-Id", requestID)
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
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if client == "" {
		if resp.StatusCode != http.StatusFound {
			return "", fmt.Errorf("Metabase answered %d to the SSO exchange: %.200q", resp.StatusCode, body)
		}
		for _, c := range resp.Cookies() {
			if c.Name == "metabase.SESSION" && c.Value != "" {
				return c.Value, nil
			}
		}
		return "", errors.New("Metabase's SSO answer set no metabase.SESSION cookie")
	}
	var res struct {
		Status string `json:"status"`
		ID     string `json:"id"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Status != "ok" || res.ID == "" {
		return "", fmt.Errorf("Metabase answered %d to the SDK's SSO exchange without a session: %.200q", resp.StatusCode, body)
	}
	return res.ID, nil
}

package sso

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/policy"
)

// The SDK's handshake, as the SDK and embed.js run it (contract §4):
// discovery (GET /auth/sso), the app's JWT provider (here the gate's,
// GET /.tenantgate/sdk/jwt?response=json), then the exchange (POST
// /auth/sso {"jwt"} since 2026, GET /auth/sso?jwt= before). The "jwt" the
// browser carries is a ticket: sealed, single use, bound to the caller,
// holding no Metabase credential. The gate mints the real SSO JWT only
// when the ticket comes back, for the caller of that request.

type sdkJWTResponse struct {
	JWT string `json:"jwt"`
}

// sdkSession is the exchange's answer, Metabase's shape with the sealed
// handle as the id.
type sdkSession struct {
	Status string `json:"status"`
	ID     string `json:"id"`
	Exp    int64  `json:"exp"`
	Iat    int64  `json:"iat"`
}

// serveSDKJWT is the SDK's JWT provider (GET /.tenantgate/sdk/jwt
// ?response=json): a short-lived ticket sealed for the caller.
func (s *Surface) serveSDKJWT(w http.ResponseWriter, r *http.Request) {
	for k, vs := range r.URL.Query() {
		if k != "response" || len(vs) != 1 || vs[0] != "json" {
			s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "the JWT provider takes only response=json"})
			return
		}
	}
	who := s.identify(w, r)
	if who == nil {
		return
	}
	if d := s.keptOut(who); !d.Allow {
		s.host.Deny(w, r, d)
		return
	}
	email, err := s.minter.Email(who)
	if d, refused := mintRefusal(err); refused {
		s.host.Deny(w, r, d)
		return
	}
	if err != nil {
		s.host.Fail(w, r, err)
		return
	}
	now := s.now()
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		s.host.Fail(w, r, fmt.Errorf("SDK ticket: reading an id: %w", err))
		return
	}
	ticket, err := s.sealer.SealSession(auth.SealTicket, auth.SSOSession{Tenant: who.Tenant, Subject: who.Subject,
		Email: email, ID: hex.EncodeToString(id[:]), IssuedAt: now.Unix(), ExpiresAt: now.Add(auth.SSOTokenLifetime).Unix()})
	if err != nil {
		s.host.Fail(w, r, err)
		return
	}
	s.host.Decided(r, allowed)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, sdkJWTResponse{JWT: ticket})
}

// serveAuth answers the SDK's /auth/sso as Metabase would: GET without
// jwt is the discovery {"url", "method"}; a ticket the gate issued to this
// caller, in GET's jwt or in POST's JSON body {"jwt": ...} (the SDK since
// 2026, Metabase PRs 72798, 73462, 75656), is answered a sealed session
// handle as the "id". Both forms take the same checks. The browser flow
// (no X-Metabase-Client) is refused: the gate signs browsers in itself.
func (s *Surface) serveAuth(w http.ResponseWriter, r *http.Request) {
	client := r.Header.Get("X-Metabase-Client")
	if !sdkClients[client] {
		s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonRouteNotAllowed, Detail: "/auth/sso from a browser: the gate signs in server side"})
		return
	}
	ticket, d := authTicket(w, r)
	if !d.Allow {
		s.host.Deny(w, r, d)
		return
	}
	who := s.identify(w, r)
	if who == nil {
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if ticket == "" {
		origin, d := s.publicOrigin(r)
		if !d.Allow {
			s.host.Deny(w, r, d)
			return
		}
		s.host.Decided(r, d)
		writeJSON(w, http.StatusOK, map[string]string{"url": origin + s.prefix + "/.tenantgate/sdk/jwt", "method": "jwt"})
		return
	}
	t, err := s.sealer.OpenSession(auth.SealTicket, ticket)
	if err != nil {
		s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonSSOTokenInvalid, Detail: "SDK ticket: " + err.Error()})
		return
	}
	if d := s.revoked(r, t); !d.Allow {
		s.host.Deny(w, r, d)
		return
	}
	if d := s.binding(t, who, policy.ReasonTenantMismatch, policy.ReasonSubjectMismatch, "token"); !d.Allow {
		s.host.Deny(w, r, d)
		return
	}
	// Used only once its binding held: someone else holding the ticket
	// cannot spend it for its owner.
	if err := s.tickets.use(t.ID, t.ExpiresAt, s.now().Unix()); err != nil {
		s.host.Deny(w, r, policy.Decision{Reason: policy.ReasonSSOTokenInvalid, Detail: "SDK ticket: " + err.Error()})
		return
	}
	sealed, exp, d := s.signIn(r, who, client, auth.SealSDK, "")
	s.host.Decided(r, d)
	if !d.Allow {
		s.host.Deny(w, r, d)
		return
	}
	writeJSON(w, http.StatusOK, sdkSession{Status: "ok", ID: sealed, Exp: exp.Unix(), Iat: s.now().Unix()})
}

// authTicket reads the ticket of an /auth/sso request: GET's jwt (""
// for the discovery), with preferred_method=jwt at most; or POST's body,
// with no query at all, so the ticket never rides in a URL next to a body.
func authTicket(w http.ResponseWriter, r *http.Request) (string, policy.Decision) {
	if r.Method == http.MethodPost {
		if r.URL.RawQuery != "" {
			return "", policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "POST /auth/sso takes no query: the jwt goes in the JSON body"}
		}
		t, err := readJWTBody(w, r)
		if err != nil {
			reason := policy.ReasonMalformedRequest
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				reason = policy.ReasonRequestTooLarge
			}
			return "", policy.Decision{Reason: reason, Detail: "POST /auth/sso: " + err.Error()}
		}
		return t, allowed
	}
	q := r.URL.Query()
	for k, vs := range q {
		switch {
		case len(vs) != 1 || (k != "jwt" && k != "preferred_method"):
			return "", policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "/auth/sso takes jwt and preferred_method=jwt, once each"}
		case k == "preferred_method" && vs[0] != "jwt":
			return "", policy.Decision{Reason: policy.ReasonParamNotAllowed, Detail: "preferred_method must be jwt: the gate signs in with JWT SSO only, never SAML or another method"}
		}
	}
	if q.Has("jwt") && q.Get("jwt") == "" {
		return "", policy.Decision{Reason: policy.ReasonSSOTokenInvalid, Detail: "empty jwt"}
	}
	return q.Get("jwt"), allowed
}

// maxAuthBody bounds POST /auth/sso's body: a ticket is at most 4 KiB
// sealed (auth's maxSealedBytes), and the JSON around it is small.
const maxAuthBody = 8 << 10

// readJWTBody parses a body of exactly {"jwt": "<string>"}, Content-Type
// application/json (charset utf-8 at most): no other or second key,
// nothing after it. A duplicate key is refused, not resolved: two parsers
// could otherwise read two different values.
func readJWTBody(w http.ResponseWriter, r *http.Request) (string, error) {
	if err := jsonContentType(r); err != nil {
		return "", err
	}
	var jwt string
	err := readObject(w, r, func(k string, dec *json.Decoder) error {
		if k != "jwt" || jwt != "" {
			return errors.New(`the body takes one key, "jwt", once`)
		}
		v, err := dec.Token()
		s, isString := v.(string)
		if err != nil || !isString || s == "" {
			return bodyError(err, `"jwt" must be a non-empty string`)
		}
		jwt = s
		return nil
	})
	if err != nil {
		return "", err
	}
	if jwt == "" {
		return "", errors.New(`the body has no "jwt"`)
	}
	return jwt, nil
}

// jsonContentType accepts one Content-Type, application/json, with at most
// charset=utf-8.
func jsonContentType(r *http.Request) error {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" || len(r.Header.Values("Content-Type")) != 1 {
		return errors.New("the body must be Content-Type application/json")
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return errors.New("the body's Content-Type takes only charset=utf-8")
		}
	}
	return nil
}

// readObject reads r's body (at most maxAuthBody bytes) as one JSON object
// and nothing after it, calling field for each key; field reads the value.
func readObject(w http.ResponseWriter, r *http.Request, field func(string, *json.Decoder) error) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAuthBody))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bodyError(err, "the body must be one JSON object")
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return bodyError(err, "the body must be one JSON object")
		}
		key, _ := k.(string) // the decoder gives only strings as keys
		if err := field(key, dec); err != nil {
			return err
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return bodyError(err, "the body must be one JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return bodyError(err, "the body must hold nothing after its object")
	}
	return nil
}

// bodyError keeps a body-too-large error (errors.As finds it), else says
// what the body must be.
func bodyError(err error, want string) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return fmt.Errorf("body over %d bytes: %w", maxAuthBody, err)
	}
	return errors.New(want)
}

// publicOrigin is the origin browsers reach the gate at, for the absolute
// URL the SDK's discovery must answer (the 0.55 SDK calls new URL(url)
// with no base, so a relative one breaks it): TENANTGATE_PUBLIC_URL, else
// X-Forwarded-Proto and -Host when a trusted proxy set them, one valid value
// each. Never the client's Host: a page could then send the SDK's next
// request (with the app's cookies) to an origin of its choosing. With
// neither it fails closed, public-url-unknown.
func (s *Surface) publicOrigin(r *http.Request) (string, policy.Decision) {
	if s.origin != "" {
		return s.origin, allowed
	}
	if s.host.FromTrustedProxy(r) {
		proto, host := r.Header.Values("X-Forwarded-Proto"), r.Header.Values("X-Forwarded-Host")
		if len(proto) == 1 && len(host) == 1 && (proto[0] == "http" || proto[0] == "https") && validHost(host[0]) {
			return proto[0] + "://" + strings.ToLower(host[0]), allowed
		}
	}
	return "", policy.Decision{Reason: policy.ReasonPublicURLUnknown,
		Detail: "the SDK's discovery needs the gate's public origin: set TENANTGATE_PUBLIC_URL, or have a trusted proxy (TENANTGATE_TRUSTED_PROXIES) send one X-Forwarded-Proto and X-Forwarded-Host"}
}

// validHost accepts a DNS name or IPv4 address with an optional port, or a
// bracketed IPv6 address with one: nothing that could end the origin early
// (no "/", "@", "?", "#", "\\" or spaces).
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	name, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 || net.ParseIP(h[1:end]) == nil {
			return false
		}
		name, port = "", h[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		name, port = h[:i], h[i:]
	}
	if port != "" {
		n, err := strconv.Atoi(port[1:])
		if err != nil || n < 1 || n > 65535 || port[1] == '0' {
			return false
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return name != "" || strings.HasPrefix(h, "[")
}

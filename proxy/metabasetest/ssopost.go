package metabasetest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
)

// POST /auth/sso with a JSON body {"jwt": ...} (Metabase PRs 72798, 73462,
// 75656, 2026; contract §8): the SDK and embed.js send the JWT in the body
// instead of GET's query, which keeps it out of access logs (issue 82714).
// Metabase serves it as it serves GET for those clients: the same checks,
// the same {"status": "ok", "id", "exp", "iat"} answer. Its params are the
// query's and the body's merged (Ring's params), the body's winning, so a
// POST with the jwt in its query still signs in: a hole the gate must not
// forward. Before 2026 (SSOOptions.RefusePOST) Metabase refused every JWT
// POST with 501 error-post-jwt-not-valid. A POST without an SDK client is
// refused as before (POST is SAML's, for the browser flow).

// msgPostNotValid is Metabase's text for a JWT POST it does not serve.
const msgPostNotValid = "POST not valid for JWT SSO requests"

// maxSSOBody bounds what the stand-in reads of a POST /auth/sso body.
const maxSSOBody = 64 << 10

// readSSOBody reads the body of POST /auth/sso, for the request record
// (Request.Body) and the handler, and puts it back for the handler.
func readSSOBody(r *http.Request, path string) string {
	if r.Method != http.MethodPost || path != "/auth/sso" || r.Body == nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, maxSSOBody))
	r.Body = io.NopCloser(bytes.NewReader(b))
	return string(b)
}

// acceptSSOPost reports whether a POST /auth/sso is served like GET; if
// not it has answered as Metabase does.
func (s *Server) acceptSSOPost(w http.ResponseWriter, r *http.Request) bool {
	c := r.Header.Get("X-Metabase-Client")
	switch {
	case s.opts.SSO.RefusePOST:
		writeSSOError(w, http.StatusNotImplemented, msgPostNotValid, "error-post-jwt-not-valid")
		return false
	case c != "embedding-sdk-react" && c != "embedding-simple":
		writeSSOError(w, http.StatusBadRequest, msgPostNotValid, "error")
		return false
	}
	return true
}

// ssoParams are an /auth/sso request's params: the query's, and for a POST
// with a JSON object body its top-level string values over them.
func ssoParams(r *http.Request) url.Values {
	q := r.URL.Query()
	if r.Method != http.MethodPost || r.Body == nil {
		return q
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return q
	}
	var body map[string]any
	if json.NewDecoder(io.LimitReader(r.Body, maxSSOBody)).Decode(&body) != nil {
		return q
	}
	for k, v := range body {
		if s, ok := v.(string); ok {
			q.Set(k, s)
		}
	}
	return q
}

// serveLogout is DELETE /api/session (Metabase's "Logout."): it deletes the
// session named by the request's session key (found in Metabase's order)
// and answers 204, clearing metabase.SESSION; no key, or no such session,
// is 404. The gate calls it to end the Metabase sessions of a revoked
// sealed session (Metabase has no other way to revoke one, issue 66369).
// It reports false for any other request.
func (s *Server) serveLogout(w http.ResponseWriter, r *http.Request, path string) bool {
	if r.Method != http.MethodDelete || path != "/api/session" {
		return false
	}
	key, present := sessionKey(r)
	s.sso.mu.Lock()
	_, alive := s.sso.sessions[key]
	if alive {
		delete(s.sso.sessions, key)
	}
	s.sso.mu.Unlock()
	s.securityHeaders(w.Header(), false, "")
	if !present || !alive {
		writeText(w, http.StatusNotFound, msgNotFound)
		return true
	}
	http.SetCookie(w, &http.Cookie{Name: "metabase.SESSION", Value: "", Path: "/", MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
	return true
}

// The hash of a Metabase ≈0.53–0.56 (token_utils.clj): discovery answers
// a fresh "hash", and the SDK's exchange gets its JSON answer only with a
// valid one in X-Metabase-SDK-JWT-Hash. The stand-in's hashes are random
// and single use.

// withHash adds a fresh hash to a discovery answer in the hash era.
func (s *Server) withHash(answer map[string]any) map[string]any {
	if !s.opts.SSO.HashEra {
		return answer
	}
	h := newUUID()
	s.sso.mu.Lock()
	if s.sso.hashes == nil {
		s.sso.hashes = map[string]bool{}
	}
	s.sso.hashes[h] = true
	s.sso.mu.Unlock()
	answer["hash"] = h
	return answer
}

// hashAccepted reports whether an SDK exchange gets the JSON session
// answer: always outside the hash era; in it, only with a valid hash
// (spent), else Metabase answers as the browser flow.
func (s *Server) hashAccepted(r *http.Request) bool {
	if !s.opts.SSO.HashEra {
		return true
	}
	h := r.Header.Get("X-Metabase-Sdk-Jwt-Hash")
	s.sso.mu.Lock()
	defer s.sso.mu.Unlock()
	if h == "" || !s.sso.hashes[h] {
		return false
	}
	delete(s.sso.hashes, h)
	return true
}

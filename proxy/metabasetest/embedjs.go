package metabasetest

import (
	_ "embed" // the embed.js script and its iframe page
	"net/http"
	"strings"
)

// Modular embedding (Embedded Analytics JS, "embed.js"), as Metabase 58
// and later ship it, read from Metabase's source (embedding-sdk-bundle's
// embed.ts, the EE EmbedAuthManager, auth-common's jwt.ts and
// connect-to-instance-auth-sso.ts, iframe-sdk's constants and types,
// metabase.server.routes). The stand-in models the protocol in its own
// script (embedjs/embed.js) and page (embedjs/sdk.html); it copies none of
// Metabase's code.
//
// The script. A host page loads {instance}/app/embed.js, sets
// window.metabaseConfig (the docs' defineMetabaseConfig(config) is that
// assignment) to {instanceUrl, isGuest?, guestEmbedProviderUri?,
// preferredAuthMethod?, jwtProviderUri?, theme?, locale?, ...} and places
// custom elements: <metabase-dashboard dashboard-id=... | token=...> and
// <metabase-question question-id=... | token=...> (also metabase-browser
// and metabase-metabot, not modelled). Attributes are kebab-case, sent
// camelCase. Each element appends an iframe on
// {instanceUrl}/embed/sdk/v1?embed-js-identifier={n} (n counts iframes, so
// they load in parallel) and listens for messages whose source is that
// iframe's window.
//
// The messages (all posted with targetOrigin "*"). The iframe posts
// metabase.embed.iframeReady once loaded; embed.js answers
// metabase.embed.setSettings {data: the element's properties, functions
// and pluginsConfig dropped}. In SSO mode the iframe posts
// metabase.embed.requestSessionToken; embed.js runs the JWT handshake
// itself, in the host page, and answers
// metabase.embed.submitSessionToken {authMethod: "jwt", sessionToken:
// {id, exp, iat, status}} or metabase.embed.reportAuthenticationError
// {error}. In guest mode, when the token's exp (decoded from the JWT) has
// passed, the iframe posts metabase.embed.requestGuestTokenRefresh
// {expiredToken}; embed.js answers metabase.embed.submitRefreshedGuestToken
// {guestToken}. The iframe checks no origin (Metabase's isWithinIframe
// only): any window that can post to it can feed it settings or a session.
//
// The host page's HTTP calls, SSO mode (X-Metabase-Client:
// embedding-simple on the Metabase ones):
//  1. GET {instanceUrl}/auth/sso[?preferred_method=jwt], no credentials
//     option (so the cookies of a same-origin instance only): the
//     discovery, answered {method: "jwt", url, hash?};
//  2. GET {url, resolved against the host page}?response=json with
//     credentials "include": the app's JWT provider, answered {jwt};
//  3. POST {instanceUrl}/auth/sso, Content-Type application/json, body
//     {"jwt": ...}, X-Metabase-SDK-JWT-Hash when the discovery gave a
//     hash: the exchange, answered the session {id, exp, ...}, which must
//     have a string id and a number exp.
//
// Guest mode: the element's token attribute is a guest (static) embed JWT
// {resource: {dashboard|question: id}, params, exp} signed with the
// embedding secret. With guestEmbedProviderUri and no token, embed.js
// first POSTs {entityType: "dashboard"|"question", entityId, customContext?}
// to guestEmbedProviderUri?response=json (resolved against the host page,
// credentials "include") and expects {jwt}; it refreshes an expired token
// the same way, taking entityId from the attribute or else from the
// expired JWT's resource.
//
// The iframe's HTTP calls, to its own origin, X-Metabase-Client:
// embedding-simple: in SSO mode the API with X-Metabase-Session: the
// session's id (GET /api/user/current and /api/session/properties, then
// for a question GET /api/card/{id}, GET /api/card/{id}/query_metadata,
// POST /api/card/{id}/query; for a dashboard GET /api/dashboard/{id}, GET
// /api/dashboard/{id}/query_metadata, POST
// /api/dashboard/{id}/dashcard/{dc}/card/{card}/query), signing in again
// once on a 401; in guest mode GET /api/embed/card/{token} and
// /api/embed/card/{token}/query, or /api/embed/dashboard/{token} and
// /api/embed/dashboard/{token}/dashcard/{dc}/card/{card}, with no session.
//
// Metabase serves /embed/sdk/v1 (exactly: GET "/sdk/v1" under /embed) as
// its embed-sdk entrypoint, an embeddable page; any other /embed/* path is
// the static embed app, and the query is ignored. /app/embed.js is a file
// under /app, not content-hashed, so not cached far-future.

//go:embed embedjs/embed.js
var embedJS []byte

//go:embed embedjs/sdk.html
var embedSDKPage string

func init() {
	staticAssets["/app/embed.js"] = staticAsset{"text/javascript; charset=utf-8", func() []byte { return embedJS }}
}

// serveEmbedSDK answers GET /embed/sdk/v1, modular embedding's iframe page,
// whatever its query (as Metabase does). It reports false for any other
// request.
func (s *Server) serveEmbedSDK(w http.ResponseWriter, r *http.Request, path string) bool {
	if path != "/embed/sdk/v1" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	nonce := newNonce()
	s.securityHeaders(w.Header(), true, nonce)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(strings.ReplaceAll(embedSDKPage, "{{nonce}}", nonce)))
	return true
}

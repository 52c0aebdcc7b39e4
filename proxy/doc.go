// Package proxy is the gate: the router, the request's way through identity,
// policy and token work, and the httputil.ReverseProxy to Metabase.
// Invariant: a request reaches Metabase only after an allowing policy
// decision, carrying a token the gate signed for the caller's own tenant,
// and with every client credential for Metabase stripped.
//
// Interactive embedding, the embedding SDK and embed.js's guest tokens live
// in the subpackage sso, which the gate mounts and lends a narrow Host
// (ssohost.go).
package proxy

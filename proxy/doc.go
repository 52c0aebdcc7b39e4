// Package proxy is the gate: the router, the request's way through identity,
// policy and token work, and the httputil.ReverseProxy to Metabase.
// Invariant: a request reaches Metabase only after an allowing policy
// decision, carrying a token the gate signed for the caller's own tenant,
// and with every client credential for Metabase stripped.
package proxy

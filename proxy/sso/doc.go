// Package sso is the gate's SSO and embedding-SDK surface (issues 3 and 13):
// interactive embedding, the embedding SDK's handshake and modular
// embedding's embed.js, beside the gate as Caddy keeps forwardauth beside
// reverseproxy. The gate mounts its routes (Surface.Routes) and lends it a
// narrow Host: the caller's identity, the one place denials are answered,
// and the proxy to Metabase.
//
// Invariant: Metabase's session key never reaches a browser. The gate
// mints the SSO JWT and exchanges it with Metabase server side; the browser
// holds the key only sealed (auth.Sealer), and a sealed value is used only
// while the caller's current app session is the one it was bound to (its
// tenant, subject and Metabase identity), it has not expired, and no
// revocation covers it.
//
// Files, in the order a request meets them: surface.go (the type, its
// routes and its Host); handshake.go (the SDK's discovery, JWT provider and
// /auth/sso), exchange.go (the gate's own exchange with Metabase),
// ticket.go (single-use tickets); login.go (interactive sign-in, pages and
// the API); binding.go (opening and binding sealed sessions, the cookie).
// The SSO API allowlist is policy.SSOAPI: pure, in package policy.
package sso

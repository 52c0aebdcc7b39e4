// Package auth resolves who a caller is (the app's session JWT or an
// introspection call) and does all token work: the gate's own embed handles
// and the Metabase tokens minted from them. Invariant: an Identity is only
// returned for a verified credential with a non-empty tenant, and no secret
// or token leaves this package except as the signed value the caller asked for.
package auth

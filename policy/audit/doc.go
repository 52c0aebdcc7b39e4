// Package audit reads Metabase's configuration through its admin API and
// reports every setting that would let one tenant see another's rows in an
// embed: a tenant parameter missing or not locked, a dashcard not wired to
// it (metabase#59677), an editable filter on the tenant column, public
// links, and for SSO users tables without a sandbox, administrator groups
// and unknown group mappings.
//
// Invariant: the checks (check.go) are pure functions of the decoded
// Metabase JSON and the auditor's Config, so the same Snapshot always gives
// the same Report, byte for byte; only client.go does I/O. A resource the
// audit could not read is never reported safe.
package audit

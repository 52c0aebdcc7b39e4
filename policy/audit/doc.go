// Package audit reads Metabase's configuration through its admin API and
// reports every setting that would let one tenant see another's rows in an
// embed: a tenant parameter missing or not locked, a dashcard not wired to
// it (metabase#59677), an editable filter on the tenant column, public
// links, and for SSO users administrator groups, unknown group mappings
// and every table that All Users or a group SSO users are mapped to may
// view other than blocked or sandboxed on the tenant attribute (the data
// permission graph: permissions are additive, so one open group opens the
// table to every SSO user).
//
// Invariant: the checks (check.go) are pure functions of the decoded
// Metabase JSON and the auditor's Config, so the same Snapshot always gives
// the same Report, byte for byte; only client.go does I/O. A resource the
// audit could not read is never reported safe.
package audit

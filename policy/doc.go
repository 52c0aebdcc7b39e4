// Package policy decides, as a pure function of (identity, request, config),
// whether a request may reach Metabase and with which locked parameters.
// Invariant: it does no I/O and reads the clock only through an injected now;
// an allowing decision always carries the tenant parameter locked to the
// caller's own tenant, never an empty or foreign value.
package policy

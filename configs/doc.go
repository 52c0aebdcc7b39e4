// Package configs loads tenantgate's configuration from YAML, the environment
// and secret files, and validates it whole. Invariant: a Config returned
// without error has every required setting and every default filled in, and
// no secret is ever printed (Secret redacts itself).
package configs

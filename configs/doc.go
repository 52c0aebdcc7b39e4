// Package configs loads tenantgate's configuration from YAML, the environment
// and secret files, and validates it whole, reporting every problem at once.
// Invariant: a Config returned without error by LoadAndValidate has every
// required setting and every default filled in (Load alone fills defaults but
// does not validate), and no secret is ever printed (Secret redacts itself,
// and no validation message quotes one).
package configs

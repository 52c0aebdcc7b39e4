// Package metrics defines tenantgate's Prometheus metrics, built once by New
// on a registry the caller passes in, and the handler that serves them.
// Invariant: every label value comes from a bounded set (route names, the
// standard methods, status codes, closed kinds), never from a raw path or
// other request data, and recording an already-seen label set allocates
// nothing.
package metrics

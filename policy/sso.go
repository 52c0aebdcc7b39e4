package policy

import "strings"

// The Metabase API an SSO user (interactive embedding, the embedding SDK)
// may reach through the gate: what the app and the SDK need to show and
// query dashboards and questions, and nothing else. Metabase's own
// permissions still apply behind it; the allowlist holds even when the
// Metabase user somehow has more rights (settings, permissions, users, API
// keys, sandboxes, setup, database writes, notifications, public links,
// uploads, field value listings are never reached).

// ssoRoute is one allowed endpoint: a method and a path pattern whose
// segments are literals, "{id}" (a positive integer) or "{coll}" (an id or
// "root").
type ssoRoute struct {
	method  string
	pattern string
	dataset bool // allowed only when TENANTGATE_SSO_DATASET is on
}

var ssoRoutes = []ssoRoute{
	{"GET", "/api/user/current", false},
	{"GET", "/api/card/{id}", false},
	{"GET", "/api/card/{id}/query_metadata", false},
	{"POST", "/api/card/{id}/query", false},
	{"GET", "/api/dashboard/{id}", false},
	{"GET", "/api/dashboard/{id}/query_metadata", false},
	{"POST", "/api/dashboard/{id}/dashcard/{id}/card/{id}/query", false},
	{"GET", "/api/collection", false},
	{"GET", "/api/collection/tree", false},
	{"GET", "/api/collection/{coll}", false},
	{"GET", "/api/collection/{coll}/items", false},
	{"GET", "/api/table/{id}", false},
	{"GET", "/api/table/{id}/query_metadata", false},
	{"GET", "/api/field/{id}", false},
	{"GET", "/api/database", false},
	{"GET", "/api/database/{id}", false},
	{"GET", "/api/database/{id}/metadata", false},
	{"GET", "/api/search", false},
	{"POST", "/api/dataset", true},
}

// SSOAPI decides whether an SSO user's request for the Metabase API at path
// (escaped, below the public prefix) with method may pass. dataset is
// TENANTGATE_SSO_DATASET: ad-hoc queries run arbitrary MBQL or SQL within
// the user's permissions, safe only when sandboxes cover every table.
func SSOAPI(method, path string, dataset bool) Decision {
	known := false
	for _, rt := range ssoRoutes {
		if !matchPattern(rt.pattern, path) {
			continue
		}
		known = true
		if rt.method != method {
			continue
		}
		if rt.dataset && !dataset {
			return deny(ReasonRouteNotAllowed, "%s is off for SSO users (TENANTGATE_SSO_DATASET)", rt.pattern)
		}
		return allowed
	}
	if known {
		return deny(ReasonMethodNotAllowed, "%s not allowed on this SSO endpoint", method)
	}
	return deny(ReasonRouteNotAllowed, "not on the SSO API allowlist")
}

// SSOPage reports whether path (escaped, below the public prefix) is a page
// of the interactive Metabase app the gate serves to SSO users: a
// dashboard, a question, a collection, or search.
func SSOPage(path string) bool {
	if path == "/search" {
		return true
	}
	kind, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok {
		return false
	}
	switch kind {
	case "dashboard", "question":
		return isSlugID(rest)
	case "collection":
		return rest == "root" || isSlugID(rest)
	}
	return false
}

// isSlugID reports whether s is Metabase's "42" or "42-orders-overview".
func isSlugID(s string) bool {
	id, slug, _ := strings.Cut(s, "-")
	if !isPositiveID(id) {
		return false
	}
	for i := 0; i < len(slug); i++ {
		c := slug[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// matchPattern matches path against a pattern segment by segment.
func matchPattern(pattern, path string) bool {
	ps := strings.Split(pattern, "/")
	xs := strings.Split(path, "/")
	if len(ps) != len(xs) {
		return false
	}
	for i, p := range ps {
		switch p {
		case "{id}":
			if !isPositiveID(xs[i]) {
				return false
			}
		case "{coll}":
			if xs[i] != "root" && !isPositiveID(xs[i]) {
				return false
			}
		default:
			if p != xs[i] {
				return false
			}
		}
	}
	return true
}

// isPositiveID reports whether s is 1 to 9 digits without a leading zero.
func isPositiveID(s string) bool {
	if s == "" || len(s) > 9 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

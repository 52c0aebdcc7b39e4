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

// SSOAPIPath returns path rebuilt from the pattern of the SSO API allowlist
// it matches (its literals and the ids it parsed), whatever the method;
// false if it matches none.
func SSOAPIPath(path string) (string, bool) {
	for _, rt := range ssoRoutes {
		if matchPattern(rt.pattern, path) {
			return rebuild(rt.pattern, path), true
		}
	}
	return "", false
}

// SSOPage reports whether path (escaped, below the public prefix) is a page
// of the interactive Metabase app the gate serves to SSO users: a
// dashboard, a question, a collection, or search.
func SSOPage(path string) bool {
	_, ok := SSOPagePath(path)
	return ok
}

// SSOPagePath returns the page path rebuilt from what it parsed ("/search",
// or the kind's literal and its "{id}[-{slug}]" or "root"); false if path is
// not a page SSOPage accepts.
func SSOPagePath(path string) (string, bool) {
	if path == "/search" {
		return "/search", true
	}
	kind, rest, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok || path[0] != '/' {
		return "", false
	}
	switch kind {
	case "dashboard", "question", "collection":
	default:
		return "", false
	}
	if kind == "collection" && rest == "root" {
		return "/collection/root", true
	}
	id, slug, hasSlug := strings.Cut(rest, "-")
	if !isPositiveID(id) || !allOf(slug, nameBytes) || (hasSlug && slug == "") {
		return "", false
	}
	if hasSlug {
		return "/" + kind + "/" + id + "-" + slug, true
	}
	return "/" + kind + "/" + id, true
}

// matchPattern matches path against a pattern segment by segment: literals
// byte for byte, "{id}" a positive id, "{coll}" an id or "root".
func matchPattern(pattern, path string) bool {
	for {
		p, prest, pmore := strings.Cut(pattern, "/")
		x, xrest, xmore := strings.Cut(path, "/")
		switch p {
		case "{id}":
			if !isPositiveID(x) {
				return false
			}
		case "{coll}":
			if x != "root" && !isPositiveID(x) {
				return false
			}
		default:
			if p != x {
				return false
			}
		}
		if pmore != xmore {
			return false
		}
		if !pmore {
			return true
		}
		pattern, path = prest, xrest
	}
}

// rebuild writes pattern with each placeholder replaced by the value
// matchPattern accepted in path; literals come from the pattern.
func rebuild(pattern, path string) string {
	var b strings.Builder
	b.Grow(len(path))
	for first := true; ; first = false {
		p, prest, more := strings.Cut(pattern, "/")
		x, xrest, _ := strings.Cut(path, "/")
		if !first {
			b.WriteByte('/')
		}
		if p == "{id}" || p == "{coll}" {
			b.WriteString(x)
		} else {
			b.WriteString(p)
		}
		if !more {
			return b.String()
		}
		pattern, path = prest, xrest
	}
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

package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	tests := []struct {
		name, path, prefix string
		want               error
	}{
		{"embed query", "/api/embed/dashboard/" + tok + "/dashcard/1/card/2", "", nil},
		{"root", "/", "", nil},
		{"mint", "/.tenantgate/embed/dashboard/1", "", nil},
		{"asset", "/app/dist/app-main.4f2a.js", "", nil},
		{"search escapes", "/api/embed/card/" + tok + "/params/p/search/O'Brien%20(x)", "", nil},
		{"search escapes under the prefix", "/analytics/api/embed/card/" + tok + "/params/p/search/a%20b", "/analytics", nil},
		{"prefix with a tilde (configs allows it)", "/bi~x/app/dist/app.js", "/bi~x", nil},
		{"tilde right after the prefix", "/analytics~x/app/dist/app.js", "/analytics", ErrPathBytes},
		{"semicolon right after the prefix", "/analytics;x/app/dist/app.js", "/analytics", ErrPathBytes},
		{"dot-dot segment after the prefix", "/analytics/../api/setting", "/analytics", ErrPathSegment},
		{"another prefix", "/other/app;x", "/analytics", ErrPathBytes},

		{"empty", "", "", ErrPathSegment},
		{"relative", "app/x", "", ErrPathSegment},
		{"semicolon", "/app/x;y", "", ErrPathBytes},
		{"dot-dot parameter", "/app/..;/api/user/current", "", ErrPathBytes},
		{"dot parameter", "/app/.;x/app.js", "", ErrPathBytes},
		{"jsessionid", "/app/..;jsessionid=1/api/setting", "", ErrPathBytes},
		{"encoded dot-dot", "/app/%2e%2e/api/setting", "", ErrPathBytes},
		{"encoded dot-dot with parameter", "/app/%2e%2e;/api/setting", "", ErrPathBytes},
		{"double-encoded dot", "/app/%252e%252e/api/setting", "", ErrPathBytes},
		{"encoded slash", "/app/a%2fb", "", ErrPathBytes},
		{"encoded backslash", "/app/a%5cb", "", ErrPathBytes},
		{"backslash", "/app\\..\\api\\setting", "", ErrPathBytes},
		{"overlong dot", "/app/%c0%ae%c0%ae/api", "", ErrPathBytes},
		{"NUL", "/app/a%00", "", ErrPathBytes},
		{"raw control", "/app/a\x01b", "", ErrPathBytes},
		{"raw high byte", "/app/\xc3\xa9", "", ErrPathBytes},
		{"tilde outside search", "/app/~x", "", ErrPathBytes},
		{"quote outside search", "/app/a'b", "", ErrPathBytes},
		{"plus", "/app/a+b", "", ErrPathBytes},
		{"colon", "/app/a:b", "", ErrPathBytes},
		{"escape in a search's parameter id", "/api/embed/card/" + tok + "/params/p%31/search/a", "", ErrPathBytes},
		{"escape after a search, not under embed", "/api/search/a%20b", "", ErrPathBytes},
		{"escape in search above the prefix", "/api/embed/card/" + tok + "/params/p/search/a%20b", "/analytics", ErrPathBytes},
		{"double slash", "/api//embed", "", ErrPathSegment},
		{"trailing slash", "/app/dist/", "", ErrPathSegment},
		{"dot segment", "/app/./x", "", ErrPathSegment},
		{"dot-dot segment", "/app/../api/setting", "", ErrPathSegment},
		{"three dots", "/app/.../x", "", ErrPathSegment},
		{"ends in dot-dot", "/app/..", "", ErrPathSegment},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CleanPath(tt.path, tt.prefix); !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Errorf("CleanPath(%q, %q) = %v, want %v", tt.path, tt.prefix, err, tt.want)
			}
		})
	}
}

func TestCleanPathAllocs(t *testing.T) {
	p := "/api/embed/dashboard/" + strings.Repeat("a", 300) + ".b.c/dashcard/1/card/2"
	if n := testing.AllocsPerRun(100, func() { _ = CleanPath(p, "") }); n != 0 {
		t.Errorf("CleanPath allocates %v times, want 0", n)
	}
}

func TestForwardablePath(t *testing.T) {
	tests := []struct {
		name, path string
		route      Route
		upstream   string // "" when refused
	}{
		{"embed page", "/embed/dashboard/" + tok, RouteEmbedPage, "/embed/dashboard/" + tok},
		{"embed API", "/api/embed/card/" + tok + "/query", RouteEmbedAPI, "/api/embed/card/" + tok + "/query"},
		{"asset", "/app/dist/app-main.4f2a.js", RouteAsset, "/app/dist/app-main.4f2a.js"},
		{"font", "/app/fonts/Lato/lato-v16-latin-regular.woff2", RouteAsset, "/app/fonts/Lato/lato-v16-latin-regular.woff2"},
		{"favicon", "/favicon.ico", RouteAsset, "/favicon.ico"},
		{"geojson", "/api/geojson/world_2", RouteGeoJSON, "/api/geojson/world_2"},
		{"properties", "/api/session/properties", RouteProperties, "/api/session/properties"},
		{"SSO API", "/api/collection/root/items", RouteSSOAPI, "/api/collection/root/items"},
		{"SSO API id", "/api/dashboard/1/dashcard/12/card/2/query", RouteSSOAPI, "/api/dashboard/1/dashcard/12/card/2/query"},
		{"SSO page", "/dashboard/42-orders_overview", RouteSSOPage, "/dashboard/42-orders_overview"},
		{"SSO page root", "/collection/root", RouteSSOPage, "/collection/root"},
		{"SSO search", "/search", RouteSSOPage, "/search"},

		{"asset hidden file", "/app/.env", RouteNone, ""},
		{"asset ending in a dot", "/app/dist/app.js.", RouteNone, ""},
		{"asset dot-dot with parameter", "/app/..;/api/user/current", RouteNone, ""},
		{"asset parameter", "/app/dist/app.js;x", RouteNone, ""},
		{"asset escape", "/app/dist/app%2ejs", RouteNone, ""},
		{"asset trailing slash", "/app/dist/", RouteNone, ""},
		{"asset bare", "/app/", RouteNone, ""},
		{"asset too deep", "/app/a/b/c/d/e/f/g/h/i", RouteNone, ""},
		{"asset case variant", "/APP/dist/app.js", RouteNone, ""},
		{"favicon case variant", "/FAVICON.ICO", RouteNone, ""},
		{"geojson url form", "/api/geojson", RouteNone, ""},
		{"geojson dot", "/api/geojson/a.b", RouteNone, ""},
		{"geojson parameter", "/api/geojson/world;x", RouteNone, ""},
		{"geojson subpath", "/api/geojson/world/x", RouteNone, ""},
		{"properties parameter", "/api/session/properties;x", RouteNone, ""},
		{"properties case variant", "/api/session/Properties", RouteNone, ""},
		{"SSO API parameter", "/api/card/1;x", RouteNone, ""},
		{"SSO API dot-dot parameter", "/api/card/1/..;/..;/setting", RouteNone, ""},
		{"SSO API case variant", "/Api/card/1", RouteNone, ""},
		{"SSO API admin", "/api/setting", RouteNone, ""},
		{"SSO page parameter", "/dashboard/1;x", RouteNone, ""},
		{"SSO page empty slug", "/dashboard/1-", RouteNone, ""},
		{"SSO page dot slug", "/dashboard/1-a.b", RouteNone, ""},
		{"SSO page case variant", "/Dashboard/1", RouteNone, ""},
		{"SSO page subpath", "/collection/root/x", RouteNone, ""},
		{"mint is not forwarded", "/.tenantgate/embed/dashboard/1", RouteNone, ""},
		{"auth sso is not forwarded", "/auth/sso", RouteNone, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ForwardablePath(tt.path, 4096)
			if tt.upstream == "" {
				if err == nil {
					t.Errorf("ForwardablePath(%q) = %+v, want an error", tt.path, f)
				}
				return
			}
			if err != nil || f.Route != tt.route || f.Upstream(f.Embed.Token) != tt.upstream {
				t.Errorf("ForwardablePath(%q) = %v %q (%v), want %v %q", tt.path, f.Route, f.Upstream(f.Embed.Token), err, tt.route, tt.upstream)
			}
		})
	}
}

func TestCleanQuery(t *testing.T) {
	tests := []struct{ name, raw, want string }{
		{"empty", "", ""},
		{"search", "q=acme%20corp&models=dashboard&models=card", "models=dashboard&models=card&q=acme+corp"},
		{"array key", "models[]=card", "models%5B%5D=card"},
		{"dash key", "exclude-archived=true", "exclude-archived=true"},
		{"re-encoded", "q=a+b%2Fc", "q=a+b%2Fc"},
		{"unicode", "q=%C3%A9t%C3%A9", "q=%C3%A9t%C3%A9"},
	}
	for _, tt := range tests {
		if got, err := CleanQuery(tt.raw); err != nil || got != tt.want {
			t.Errorf("%s: CleanQuery(%q) = %q, %v; want %q", tt.name, tt.raw, got, err, tt.want)
		}
	}
	for name, raw := range map[string]string{
		"semicolon":       "a=1;b=2",
		"bad escape":      "q=%zz",
		"NUL":             "q=a%00",
		"control":         "q=a%0Ab",
		"invalid UTF-8":   "q=%c0%ae",
		"key with a dot":  "a.b=1",
		"key with escape": "a%2Fb=1",
		"empty key":       "=1",
		"too many":        strings.Repeat("a=1&", 65),
	} {
		if got, err := CleanQuery(raw); err == nil {
			t.Errorf("%s: CleanQuery(%q) = %q, want an error", name, raw, got)
		}
	}
}

// FuzzForwardablePath checks the property of issue 12, class 1 on the real
// checks (CleanPath, then ForwardablePath, as the gate runs them). For any
// path p both accept, let u be the path the gate forwards for it (the
// client's token stands in for the re-signed one, of the same alphabet):
//
//  1. u is canonical: both accept u again, on the same route, and u
//     forwards as itself; u is p byte for byte unless p escaped a values
//     search prefix otherwise than canonically.
//  2. For each normalisation N a server in front of the gate or behind it
//     may apply: percent-decoding once, percent-decoding twice, decoding
//     and re-reading the result as a URL (a decoded "?" or "#" ends the
//     path), removing ";" parameters, turning "\" into "/", removing dot
//     segments (RFC 3986 5.2.4), collapsing "//", and all but the re-read
//     in that order: N(u) has the same segments as u, byte for byte,
//     except a values search prefix, which a decoding N turns into exactly
//     the text the gate decoded and checked (and which no further N
//     changes).
//  3. For each case folding C (lower, upper): C(u) is refused, or it is
//     forwarded on the same route with the same template (the route's
//     literal segments; only values, which Metabase reads case-sensitively
//     as the gate does, may differ). So a case-insensitive server never
//     sees another endpoint than the one the gate checked.
func FuzzForwardablePath(f *testing.F) {
	for _, s := range []string{
		"/embed/dashboard/" + tok, "/embed/question/" + tok + ".csv", "/api/embed/card/" + tok + "/query/xlsx",
		"/api/embed/dashboard/" + tok + "/dashcard/1/card/2", "/api/embed/pivot/dashboard/" + tok + "/dashcard/1/card/2",
		"/api/embed/card/" + tok + "/params/p_1/search/O'Brien%20(x)%7e", "/api/embed/card/" + tok + "/params/p/search/%252e",
		"/api/embed/tiles/dashboard/" + tok + "/dashcard/1/card/2/0/1/2", "/api/embed/card/" + tok + "/params/p/remapping",
		"/app/dist/app.js", "/app/dist/app.js;x", "/app/..;/api/user/current", "/app/.;x/a", "/app/..;jsessionid=1/x", "/app/%2e%2e;/x",
		"/favicon.ico", "/embed/sdk/v1", "/embed/sdk/v1/x", "/api/geojson/world", "/api/session/properties", "/api/session/properties;x",
		"/api/collection/root/items", "/api/card/1/..;/..;/setting", "/dashboard/1-a_b", "/collection/root", "/search",
		"/APP/dist/app.js", "/Api/embed/card/" + tok, "/app\\..\\api", "//api/card/1", "/app/a%00",
		"/api/embed/card/" + tok + "/params/p/search/a%2Fb", "/api/embed/card/" + tok + "/params/p/search/a%3Bb",
		"/api/embed/card/" + tok + "/params/p/search/a%5Cb", "/api/embed/card/" + tok + "/params/p/search/%2e%2e",
		"/api/embed/card/" + tok + "/params/p/search/a%3Fb", "/api/embed/card/" + tok + "/params/p/search/a%23b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if CleanPath(p, "") != nil {
			return
		}
		fw, err := ForwardablePath(p, 4096)
		if err != nil {
			return
		}
		u := fw.Upstream(fw.Embed.Token)
		// 1. canonical.
		if CleanPath(u, "") != nil {
			t.Fatalf("forwarded %q for %q, which CleanPath refuses", u, p)
		}
		fu, err := ForwardablePath(u, 4096)
		if err != nil || fu.Route != fw.Route || fu.Upstream(fu.Embed.Token) != u {
			t.Fatalf("forwarded %q for %q; it parses to %v %q (%v)", u, p, fu.Route, fu.Upstream(fu.Embed.Token), err)
		}
		if u != p && fw.Embed.Listing != "search" {
			t.Fatalf("forwarded %q for %q: not the path accepted", u, p)
		}
		// 2. normalisations.
		search := -1 // index of the search segment in u's segments
		if fw.Embed.Listing == "search" {
			search = strings.Count(u, "/") - 1
		}
		want := strings.Split(u, "/")[1:]
		for name, n := range normalisations {
			got := strings.Split(n(u), "/")
			if len(got) == 0 || got[0] != "" || len(got)-1 != len(want) {
				t.Fatalf("%s(%q) = %q: not the same segments", name, u, n(u))
			}
			for i, seg := range got[1:] {
				if seg == want[i] || (i == search && decodes[name] && seg == fw.Embed.Search) {
					continue
				}
				t.Fatalf("%s(%q) = %q: segment %d is %q, want %q", name, u, n(u), i, seg, want[i])
			}
		}
		// 3. case folding.
		for name, c := range map[string]func(string) string{"lower": strings.ToLower, "upper": strings.ToUpper} {
			cu := c(u)
			if CleanPath(cu, "") != nil {
				continue
			}
			fc, err := ForwardablePath(cu, 4096)
			if err != nil {
				continue
			}
			if fc.Route != fw.Route || routeTemplate(fc) != routeTemplate(fw) {
				t.Fatalf("%s(%q) = %q forwards as %v %s, want refused or %v %s", name, u, cu, fc.Route, routeTemplate(fc), fw.Route, routeTemplate(fw))
			}
		}
	})
}

// normalisations are what servers in front of the gate or behind it may do
// to a path before routing it.
var normalisations = map[string]func(string) string{
	"decode once":      percentDecode,
	"decode twice":     func(s string) string { return percentDecode(percentDecode(s)) },
	"strip parameters": stripParams,
	"backslash":        func(s string) string { return strings.ReplaceAll(s, "\\", "/") },
	"remove dots":      removeDotSegments,
	"collapse slashes": collapseSlashes,
	"decode, re-read": func(s string) string { // a decoded "?" or "#" ends the path
		s = percentDecode(s)
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i]
		}
		return s
	},
	"all, in that order": func(s string) string {
		return collapseSlashes(removeDotSegments(strings.ReplaceAll(stripParams(percentDecode(percentDecode(s))), "\\", "/")))
	},
}

// decodes names the normalisations that percent-decode.
var decodes = map[string]bool{"decode once": true, "decode twice": true, "decode, re-read": true, "all, in that order": true}

// percentDecode decodes every valid %XX, as a lenient server does, and
// leaves invalid escapes as they are.
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(unhex(s[i+1])<<4 | unhex(s[i+2]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// stripParams removes each segment's ";..." part, as servlet containers do.
func stripParams(s string) string {
	segs := strings.Split(s, "/")
	for i, seg := range segs {
		segs[i], _, _ = strings.Cut(seg, ";")
	}
	return strings.Join(segs, "/")
}

// removeDotSegments is RFC 3986 section 5.2.4.
func removeDotSegments(in string) string {
	var out []string
	segs := strings.Split(in, "/")
	for i, seg := range segs {
		switch seg {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return strings.Join(out, "/")
}

func collapseSlashes(s string) string {
	for strings.Contains(s, "//") {
		s = strings.ReplaceAll(s, "//", "/")
	}
	return s
}

// routeTemplate is the route's shape: the forwarded path with every value
// segment (token, asset name, geojson key, slug, parameter id, search text)
// replaced by a placeholder. Ids stay: case folding never changes digits.
func routeTemplate(f Forward) string {
	switch f.Route {
	case RouteEmbedPage, RouteEmbedAPI:
		e := f.Embed
		e.ParamID, e.Search = "P", "S"
		return e.WithToken("T")
	case RouteAsset:
		if f.Path == "/favicon.ico" {
			return f.Path
		}
		return "/app" + strings.Repeat("/{name}", strings.Count(f.Path, "/")-1)
	case RouteGeoJSON:
		return "/api/geojson/{key}"
	case RouteSSOPage:
		kind, _, _ := strings.Cut(strings.TrimPrefix(f.Path, "/"), "/")
		if f.Path == "/collection/root" || f.Path == "/search" {
			return f.Path
		}
		return "/" + kind + "/{page}"
	}
	return f.Path // properties; SSO API paths hold literals and ids only
}

package metabasetest

import "strings"

// A legacy path normaliser in front of Metabase (issue 12, class 1).
// Servlet containers in their legacy compliance modes (Tomcat-style, Jetty
// before 10 or in its unsafe modes), and several ingress controllers and
// CDNs, remove each segment's ";parameters" before they resolve dot
// segments. Then "/app/..;/api/embed/..." is first "/app/../api/embed/...",
// then "/api/embed/...": a path that looked like a static asset reaches
// the API. Options.LegacyPathParams puts such a normaliser in front of the
// stand-in, so a test can show the hole it opens and that the gate's path
// allowlist closes it. Metabase's own Jetty (10+) refuses "..;" by
// default; the option models what may stand between the gate and it.

// legacyNormalize strips ";..." from every segment of an escaped path, then
// removes dot segments (RFC 3986, section 5.2.4), as such a server does.
func legacyNormalize(path string) string {
	segs := strings.Split(path, "/")
	out := make([]string, 0, len(segs))
	for i, seg := range segs {
		seg, _, _ = strings.Cut(seg, ";")
		last := i == len(segs)-1
		switch seg {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, seg)
		}
	}
	return strings.Join(out, "/")
}

package metabasetest

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Metabase's site-url setting and its maybe-set-site-url middleware
// (server/middleware/misc.clj, system settings), as a proxy in front of it
// sees them. When MB_SITE_URL is unset, the first request that is not a
// health check sets it: from the request's Origin header, else its
// X-Forwarded-Host, else its Host, whichever is present first (an empty
// value counts as present, as in Clojure). Metabase then builds links and
// redirects from it (the export redirect of /embed/question/{token}.csv,
// "site-url" in the public settings). So whoever sends the first request
// chooses where Metabase sends browsers, unless the proxy in front of it
// decides those headers; and the SSO open-redirect check (check-sso-redirect)
// accepts any return_to on the site URL's host.

// siteURLState is the setting, read and set under its lock.
type siteURLState struct {
	mu sync.Mutex
	v  string // "" while unset
}

// SiteURL returns Metabase's site URL: Options.SiteURL when set (MB_SITE_URL),
// else the one adopted from the first request, "" while none was. Safe
// for concurrent use.
func (s *Server) SiteURL() string {
	if s.opts.SiteURL != "" {
		return normalizeSiteURL(s.opts.SiteURL)
	}
	s.site.mu.Lock()
	defer s.site.mu.Unlock()
	return s.site.v
}

// maybeSetSiteURL is maybe-set-site-url: it runs before every handler, the
// override's included. It skips /api/health (exactly that path), and a
// request whose User-Agent contains "HealthChecker". Multiple values of a
// header arrive joined by "," (Ring's adapter reads them that way). A value
// that does not normalize to a valid URL is not adopted (Metabase logs
// "Failed to set site-url"), so a later request may set it.
func (s *Server) maybeSetSiteURL(r *http.Request) {
	if s.opts.SiteURL != "" || r.URL.Path == "/api/health" || strings.Contains(strings.Join(r.Header.Values("User-Agent"), ","), "HealthChecker") {
		return
	}
	s.site.mu.Lock()
	defer s.site.mu.Unlock()
	if s.site.v != "" {
		return
	}
	var v string
	if o, ok := r.Header["Origin"]; ok {
		v = strings.Join(o, ",")
	} else if x, ok := r.Header["X-Forwarded-Host"]; ok {
		v = strings.Join(x, ",")
	} else {
		v = r.Host
	}
	s.site.v = normalizeSiteURL(v)
}

// normalizeSiteURL is the setting's normalization: one trailing slash
// removed, "http://" prepended unless the value starts with "http", and ""
// unless the result is a valid http(s) URL (Metabase checks with Apache's
// UrlValidator, local hosts allowed; modelled here as a scheme of http or
// https, a host name or IP address, an optional port, no user info).
func normalizeSiteURL(v string) string {
	v = strings.TrimSuffix(v, "/")
	if !strings.HasPrefix(v, "http") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.User != nil || u.Opaque != "" || !validSiteHost(u.Host) {
		return ""
	}
	return v
}

func validSiteHost(hostport string) bool {
	host, port := hostport, ""
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		host, port = h, p
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return false
		}
	}
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return true
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// siteHost is the site URL's host name (no port), as java.net.URI's
// getHost reads it: "" while the site URL is unset. Metabase's SSO accepts
// an absolute return_to only on this host (check-sso-redirect).
func (s *Server) siteHost() string {
	u, err := url.Parse(s.SiteURL())
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// siteLink is (format "%s..." (site-url) ...): a path under the site URL,
// and under "null" while it is unset, as Clojure's format prints nil.
func (s *Server) siteLink(path string) string {
	base := s.SiteURL()
	if base == "" {
		base = "null"
	}
	return base + path
}

// nilIfEmpty is a setting's JSON value: null while unset.
func nilIfEmpty(v string) any {
	if v == "" {
		return nil
	}
	return v
}

package proxy

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// The invariants of TestStateful, checked after every step from what the
// stand-in received and what the browser got back. They are written from
// the contract (/work/shared/metabase-contract.md) and the sample data,
// never from the gate's own parsers, so a gate bug cannot hide in them.

// Invariant names, as reported.
const (
	invForeignCredential = "stand-in received a credential not of the actor's current tenant"
	invClientCredential  = "stand-in received a client-chosen credential header"
	invPathOffAllowlist  = "stand-in received a path off the allowlist"
	invClientHeader      = "stand-in received an upgrade or a client-chosen forwarding header"
	invForeignRow        = "response carries another tenant's row or value"
	invMetabaseCred      = "response carries a Metabase credential"
	invSwitched          = "response switched protocols (101)"
)

// violation is one broken invariant, with what shows it.
type violation struct{ inv, detail string }

// Segment kinds of the allowlist, per the contract's §1.2 and §7.
const (
	alTok = `[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+` // a JWT: base64url, two dots
	alID  = `[1-9][0-9]{0,8}`
	alPID = `[A-Za-z0-9_-]+`
	alFmt = `(csv|json|xlsx)`
	// alSeg is an asset segment: no leading dot, no ';', no '%'.
	alSeg = `[A-Za-z0-9_-][A-Za-z0-9_.-]*`
	// alPrefix is a search prefix: unreserved characters or a
	// percent-escape; the escapes of / . \ ; % and NUL are refused below.
	alPrefix = `([A-Za-z0-9_~-]|%[0-9A-F]{2})+`
)

// upstreamAllowlist is every path Metabase may receive from the gate.
var upstreamAllowlist = func() []*regexp.Regexp {
	r := strings.NewReplacer("TOK", alTok, "ID", alID, "PID", alPID, "FMT", alFmt, "SEG", alSeg, "PREFIX", alPrefix)
	var out []*regexp.Regexp
	for _, p := range []string{
		// Static embedding API (§1.2).
		`/api/embed/card/TOK`, `/api/embed/card/TOK/query`, `/api/embed/card/TOK/query/FMT`,
		`/api/embed/pivot/card/TOK/query`,
		`/api/embed/card/TOK/params/PID/(values|remapping)`, `/api/embed/card/TOK/params/PID/search/PREFIX`,
		`/api/embed/tiles/card/TOK/[0-9]{1,2}/[0-9]{1,9}/[0-9]{1,9}`,
		`/api/embed/dashboard/TOK`, `/api/embed/dashboard/TOK/dashcard/ID/card/ID`,
		`/api/embed/dashboard/TOK/dashcard/ID/card/ID/FMT`, `/api/embed/pivot/dashboard/TOK/dashcard/ID/card/ID`,
		`/api/embed/dashboard/TOK/params/PID/(values|remapping)`, `/api/embed/dashboard/TOK/params/PID/search/PREFIX`,
		`/api/embed/tiles/dashboard/TOK/dashcard/ID/card/ID/[0-9]{1,2}/[0-9]{1,9}/[0-9]{1,9}`,
		// Embed pages (§1.1).
		`/embed/(dashboard|question)/TOK`, `/embed/question/TOK\.FMT`,
		// Assets and public settings (§7).
		`/app(/SEG)+`, `/favicon\.ico`,
		`/api/session/properties`, `/api/geojson/[A-Za-z0-9_-]+`, `/api/health`,
		// JWT SSO, server side (§3), and what an SSO user's app needs (§7).
		`/auth/sso`,
		`/api/user/current`, `/api/(card|dashboard|table|field|database)/ID`,
		`/api/(card|dashboard|table)/ID/query_metadata`, `/api/card/ID/query`, `/api/database/ID/metadata`,
		`/api/dashboard/ID/dashcard/ID/card/ID/query`, `/api/collection`, `/api/collection/tree`,
		`/api/collection/(root|ID)`, `/api/collection/(root|ID)/items`, `/api/search`, `/api/database`, `/api/dataset`,
		`/(dashboard|question)/ID(-[A-Za-z0-9_-]+)?`, `/collection/(root|ID(-[A-Za-z0-9_-]+)?)`, `/search`,
	} {
		out = append(out, regexp.MustCompile("^"+r.Replace(p)+"$"))
	}
	return out
}()

// onAllowlist reports whether Metabase may receive path (escaped).
func onAllowlist(path string) bool {
	if strings.Contains(path, "//") {
		return false
	}
	if l := strings.ToUpper(path); strings.Contains(l, "%2F") || strings.Contains(l, "%2E") || strings.Contains(l, "%5C") ||
		strings.Contains(l, "%3B") || strings.Contains(l, "%25") || strings.Contains(l, "%00") {
		return false
	}
	for _, re := range upstreamAllowlist {
		if re.MatchString(path) {
			return true
		}
	}
	return false
}

// received is one request the stand-in recorded, with the Metabase user its
// session belonged to at that moment (attributes are read at request time,
// so a later sign-in must not change what this request ran as).
type received struct {
	metabasetest.Request
	sessionKey  string
	sessionUser *metabasetest.SSOUser
}

// ssoJWTClaims verifies an SSO JWT the gate sent to /auth/sso: HS256 with
// the shared secret, as Metabase checks it.
func ssoJWTClaims(tok string) (map[string]any, bool) { return hs256Claims(tok, testSSOSecret) }

// hs256Claims returns tok's payload when its HS256 signature verifies with
// secret (the UTF-8 bytes of the string, as Metabase uses both secrets).
func hs256Claims(tok, secret string) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	sig, err := decodeSeg(parts[2])
	if err != nil {
		return nil, false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return nil, false
	}
	p, err := decodeSeg(parts[1])
	if err != nil {
		return map[string]any{}, true // verified, even if its payload is not JSON
	}
	var claims map[string]any
	if json.Unmarshal(p, &claims) != nil || claims == nil {
		return map[string]any{}, true
	}
	return claims, true
}

func decodeSeg(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// checkReceived applies invariants 1 and 2 to one request Metabase
// received while a acted.
func (m *model) checkReceived(a *actor, r received) []violation {
	var vs []violation
	add := func(inv, format string, args ...any) {
		vs = append(vs, violation{inv, fmt.Sprintf(format, args...) + " at " + redactTarget(r.Path)})
	}
	if !onAllowlist(r.Path) {
		add(invPathOffAllowlist, "%s %s", r.Method, redactTarget(r.Path))
	}
	tp := m.h.cfg.Tenant.Param
	if r.Token != "" && r.Claims == nil {
		add(invForeignCredential, "a token that does not verify with the embedding secret (the client's bytes?)")
	}
	// Every Metabase credential anywhere in the path or query, wherever a
	// server might find it, not only where the stand-in looks for one.
	where := r.Path
	if q, err := url.QueryUnescape(r.RawQuery); err == nil {
		where += "?" + q
	} else {
		where += "?" + r.RawQuery
	}
	where += " " + r.Body // a POST /auth/sso carries its JWT in the body
	for _, tok := range jwtShaped.FindAllString(where, -1) {
		if claims, ok := hs256Claims(tok, testMBKey); ok {
			params, _ := claims["params"].(map[string]any)
			if v, ok := params[tp]; !ok || v != a.tenant || a.tenant == "" {
				add(invForeignCredential, "an embed token with %s=%s for an actor of %q", tp, jsonText(v), a.tenant)
			}
		}
		if claims, ok := hs256Claims(tok, testSSOSecret); ok {
			if claims[tp] != a.tenant || a.tenant == "" {
				add(invForeignCredential, "an SSO JWT with %s=%s for an actor of %q", tp, jsonText(claims[tp]), a.tenant)
				continue
			}
			email, _ := claims["email"].(string)
			m.emails[a.key()] = appendNew(m.emails[a.key()], strings.ToLower(email))
		}
	}
	if r.Path == "/auth/sso" {
		if tok := exchangedJWT(r.Request); tok != "" {
			if _, ok := ssoJWTClaims(tok); !ok {
				add(invForeignCredential, "an SSO JWT that does not verify with the shared secret")
			}
		}
	}
	if r.sessionKey != "" {
		u := r.sessionUser
		switch {
		case a.tenant == "":
			add(invForeignCredential, "a Metabase session for an actor with no tenant")
		case u == nil:
			// A dead or unknown key: Metabase answers 401, no data; not a leak.
		case u.Attributes[tp] != a.tenant:
			add(invForeignCredential, "the session of %s, whose %s is now %q, for an actor of %q", u.Email, tp, u.Attributes[tp], a.tenant)
		case !contains(m.emails[a.key()], strings.ToLower(u.Email)):
			add(invForeignCredential, "the session of %s, not a Metabase user the actor %s signed in as for %q", u.Email, a.subject, a.tenant)
		}
	}
	for _, k := range []string{"Cookie", "Authorization", "X-Api-Key", "X-Metabase-Apikey", "X-Metabase-Anti-Csrf-Token"} {
		if v := r.Header.Get(k); v != "" {
			add(invClientCredential, "%s: %.20s", k, v)
		}
	}
	presence := []string{"Upgrade", "X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Forwarded-Prefix", "Http2-Settings"}
	for k, vals := range r.Header {
		for _, v := range vals {
			if !contains(presence, k) && strings.Contains(strings.ToLower(v), spoofHost) {
				add(invClientHeader, "%s: %s", k, v)
			}
		}
	}
	for _, k := range presence {
		if v := r.Header.Get(k); v != "" {
			add(invClientHeader, "%s: %s", k, v)
		}
	}
	if c := strings.ToLower(r.Header.Get("Connection")); strings.Contains(c, "upgrade") {
		add(invClientHeader, "Connection: %s", c)
	}
	return vs
}

// checkResponse applies invariant 3 to one response a received.
func (m *model) checkResponse(a *actor, target string, w *httptest.ResponseRecorder) []violation {
	var vs []violation
	add := func(inv, format string, args ...any) {
		vs = append(vs, violation{inv, fmt.Sprintf(format, args...) + " in the answer to " + redactTarget(target)})
	}
	if w.Code == http.StatusSwitchingProtocols {
		add(invSwitched, "status 101")
	}
	var texts []string
	for k, vals := range w.Header() {
		for _, v := range vals {
			texts = append(texts, k+": "+v)
			if u, err := url.QueryUnescape(v); err == nil && u != v {
				texts = append(texts, k+": "+u)
			}
		}
	}
	texts = append(texts, bodyTexts(w)...)
	fm := m.foreign[a.tenant]
	for _, s := range texts {
		for _, mk := range fm.plain {
			if strings.Contains(s, mk.text) {
				add(invForeignRow, "%s's %s %q (%s)", mk.tenant, mk.what, mk.text, excerpt(s, mk.text))
			}
		}
		for _, sm := range fm.words.FindAllStringSubmatch(s, -1) {
			mk := fm.byWord[sm[2]]
			add(invForeignRow, "%s's %s %q (%s)", mk.tenant, mk.what, mk.text, excerpt(s, sm[0]))
		}
		for _, tok := range jwtShaped.FindAllString(s, -1) {
			if _, ok := hs256Claims(tok, testMBKey); ok {
				add(invMetabaseCred, "an embed token signed with the embedding secret (%.16s...)", tok)
			}
			if _, ok := hs256Claims(tok, testSSOSecret); ok {
				add(invMetabaseCred, "an SSO JWT signed with the shared secret (%.16s...)", tok)
			}
		}
		for _, key := range m.h.mb.SessionKeys() {
			if strings.Contains(s, key) {
				add(invMetabaseCred, "a Metabase session key (%.8s...)", key)
			}
		}
	}
	return vs
}

// jwtShaped finds JWT-like strings anywhere in a text.
var jwtShaped = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_=-]{16,}`)

// bodyTexts is the body as text: gunzipped, and for an XLSX (a zip) the
// text of every entry.
func bodyTexts(w *httptest.ResponseRecorder) []string {
	b := w.Body.Bytes()
	if strings.Contains(w.Header().Get("Content-Encoding"), "gzip") {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if u, err := io.ReadAll(zr); err == nil {
				b = u
			}
		}
	}
	out := []string{string(b)}
	if bytes.HasPrefix(b, []byte("PK\x03\x04")) {
		if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
			for _, f := range zr.File {
				if rc, err := f.Open(); err == nil {
					e, _ := io.ReadAll(io.LimitReader(rc, 8<<20))
					rc.Close()
					out = append(out, string(e))
				}
			}
		}
	}
	return out
}

// marker is a value only one tenant's rows hold.
type marker struct{ tenant, what, text string }

// markers are the values of other tenants' rows: long ones found as
// substrings, short ones (slugs, statuses) as whole words, all of them in
// one regexp.
type markers struct {
	plain  []marker
	words  *regexp.Regexp
	byWord map[string]marker
}

// foreignMarkers lists, for each tenant (and "" for no tenant), the values
// of every other tenant's rows in the sample data: customers and products
// (each belongs to one tenant), the tenant slugs themselves as whole words,
// and statuses only one tenant has (initech's "disputed").
func foreignMarkers() map[string]markers {
	own := map[string]map[string]string{} // tenant → value → what
	statusTenants := map[string]map[string]bool{}
	for _, o := range metabasetest.Orders() {
		if own[o.OrganizationID] == nil {
			own[o.OrganizationID] = map[string]string{o.OrganizationID: "tenant id"}
		}
		own[o.OrganizationID][o.Customer] = "customer"
		own[o.OrganizationID][o.Product] = "product"
		if statusTenants[o.Status] == nil {
			statusTenants[o.Status] = map[string]bool{}
		}
		statusTenants[o.Status][o.OrganizationID] = true
	}
	for st, ts := range statusTenants {
		if len(ts) == 1 {
			for t := range ts {
				own[t][st] = "status"
			}
		}
	}
	out := map[string]markers{}
	for _, actorTenant := range append([]string{""}, metabasetest.Tenants...) {
		ms := markers{byWord: map[string]marker{}}
		var words []string
		for t, vals := range own {
			if t == actorTenant {
				continue
			}
			for v, what := range vals {
				mk := marker{tenant: t, what: what, text: v}
				if what == "tenant id" || what == "status" {
					ms.byWord[v] = mk
					words = append(words, regexp.QuoteMeta(v))
					continue
				}
				ms.plain = append(ms.plain, mk)
			}
		}
		// Sorted, so a seed reports the same first marker every run.
		sort.Slice(ms.plain, func(i, j int) bool { return ms.plain[i].text < ms.plain[j].text })
		sort.Strings(words)
		ms.words = regexp.MustCompile(`(^|[^A-Za-z0-9_-])(` + strings.Join(words, "|") + `)($|[^A-Za-z0-9_-])`)
		out[actorTenant] = ms
	}
	return out
}

func excerpt(s, sub string) string {
	i := strings.Index(s, sub)
	if i < 0 {
		return ""
	}
	lo, hi := max(0, i-40), min(len(s), i+len(sub)+40)
	return redactTarget(s[lo:hi])
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func appendNew(xs []string, x string) []string {
	if contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

// tokenLike finds long credential-like runs, shortened in traces.
var tokenLike = regexp.MustCompile(`[A-Za-z0-9_=-]{24,}(\.[A-Za-z0-9_=-]+)*`)

// redactTarget shortens tokens, handles and sealed values so a trace stays
// readable; the seed reproduces them.
func redactTarget(s string) string {
	return tokenLike.ReplaceAllStringFunc(s, func(t string) string { return t[:6] + "…" })
}

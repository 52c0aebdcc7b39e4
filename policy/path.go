package policy

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tenantgate/tenantgate/internal/bytescan"
)

// Paths are checked against an allowlist, never a blocklist (issue 12,
// class 1). A server in front of the gate or behind it may normalise a path
// before it routes it: decode percent-escapes once or twice, strip ";params"
// (Tomcat-style containers, Jetty in its legacy compliance modes, several
// ingress controllers and CDNs), turn "\" into "/", resolve dot segments,
// collapse "//", fold case. Then "/app/..;/api/user/current", which the gate
// would pass as a static asset, reaches the admin API. So every route
// accepts only a path it parsed completely, each segment from the character
// set of its kind, and forwards the path it rebuilt from what it parsed:
//
//   - literals are exactly the route's own lowercase words;
//   - ids are decimal digits without a leading zero;
//   - tokens are base64url in three non-empty parts joined by two dots;
//   - asset names, geojson keys, parameter ids and slugs are [A-Za-z0-9_.-]
//     (narrower per kind), and no asset name starts or ends with a dot;
//   - the only percent-escapes are in a values search prefix, which the
//     gate decodes, checks and re-encodes itself.
//
// No route takes ";", "\", an empty or dot segment, or a control byte.

// Errors of the path checks. They are sentinels: the hot path allocates
// nothing to refuse.
var (
	// ErrPathBytes means the path holds a byte no route takes (";", "\",
	// "%" outside a values search prefix, a control byte, ...).
	ErrPathBytes = errors.New("path holds a byte outside the allowlist [A-Za-z0-9_.-/]")
	// ErrPathSegment means the path is not absolute, or holds an empty
	// segment ("//", a trailing "/") or a segment of dots only.
	ErrPathSegment = errors.New("path is not absolute, or holds an empty or dot segment")
	// ErrMalformedValue means a value segment that needs decoding (a values
	// search prefix) does not decode to text the gate accepts.
	ErrMalformedValue = errors.New("path value does not decode to plain text")
	// ErrNotForwarded means the path is none of the routes the gate
	// forwards to Metabase.
	ErrNotForwarded = errors.New("path is not one the gate forwards")
	// ErrQuery means a query string does not parse strictly (a ";", a bad
	// escape), or holds a key or value the gate does not pass.
	ErrQuery = errors.New("query is malformed or holds a key or value outside the allowlist")
)

// Byte classes of pathClass.
const (
	byteRefused = iota
	bytePlain   // any path may hold it
	byteSearch  // only a values search prefix, as a browser sends it
)

// pathClass is the allowlist of path bytes, one lookup per byte.
// encodeURIComponent, which Metabase's frontend uses for a search prefix,
// leaves !'()*~ unescaped: they and "%" are allowed in that segment only.
var pathClass = func() (t [256]uint8) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/") {
		t[c] = bytePlain
	}
	for _, c := range []byte("%!'()*~") {
		t[c] = byteSearch
	}
	return t
}()

// CleanPath checks a request's escaped path, public prefix included,
// against what every route shares: it is absolute, no segment is empty or
// made of dots only, and below the prefix its bytes are [A-Za-z0-9_.-] and
// "/", with "%" and !'()*~ only in the last segment of a values search
// (/api/embed/.../search/{here}). The prefix itself is the operator's
// (configs checks it), matched literally by the router and never
// forwarded. It runs on every request before the router: a table lookup
// per byte, no allocation. Each route's own parser then checks its
// segments' kinds.
func CleanPath(escaped, prefix string) error { return ScanPath(escaped).Clean(prefix) }

// ScannedPath is an escaped path and what one scan of its bytes found:
// whether every byte is in [A-Za-z0-9_.-/] (plain). Only ScanPath makes
// one, so a check given a ScannedPath may skip what plain already implies:
// CleanPath's byte check, and an embed token's (a segment of a plain path
// holds no "/", so its bytes are exactly base64url and "."). The gate scans
// a request's path once, not once per check.
type ScannedPath struct {
	s     string
	plain bool
}

// ScanPath scans escaped once, eight bytes at a time.
func ScanPath(escaped string) ScannedPath { return ScannedPath{escaped, firstNotPlain(escaped) < 0} }

// String is the escaped path.
func (p ScannedPath) String() string { return p.s }

// Plain reports whether every byte of the path is in [A-Za-z0-9_.-/].
func (p ScannedPath) Plain() bool { return p.plain }

// TrimPrefix is the path below prefix, if it starts with it (a part of a
// plain path is plain).
func (p ScannedPath) TrimPrefix(prefix string) ScannedPath {
	return ScannedPath{strings.TrimPrefix(p.s, prefix), p.plain}
}

// Clean is CleanPath of the scanned path.
func (p ScannedPath) Clean(prefix string) error {
	escaped := p.s
	if escaped == "" || escaped[0] != '/' {
		return ErrPathSegment
	}
	below, under := escaped, true
	if prefix != "" {
		if under = strings.HasPrefix(escaped, prefix); under {
			below = escaped[len(prefix):]
		}
	}
	// A plain path (the scan found every byte plain) has nothing for the
	// byte check to refuse.
	if !p.plain {
		if i := firstNotPlain(below); i >= 0 {
			// The slow path: only a values search may hold such bytes.
			for j := i; j < len(below); j++ {
				if pathClass[below[j]] == byteRefused {
					return ErrPathBytes
				}
			}
			if !under || !inSearchSegment(below, i) {
				return ErrPathBytes
			}
		}
	}
	if escaped == "/" {
		return nil
	}
	for rest := escaped[1:]; ; {
		i := strings.IndexByte(rest, '/')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if dotsOnly(seg) { // "" included
			return ErrPathSegment
		}
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
	}
}

// firstNotPlain is the index of the first byte of s outside the plain
// class, or -1: eight bytes at a time (bytescan.PathPlain is that class, which
// TestPathClassMatchesScan checks).
func firstNotPlain(s string) int {
	return bytescan.IndexNotPathPlain(s)
}

// inSearchSegment reports whether index at lies in the last segment of
// path (below the prefix), that segment follows "/search/", and the path
// is under "/api/embed/".
func inSearchSegment(path string, at int) bool {
	last := strings.LastIndexByte(path, '/')
	return at > last && last >= 0 && strings.HasSuffix(path[:last], "/search") && strings.HasPrefix(path, "/api/embed/")
}

// dotsOnly reports whether seg is empty or made of dots only ("." and ".."
// are dot segments; Windows-style servers also resolve "...").
func dotsOnly(seg string) bool {
	for i := 0; i < len(seg); i++ {
		if seg[i] != '.' {
			return false
		}
	}
	return true
}

// Route is a kind of path the gate forwards to Metabase.
type Route uint8

// The forwarded routes.
const (
	RouteNone       Route = iota
	RouteEmbedPage        // /embed/{dashboard|question}/{token}[.{fmt}]
	RouteEmbedAPI         // /api/embed/...
	RouteAsset            // /app/{name}/... and /favicon.ico
	RouteGeoJSON          // /api/geojson/{key}
	RouteProperties       // /api/session/properties
	RouteSSOAPI           // the SSO user's API allowlist (sso.go)
	RouteSSOPage          // the full app's pages (sso.go)
	RouteEmbedSDK         // /embed/sdk/v1, modular embedding's iframe page (embedsdk.go)
)

var routeNames = [...]string{"none", "embed-page", "embed-api", "asset", "geojson", "properties", "sso-api", "sso-page", "embed-sdk"}

func (r Route) String() string { return routeNames[r] }

// Forward is a path the gate may forward, as ForwardablePath parsed it.
type Forward struct {
	Route Route
	// Path is the path to forward, rebuilt from the parsed segments; empty
	// for the embed routes, whose path is Embed.WithToken(the token sent
	// upstream).
	Path string
	// Embed is the parsed embed path of RouteEmbedPage and RouteEmbedAPI.
	Embed EmbedPath
}

// Upstream returns the path to forward, with tok in place of the embed
// token on the embed routes.
func (f Forward) Upstream(tok string) string {
	if f.Route == RouteEmbedPage || f.Route == RouteEmbedAPI {
		return f.Embed.WithToken(tok)
	}
	return f.Path
}

// ForwardablePath parses an escaped path below the public prefix into one
// of the routes the gate forwards, the same dispatch the router makes by
// prefix. Every forwarding handler calls it, so FuzzForwardablePath covers
// what the gate really forwards. maxToken bounds an embed token.
func ForwardablePath(escaped string, maxToken int) (Forward, error) {
	return ScanPath(escaped).Forwardable(maxToken)
}

// Forwardable is ForwardablePath of the scanned path.
func (sp ScannedPath) Forwardable(maxToken int) (Forward, error) {
	escaped := sp.s
	switch {
	case strings.HasPrefix(escaped, "/api/embed/"):
		p, err := parseEmbedPath(escaped, maxToken, sp.plain)
		return Forward{Route: RouteEmbedAPI, Embed: p}, err
	case escaped == EmbedSDKPath: // before the static embed pages, which share the prefix
		return Forward{Route: RouteEmbedSDK, Path: EmbedSDKPath}, nil
	case strings.HasPrefix(escaped, "/embed/"):
		p, err := parseEmbedPath(escaped, maxToken, sp.plain)
		return Forward{Route: RouteEmbedPage, Embed: p}, err
	case escaped == "/api/session/properties":
		return Forward{Route: RouteProperties, Path: "/api/session/properties"}, nil
	case strings.HasPrefix(escaped, "/api/geojson/"):
		key := escaped[len("/api/geojson/"):]
		if len(key) == 0 || len(key) > 64 || !allOf(key, nameBytes) {
			return Forward{}, ErrNotForwarded
		}
		return Forward{Route: RouteGeoJSON, Path: "/api/geojson/" + key}, nil
	case strings.HasPrefix(escaped, "/api/"):
		p, ok := SSOAPIPath(escaped)
		if !ok {
			return Forward{}, ErrNotForwarded
		}
		return Forward{Route: RouteSSOAPI, Path: p}, nil
	case escaped == "/favicon.ico" || strings.HasPrefix(escaped, "/app/"):
		p, ok := AssetPath(escaped)
		if !ok {
			return Forward{}, ErrNotForwarded
		}
		return Forward{Route: RouteAsset, Path: p}, nil
	}
	if p, ok := SSOPagePath(escaped); ok {
		return Forward{Route: RouteSSOPage, Path: p}, nil
	}
	return Forward{}, ErrNotForwarded
}

// nameBytes is [A-Za-z0-9_-]: geojson keys, parameter ids, slugs.
var nameBytes = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")

// assetBytes is [A-Za-z0-9_.-]: the names of Metabase's static files.
var assetBytes = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")

func byteSet(s string) (t [256]bool) {
	for i := 0; i < len(s); i++ {
		t[s[i]] = true
	}
	return t
}

func allOf(s string, set [256]bool) bool {
	for i := 0; i < len(s); i++ {
		if !set[s[i]] {
			return false
		}
	}
	return true
}

// maxAssetSegments bounds /app/ paths (Metabase's deepest is
// /app/fonts/{family}/{file}).
const maxAssetSegments = 8

// AssetPath parses a static asset path, "/favicon.ico" or "/app/" and one
// to maxAssetSegments names of [A-Za-z0-9_.-], each at most 128 bytes and
// none starting or ending with a dot (no dot segment, no hidden file, no
// name a Windows-style server would trim). It returns the path rebuilt from
// the names. The asset cache keeps only paths it accepts.
func AssetPath(escaped string) (string, bool) {
	if escaped == "/favicon.ico" {
		return "/favicon.ico", true
	}
	rest, ok := strings.CutPrefix(escaped, "/app/")
	if !ok {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(escaped))
	b.WriteString("/app")
	for n := 0; ; n++ {
		if n == maxAssetSegments {
			return "", false
		}
		seg, tail, more := strings.Cut(rest, "/")
		if len(seg) == 0 || len(seg) > 128 || seg[0] == '.' || seg[len(seg)-1] == '.' || !allOf(seg, assetBytes) {
			return "", false
		}
		b.WriteByte('/')
		b.WriteString(seg)
		if !more {
			return b.String(), true
		}
		rest = tail
	}
}

// Query limits: the most keys and values a forwarded query may hold.
const maxQueryValues = 64

// queryKeyBytes are the bytes of a query key the gate passes: Metabase's
// keys are words with "_" and "-" (and "models[]"-style array keys).
var queryKeyBytes = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-[]")

// CleanQuery parses a raw query strictly (url.ParseQuery: a ";" or a bad
// escape is an error, not a dropped pair) and returns it re-encoded from the
// parsed values, so what is forwarded is what was checked, whatever a
// server behind would do with the original bytes. Keys are
// [A-Za-z0-9_-] (a trailing "[]" allowed), values valid UTF-8 without
// control bytes, at most 64 in all. "" stays "".
func CleanQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", ErrQuery
	}
	n := 0
	for k, vs := range q {
		base := strings.TrimSuffix(k, "[]")
		if base == "" || len(k) > 64 || !allOf(base, nameBytes) {
			return "", ErrQuery
		}
		for _, v := range vs {
			if n++; n > maxQueryValues || !plainText(v) {
				return "", ErrQuery
			}
		}
	}
	return q.Encode(), nil
}

// plainText reports whether s is valid UTF-8 without control bytes.
func plainText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(s)
}

// maxSearchText bounds a decoded values search prefix.
const maxSearchText = 256

// decodeSearch decodes a values search prefix segment, as the browser sent
// it (bytes of pathClass only), and checks the text: valid UTF-8 of at most maxSearchText bytes, no
// control byte, none of / \ ; % ? # (so that no decoding, once or twice,
// by any server can split, resolve or re-escape the segment), and not made
// of dots and spaces only.
func decodeSearch(seg string) (string, error) {
	for i := 0; i < len(seg); i++ {
		if pathClass[seg[i]] == byteRefused {
			return "", ErrMalformedValue
		}
	}
	t, err := url.PathUnescape(seg)
	if err != nil || t == "" || len(t) > maxSearchText || !plainText(t) || strings.ContainsAny(t, "/\\;%?#") {
		return "", ErrMalformedValue
	}
	if strings.Trim(t, ". ") == "" {
		return "", ErrMalformedValue
	}
	return t, nil
}

const upperHex = "0123456789ABCDEF"

// appendSearch appends text t (checked by decodeSearch) in its canonical
// escaped form: [A-Za-z0-9_.-] as they are, every other byte %XX in
// uppercase hex.
func appendSearch(b *strings.Builder, t string) {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if assetBytes[c] {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
}

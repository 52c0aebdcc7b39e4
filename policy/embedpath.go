package policy

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tenantgate/tenantgate/internal/bytescan"
)

// Endpoint is what an embed path asks Metabase for.
type Endpoint int

// The embed endpoints of the contract, §1.
const (
	EndpointPage       Endpoint = iota // GET /embed/{dashboard|question}/{token}
	EndpointPageExport                 // GET /embed/question/{token}.{fmt}: a redirect to an export
	EndpointInfo                       // GET /api/embed/{card|dashboard}/{token}
	EndpointQuery                      // card query or dashcard query, pivot included
	EndpointExport                     // .../query/{fmt} or dashcard .../{fmt}
	EndpointValues                     // .../params/{id}/values|search/{prefix}|remapping
	EndpointTile                       // /api/embed/tiles/...
)

var endpointNames = [...]string{"page", "page-export", "info", "query", "export", "values", "tile"}

func (e Endpoint) String() string { return endpointNames[e] }

// EmbedPath is a parsed /embed/* or /api/embed/* path: every segment read
// by its kind (literal, token, id, parameter id, format, search text), so
// WithToken rebuilds the path from these fields alone, never from the
// client's bytes.
type EmbedPath struct {
	Kind     string // "dashboard" or "question" (Metabase's "card" is reported as "question")
	Token    string
	Endpoint Endpoint
	// DashcardID and CardID are set for dashcard endpoints; ParamID for values.
	DashcardID, CardID int
	ParamID            string
	Format             string // csv, json or xlsx for exports
	// Listing is "values", "search" or "remapping" for EndpointValues, and
	// Search the decoded prefix of a search.
	Listing, Search string
	// Pivot is the /api/embed/pivot/ form of a query.
	Pivot bool
	// Zoom, X and Y are a tile's coordinates.
	Zoom, X, Y int
}

// WithToken returns the path rebuilt from p's fields, with tok as its
// token segment. A search prefix is written in its canonical escaped form.
func (p EmbedPath) WithToken(tok string) string {
	var b strings.Builder
	b.Grow(len(tok) + 64 + len(p.ParamID) + 3*len(p.Search))
	if p.Endpoint == EndpointPage || p.Endpoint == EndpointPageExport {
		b.WriteString("/embed/")
		b.WriteString(p.Kind)
		b.WriteByte('/')
		b.WriteString(tok)
		if p.Endpoint == EndpointPageExport {
			b.WriteByte('.')
			b.WriteString(p.Format)
		}
		return b.String()
	}
	b.WriteString("/api/embed/")
	switch {
	case p.Pivot:
		b.WriteString("pivot/")
	case p.Endpoint == EndpointTile:
		b.WriteString("tiles/")
	}
	question := p.Kind == "question"
	if question {
		b.WriteString("card/")
	} else {
		b.WriteString("dashboard/")
	}
	b.WriteString(tok)
	if p.DashcardID > 0 {
		b.WriteString("/dashcard/")
		writeInt(&b, p.DashcardID)
		b.WriteString("/card/")
		writeInt(&b, p.CardID)
	}
	switch p.Endpoint {
	case EndpointQuery:
		if question {
			b.WriteString("/query")
		}
	case EndpointExport:
		if question {
			b.WriteString("/query")
		}
		b.WriteByte('/')
		b.WriteString(p.Format)
	case EndpointValues:
		b.WriteString("/params/")
		b.WriteString(p.ParamID)
		b.WriteByte('/')
		b.WriteString(p.Listing)
		if p.Listing == "search" {
			b.WriteByte('/')
			appendSearch(&b, p.Search)
		}
	case EndpointTile:
		for _, n := range [3]int{p.Zoom, p.X, p.Y} {
			b.WriteByte('/')
			writeInt(&b, n)
		}
	}
	return b.String()
}

func writeInt(b *strings.Builder, n int) {
	var d [20]byte
	b.Write(strconv.AppendInt(d[:0], int64(n), 10))
}

// ErrNotEmbedPath means the path is not one of the embed routes Metabase
// serves, or holds a segment outside its kind's character set.
var ErrNotEmbedPath = errors.New("not an embed path")

// ErrTokenTooLong means the token segment is longer than the configured limit.
var ErrTokenTooLong = errors.New("embed token too long")

// ErrBadToken means the path is an embed route but its token segment is
// not a compact JWS (three non-empty base64url segments).
var ErrBadToken = errors.New("embed token is not a compact JWS")

// maxEmbedSegments is one more than the longest embed path's segments (the
// dashboard tile has 12).
const maxEmbedSegments = 16

// ParseEmbedPath parses an escaped path (no public prefix) of the embed
// routes. Every segment must be of its kind: a literal of the route, a
// token (checkToken), an id (digits, no leading zero), a parameter id
// ([A-Za-z0-9_-]), a format, or the search prefix of a values search, the
// only segment that may hold escapes: it is decoded and checked here (an
// ErrMalformedValue otherwise), and WithToken re-encodes it canonically.
// So no ";", "\", dot or empty segment, and no escape elsewhere, gets
// through: the path Metabase routes is exactly the path we checked.
func ParseEmbedPath(escaped string, maxToken int) (EmbedPath, error) {
	return parseEmbedPath(escaped, maxToken, false)
}

// parseEmbedPath is ParseEmbedPath; plain says every byte of escaped is in
// [A-Za-z0-9_.-/] (ScanPath found it so), which makes the token's byte
// check redundant: the token is part of one segment.
func parseEmbedPath(escaped string, maxToken int, plain bool) (EmbedPath, error) {
	var p EmbedPath
	// Split into a fixed array so the hot path does not allocate a slice
	// per request.
	var buf [maxEmbedSegments]string
	segs, ok := splitSegments(escaped, buf[:0])
	if !ok || len(segs) < 3 {
		return p, ErrNotEmbedPath
	}
	switch {
	case segs[0] == "embed":
		if len(segs) != 3 || (segs[1] != "dashboard" && segs[1] != "question") {
			return p, ErrNotEmbedPath
		}
		p.Kind, p.Endpoint = segs[1], EndpointPage
		tok := segs[2]
		if p.Kind == "question" {
			if i := strings.LastIndexByte(tok, '.'); i > 0 && isFormat(tok[i+1:]) {
				p.Endpoint, p.Format, tok = EndpointPageExport, tok[i+1:], tok[:i]
			}
		}
		p.Token = tok
		return p, checkToken(p.Token, maxToken, plain)
	case segs[0] == "api" && len(segs) >= 4 && segs[1] == "embed":
		segs = segs[2:]
	default:
		return p, ErrNotEmbedPath
	}
	var rest []string
	switch {
	case segs[0] == "card" || segs[0] == "dashboard":
		p.Kind, p.Token, rest = kindOf(segs[0]), segs[1], segs[2:]
	case segs[0] == "pivot" && len(segs) >= 3 && (segs[1] == "card" || segs[1] == "dashboard"):
		p.Kind, p.Token, rest = kindOf(segs[1]), segs[2], segs[3:]
		p.Pivot, p.Endpoint = true, EndpointQuery
		if p.Kind == "question" {
			if len(rest) != 1 || rest[0] != "query" {
				return p, ErrNotEmbedPath
			}
		} else if len(rest) != 4 || !parseDashcard(&p, rest) {
			return p, ErrNotEmbedPath
		}
		return p, checkToken(p.Token, maxToken, plain)
	case segs[0] == "tiles" && len(segs) >= 3 && (segs[1] == "card" || segs[1] == "dashboard"):
		p.Kind, p.Token, rest = kindOf(segs[1]), segs[2], segs[3:]
		if p.Kind == "dashboard" {
			if !parseDashcard(&p, rest) {
				return p, ErrNotEmbedPath
			}
			rest = rest[4:]
		}
		var ok [3]bool
		if len(rest) != 3 {
			return p, ErrNotEmbedPath
		}
		p.Zoom, ok[0] = tileInt(rest[0])
		p.X, ok[1] = tileInt(rest[1])
		p.Y, ok[2] = tileInt(rest[2])
		if ok != [3]bool{true, true, true} {
			return p, ErrNotEmbedPath
		}
		p.Endpoint = EndpointTile
		return p, checkToken(p.Token, maxToken, plain)
	default:
		return p, ErrNotEmbedPath
	}
	switch {
	case len(rest) == 0:
		p.Endpoint = EndpointInfo
	case len(rest) >= 3 && rest[0] == "params" && isParamID(rest[1]):
		p.ParamID, p.Endpoint = rest[1], EndpointValues
		switch {
		case len(rest) == 3 && (rest[2] == "values" || rest[2] == "remapping"):
			p.Listing = rest[2]
		case len(rest) == 4 && rest[2] == "search":
			t, err := decodeSearch(rest[3])
			if err != nil {
				return p, err
			}
			p.Listing, p.Search = "search", t
		default:
			return p, ErrNotEmbedPath
		}
	case p.Kind == "question" && rest[0] == "query" && len(rest) == 1:
		p.Endpoint = EndpointQuery
	case p.Kind == "question" && rest[0] == "query" && len(rest) == 2 && isFormat(rest[1]):
		p.Endpoint, p.Format = EndpointExport, rest[1]
	case p.Kind == "dashboard" && len(rest) == 4 && parseDashcard(&p, rest):
		p.Endpoint = EndpointQuery
	case p.Kind == "dashboard" && len(rest) == 5 && isFormat(rest[4]) && parseDashcard(&p, rest):
		p.Endpoint, p.Format = EndpointExport, rest[4]
	default:
		return p, ErrNotEmbedPath
	}
	return p, checkToken(p.Token, maxToken, plain)
}

// splitSegments appends the segments of an absolute path to segs (its
// capacity bounds their number) and refuses a path that is not absolute,
// has an empty segment ("//", a trailing "/") or too many segments.
func splitSegments(escaped string, segs []string) ([]string, bool) {
	if escaped == "" || escaped[0] != '/' {
		return nil, false
	}
	for rest := escaped[1:]; ; {
		if len(segs) == cap(segs) {
			return nil, false
		}
		i := strings.IndexByte(rest, '/')
		seg := rest
		if i >= 0 {
			seg = rest[:i]
		}
		if seg == "" {
			return nil, false
		}
		segs = append(segs, seg)
		if i < 0 {
			return segs, true
		}
		rest = rest[i+1:]
	}
}

func parseDashcard(p *EmbedPath, rest []string) bool {
	if len(rest) < 4 || rest[0] != "dashcard" || rest[2] != "card" || !isPositiveID(rest[1]) || !isPositiveID(rest[3]) {
		return false
	}
	p.DashcardID, _ = strconv.Atoi(rest[1])
	p.CardID, _ = strconv.Atoi(rest[3])
	return true
}

// tileInt reads a tile coordinate: "0" or a positive id (no sign, no
// leading zero, so the number has one spelling).
func tileInt(s string) (int, bool) {
	if s == "0" {
		return 0, true
	}
	if !isPositiveID(s) {
		return 0, false
	}
	n, _ := strconv.Atoi(s)
	return n, true
}

// isParamID reports whether s is a parameter id: 1 to 64 of [A-Za-z0-9_-].
func isParamID(s string) bool { return s != "" && len(s) <= 64 && allOf(s, nameBytes) }

func kindOf(seg string) string {
	if seg == "card" {
		return "question"
	}
	return "dashboard"
}

func isFormat(s string) bool { return s == "csv" || s == "json" || s == "xlsx" }

// checkToken accepts a compact JWS: three base64url segments, no padding,
// nothing else. Metabase's own pattern is looser; ours only has to cover
// the tokens the gate mints and the HS256 tokens apps mint.
func checkToken(tok string, maxToken int, plain bool) error {
	if len(tok) > maxToken {
		return ErrTokenTooLong
	}
	// Every byte base64url or a dot, eight at a time (unless the path's
	// scan already found every byte plain); then exactly two dots, with a
	// non-empty part on each side (IndexByte is vectorised).
	if !plain && !bytescan.IsTokenBytes(tok) {
		return ErrBadToken
	}
	i := strings.IndexByte(tok, '.')
	if i <= 0 {
		return ErrBadToken
	}
	j := strings.IndexByte(tok[i+1:], '.')
	if j <= 0 {
		return ErrBadToken
	}
	if rest := tok[i+1+j+1:]; rest == "" || strings.IndexByte(rest, '.') >= 0 {
		return ErrBadToken
	}
	return nil
}

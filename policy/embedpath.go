package policy

import (
	"errors"
	"strconv"
	"strings"
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

// EmbedPath is a parsed /embed/* or /api/embed/* path. The token is one path
// segment; everything around it is kept verbatim so the upstream path is the
// same path with only the token swapped.
type EmbedPath struct {
	Kind     string // "dashboard" or "question" (Metabase's "card" is reported as "question")
	Token    string
	Endpoint Endpoint
	// DashcardID and CardID are set for dashcard endpoints; ParamID for values.
	DashcardID, CardID int
	ParamID            string
	Format             string // csv, json or xlsx for exports

	before, after string
}

// WithToken returns the path with the token replaced by tok.
func (p EmbedPath) WithToken(tok string) string { return p.before + tok + p.after }

// ErrNotEmbedPath means the path is not one of the embed routes Metabase
// serves, or holds characters the gate refuses to interpret.
var ErrNotEmbedPath = errors.New("not an embed path")

// ErrTokenTooLong means the token segment is longer than the configured limit.
var ErrTokenTooLong = errors.New("embed token too long")

// ErrBadToken means the path is an embed route but its token segment is
// not a compact JWS (three non-empty base64url segments).
var ErrBadToken = errors.New("embed token is not a compact JWS")

// ParseEmbedPath parses an escaped path (no public prefix) of the embed
// routes. It refuses what a server might resolve differently from us: dot
// segments, empty segments, backslashes and percent-encoded bytes anywhere
// except in a values search prefix, so that the path Metabase routes is
// exactly the path we checked.
func ParseEmbedPath(escaped string, maxToken int) (EmbedPath, error) {
	var p EmbedPath
	if strings.ContainsAny(escaped, "\\") {
		return p, ErrNotEmbedPath
	}
	// The longest embed path has 12 segments; split into a fixed array so
	// the hot path does not allocate a slice per request.
	var buf [16]string
	segs := buf[:0]
	for rest := escaped; ; {
		i := strings.IndexByte(rest, '/')
		if i < 0 {
			segs = append(segs, rest)
			break
		}
		if len(segs) == len(buf)-1 {
			return p, ErrNotEmbedPath
		}
		segs = append(segs, rest[:i])
		rest = rest[i+1:]
	}
	if len(segs) < 3 || segs[0] != "" {
		return p, ErrNotEmbedPath
	}
	for i, s := range segs[1:] {
		if s == "" || s == "." || s == ".." {
			return p, ErrNotEmbedPath
		}
		// A search prefix (the last segment of .../search/{prefix}) may be
		// any escaped text; nothing else needs an escape.
		if strings.Contains(s, "%") {
			isPrefix := i == len(segs)-2 && segs[len(segs)-2] == "search"
			if !isPrefix || containsFold(s, "%2f") || containsFold(s, "%5c") {
				return p, ErrNotEmbedPath
			}
		}
	}
	segs = segs[1:]
	var rest []string
	tokenIdx := 1 // index of the token in segs once "api/embed" is cut off
	switch {
	case segs[0] == "embed":
		if len(segs) != 3 || (segs[1] != "dashboard" && segs[1] != "question") {
			return p, ErrNotEmbedPath
		}
		p.Kind = segs[1]
		p.Endpoint = EndpointPage
		tok := segs[2]
		if p.Kind == "question" {
			if i := strings.LastIndexByte(tok, '.'); i > 0 {
				if f := tok[i+1:]; f == "csv" || f == "json" || f == "xlsx" {
					p.Endpoint, p.Format, tok = EndpointPageExport, f, tok[:i]
				}
			}
		}
		p.Token = tok
		p.before = "/embed/" + p.Kind + "/"
		p.after = escaped[len(p.before)+len(tok):]
		return p, checkToken(p.Token, maxToken)
	case segs[0] == "api" && len(segs) >= 4 && segs[1] == "embed":
		segs = segs[2:]
	default:
		return p, ErrNotEmbedPath
	}
	switch {
	case segs[0] == "card" || segs[0] == "dashboard":
		p.Kind = kindOf(segs[0])
		p.Token, rest = segs[1], segs[2:]
	case segs[0] == "pivot" && len(segs) >= 3 && (segs[1] == "card" || segs[1] == "dashboard"):
		p.Kind = kindOf(segs[1])
		p.Token, rest = segs[2], segs[3:]
		tokenIdx++
		if p.Kind == "question" {
			if len(rest) != 1 || rest[0] != "query" {
				return p, ErrNotEmbedPath
			}
		} else if !parseDashcard(&p, rest) || len(rest) != 4 {
			return p, ErrNotEmbedPath
		}
		p.Endpoint = EndpointQuery
		return finish(p, escaped, segs, tokenIdx, maxToken)
	case segs[0] == "tiles" && len(segs) >= 3 && (segs[1] == "card" || segs[1] == "dashboard"):
		p.Kind = kindOf(segs[1])
		p.Token, rest = segs[2], segs[3:]
		tokenIdx++
		if p.Kind == "dashboard" {
			if !parseDashcard(&p, rest) {
				return p, ErrNotEmbedPath
			}
			rest = rest[4:]
		}
		if len(rest) != 3 || !allInts(rest) {
			return p, ErrNotEmbedPath
		}
		p.Endpoint = EndpointTile
		return finish(p, escaped, segs, tokenIdx, maxToken)
	default:
		return p, ErrNotEmbedPath
	}
	switch {
	case len(rest) == 0:
		p.Endpoint = EndpointInfo
	case len(rest) >= 2 && rest[0] == "params":
		p.ParamID = rest[1]
		switch {
		case len(rest) == 3 && (rest[2] == "values" || rest[2] == "remapping"):
		case len(rest) == 4 && rest[2] == "search":
		default:
			return p, ErrNotEmbedPath
		}
		p.Endpoint = EndpointValues
	case p.Kind == "question" && rest[0] == "query" && len(rest) == 1:
		p.Endpoint = EndpointQuery
	case p.Kind == "question" && rest[0] == "query" && len(rest) == 2 && isFormat(rest[1]):
		p.Endpoint, p.Format = EndpointExport, rest[1]
	case p.Kind == "dashboard" && parseDashcard(&p, rest) && len(rest) == 4:
		p.Endpoint = EndpointQuery
	case p.Kind == "dashboard" && parseDashcard(&p, rest) && len(rest) == 5 && isFormat(rest[4]):
		p.Endpoint, p.Format = EndpointExport, rest[4]
	default:
		return p, ErrNotEmbedPath
	}
	return finish(p, escaped, segs, tokenIdx, maxToken)
}

func finish(p EmbedPath, escaped string, segs []string, tokenIdx, maxToken int) (EmbedPath, error) {
	// The token starts after "/api/embed/" and the segments before it.
	at := len("/api/embed/")
	for _, s := range segs[:tokenIdx] {
		at += len(s) + 1
	}
	p.before, p.after = escaped[:at], escaped[at+len(p.Token):]
	return p, checkToken(p.Token, maxToken)
}

func parseDashcard(p *EmbedPath, rest []string) bool {
	if len(rest) < 4 || rest[0] != "dashcard" || rest[2] != "card" {
		return false
	}
	d, err1 := strconv.Atoi(rest[1])
	c, err2 := strconv.Atoi(rest[3])
	if err1 != nil || err2 != nil || d <= 0 || c <= 0 || !allInts(rest[1:2]) || !allInts(rest[3:4]) {
		return false
	}
	p.DashcardID, p.CardID = d, c
	return true
}

func kindOf(seg string) string {
	if seg == "card" {
		return "question"
	}
	return "dashboard"
}

func isFormat(s string) bool { return s == "csv" || s == "json" || s == "xlsx" }

// allInts reports whether every segment is plain decimal digits (no sign,
// no leading plus that strconv would take).
func allInts(segs []string) bool {
	for _, s := range segs {
		if len(s) == 0 || len(s) > 9 {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
	}
	return true
}

// checkToken accepts a compact JWS: three base64url segments, no padding,
// nothing else. Metabase's own pattern is looser; ours only has to cover
// the tokens the gate mints and the HS256 tokens apps mint.
// base64URL holds the bytes of unpadded base64url: a table lookup per byte
// rather than a chain of comparisons, on a 300-byte token per request.
var base64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

func checkToken(tok string, maxToken int) error {
	if len(tok) > maxToken {
		return ErrTokenTooLong
	}
	dots := 0
	start := 0
	for i := 0; i <= len(tok); i++ {
		if i == len(tok) || tok[i] == '.' {
			if i == start {
				return ErrBadToken
			}
			if i < len(tok) {
				dots++
				start = i + 1
			}
			continue
		}
		if !base64URL[tok[i]] {
			return ErrBadToken
		}
	}
	if dots != 2 {
		return ErrBadToken
	}
	return nil
}

func containsFold(s, sub string) bool { return strings.Contains(strings.ToLower(s), sub) }

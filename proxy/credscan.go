package proxy

import (
	"bytes"
	"io"
	"slices"

	"github.com/tenantgate/tenantgate/auth"
)

// Issue 12, class 2: the gate used to swap only the token it had sent
// Metabase for the handle. Every Metabase credential in a response, whoever
// minted it, must stay away from the browser: a JWT that verifies with
// MB_EMBEDDING_SECRET_KEY or MB_JWT_SHARED_SECRET, and the Metabase session
// key the gate injected. What is read whole (headers, pages, settings,
// embed JSON) is refused when it holds one; a streamed body, whose status
// is already sent, has the credential overwritten in place.

// jwsStart begins every JWT whose header is a JSON object starting with a
// quoted key: base64url of `{"`. Metabase's signers, the gate's and every
// common JWT library emit that form.
var jwsStart = []byte("eyJ")

// indexJWS is bytes.Index(b, jwsStart), found from its rarest byte: a
// vectorised IndexByte for 'J', then the two bytes before it. bytes.Index
// anchors on 'e', the most common letter of JSON text, and falls back to
// IndexByte for each one (about 800 calls over a 20 KB answer); 'J' is rare
// outside base64, so one call usually covers the whole read.
func indexJWS(b []byte) int {
	for i := 2; i < len(b); {
		k := bytes.IndexByte(b[i:], 'J')
		if k < 0 {
			return -1
		}
		i += k
		if b[i-1] == 'y' && b[i-2] == 'e' {
			return i - 2
		}
		i++
	}
	return -1
}

// maxCredentialRun bounds how much of one JWT-shaped run the scanner holds
// back waiting for its end. A token travels in a URL path (Jetty refuses
// request headers over 8 KiB by default) or a small JSON body; a longer run
// is data (an inline base64 asset) and is let through as it is.
const maxCredentialRun = 64 << 10

// redactByte overwrites a removed credential, keeping the body's length so
// its Content-Length and framing stay right.
const redactByte = 'x'

var b64urlByte = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=") {
		t[c] = true
	}
	return t
}()

// jwsRun reads the JWT-shaped run starting at b[i]: base64url, a dot,
// base64url, a dot, base64url. It returns where the run ends, whether it
// has that shape (three non-empty segments), and whether it ended inside b
// (false: b ends in the middle of it, and more bytes may continue it).
func jwsRun(b []byte, i int) (end int, shaped, ended bool) {
	seg, segLen := 0, 0
	for end = i; end < len(b); end++ {
		c := b[end]
		switch {
		case b64urlByte[c]:
			segLen++
		case c == '.' && seg < 2 && segLen > 0:
			seg, segLen = seg+1, 0
		default:
			return end, seg == 2 && segLen > 0, true
		}
	}
	return end, seg == 2 && segLen > 0, false
}

// credentialFinder finds Metabase credentials in bytes: JWTs the detector
// verifies, and the session key the gate injected (nil: none).
type credentialFinder struct {
	det     *auth.CredentialDetector
	session []byte
	// own is the Metabase token the browser itself presented (pass-through
	// mode): echoing it back tells the browser nothing new.
	own []byte
}

// credentialHit is one credential found: where it is in the bytes, and
// what it is ("embed", "sso" or "session").
type credentialHit struct {
	start, end int
	kind       string
}

// find returns the first credential in b at or after from; ok is false
// when there is none. A run b cuts off at its end is judged on what b
// holds: callers that stream hold such a run back first (see scan).
func (f *credentialFinder) find(b []byte, from int) (h credentialHit, ok bool) {
	for i := from; ; {
		j := indexJWS(b[i:])
		if j < 0 {
			break
		}
		start := i + j
		end, shaped, _ := jwsRun(b, start)
		if shaped {
			if kind, verified := f.credential(b[start:end]); verified {
				h, ok = credentialHit{start, end, kind}, true
				break
			}
		}
		i = end
	}
	if len(f.session) > 0 {
		limit := len(b)
		if ok {
			limit = h.start
		}
		if j := bytes.Index(b[from:limit], f.session); j >= 0 {
			return credentialHit{from + j, from + j + len(f.session), "session"}, true
		}
	}
	return h, ok
}

// credential reports whether a JWT-shaped run is a Metabase credential,
// and of which kind: it verifies with a Metabase secret and is not the
// browser's own token.
func (f *credentialFinder) credential(run []byte) (string, bool) {
	kind, verified := f.det.Verify(run)
	return kind, verified && !bytes.Equal(run, f.own)
}

// credentialScanner streams an upstream body, overwriting every credential
// in it before the bytes go on (to the browser, the merge tee and the
// micro-cache alike, which all read through it). A credential cut by a
// read is held back until its end arrives. The common body, with no "eyJ"
// in it, costs one bytes.Index per read and no allocation.
type credentialScanner struct {
	src io.ReadCloser
	f   credentialFinder
	// g and s, when set, log and count each credential removed (a field
	// each, not a closure: the scanner lives in the request's scope and
	// costs no allocation).
	g       *Gate
	s       *scope
	removed int
	// pend holds bytes read but not yet returned: pend[:ready] are
	// scanned and may go, the rest may begin a credential.
	pend  []byte
	ready int
	err   error
}

func (s *credentialScanner) Close() error { return s.src.Close() }

// noteBroken marks the request's answer as cut when Metabase's body ends in
// an error (a reset, or the deadline's close): what was read of it is not
// an answer to keep or share (answeredWhole).
func (s *credentialScanner) noteBroken(err error) {
	if err != nil && err != io.EOF && s.s != nil {
		s.s.upstreamBroken = true
	}
}

func (s *credentialScanner) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if s.ready > 0 {
			n := copy(p, s.pend[:s.ready])
			s.pend = s.pend[:copy(s.pend, s.pend[n:])]
			s.ready -= n
			return n, nil
		}
		if s.err != nil {
			if len(s.pend) > 0 {
				s.ready = s.scan(s.pend, true)
				continue
			}
			return 0, s.err
		}
		if len(s.pend) == 0 {
			// Nothing held: read straight into p.
			n, err := s.src.Read(p)
			s.err = err
			s.noteBroken(err)
			if n == 0 {
				if err == nil {
					return 0, nil
				}
				continue
			}
			cut := s.scan(p[:n], err != nil)
			if cut < n {
				s.pend = append(s.pend, p[cut:n]...)
			}
			if cut > 0 {
				return cut, nil
			}
			continue
		}
		// A held tail: read more behind it.
		s.pend = slices.Grow(s.pend, 4<<10)
		n, err := s.src.Read(s.pend[len(s.pend):cap(s.pend)])
		s.pend = s.pend[:len(s.pend)+n]
		s.err = err
		s.noteBroken(err)
		if n == 0 && err == nil {
			return 0, nil
		}
		s.ready = s.scan(s.pend, err != nil)
	}
}

// scan overwrites the credentials in b and returns how much of b may go
// now: all of it at the end of the body, else everything before a tail
// that may begin a credential the next read completes.
func (s *credentialScanner) scan(b []byte, final bool) int {
	// One pass over b, run by run: a JWT that verifies is overwritten, and
	// a run b ends in the middle of is held back from its start (the next
	// read completes it), unless it is already longer than any token.
	limit := len(b)
	for i := 0; ; {
		j := indexJWS(b[i:])
		if j < 0 {
			break
		}
		start := i + j
		end, shaped, ended := jwsRun(b, start)
		if !ended && !final {
			if len(b)-start <= maxCredentialRun {
				limit = start
			}
			break
		}
		if shaped {
			if kind, ok := s.f.credential(b[start:end]); ok {
				s.remove(b, start, end, kind)
			}
		}
		i = end
	}
	if session := s.f.session; len(session) > 0 {
		for from := 0; ; {
			j := bytes.Index(b[from:limit], session)
			if j < 0 {
				break
			}
			s.remove(b, from+j, from+j+len(session), "session")
			from += j + len(session)
		}
	}
	if final {
		return limit
	}
	return limit - heldTail(b[:limit], s.f.session)
}

// remove overwrites the credential at b[start:end], logged and counted.
func (s *credentialScanner) remove(b []byte, start, end int, kind string) {
	s.removed++
	if s.g != nil {
		s.g.credentialRemoved(s.s, whereStream, kind, b[start:end])
	}
	for k := start; k < end; k++ {
		b[k] = redactByte
	}
}

// heldTail is how many bytes at the end of b may be the start of "eyJ" or
// of the session key.
func heldTail(b []byte, session []byte) int {
	n := 0
	for k := min(len(jwsStart)-1, len(b)); k > 0; k-- {
		if bytes.HasSuffix(b, jwsStart[:k]) {
			n = k
			break
		}
	}
	for k := min(len(session)-1, len(b)); k > n; k-- {
		if bytes.HasSuffix(b, session[:k]) {
			return k
		}
	}
	return n
}

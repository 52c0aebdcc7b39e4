package metabasetest

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"time"
)

// Where a faulty upstream puts a credential it minted (see LeakCredential).
type CredentialPlace string

// The places LeakCredential can put a credential.
const (
	// InLocation answers 302 with the credential in an absolute Location
	// on the stand-in's own host, as a redirect built from another token.
	InLocation CredentialPlace = "location"
	// InRelativeLocation answers 302 with a relative Location.
	InRelativeLocation CredentialPlace = "location-relative"
	// InHeader answers 200 with the credential in X-Embed-Token.
	InHeader CredentialPlace = "header"
	// InSessionHeader answers 200 with X-Metabase-Session set to the
	// credential (a session key).
	InSessionHeader CredentialPlace = "session-header"
	// InJSON answers 200 application/json with it in a string.
	InJSON CredentialPlace = "json"
	// InGzipJSON is InJSON compressed with gzip (Content-Encoding: gzip).
	InGzipJSON CredentialPlace = "gzip-json"
	// InHTML answers 200 text/html with it in a script.
	InHTML CredentialPlace = "html"
	// InStream answers 202 as a query does, and flushes the body in two
	// writes, cutting the credential after Split bytes.
	InStream CredentialPlace = "stream"
)

// Leak describes a faulty upstream answer for LeakCredential.
type Leak struct {
	Place CredentialPlace
	// Credential is what the upstream leaks: a token it signed (see
	// ForeignToken), a session key.
	Credential string
	// Split is where InStream cuts the credential between its two
	// flushes (0..len(Credential)).
	Split int
}

// LeakCredential returns an override for SetOverride that makes the
// stand-in misbehave as a compromised Metabase, or one whose redirect was
// built from another token, would: every request is answered with l's
// credential at l.Place. Metabase itself never does this; the override
// exists so tests can prove the proxy keeps such a credential from the
// browser.
func LeakCredential(l Leak) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		h := w.Header()
		cred := l.Credential
		switch l.Place {
		case InLocation:
			h.Set("Location", "http://"+r.Host+"/api/embed/card/"+cred+"/query/csv")
			w.WriteHeader(http.StatusFound)
		case InRelativeLocation:
			h.Set("Location", "/embed/dashboard/"+cred+"#bordered=true")
			w.WriteHeader(http.StatusFound)
		case InHeader:
			h.Set("X-Embed-Token", "Bearer "+cred)
			writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
		case InSessionHeader:
			h.Set("X-Metabase-Session", cred)
			writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
		case InJSON:
			writeJSON(w, http.StatusOK, map[string]any{"id": 1, "name": "Orders", "embed_url": "/embed/question/" + cred})
		case InGzipJSON:
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write([]byte(`{"id":1,"name":"Orders","token":"` + cred + `"}`))
			zw.Close()
			h.Set("Content-Type", "application/json; charset=utf-8")
			h.Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusOK)
			w.Write(b.Bytes())
		case InHTML:
			h.Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`<!doctype html><html><script>window.MB_TOKEN = "` + cred + `";</script></html>`))
		case InStream:
			split := min(max(l.Split, 0), len(cred))
			h.Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusAccepted)
			w.Write([]byte(`{"data":{"cols":[{"name":"link"}],"rows":[["` + cred[:split]))
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond) // let the first piece go out on its own
			w.Write([]byte(cred[split:] + `"]]},"status":"completed"}`))
		default:
			return false
		}
		return true
	}
}

// ForeignToken is a token the faulty upstream signs with secret for
// dashboard id locked to tenant: a Metabase credential the gate never
// minted, valid for Metabase.
func ForeignToken(secret string, dashboard int, tenant string) string {
	return Sign(secret, map[string]any{"resource": map[string]any{"dashboard": dashboard},
		"params": map[string]any{slugOrg: tenant}, "exp": time.Now().Add(10 * time.Minute).Unix()})
}

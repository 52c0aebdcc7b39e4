package proxy

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"testing"
)

// TestCompletedQuery: only an answer whose top-level status is
// "completed" may be shared, plain or gzip; anything else stays the
// caller's own.
func TestCompletedQuery(t *testing.T) {
	gz := func(s string) string {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(s))
		_ = zw.Close()
		return b.String()
	}
	const done = `{"data":{"rows":[[1,"acme"]],"cols":[]},"json_query":{"parameters":[]},"status":"completed"}`
	const failed = `{"status":"failed","error":"An error occurred while running the query.","error_type":"db"}`
	tests := []struct {
		name, encoding, body string
		want                 bool
	}{
		{"completed", "", done, true},
		{"completed, identity", "identity", done, true},
		{"failed", "", failed, false},
		{"completed, gzip", "gzip", gz(done), true},
		{"failed, gzip", "gzip", gz(failed), false},
		{"gzip header but plain body", "gzip", done, false},
		{"another encoding", "br", done, false},
		{"status only inside data", "", `{"data":{"status":"completed"},"status":"failed"}`, false},
		{"no status", "", `{"data":{"rows":[]}}`, false},
		{"status not a string", "", `{"status":1}`, false},
		{"cut short", "", done[:40], false},
		{"status first, then cut short", "", `{"status":"completed","data":{"rows":[[1,`, false},
		{"something after the object", "", done + `{}`, false},
		{"gzip cut short", "gzip", gz(done)[:30], false},
		{"not an object", "", `["status","completed"]`, false},
		{"empty", "", ``, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &sharedResponse{status: http.StatusAccepted, header: http.Header{}, body: []byte(tt.body)}
			if tt.encoding != "" {
				res.header.Set("Content-Encoding", tt.encoding)
			}
			if got := completedQuery(res); got != tt.want {
				t.Errorf("completedQuery = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzCompletedQuery: on any body, plain or gzip, completedQuery never
// panics and says true exactly when the body is one JSON object whose
// top-level "status" is the string "completed" (as encoding/json reads it).
func FuzzCompletedQuery(f *testing.F) {
	for _, s := range []string{
		`{"data":{"rows":[]},"status":"completed"}`, `{"status":"failed"}`, `{"status":"completed"}{}`,
		`{"status":"completed","status":"failed"}`, `{"data":{"status":"completed"}}`, `[]`, `{"status":1}`, ``,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, gzipped bool) {
		res := &sharedResponse{status: http.StatusAccepted, header: http.Header{}, body: body}
		if gzipped {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			_, _ = zw.Write(body)
			_ = zw.Close()
			res.header.Set("Content-Encoding", "gzip")
			res.body = b.Bytes()
		}
		var top map[string]json.RawMessage
		var status string
		want := json.Unmarshal(body, &top) == nil && top != nil && top["status"] != nil &&
			json.Unmarshal(top["status"], &status) == nil && status == "completed"
		if got := completedQuery(res); got != want {
			t.Errorf("completedQuery(%q, gzip %v) = %v, want %v", body, gzipped, got, want)
		}
	})
}

package metabasetest

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

const testSecret = "5b0e8c7a1d2f4e6b9a3c5d7e1f2a4b6c8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a"

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// newTestServer serves a stand-in with the test secret and clock, unless
// opts says otherwise.
func newTestServer(t *testing.T, opts Options) (*Server, *httptest.Server) {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return testNow }
	}
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

func defaultServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	return newTestServer(t, Options{SecretKey: testSecret})
}

type response struct {
	status int
	body   string
	header http.Header
}

// fetch sends method to url without following redirects.
func fetch(t *testing.T, method, url string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res.StatusCode, string(b), res.Header}
}

func get(t *testing.T, url string) response {
	t.Helper()
	return fetch(t, http.MethodGet, url)
}

// claimsFor is a token payload for a resource with params.
func claimsFor(kind string, id any, params any) map[string]any {
	return map[string]any{"resource": map[string]any{kind: id}, "params": params}
}

func dashToken(id any, params any) string {
	return Sign(testSecret, claimsFor("dashboard", id, params))
}

func cardToken(id any, params any) string {
	return Sign(testSecret, claimsFor("question", id, params))
}

func acme() map[string]any { return map[string]any{"organization_id": "acme"} }

// withClaims returns base with kv set.
func withClaims(base map[string]any, kv map[string]any) map[string]any {
	out := maps.Clone(base)
	maps.Copy(out, kv)
	return out
}

// signHS512 signs for real with HMAC-SHA512, which Metabase does not accept.
func signHS512(secret string, claims map[string]any) string {
	payload, _ := json.Marshal(claims)
	signing := b64([]byte(`{"alg":"HS512","typ":"JWT"}`)) + "." + b64(payload)
	m := hmac.New(sha512.New, []byte(secret))
	m.Write([]byte(signing))
	return signing + "." + b64(m.Sum(nil))
}

// queryResult is the body of a /query answer.
type queryResult struct {
	Data struct {
		Rows [][]any `json:"rows"`
		Cols []struct {
			Name        string `json:"name"`
			DisplayName string `json:"display_name"`
		} `json:"cols"`
		ResultsTimezone string `json:"results_timezone"`
	} `json:"data"`
	JSONQuery struct {
		Parameters []map[string]any `json:"parameters"`
	} `json:"json_query"`
	Status string `json:"status"`
}

func decodeResult(t *testing.T, body string) queryResult {
	t.Helper()
	var r queryResult
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("decoding query result %q: %v", body, err)
	}
	return r
}

// column returns the distinct sorted values of column name in a result.
func (r queryResult) column(name string) []string {
	idx := -1
	for i, c := range r.Data.Cols {
		if c.Name == name {
			idx = i
		}
	}
	var out []string
	if idx < 0 {
		return out
	}
	for _, row := range r.Data.Rows {
		if s, ok := row[idx].(string); ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// rowsOf counts the orders of the sample table matching keep.
func rowsOf(keep func(Order) bool) int {
	n := 0
	for _, o := range Orders() {
		if keep(o) {
			n++
		}
	}
	return n
}

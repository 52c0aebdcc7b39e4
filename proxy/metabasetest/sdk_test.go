package metabasetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestSDKSettings: the token features and embedding settings the embedding
// SDK reads from GET /api/session/properties. Every key of Metabase's
// token-features is there; a stand-in with JWT SSO is a Pro instance with
// the SDK licensed, and development mode is off (the SDK warns on it).
func TestSDKSettings(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		features map[string]bool
		settings map[string]bool
	}{
		{"static embedding only", Options{SecretKey: testSecret},
			map[string]bool{"embedding_sdk": false, "sso_jwt": false, "sandboxes": false, "development_mode": false},
			map[string]bool{"enable-embedding-sdk": false, "enable-embedding-simple": false, "jwt-enabled": false}},
		{"JWT SSO, sandboxes", Options{SecretKey: testSecret, Sandboxing: true, SSO: SSOOptions{SharedSecret: testSSOSecret}},
			map[string]bool{"embedding_sdk": true, "embedding_simple": true, "sso_jwt": true, "sandboxes": true, "tenants": false, "development_mode": false},
			map[string]bool{"enable-embedding-sdk": true, "enable-embedding-simple": true, "jwt-enabled": true}},
		{"the SDK turned off", Options{SecretKey: testSecret, SSO: SSOOptions{SharedSecret: testSSOSecret, SDKDisabled: true, Tenants: true}},
			map[string]bool{"embedding_sdk": true, "tenants": true},
			map[string]bool{"enable-embedding-sdk": false, "enable-embedding-simple": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ts := newTestServer(t, tt.opts)
			res := get(t, ts.URL+"/api/session/properties")
			var got struct {
				Version  struct{ Tag string } `json:"version"`
				Features map[string]bool      `json:"token-features"`
			}
			var all map[string]any
			if res.status != 200 || json.Unmarshal([]byte(res.body), &got) != nil || json.Unmarshal([]byte(res.body), &all) != nil {
				t.Fatalf("session properties: %d %s", res.status, res.body)
			}
			if got.Version.Tag != Version {
				t.Errorf("version.tag = %q, want %q", got.Version.Tag, Version)
			}
			if len(got.Features) < 50 {
				t.Errorf("token-features has %d keys, want every feature Metabase lists", len(got.Features))
			}
			for k, want := range tt.features {
				if v, ok := got.Features[k]; !ok || v != want {
					t.Errorf("token-features.%s = %v (present %v), want %v", k, v, ok, want)
				}
			}
			for k, want := range tt.settings {
				if all[k] != want {
					t.Errorf("%s = %v, want %v", k, all[k], want)
				}
			}
		})
	}
}

// TestSDKQueryMetadata: a card's and a dashboard's query metadata, the
// databases and the root collection, for a sandboxed user and for a user
// who may read nothing (whose metadata lists no table, as can-read?
// filters them); an unknown card is 404 and no session is 401.
func TestSDKQueryMetadata(t *testing.T) {
	_, base := ssoServer(t, SSOOptions{GroupSync: true})
	sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
	idOf := func(claims map[string]any) string {
		var r struct{ ID string }
		json.Unmarshal([]byte(call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(claims), sdk, "").body), &r)
		return r.ID
	}
	sandboxed := idOf(alice(nil))
	nothing := idOf(alice(map[string]any{"email": "carol@example.com", "groups": []any{}}))
	tests := []struct {
		name       string
		session    string
		path       string
		wantStatus int
		wantTables int // -1: not a metadata answer
		wantKeys   []string
	}{
		{"card, sandboxed", sandboxed, fmt.Sprintf("/api/card/%d/query_metadata", QuestionOrdersQuery), 200, 1, []string{"databases", "tables", "fields", "snippets"}},
		{"dashboard, sandboxed", sandboxed, fmt.Sprintf("/api/dashboard/%d/query_metadata", DashboardSDK), 200, 1, []string{"databases", "tables", "fields", "snippets", "cards", "dashboards"}},
		{"card, no access", nothing, fmt.Sprintf("/api/card/%d/query_metadata", QuestionOrdersQuery), 200, 0, nil},
		{"unknown card", sandboxed, "/api/card/999/query_metadata", 404, -1, nil},
		{"unknown dashboard", sandboxed, "/api/dashboard/999/query_metadata", 404, -1, nil},
		{"no session", "", fmt.Sprintf("/api/card/%d/query_metadata", QuestionOrdersQuery), 401, -1, nil},
		{"databases, sandboxed", sandboxed, "/api/database", 200, -1, []string{`"total":1`}},
		{"databases, no access", nothing, "/api/database", 200, -1, []string{`"total":0`}},
		{"root collection", sandboxed, "/api/collection/root", 200, -1, []string{`"id":"root"`, `"can_write":false`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.session != "" {
				hdr["X-Metabase-Session"] = tt.session
			}
			res := call(t, "GET", base+tt.path, hdr, "")
			if res.status != tt.wantStatus {
				t.Fatalf("%s = %d %s, want %d", tt.path, res.status, res.body, tt.wantStatus)
			}
			if tt.wantTables >= 0 {
				var m map[string][]map[string]any
				if err := json.Unmarshal([]byte(res.body), &m); err != nil {
					t.Fatalf("%s: %v %s", tt.path, err, res.body)
				}
				for _, k := range tt.wantKeys {
					if _, ok := m[k]; !ok {
						t.Errorf("%s has no %q: %s", tt.path, k, res.body)
					}
				}
				if len(m["tables"]) != tt.wantTables || len(m["databases"]) != tt.wantTables {
					t.Errorf("%s lists %d tables and %d databases, want %d", tt.path, len(m["tables"]), len(m["databases"]), tt.wantTables)
				}
				if tt.wantTables > 0 && (m["tables"][0]["id"] != float64(TableOrders) || m["tables"][0]["fields"] == nil) {
					t.Errorf("%s: tables[0] = %v, want the orders table with its fields", tt.path, m["tables"][0])
				}
				return
			}
			for _, k := range tt.wantKeys {
				if !strings.Contains(res.body, k) {
					t.Errorf("%s = %s, want it to hold %s", tt.path, res.body, k)
				}
			}
		})
	}
}

// TestSDKContent: the query-builder question and dashboard run for a
// sandboxed user with the user's rows only, where the native QuestionOrders
// is refused (a sandboxed user runs no SQL).
func TestSDKContent(t *testing.T) {
	_, base := ssoServer(t, SSOOptions{GroupSync: true})
	sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
	var r struct{ ID string }
	json.Unmarshal([]byte(call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(alice(nil)), sdk, "").body), &r)
	hdr := map[string]string{"X-Metabase-Session": r.ID}
	acmeRows := rowsOf(func(o Order) bool { return o.OrganizationID == "acme" })
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantRows   int
	}{
		{"query-builder question", fmt.Sprintf("/api/card/%d/query", QuestionOrdersQuery), 202, acmeRows},
		{"its dashcard", fmt.Sprintf("/api/dashboard/%d/dashcard/%d/card/%d/query", DashboardSDK, DashcardSDKTable, QuestionOrdersQuery), 202, acmeRows},
		{"native question", fmt.Sprintf("/api/card/%d/query", QuestionOrders), 403, -1},
		{"a card not on the dashboard", fmt.Sprintf("/api/dashboard/%d/dashcard/%d/card/%d/query", DashboardSDK, DashcardSDKTable, QuestionOrders), 404, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, "POST", base+tt.path, hdr, "{}")
			if res.status != tt.wantStatus {
				t.Fatalf("%s = %d %s, want %d", tt.path, res.status, res.body, tt.wantStatus)
			}
			if tt.wantRows < 0 {
				return
			}
			q := decodeResult(t, res.body)
			if len(q.Data.Rows) != tt.wantRows {
				t.Errorf("%s: %d rows, want %d", tt.path, len(q.Data.Rows), tt.wantRows)
			}
			for _, org := range q.column("organization_id") {
				if org != "acme" {
					t.Errorf("%s: a row of %q", tt.path, org)
				}
			}
		})
	}
}

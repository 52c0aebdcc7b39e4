package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/configs"
)

// guestToken posts body to the gate's guest token provider as embed.js
// does (?response=json, JSON, the app's cookies).
func (h *harness) guestToken(sess, query, contentType, body string) *httptest.ResponseRecorder {
	h.t.Helper()
	r := httptest.NewRequest("POST", "/.tenantgate/guest/token"+query, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if sess != "" {
		r.AddCookie(&http.Cookie{Name: h.cfg.Session.Cookie, Value: sess})
	}
	w := httptest.NewRecorder()
	h.stack.Gate.ServeHTTP(w, r)
	return w
}

// TestGuestTokenProvider: embed.js's guestEmbedProviderUri, served by the
// gate, answers a fresh handle for what the policy lets the caller embed;
// entityType, entityId and customContext come from the browser and are
// checked like any attacker input, never copied into a token (a forged
// customContext does not move the tenant filter), and a foreign or unknown
// entityId is refused. Nothing refused reaches Metabase, and the handle is
// no Metabase token.
func TestGuestTokenProvider(t *testing.T) {
	h := newHarness(t, func(c *configs.Config) {
		c.Policy.Resources = []configs.ResourcePolicy{{Dashboard: 1}, {Dashboard: 2, Tenants: []string{"globex"}}, {Question: 1}}
	})
	acme := session("alice", "acme", time.Hour)
	const js = "application/json"
	tests := []struct {
		name, sess, query, ct, body string
		wantStatus                  int
		wantReason                  string
	}{
		{"dashboard, as embed.js sends it", acme, "?response=json", js, `{"entityType":"dashboard","entityId":1,"customContext":"my-context"}`, 200, ""},
		{"question, no customContext, no query", acme, "", js, `{"entityType":"question","entityId":1}`, 200, ""},
		{"customContext forging the tenant is ignored", acme, "?response=json", js,
			`{"entityType":"dashboard","entityId":1,"customContext":{"organization_id":"globex","params":{"organization_id":"globex"}}}`, 200, ""},
		{"foreign entityId (another tenant's dashboard)", acme, "?response=json", js, `{"entityType":"dashboard","entityId":2}`, 403, "resource-not-allowed"},
		{"entityId off the policy", acme, "?response=json", js, `{"entityType":"dashboard","entityId":3}`, 403, "resource-not-allowed"},
		{"entityId as a string", acme, "?response=json", js, `{"entityType":"dashboard","entityId":"1"}`, 400, "malformed-request"},
		{"a 21-character entity id", acme, "?response=json", js, `{"entityType":"dashboard","entityId":"VSjuKtY4J8rxCxoW6k1vK"}`, 400, "malformed-request"},
		{"entityId zero", acme, "?response=json", js, `{"entityType":"dashboard","entityId":0}`, 400, "malformed-request"},
		{"entityId negative", acme, "?response=json", js, `{"entityType":"dashboard","entityId":-1}`, 400, "malformed-request"},
		{"entityId fractional", acme, "?response=json", js, `{"entityType":"dashboard","entityId":1.5}`, 400, "malformed-request"},
		{"entityId in exponent form", acme, "?response=json", js, `{"entityType":"dashboard","entityId":1e0}`, 400, "malformed-request"},
		{"entityId too large", acme, "?response=json", js, `{"entityType":"dashboard","entityId":12345678901}`, 400, "malformed-request"},
		{"entityType of another kind", acme, "?response=json", js, `{"entityType":"collection","entityId":1}`, 400, "malformed-request"},
		{"no entityType", acme, "?response=json", js, `{"entityId":1}`, 400, "malformed-request"},
		{"params from the browser", acme, "?response=json", js, `{"entityType":"dashboard","entityId":1,"params":{"organization_id":"globex"}}`, 400, "malformed-request"},
		{"the tenant from the browser", acme, "?response=json", js, `{"entityType":"dashboard","entityId":1,"organization_id":"globex"}`, 400, "malformed-request"},
		{"entityId twice", acme, "?response=json", js, `{"entityType":"dashboard","entityId":1,"entityId":2}`, 400, "malformed-request"},
		{"a form post (cross-site)", acme, "?response=json", "application/x-www-form-urlencoded", `entityType=dashboard&entityId=1`, 400, "malformed-request"},
		{"text/plain (a simple cross-site request)", acme, "?response=json", "text/plain", `{"entityType":"dashboard","entityId":1}`, 400, "malformed-request"},
		{"another query", acme, "?response=json&tenant=globex", js, `{"entityType":"dashboard","entityId":1}`, 400, "param-not-allowed"},
		{"no app session", "", "?response=json", js, `{"entityType":"dashboard","entityId":1}`, 401, "no-session"},
		{"too large", acme, "?response=json", js, `{"entityType":"dashboard","entityId":1,"customContext":"` + strings.Repeat("x", 9000) + `"}`, 431, "request-too-large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			h.mb.Reset()
			w := h.guestToken(tt.sess, tt.query, tt.ct, tt.body)
			if w.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus != 200 {
				if got := reason(w); got != tt.wantReason {
					t.Errorf("reason = %q, want %q", got, tt.wantReason)
				}
				if n := len(h.mb.Requests()); n != 0 {
					t.Errorf("a refused request reached Metabase %d times", n)
				}
				return
			}
			var got struct{ JWT string }
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.JWT == "" {
				t.Fatalf("answer %s", w.Body)
			}
			if _, ok := hs256Claims(got.JWT, testMBKey); ok {
				t.Fatal("the guest token is a Metabase-valid embed token")
			}
			var req struct {
				EntityType string `json:"entityType"`
			}
			_ = json.Unmarshal([]byte(tt.body), &req)
			// The handle opens the embed for the caller's own tenant only.
			api := map[string]string{"dashboard": "dashboard", "question": "card"}[req.EntityType]
			w = h.do("GET", "/api/embed/"+api+"/"+got.JWT, tt.sess, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("embed with the guest token: %d %s", w.Code, w.Body)
			}
			reqs := h.mb.Requests()
			if len(reqs) != 1 {
				t.Fatalf("Metabase got %d requests", len(reqs))
			}
			params, _ := reqs[0].Claims["params"].(map[string]any)
			if params["organization_id"] != "acme" || len(params) != 1 {
				t.Errorf("Metabase's token params = %v, want only organization_id=acme", params)
			}
		})
	}
}

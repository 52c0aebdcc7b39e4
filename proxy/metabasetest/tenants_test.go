package metabasetest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// sdkSignIn exchanges an SSO JWT through the SDK flow and returns the
// session key, or fails with the answer.
func sdkSignIn(t *testing.T, base string, claims map[string]any) string {
	t.Helper()
	res := call(t, "GET", base+"/auth/sso?jwt="+url.QueryEscape(ssoJWT(claims)), map[string]string{"X-Metabase-Client": "embedding-sdk-react"}, "")
	var s struct{ ID string }
	if res.status != http.StatusOK || json.Unmarshal([]byte(res.body), &s) != nil || s.ID == "" {
		t.Fatalf("sign-in: %d %s", res.status, res.body)
	}
	return s.ID
}

// orderCount runs QuestionAllOrdersCount with a session: the count of the
// orders the session's user may see under the sandbox.
func orderCount(t *testing.T, base, key string) int {
	t.Helper()
	res := call(t, "POST", base+"/api/card/"+strconv.Itoa(QuestionAllOrdersCount)+"/query", map[string]string{"X-Metabase-Session": key}, `{}`)
	var out struct {
		Status string
		Data   struct{ Rows [][]float64 }
	}
	if json.Unmarshal([]byte(res.body), &out) != nil || out.Status != "completed" || len(out.Data.Rows) != 1 {
		t.Fatalf("count: %d %s", res.status, res.body)
	}
	return int(out.Data.Rows[0][0])
}

func ordersOf(tenant string) int {
	n := 0
	for _, o := range Orders() {
		if o.OrganizationID == tenant {
			n++
		}
	}
	return n
}

// TestSSOOneUserPerEmail reproduces the hole of issue 12 §4 against the
// stand-in alone: Metabase keys JWT users by email and reads attributes at
// request time, so the second sign-in of the same email (another
// organization) changes what the first session sees.
func TestSSOOneUserPerEmail(t *testing.T) {
	s, base := ssoServer(t, SSOOptions{GroupSync: true})
	acme := sdkSignIn(t, base, alice(nil))
	if got, want := orderCount(t, base, acme), ordersOf("acme"); got != want {
		t.Fatalf("first session: %d orders, want acme's %d", got, want)
	}
	globex := sdkSignIn(t, base, alice(map[string]any{"organization_id": "globex", "email": "ALICE@example.com"}))
	if got, want := orderCount(t, base, acme), ordersOf("globex"); got != want {
		t.Errorf("first (acme) session after the globex sign-in: %d orders, want globex's %d (Metabase's behaviour)", got, want)
	}
	if a, b := mustUser(t, s, acme), mustUser(t, s, globex); a.ID != b.ID {
		t.Errorf("two sign-ins of one email made users %d and %d, want one", a.ID, b.ID)
	}
}

func mustUser(t *testing.T, s *Server, key string) SSOUser {
	t.Helper()
	u, ok := s.SessionUser(key)
	if !ok {
		t.Fatal("session not alive")
	}
	return u
}

// TestSSOTenants models Metabase's first-class tenants: @tenant creates
// the tenant, @tenant.attributes set its attributes once (existing values
// win), a user's tenant never changes, and sandboxes read the tenant's
// attributes under the user's jwt_attributes.
func TestSSOTenants(t *testing.T) {
	withTenant := func(email, tenant string, attrs map[string]any, extra map[string]any) map[string]any {
		c := alice(map[string]any{"email": email, "organization_id": nil, "@tenant": tenant})
		if attrs != nil {
			c["@tenant.attributes"] = attrs
		}
		for k, v := range extra {
			c[k] = v
		}
		return c
	}
	s, base := ssoServer(t, SSOOptions{GroupSync: true, Tenants: true})
	key := sdkSignIn(t, base, withTenant("a@acme.example", "acme", map[string]any{"organization_id": "acme", "seats": 3, "tags": []any{"x"}, "@x": "y"}, nil))
	tn, ok := s.Tenant("acme")
	if !ok || len(tn.Attributes) != 2 || tn.Attributes["organization_id"] != "acme" || tn.Attributes["seats"] != "3" {
		t.Fatalf("tenant %+v", tn)
	}
	u := mustUser(t, s, key)
	if u.Tenant != "acme" || u.Effective["organization_id"] != "acme" || u.Effective["@tenant.slug"] != "acme" || len(u.Attributes) != 0 {
		t.Errorf("user %+v", u)
	}
	if got, want := orderCount(t, base, key), ordersOf("acme"); got != want {
		t.Errorf("sandbox on the tenant attribute: %d orders, want %d", got, want)
	}
	// A second user of the tenant cannot change its attributes, only add.
	key2 := sdkSignIn(t, base, withTenant("b@acme.example", "acme", map[string]any{"organization_id": "globex", "plan": "pro"}, nil))
	if tn, _ := s.Tenant("acme"); tn.Attributes["organization_id"] != "acme" || tn.Attributes["plan"] != "pro" {
		t.Errorf("tenant attributes after a second JWT: %v", tn.Attributes)
	}
	if got, want := orderCount(t, base, key2), ordersOf("acme"); got != want {
		t.Errorf("second user: %d orders, want acme's %d", got, want)
	}
	// A user attribute beats the tenant's (merge order).
	key3 := sdkSignIn(t, base, withTenant("b@acme.example", "acme", nil, map[string]any{"organization_id": "globex"}))
	if got, want := orderCount(t, base, key3), ordersOf("globex"); got != want {
		t.Errorf("jwt attribute over the tenant's: %d orders, want %d", got, want)
	}
	// An attribute an admin set by hand beats the JWT's and the tenant's.
	if !s.SetLoginAttributes("b@acme.example", map[string]string{"organization_id": "initech"}) {
		t.Fatal("no user b@acme.example")
	}
	if got, want := orderCount(t, base, key3), ordersOf("initech"); got != want {
		t.Errorf("login attribute over the JWT's: %d orders, want %d", got, want)
	}
	sdkSignIn(t, base, alice(map[string]any{"email": "internal@example.com"}))

	sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
	_, off := ssoServer(t, SSOOptions{})
	tests := []struct {
		name   string
		base   string
		claims map[string]any
		status int
		body   string
	}{
		{"another tenant for an existing user", base, withTenant("a@acme.example", "globex", nil, nil), 403, msgTenantMismatch},
		{"tenant user without a tenant", base, alice(map[string]any{"email": "a@acme.example"}), 403, msgTenantRequired},
		{"internal user given a tenant", base, withTenant("internal@example.com", "acme", nil, nil), 403, msgTenantInternal},
		{"tenant not a string", base, withTenant("c@acme.example", "", nil, map[string]any{"@tenant": []any{"acme"}}), 400, msgTenantNotString},
		{"slug Metabase refuses", base, withTenant("c@acme.example", "Acme", nil, nil), 400, msgTenantSlug},
		{"tenants off", off, withTenant("c@acme.example", "acme", nil, nil), 403, msgTenantsDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := call(t, "GET", tt.base+"/auth/sso?jwt="+url.QueryEscape(ssoJWT(tt.claims)), sdk, "")
			if res.status != tt.status || res.body != tt.body {
				t.Errorf("%d %q, want %d %q", res.status, res.body, tt.status, tt.body)
			}
		})
	}
	if _, ok := s.Tenant("globex"); ok {
		t.Error("a refused sign-in created its tenant")
	}
	// An integer @tenant is its decimal slug.
	if u := mustUser(t, s, sdkSignIn(t, base, withTenant("n@42.example", "", nil, map[string]any{"@tenant": 42}))); u.Tenant != "42" {
		t.Errorf("integer tenant: %+v", u)
	}
}

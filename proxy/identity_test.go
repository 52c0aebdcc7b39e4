package proxy

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tenantgate/tenantgate/auth"
	"github.com/tenantgate/tenantgate/configs"
	"github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// tab is one browser tab of a user who belongs to several organizations:
// the app session of one organization, and the Metabase credential the
// gate handed that tab (a sealed cookie or an SDK handle).
type tab struct {
	tenant, app string
	hdr         http.Header
}

// orgSwitchFlows signs a tab in through the cookie flow or the SDK flow.
var orgSwitchFlows = map[string]func(h *harness, app string) http.Header{
	"cookie": func(h *harness, app string) http.Header { return cookieHeader(h.signIn(app, "/dashboard/1")) },
	"sdk":    func(h *harness, app string) http.Header { return sdkHeader(h.sdkSignIn(app)) },
}

// countIn runs the all-orders count in a tab and checks that the tab sees
// its own organization's rows only, and that Metabase received only the
// session of that organization's Metabase user.
func countIn(t *testing.T, h *harness, step string, tb tab, email string) {
	t.Helper()
	h.mb.Reset()
	w := h.send("POST", testSSOPrefix+"/api/card/3/query", tb.app, tb.hdr, `{}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("%s: %s tab: %d %s", step, tb.tenant, w.Code, w.Body)
	}
	if rows := queryRows(t, w); len(rows) != 1 || rows[0][0] != float64(statusTotal(tb.tenant)) {
		t.Errorf("%s: the %s tab counts %v orders, want %s's %d", step, tb.tenant, rows, tb.tenant, statusTotal(tb.tenant))
	}
	if n := assertUpstreamSessions(t, h, tb.tenant, email); n != 1 {
		t.Errorf("%s: %d requests reached Metabase with a session, want 1", step, n)
	}
}

// alice is alice's Metabase identity in a tab under the default template.
func alice(tb tab) string { return "alice+" + tb.tenant + "@tenantgate.invalid" }

// TestSSOOrganizationSwitchBackAndForth is issue 12 §4: alice belongs to
// acme and globex and keeps a tab open for each. Metabase keys JWT users by
// email and reads their attributes at request time, so with one Metabase
// user per email the globex sign-in would rewrite what the acme tab's
// session sees. With the default email template each (user, organization)
// is its own Metabase user: every tab only ever gets its own rows, also
// after alice leaves globex, through both flows.
func TestSSOOrganizationSwitchBackAndForth(t *testing.T) {
	for flow, signIn := range orgSwitchFlows {
		t.Run(flow, func(t *testing.T) {
			h := newSSOHarness(t, nil)
			acme := tab{tenant: "acme", app: ssoSession("alice", "acme", time.Hour)}
			globex := tab{tenant: "globex", app: ssoSession("alice", "globex", time.Hour)}

			acme.hdr = signIn(h, acme.app)
			countIn(t, h, "1. acme", acme, alice(acme))
			globex.hdr = signIn(h, globex.app)
			countIn(t, h, "2. globex", globex, alice(globex))
			countIn(t, h, "3. back in acme", acme, alice(acme))
			countIn(t, h, "4. globex again", globex, alice(globex))
			// A fresh acme sign-in (another tab) changes nothing for globex,
			// nor a fresh globex one for acme.
			acme2 := tab{tenant: "acme", app: acme.app, hdr: signIn(h, acme.app)}
			countIn(t, h, "5. new acme tab", acme2, alice(acme2))
			countIn(t, h, "6. globex after it", globex, alice(globex))
			globex2 := tab{tenant: "globex", app: globex.app, hdr: signIn(h, globex.app)}
			countIn(t, h, "7. new globex tab", globex2, alice(globex2))

			// alice leaves globex: the app now only issues acme sessions.
			// Her globex tab's credential with an acme session is refused,
			// and acme keeps seeing acme's rows.
			h.mb.Reset()
			w := h.send("POST", testSSOPrefix+"/api/card/3/query", acme.app, globex.hdr, `{}`)
			if w.Code != http.StatusUnauthorized || reason(w) != "sso-session-mismatch" {
				t.Errorf("8. the globex credential with an acme session: %d %s", w.Code, w.Body)
			}
			if n := len(h.mb.Requests()); n != 0 {
				t.Errorf("8. the globex credential reached Metabase %d times", n)
			}
			countIn(t, h, "9. acme after leaving globex", acme, alice(acme))
			countIn(t, h, "10. the other acme tab", acme2, alice(acme2))
		})
	}
}

// TestSSOFirstClassTenants: with sso.tenants the SSO JWT carries @tenant
// (the tenant as a slug) and @tenant.attributes, and Metabase puts the user
// in that tenant. With a template without the tenant, Metabase itself then
// refuses alice's sign-in for a second organization (Tenant ID mismatch),
// and her first organization's tab keeps its own rows.
func TestSSOFirstClassTenants(t *testing.T) {
	h := newSSOHarnessMB(t, metabasetest.SSOOptions{Tenants: true}, func(c *configs.Config) {
		c.SSO.Tenants, c.SSO.TenantAttributes = true, []string{"region"}
		c.SSO.EmailTemplate = "{{ .Subject }}@tenantgate.invalid"
	})
	acme := tab{tenant: "acme", app: ssoSession("alice", "acme", time.Hour)}
	acme.hdr = cookieHeader(h.signIn(acme.app, "/dashboard/1"))
	ex := ssoExchanges(t, h)
	_, claims := verifyHS256(t, jwtOf(t, ex[len(ex)-1]), testSSOSecret)
	ta, _ := claims["@tenant.attributes"].(map[string]any)
	if claims["@tenant"] != "acme" || len(ta) != 2 || ta["organization_id"] != "acme" || ta["region"] != "eu" {
		t.Errorf("tenant claims %v %v", claims["@tenant"], claims["@tenant.attributes"])
	}
	if tn, ok := h.mb.Tenant("acme"); !ok || tn.Attributes["organization_id"] != "acme" {
		t.Errorf("Metabase tenant %+v", tn)
	}
	h.mb.Reset()
	w := h.send("POST", testSSOPrefix+"/api/card/3/query", acme.app, acme.hdr, `{}`)
	if rows := queryRows(t, w); rows[0][0] != float64(statusTotal("acme")) {
		t.Errorf("acme tab: %v", rows)
	}
	if u, _ := h.mb.User("alice@tenantgate.invalid"); u.Tenant != "acme" {
		t.Errorf("user %+v", u)
	}

	w = h.send("GET", testSSOPrefix+"/.tenantgate/sso", ssoSession("alice", "globex", time.Hour), nil, "")
	if w.Code != http.StatusBadGateway || reason(w) != "sso-exchange-failed" {
		t.Errorf("globex sign-in of a user of tenant acme: %d %s", w.Code, w.Body)
	}
	if ex := ssoExchanges(t, h); len(ex) != 1 || ex[0].Status != http.StatusForbidden {
		t.Errorf("Metabase's answers to the globex sign-in: %+v", ex)
	}
	countIn(t, h, "acme after the refused switch", acme, "alice@tenantgate.invalid")
}

// TestSSOFirstClassTenantsPerTenantUsers: the default template with
// tenants on gives alice one Metabase user in each tenant, and tenant
// names that are not slugs become slugs injectively.
func TestSSOFirstClassTenantsPerTenantUsers(t *testing.T) {
	h := newSSOHarnessMB(t, metabasetest.SSOOptions{Tenants: true}, func(c *configs.Config) { c.SSO.Tenants = true })
	for _, tenant := range []string{"acme", "ACME", "a+b", "globex"} {
		tb := tab{tenant: tenant, app: ssoSession("alice", tenant, time.Hour)}
		tb.hdr = sdkHeader(h.sdkSignIn(tb.app))
		email := "alice+" + auth.EncodeEmailPart(tenant) + "@tenantgate.invalid"
		countIn(t, h, tenant, tb, email)
		if u, _ := h.mb.User(email); u.Tenant != auth.EncodeEmailPart(tenant) || u.Effective["@tenant.slug"] != u.Tenant {
			t.Errorf("%s: user %+v", tenant, u)
		}
	}
	if n := len(h.mb.Users()); n != 4 {
		t.Errorf("%d Metabase users, want 4", n)
	}
}

// TestIntrospectionSubjectClaim: through the gate, an introspection answer
// names the user in session.subject_claim; one that does not (a sub is no
// stand-in) is refused with subject-missing before any handle is minted.
func TestIntrospectionSubjectClaim(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("app")
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		answer := map[string]any{"organization_id": "acme", "sub": "alice"}
		if c.Value == "uid" {
			answer["uid"] = "u-7"
		}
		_ = json.NewEncoder(w).Encode(answer)
	}))
	defer app.Close()
	h := newHarness(t, func(c *configs.Config) {
		c.Session.JWTSecrets = nil
		c.Introspect.URL = app.URL
		c.Session.SubjectClaim = "uid"
	})
	for cookie, want := range map[string]int{"uid": http.StatusOK, "sub": http.StatusForbidden} {
		r := httptest.NewRequest("GET", "/.tenantgate/embed/dashboard/1", nil)
		r.Header.Set("Accept", "application/json")
		r.AddCookie(&http.Cookie{Name: "app", Value: cookie})
		w := httptest.NewRecorder()
		h.stack.Gate.ServeHTTP(w, r)
		if w.Code != want || (want != http.StatusOK && reason(w) != "subject-missing") {
			t.Errorf("answer with %s: %d %s, want %d", cookie, w.Code, w.Body, want)
		}
	}
	if n := len(h.mb.Requests()); n != 0 {
		t.Errorf("Metabase asked %d times", n)
	}
}

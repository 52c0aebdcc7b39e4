package metabasetest

import (
	"encoding/json"
	"strings"
	"testing"
)

// graphJSON is the group 1..3 part of GET /api/permissions/graph, each
// group's database 1 view-data as compact JSON ("" when absent).
func graphViewData(t *testing.T, base string) (revision int, viewData map[string]string) {
	t.Helper()
	g := adminJSON[struct {
		Revision int                                              `json:"revision"`
		Groups   map[string]map[string]map[string]json.RawMessage `json:"groups"`
	}](t, base, "/api/permissions/graph")
	viewData = map[string]string{}
	for gid, dbs := range g.Groups {
		viewData[gid] = string(dbs["1"]["view-data"])
	}
	return g.Revision, viewData
}

func TestPermissionGraphShape(t *testing.T) {
	s, base := adminServer(t, Options{Sandboxing: true})
	if res := adminGet(t, base, "/api/permissions/graph", "", ""); res.status != 401 {
		t.Fatalf("graph without a key = %d, want 401", res.status)
	}
	rev0, vd := graphViewData(t, base)
	want := map[string]string{
		"2": `"unrestricted"`,                                    // Administrators: added, never stored
		"3": `{"public":{"10":"sandboxed","11":"unrestricted"}}`, // the planted hole on customers
	} // All Users is blocked everywhere, so absent
	if len(vd) != len(want) || vd["2"] != want["2"] || vd["3"] != want["3"] {
		t.Errorf("default view-data = %v, want %v", vd, want)
	}

	steps := []struct {
		name  string
		do    func() error
		group string
		want  string
	}{
		{"a table-level grant to All Users", func() error { return s.SetViewData(GroupAllUsers, TableOrders, ViewUnrestricted) },
			"1", `{"public":{"10":"unrestricted"}}`},
		{"the same level on every table collapses to the schema", func() error { return s.SetViewData(GroupAllUsers, TableCustomers, ViewUnrestricted) },
			"1", `{"public":"unrestricted"}`},
		{"a new table in a uniform schema takes the schema's level", func() error { _, err := s.AddTable("invoices"); return err },
			"1", `{"public":"unrestricted"}`},
		{"a database-level level", func() error { return s.SetViewData(GroupAllUsers, 0, ViewLegacyNoSelfService) },
			"1", `"legacy-no-self-service"`},
		{"a sandbox spreads the database level over the tables", func() error { return s.AddSandbox(GroupAllUsers, TableOrders, "organization_id") },
			"1", `{"public":{"10":"sandboxed","11":"legacy-no-self-service","12":"legacy-no-self-service"}}`},
		{"the granular embedded group got unrestricted on the new table", func() error { return nil },
			"3", `{"public":{"10":"sandboxed","11":"unrestricted","12":"unrestricted"}}`},
		{"blocked on the database leaves only the sandboxes", func() error { return s.SetViewData(GroupAllUsers, 0, ViewBlocked) },
			"1", `{"public":{"10":"sandboxed"}}`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			if _, vd := graphViewData(t, base); vd[st.group] != st.want {
				t.Errorf("group %s view-data = %s, want %s", st.group, vd[st.group], st.want)
			}
		})
	}
	if rev, _ := graphViewData(t, base); rev <= rev0 {
		t.Errorf("revision %d after changes, want more than %d", rev, rev0)
	}
	md := adminJSON[struct{ Tables []struct{ ID int } }](t, base, "/api/database/1/metadata")
	if len(md.Tables) != 3 || md.Tables[2].ID != 12 {
		t.Errorf("metadata tables = %v, want orders, customers and the new table 12", md.Tables)
	}
	for _, bad := range []func() error{
		func() error { return s.SetViewData(GroupAllUsers, 0, "sandboxed") },
		func() error { return s.SetViewData(GroupAdministrators, 0, ViewBlocked) },
		func() error { return s.SetViewData(GroupAllUsers, 99, ViewBlocked) },
		func() error { _, err := s.AddTable("orders"); return err },
	} {
		if bad() == nil {
			t.Error("a bad change was accepted")
		}
	}
}

func TestPermissionGroupsCarryMagicTypes(t *testing.T) {
	_, base := adminServer(t, Options{})
	gs := adminJSON[[]struct {
		ID    int     `json:"id"`
		Magic *string `json:"magic_group_type"`
	}](t, base, "/api/permissions/group")
	got := map[int]string{}
	for _, g := range gs {
		if g.Magic != nil {
			got[g.ID] = *g.Magic
		}
	}
	if len(got) != 2 || got[GroupAllUsers] != "all-internal-users" || got[GroupAdministrators] != "admin" {
		t.Errorf("magic group types = %v", got)
	}
}

// TestPermissionsAreAdditive: a group that may view the orders table
// unrestricted, All Users included, beats the embedded group's sandbox, as
// in Metabase (PR 80406).
func TestPermissionsAreAdditive(t *testing.T) {
	sso := func(t *testing.T) (*Server, func(claims map[string]any) string, string) {
		s, base := ssoServer(t, SSOOptions{GroupSync: true})
		sdk := map[string]string{"X-Metabase-Client": "embedding-sdk-react"}
		idOf := func(claims map[string]any) string {
			var r struct{ ID string }
			json.Unmarshal([]byte(call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(claims), sdk, "").body), &r)
			return r.ID
		}
		return s, idOf, base
	}
	all := rowsOf(func(Order) bool { return true })
	acmeRows := rowsOf(func(o Order) bool { return o.OrganizationID == "acme" })
	tests := []struct {
		name   string
		change func(s *Server) error
		claims map[string]any
		status int
		rows   int // of the count card; -1 for none
	}{
		{"sandboxed, All Users blocked", nil, alice(nil), 202, acmeRows},
		{"All Users unrestricted on orders", func(s *Server) error { return s.SetViewData(GroupAllUsers, TableOrders, ViewUnrestricted) }, alice(nil), 202, all},
		{"All Users unrestricted on the database", func(s *Server) error { return s.SetViewData(GroupAllUsers, 0, ViewUnrestricted) }, alice(nil), 202, all},
		{"a grant on another table leaves the sandbox", func(s *Server) error { return s.SetViewData(GroupEmbedded, TableCustomers, ViewUnrestricted) }, alice(nil), 202, acmeRows},
		{"legacy in All Users without a block", func(s *Server) error { return s.SetViewData(GroupAllUsers, 0, ViewLegacyNoSelfService) }, alice(nil), 202, all},
		{"no group, All Users blocked", nil, alice(map[string]any{"groups": []any{}}), 403, -1},
		{"no group, All Users unrestricted", func(s *Server) error { return s.SetViewData(GroupAllUsers, TableOrders, ViewUnrestricted) }, alice(map[string]any{"groups": []any{}}), 202, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, idOf, base := sso(t)
			if tt.change != nil {
				if err := tt.change(s); err != nil {
					t.Fatal(err)
				}
			}
			res := call(t, "POST", base+"/api/card/3/query", map[string]string{"X-Metabase-Session": idOf(tt.claims)}, "{}")
			if res.status != tt.status {
				t.Fatalf("count card = %d %s, want %d", res.status, res.body, tt.status)
			}
			if tt.rows >= 0 {
				r := decodeResult(t, res.body)
				if len(r.Data.Rows) != 1 || !strings.Contains(res.body, `"rows":[[`) {
					t.Fatalf("count result %s", res.body)
				}
				if got, _ := r.Data.Rows[0][0].(float64); int(got) != tt.rows {
					t.Errorf("count = %v, want %d", r.Data.Rows[0][0], tt.rows)
				}
			}
		})
	}
}

// TestCustomersFollowAdditivePermissions: an ad-hoc query over the
// customers table gives every tenant's customers to a user whose group may
// view it unrestricted (the sample's planted hole, as Metabase serves it),
// only the user's own under a sandbox, and a refusal when blocked.
func TestCustomersFollowAdditivePermissions(t *testing.T) {
	all := len(customers())
	acme := 0
	for _, c := range customers() {
		if c[1] == "acme" {
			acme++
		}
	}
	query := `{"database":1,"type":"query","query":{"source-table":11}}`
	for _, tt := range []struct {
		name   string
		change func(s *Server) error
		status int
		rows   int
	}{
		{"embedded group unrestricted (the sample)", nil, 202, all},
		{"sandboxed on the tenant", func(s *Server) error { return s.AddSandbox(GroupEmbedded, TableCustomers, "organization_id") }, 202, acme},
		{"blocked", func(s *Server) error { return s.SetViewData(GroupEmbedded, TableCustomers, ViewBlocked) }, 403, -1},
		{"blocked, but All Users unrestricted", func(s *Server) error {
			if err := s.SetViewData(GroupEmbedded, TableCustomers, ViewBlocked); err != nil {
				return err
			}
			return s.SetViewData(GroupAllUsers, TableCustomers, ViewUnrestricted)
		}, 202, all},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, base := ssoServer(t, SSOOptions{GroupSync: true})
			if tt.change != nil {
				if err := tt.change(s); err != nil {
					t.Fatal(err)
				}
			}
			var r struct{ ID string }
			json.Unmarshal([]byte(call(t, "GET", base+"/auth/sso?jwt="+ssoJWT(alice(nil)), map[string]string{"X-Metabase-Client": "embedding-sdk-react"}, "").body), &r)
			res := call(t, "POST", base+"/api/dataset", map[string]string{"X-Metabase-Session": r.ID, "Content-Type": "application/json"}, query)
			if res.status != tt.status {
				t.Fatalf("dataset over customers = %d %s, want %d", res.status, res.body, tt.status)
			}
			if tt.rows >= 0 {
				if got := len(decodeResult(t, res.body).Data.Rows); got != tt.rows {
					t.Errorf("%d customers, want %d", got, tt.rows)
				}
			}
		})
	}
}

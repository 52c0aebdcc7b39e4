package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tenantgate/tenantgate/policy/audit"
	mb "github.com/tenantgate/tenantgate/proxy/metabasetest"
)

// tableFindings are the findings about tables, in report order.
func tableFindings(r *audit.Report) []string {
	var out []string
	for _, f := range r.Findings {
		if f.Resource.Kind == audit.KindTable {
			out = append(out, summary(f))
		}
	}
	return out
}

// TestGroupPermissions: the audit reads the permission graph and reports
// every table that a group SSO users land in, All Users always, may view
// other than blocked or sandboxed on the tenant attribute.
func TestGroupPermissions(t *testing.T) {
	const attr = "organization_id"
	noGroups := &audit.SSO{TenantAttribute: attr}
	embedded := &audit.SSO{TenantAttribute: attr, Groups: []string{"Embedded customers"}}
	mapped := &audit.SSO{TenantAttribute: attr, GroupMappings: map[string][]int{"customers": {mb.GroupEmbedded}}}
	sandboxCustomers := func(s *mb.Server) error { return s.AddSandbox(mb.GroupEmbedded, mb.TableCustomers, attr) }
	tests := []struct {
		name    string
		sso     *audit.SSO
		change  []func(s *mb.Server) error
		want    []string
		problem string // in the first finding's problem, when set
	}{
		{"no SSO groups, All Users blocked", noGroups, nil, nil, ""},
		{"no SSO groups, All Users may view orders", noGroups,
			[]func(s *mb.Server) error{func(s *mb.Server) error { return s.SetViewData(mb.GroupAllUsers, mb.TableOrders, mb.ViewUnrestricted) }},
			[]string{"table-unrestricted table 10 group 1"}, "set on the table"},
		{"All Users may view the whole database, a table synced later too", noGroups,
			[]func(s *mb.Server) error{
				func(s *mb.Server) error { return s.SetViewData(mb.GroupAllUsers, 0, mb.ViewUnrestricted) },
				func(s *mb.Server) error { _, err := s.AddTable("invoices"); return err },
			},
			[]string{"table-unrestricted table 10 group 1", "table-unrestricted table 11 group 1", "table-unrestricted table 12 group 1"}, "set on the database"},
		{"All Users may view every table of the schema", noGroups,
			[]func(s *mb.Server) error{
				func(s *mb.Server) error { return s.SetViewData(mb.GroupAllUsers, mb.TableOrders, mb.ViewUnrestricted) },
				func(s *mb.Server) error {
					return s.SetViewData(mb.GroupAllUsers, mb.TableCustomers, mb.ViewUnrestricted)
				},
			},
			[]string{"table-unrestricted table 10 group 1", "table-unrestricted table 11 group 1"}, "set on the schema"},
		{"All Users with the legacy no-self-service level", noGroups,
			[]func(s *mb.Server) error{func(s *mb.Server) error { return s.SetViewData(mb.GroupAllUsers, 0, mb.ViewLegacyNoSelfService) }},
			[]string{"table-unrestricted table 10 group 1", "table-unrestricted table 11 group 1"}, "legacy-no-self-service"},
		{"a mapped group the configuration does not name", mapped, nil,
			[]string{"table-unrestricted table 11 group 3"}, `"Embedded customers" (3)`},
		{"the configured group, every table sandboxed on the tenant", embedded,
			[]func(s *mb.Server) error{sandboxCustomers}, nil, ""},
		{"All Users may view orders: additive, it beats the sandbox", embedded,
			[]func(s *mb.Server) error{sandboxCustomers, func(s *mb.Server) error { return s.SetViewData(mb.GroupAllUsers, mb.TableOrders, mb.ViewUnrestricted) }},
			[]string{"table-unrestricted table 10 group 1"}, `"All Users" (1)`},
		{"a table synced later starts unrestricted for a per-table group", embedded,
			[]func(s *mb.Server) error{sandboxCustomers, func(s *mb.Server) error { _, err := s.AddTable("invoices"); return err }},
			[]string{"table-unrestricted table 12 group 3"}, "invoices"},
		{"a sandbox on another attribute", embedded,
			[]func(s *mb.Server) error{func(s *mb.Server) error { return s.AddSandbox(mb.GroupEmbedded, mb.TableCustomers, "region") }},
			[]string{"table-without-sandbox table 11 group 3"}, `does not filter by the user attribute "organization_id"`},
		{"a sandbox for All Users on the tenant attribute is enough", noGroups,
			[]func(s *mb.Server) error{
				func(s *mb.Server) error { return s.SetViewData(mb.GroupAllUsers, 0, mb.ViewUnrestricted) },
				func(s *mb.Server) error { return s.AddSandbox(mb.GroupAllUsers, mb.TableOrders, attr) },
				func(s *mb.Server) error { return s.AddSandbox(mb.GroupAllUsers, mb.TableCustomers, attr) },
			}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, client := standIn(t, mb.Options{Sandboxing: true})
			for _, f := range tt.change {
				if err := f(s); err != nil {
					t.Fatal(err)
				}
			}
			r, err := client.Run(context.Background(), audit.Config{TenantParam: attr, SSO: tt.sso})
			if err != nil {
				t.Fatal(err)
			}
			got := tableFindings(r)
			if !slices.Equal(got, tt.want) {
				t.Errorf("table findings = %q, want %q", got, tt.want)
			}
			if tt.problem != "" && len(r.Findings) > 0 {
				f := r.Findings[slices.IndexFunc(r.Findings, func(f audit.Finding) bool { return f.Resource.Kind == audit.KindTable })]
				if !strings.Contains(f.Problem, tt.problem) {
					t.Errorf("problem %q lacks %q", f.Problem, tt.problem)
				}
				if f.Database != mb.DatabaseID || f.Severity != audit.SeverityCritical || !strings.Contains(f.Fix, "Blocked") && !strings.Contains(f.Fix, "sandbox") {
					t.Errorf("finding %+v: want database %d, critical, a fix naming the block or the sandbox", f, mb.DatabaseID)
				}
			}
			if !r.SSOChecked || len(r.SSOGroups) == 0 || r.SSOGroups[0].ID != mb.GroupAllUsers {
				t.Errorf("SSO checked %v for groups %+v, want All Users first", r.SSOChecked, r.SSOGroups)
			}
		})
	}
}

// TestPermissionGraphFailsClosed: without a readable graph no table can be
// called safe, so the audit fails.
func TestPermissionGraphFailsClosed(t *testing.T) {
	cfg := audit.Config{TenantParam: "organization_id", SSO: &audit.SSO{TenantAttribute: "organization_id"}}
	tests := []struct {
		name   string
		status int
		body   string
		want   error
	}{
		{"server error", 500, "boom", audit.ErrUnexpected},
		{"not an administrator", 403, "You don't have permissions to do that.", audit.ErrForbidden},
		{"not JSON", 200, "<html>", audit.ErrUnexpected},
		{"view-data of an unknown shape", 200, `{"revision":1,"groups":{"1":{"1":{"view-data":5}}}}`, audit.ErrUnexpected},
		{"a group id that is not a number", 200, `{"revision":1,"groups":{"all":{}}}`, audit.ErrUnexpected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, client := standIn(t, mb.Options{Sandboxing: true})
			s.SetOverride(func(w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/api/permissions/graph" {
					return false
				}
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
				return true
			})
			r, err := client.Run(context.Background(), cfg)
			if !errors.Is(err, tt.want) || r != nil {
				t.Fatalf("Run = %v, %v; want nil, %v", r, err, tt.want)
			}
			if !strings.Contains(err.Error(), "/api/permissions/graph") {
				t.Errorf("error %q does not name the graph", err)
			}
		})
	}
}

// TestPermissionGraphShapes checks graphs the stand-in does not produce:
// levels the audit does not trust are findings, never safe.
func TestPermissionGraphShapes(t *testing.T) {
	orders := audit.Table{ID: 10, DBID: 1, Name: "orders", Schema: "public", Active: true}
	hidden := "hidden"
	secret := audit.Table{ID: 13, DBID: 1, Name: "secret", Schema: "", Active: true, VisibilityType: &hidden}
	gone := audit.Table{ID: 14, DBID: 1, Name: "gone", Schema: "public", Active: false}
	groups := []audit.Group{{ID: 1, Name: "All Users", MagicGroupType: "all-internal-users"}, {ID: 2, Name: "Administrators", MagicGroupType: "admin"},
		{ID: 7, Name: "All tenant users", MagicGroupType: "all-external-users"}}
	tests := []struct {
		name      string
		graph     string
		sandboxes []audit.Sandbox
		want      []string
	}{
		{"empty graph: all blocked", `{"revision":1,"groups":{}}`, nil, nil},
		{"null group and database entries are blocked", `{"revision":1,"groups":{"1":null,"7":{"1":{"view-data":null}}}}`, nil, nil},
		{"administrators are never checked", `{"revision":1,"groups":{"2":{"1":{"view-data":"unrestricted"}}}}`, nil, nil},
		{"connection impersonation", `{"revision":1,"groups":{"1":{"1":{"view-data":"impersonated"}}}}`, nil,
			[]string{"table-without-sandbox table 10 group 1", "table-without-sandbox table 13 group 1"}},
		{"All tenant users is checked too", `{"revision":1,"groups":{"7":{"1":{"view-data":{"public":{"10":"unrestricted"}}}}}}`, nil,
			[]string{"table-unrestricted table 10 group 7"}},
		{"a hidden table without a schema", `{"revision":1,"groups":{"1":{"1":{"view-data":{"":"unrestricted"}}}}}`, nil,
			[]string{"table-unrestricted table 13 group 1"}},
		{"a legacy table value", `{"revision":1,"groups":{"1":{"1":{"view-data":{"public":{"10":{"read":"all","query":"segmented"}}}}}}}`, nil,
			[]string{"table-without-sandbox table 10 group 1"}},
		{"a pre-v50 graph", `{"revision":1,"groups":{"1":{"1":{"data":{"schemas":"all"}}}}}`, nil,
			[]string{"table-without-sandbox table 10 group 1", "table-without-sandbox table 13 group 1"}},
		{"sandboxed in the graph, no sandbox behind it", `{"revision":1,"groups":{"1":{"1":{"view-data":{"public":{"10":"sandboxed"}}}}}}`, nil,
			[]string{"table-without-sandbox table 10 group 1"}},
		{"a sandbox whose tenant remapping is null", `{"revision":1,"groups":{"1":{"1":{"view-data":{"public":{"10":"sandboxed"}}}}}}`,
			[]audit.Sandbox{{ID: 1, GroupID: 1, TableID: 10, AttributeRemappings: map[string]json.RawMessage{"organization_id": json.RawMessage("null")}}},
			[]string{"table-without-sandbox table 10 group 1"}},
		{"a sandbox on the tenant attribute", `{"revision":1,"groups":{"1":{"1":{"view-data":{"public":{"10":"sandboxed"}}}}}}`,
			[]audit.Sandbox{{ID: 1, GroupID: 1, TableID: 10, AttributeRemappings: map[string]json.RawMessage{"organization_id": json.RawMessage(`["dimension",["field",102,null]]`)}}},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g audit.PermissionGraph
			if err := json.Unmarshal([]byte(tt.graph), &g); err != nil {
				t.Fatal(err)
			}
			snap := &audit.Snapshot{Dashboards: map[int]*audit.Dashboard{}, Cards: map[int]*audit.Card{},
				Databases: []audit.Database{{ID: 1, Name: "warehouse", Tables: []audit.Table{orders, secret, gone}}},
				Groups:    groups, Permissions: &g, Sandboxes: tt.sandboxes}
			r := audit.Check(audit.Config{TenantParam: "organization_id", SSO: &audit.SSO{TenantAttribute: "organization_id"}}, snap)
			if got := tableFindings(r); !slices.Equal(got, tt.want) {
				t.Errorf("table findings = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestREADMEListsEveryCode: README's finding table documents every code.
func TestREADMEListsEveryCode(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range audit.Codes {
		if !strings.Contains(string(b), "| `"+string(c)+"` |") {
			t.Errorf("README.md's audit table lacks %s", c)
		}
	}
}

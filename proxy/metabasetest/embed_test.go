package metabasetest

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func jsonQuery(v any) string {
	b, _ := json.Marshal(v)
	return "?parameters=" + url.QueryEscape(string(b))
}

func TestDashcardParameterRules(t *testing.T) {
	all := []string{"acme", "globex", "initech"}
	tests := []struct {
		name        string
		params      any
		query       string
		wantStatus  int
		wantBody    string   // for errors
		wantTenants []string // for results
		wantRows    int      // for results, -1 to skip
	}{
		{"locked tenant", acme(), "", 202, "", []string{"acme"}, 10},
		{"locked list", map[string]any{"organization_id": []any{"acme", "globex"}}, "", 202, "", []string{"acme", "globex"}, 22},
		{"locked empty list shows every tenant", map[string]any{"organization_id": []any{}}, "", 202, "", all, 31},
		{"locked missing", map[string]any{}, "", 400, "You must specify a value for :organization_id in the JWT.", nil, -1},
		{"locked null", map[string]any{"organization_id": nil}, "", 400, "You must specify a value for :organization_id in the JWT.", nil, -1},
		{"locked empty string", map[string]any{"organization_id": ""}, "", 400, "You must specify a value for :organization_id in the JWT.", nil, -1},
		{"locked blank string", map[string]any{"organization_id": "  "}, "", 400, "You must specify a value for :organization_id in the JWT.", nil, -1},
		{"locked in URL", acme(), jsonQuery(map[string]any{"organization_id": "globex"}), 400, "You can only specify a value for :organization_id in the JWT.", nil, -1},
		{"locked in legacy URL", acme(), "?organization_id=globex", 400, "You can only specify a value for :organization_id in the JWT.", nil, -1},
		{"locked empty in URL", acme(), "?organization_id=", 400, "You can only specify a value for :organization_id in the JWT.", nil, -1},
		{"locked null in URL", acme(), jsonQuery(map[string]any{"organization_id": nil}), 400, "You can only specify a value for :organization_id in the JWT.", nil, -1},
		{"locked blank in URL is dropped, token wins", acme(), jsonQuery(map[string]any{"organization_id": "  "}), 202, "", []string{"acme"}, 10},
		{"disabled in token", map[string]any{"organization_id": "acme", "region": "eu"}, "", 400, "You're not allowed to specify a value for :region.", nil, -1},
		{"disabled null in token", map[string]any{"organization_id": "acme", "region": nil}, "", 400, "You're not allowed to specify a value for :region.", nil, -1},
		{"disabled in URL", acme(), "?region=eu", 400, "You're not allowed to specify a value for :region.", nil, -1},
		{"enabled in token and URL", map[string]any{"organization_id": "acme", "status": "paid"}, "?status=paid", 400, "You can't specify a value for :status if it's already set in the JWT.", nil, -1},
		{"enabled from URL", acme(), jsonQuery(map[string]any{"status": "paid"}), 202, "", []string{"acme"},
			rowsOf(func(o Order) bool { return o.OrganizationID == "acme" && o.Status == "paid" })},
		{"enabled list from legacy URL", acme(), "?status=paid&status=refunded", 202, "", []string{"acme"},
			rowsOf(func(o Order) bool { return o.OrganizationID == "acme" && o.Status != "pending" })},
		{"enabled from token", map[string]any{"organization_id": "acme", "status": "pending"}, "", 202, "", []string{"acme"}, 2},
		{"unknown slug in token", map[string]any{"organization_id": "acme", "tenant": "globex"}, "", 400, "Unknown parameter :tenant.", nil, -1},
		{"unknown slug in legacy URL", acme(), "?foo=1", 400, "Unknown parameter :foo.", nil, -1},
		{"unknown slug in JSON", acme(), jsonQuery(map[string]any{"foo": 1}), 400, "Unknown parameter :foo.", nil, -1},
		{"parameters not JSON", acme(), "?parameters=garbage", 400, "Unknown parameter :parameters.", nil, -1},
		{"parameters null", acme(), "?parameters=null", 400, "Unknown parameter :parameters.", nil, -1},
		{"parameters an array", acme(), "?parameters=%5B1%5D", 400, "Invalid request query parameters", nil, -1},
		{"parameters empty object", acme(), "?parameters=%7B%7D", 202, "", []string{"acme"}, 10},
		{"format_rows is not a slug", acme(), "?format_rows=true", 202, "", []string{"acme"}, 10},
		{"embedding_params checked before unknown slugs", map[string]any{"tenant": "x"}, "", 400, "You must specify a value for :organization_id in the JWT.", nil, -1},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := fmt.Sprintf("%s/api/embed/dashboard/%s/dashcard/%d/card/%d%s", ts.URL,
				dashToken(DashboardOrders, tt.params), DashcardOrdersTable, QuestionOrders, tt.query)
			res := get(t, url)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", res.status, res.body, tt.wantStatus)
			}
			if tt.wantStatus != 202 {
				if res.body != tt.wantBody {
					t.Errorf("body = %q, want %q", res.body, tt.wantBody)
				}
				return
			}
			r := decodeResult(t, res.body)
			if got := r.column("organization_id"); !slices.Equal(got, tt.wantTenants) {
				t.Errorf("tenants = %v, want %v", got, tt.wantTenants)
			}
			if tt.wantRows >= 0 && len(r.Data.Rows) != tt.wantRows {
				t.Errorf("rows = %d, want %d", len(r.Data.Rows), tt.wantRows)
			}
		})
	}
}

func TestQueryResponseShape(t *testing.T) {
	_, ts := defaultServer(t)
	res := get(t, fmt.Sprintf("%s/api/embed/dashboard/%s/dashcard/%d/card/%d", ts.URL,
		dashToken(DashboardOrders, acme()), DashcardOrdersTable, QuestionOrders))
	if res.status != 202 {
		t.Fatalf("status = %d, want 202", res.status)
	}
	if got, want := res.header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
	if !strings.HasPrefix(res.body, `{"data":{"rows":[`) {
		t.Errorf("body starts %q, want the rows first", res.body[:20])
	}
	var raw struct{ Data map[string]json.RawMessage }
	if err := json.Unmarshal([]byte(res.body), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"rows", "cols", "insights", "requested_timezone", "results_timezone"} {
		if _, ok := raw.Data[k]; !ok {
			t.Errorf("data has no %q", k)
		}
	}
	r := decodeResult(t, res.body)
	if r.Status != "completed" {
		t.Errorf("status = %q, want completed", r.Status)
	}
	if len(r.Data.Cols) != 8 || r.Data.Cols[2].DisplayName != "Customer" {
		t.Errorf("cols = %+v, want the 8 order columns", r.Data.Cols)
	}
	if got := fmt.Sprint(r.JSONQuery.Parameters); !strings.Contains(got, "slug:organization_id") || !strings.Contains(got, "value:[acme]") {
		t.Errorf("json_query.parameters = %s, want the locked value echoed as a list", got)
	}
}

func TestDashcardRouting(t *testing.T) {
	good := dashToken(DashboardOrders, acme())
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"card not on dashcard", fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/%d", good, DashcardOrdersTable, QuestionRevenueByStatus), 400, "Not found."},
		{"dashcard of another dashboard", fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/%d", good, DashcardLeakyTable, QuestionOrders), 400, "Not found."},
		{"text dashcard", fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/%d", good, DashcardOrdersText, QuestionOrders), 400, "Not found."},
		{"parameters checked before the dashcard", fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/%d", dashToken(DashboardOrders, map[string]any{}), DashcardOrdersTable, QuestionRevenueByStatus), 400, "You must specify a value for :organization_id in the JWT."},
		{"dashcard id not a number", fmt.Sprintf("/api/embed/dashboard/%s/dashcard/abc/card/1", good), 400, "Invalid request route parameters"},
		{"dashcard id zero, before the token", "/api/embed/dashboard/x.y.z/dashcard/0/card/1", 400, "Invalid request route parameters"},
		{"unknown export format", fmt.Sprintf("/api/embed/dashboard/%s/dashcard/11/card/1/pdf", good), 404, "API endpoint does not exist."},
		{"trailing slash", fmt.Sprintf("/api/embed/dashboard/%s/", good), 404, "API endpoint does not exist."},
		{"revenue card", fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/%d", good, DashcardOrdersRevenue, QuestionRevenueByStatus), 202, ""},
		{"pivot", fmt.Sprintf("/api/embed/pivot/dashboard/%s/dashcard/%d/card/%d", good, DashcardOrdersRevenue, QuestionRevenueByStatus), 202, ""},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, ts.URL+tt.path)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", res.status, res.body, tt.wantStatus)
			}
			if tt.wantBody != "" && res.body != tt.wantBody {
				t.Errorf("body = %q, want %q", res.body, tt.wantBody)
			}
		})
	}
}

func TestRevenueAndLeakyCards(t *testing.T) {
	_, ts := defaultServer(t)
	tests := []struct {
		name      string
		dashboard int
		dashcard  int
		card      int
		params    any
		wantRows  string
	}{
		{"revenue of the locked tenant", DashboardOrders, DashcardOrdersRevenue, QuestionRevenueByStatus, acme(),
			`[["paid",6,883.8],["pending",2,585],["refunded",2,36.99]]`},
		{"revenue with pivot-grouping", DashboardOrders, DashcardOrdersRevenue, QuestionRevenueByStatus, map[string]any{"organization_id": "initech"},
			`[["disputed",2,61.45],["paid",4,223],["pending",2,389.95],["refunded",1,499]]`},
		{"unwired card counts every tenant", DashboardLeaky, DashcardLeakyAllOrders, QuestionAllOrdersCount, acme(), `[[31]]`},
		{"wired table on the leaky dashboard", DashboardLeaky, DashcardLeakyTable, QuestionOrders, map[string]any{"organization_id": "globex", "status": "refunded"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, fmt.Sprintf("%s/api/embed/dashboard/%s/dashcard/%d/card/%d", ts.URL, dashToken(tt.dashboard, tt.params), tt.dashcard, tt.card))
			if res.status != 202 {
				t.Fatalf("status = %d (%s), want 202", res.status, res.body)
			}
			r := decodeResult(t, res.body)
			if tt.wantRows == "" {
				if got := r.column("organization_id"); !slices.Equal(got, []string{"globex"}) {
					t.Errorf("tenants = %v, want [globex]", got)
				}
				return
			}
			got, _ := json.Marshal(r.Data.Rows)
			if string(got) != tt.wantRows {
				t.Errorf("rows = %s, want %s", got, tt.wantRows)
			}
		})
	}
}

func TestDashboardJSON(t *testing.T) {
	type dash struct {
		Parameters []struct {
			ID               string `json:"id"`
			Slug             string `json:"slug"`
			ValuesSourceType string `json:"values_source_type"`
		} `json:"parameters"`
		Dashcards []struct {
			ID                int  `json:"id"`
			CardID            *int `json:"card_id"`
			ParameterMappings []struct {
				ParameterID string `json:"parameter_id"`
			} `json:"parameter_mappings"`
			VisualizationSettings map[string]any `json:"visualization_settings"`
		} `json:"dashcards"`
	}
	tests := []struct {
		name         string
		dashboard    int
		params       any
		wantParams   []string
		wantMappings []string // parameter ids left on the table dashcard
		wantText     string
	}{
		{"locked tenant", DashboardOrders, acme(), []string{"status"}, []string{"p_status"}, "## Orders for acme"},
		{"enabled param set in the token is hidden", DashboardOrders, map[string]any{"organization_id": "acme", "status": "paid"}, []string{}, []string{"p_status"}, "## Orders for acme"},
		{"token without the locked tenant still renders", DashboardOrders, map[string]any{}, []string{"status"}, []string{"p_status"}, "## Orders for {{organization_id}}"},
		{"list in a text card", DashboardLeaky, map[string]any{"organization_id": []any{"acme", "globex"}}, []string{"status"}, []string{"p_status"}, "## Orders for acme and globex"},
		{"editable tenant", DashboardEditableTenant, map[string]any{}, []string{"organization_id", "status"}, []string{"p_org", "p_status"}, ""},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, ts.URL+"/api/embed/dashboard/"+dashToken(tt.dashboard, tt.params))
			if res.status != 200 {
				t.Fatalf("status = %d (%s), want 200", res.status, res.body)
			}
			var d dash
			if err := json.Unmarshal([]byte(res.body), &d); err != nil {
				t.Fatal(err)
			}
			gotParams := []string{}
			for _, p := range d.Parameters {
				gotParams = append(gotParams, p.Slug)
				if tt.dashboard == DashboardLeaky && p.Slug == "status" && p.ValuesSourceType != "card" {
					t.Errorf("leaky status values_source_type = %q, want card", p.ValuesSourceType)
				}
			}
			if !slices.Equal(gotParams, tt.wantParams) {
				t.Errorf("parameters = %v, want %v", gotParams, tt.wantParams)
			}
			for _, dc := range d.Dashcards {
				switch {
				case dc.CardID == nil:
					if got := dc.VisualizationSettings["text"]; got != tt.wantText {
						t.Errorf("text = %q, want %q", got, tt.wantText)
					}
				case *dc.CardID == QuestionOrders:
					var got []string
					for _, m := range dc.ParameterMappings {
						got = append(got, m.ParameterID)
					}
					if !slices.Equal(got, tt.wantMappings) {
						t.Errorf("dashcard %d mappings = %v, want %v", dc.ID, got, tt.wantMappings)
					}
				}
			}
		})
	}
}

func TestCardEndpoints(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		wantStatus  int
		wantBody    string
		wantTenants []string
	}{
		{"card", "/api/embed/card/" + cardToken(QuestionOrders, acme()), 200, "", nil},
		{"query of the locked tenant", "/api/embed/card/" + cardToken(QuestionOrders, acme()) + "/query", 202, "", []string{"acme"}},
		{"query by entity id", "/api/embed/card/" + cardToken("OrdersCard00000000001", acme()) + "/query", 202, "", []string{"acme"}},
		{"locked empty list", "/api/embed/card/" + cardToken(QuestionOrders, map[string]any{"organization_id": []any{}}) + "/query", 202, "", []string{"acme", "globex", "initech"}},
		{"locked in URL", "/api/embed/card/" + cardToken(QuestionOrders, acme()) + "/query?organization_id=globex", 400, "You can only specify a value for :organization_id in the JWT.", nil},
		{"editable tenant from URL", "/api/embed/card/" + cardToken(QuestionEditableTenant, map[string]any{}) + "/query?organization_id=globex", 202, "", []string{"globex"}},
		{"editable tenant unset shows all", "/api/embed/card/" + cardToken(QuestionEditableTenant, map[string]any{}) + "/query", 202, "", []string{"acme", "globex", "initech"}},
		{"pivot", "/api/embed/pivot/card/" + cardToken(QuestionOrders, acme()) + "/query", 202, "", []string{"acme"}},
		{"unpublished", "/api/embed/card/" + cardToken(QuestionUnpublished, acme()), 400, "Embedding is not enabled for this object.", nil},
		{"not published on its own", "/api/embed/card/" + cardToken(QuestionRevenueByStatus, map[string]any{}) + "/query", 400, "Embedding is not enabled for this object.", nil},
		{"archived", "/api/embed/card/" + cardToken(QuestionArchived, acme()), 400, "The object has been archived.", nil},
		{"dashboard token", "/api/embed/card/" + dashToken(DashboardOrders, acme()), 400, "Token is missing value for keypath [:resource :question]", nil},
		{"missing params", "/api/embed/card/" + Sign(testSecret, map[string]any{"resource": map[string]any{"question": 1}}), 400, "Token is missing value for keypath [:params]", nil},
		{"tile", "/api/embed/tiles/card/" + cardToken(QuestionOrders, acme()) + "/1/0/0?latField=a&lonField=b", 200, "", nil},
		{"tile ignores embedding_params", "/api/embed/tiles/card/" + cardToken(QuestionOrders, acme()) + "/1/0/0?latField=a&lonField=b&parameters=%7B%22organization_id%22%3A%22globex%22%7D", 200, "", nil},
		{"tile without lat field", "/api/embed/tiles/card/" + cardToken(QuestionOrders, acme()) + "/1/0/0?lonField=b", 400, "Invalid request query parameters", nil},
		{"dashboard tile", fmt.Sprintf("/api/embed/tiles/dashboard/%s/dashcard/11/card/1/1/0/0?latField=a&lonField=b", dashToken(DashboardOrders, acme())), 200, "", nil},
		{"dashboard tile on an unpublished dashboard", fmt.Sprintf("/api/embed/tiles/dashboard/%s/dashcard/41/card/1/1/0/0?latField=a&lonField=b", dashToken(DashboardUnpublished, acme())), 400, "Embedding is not enabled for this object.", nil},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, ts.URL+tt.path)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d (%s), want %d", res.status, res.body, tt.wantStatus)
			}
			if tt.wantBody != "" && res.body != tt.wantBody {
				t.Errorf("body = %q, want %q", res.body, tt.wantBody)
			}
			if tt.wantTenants != nil {
				if got := decodeResult(t, res.body).column("organization_id"); !slices.Equal(got, tt.wantTenants) {
					t.Errorf("tenants = %v, want %v", got, tt.wantTenants)
				}
			}
		})
	}
}

func TestCardJSON(t *testing.T) {
	_, ts := defaultServer(t)
	res := get(t, ts.URL+"/api/embed/card/"+cardToken(QuestionOrders, acme()))
	var c struct {
		ID           int    `json:"id"`
		EntityID     string `json:"entity_id"`
		Name         string `json:"name"`
		DatasetQuery struct {
			Type   string `json:"type"`
			Native struct {
				TemplateTags map[string]any `json:"template-tags"`
			} `json:"native"`
			Query any `json:"query"`
		} `json:"dataset_query"`
		Parameters []struct{ Slug string } `json:"parameters"`
	}
	if err := json.Unmarshal([]byte(res.body), &c); err != nil {
		t.Fatalf("%v in %s", err, res.body)
	}
	if c.ID != QuestionOrders || c.EntityID != "OrdersCard00000000001" || c.Name != "Orders" {
		t.Errorf("card = %d %q %q, want %d OrdersCard00000000001 Orders", c.ID, c.EntityID, c.Name, QuestionOrders)
	}
	if c.DatasetQuery.Type != "native" || len(c.DatasetQuery.Native.TemplateTags) != 3 || c.DatasetQuery.Query != nil {
		t.Errorf("dataset_query = %+v, want the type and template tags only", c.DatasetQuery)
	}
	if len(c.Parameters) != 1 || c.Parameters[0].Slug != "status" {
		t.Errorf("parameters = %+v, want only status", c.Parameters)
	}
}

func TestExports(t *testing.T) {
	card := "/api/embed/card/" + cardToken(QuestionOrders, acme()) + "/query/"
	dashcard := fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/%d/", dashToken(DashboardOrders, acme()), DashcardOrdersTable, QuestionOrders)
	tests := []struct {
		name            string
		path            string
		wantType        string
		wantDisposition string
		wantIn          string
	}{
		{"card csv", card + "csv", "text/csv", `attachment; filename="orders_2026-11-26T12:00:00.000000Z.csv"`, "1,acme,Acme — Wile E. Coyote,Rocket Skates,paid,us,149.9,"},
		{"card csv formatted", card + "csv?format_rows=true", "text/csv", `attachment; filename="orders_2026-11-26T12:00:00.000000Z.csv"`, "149.90,\"January 3, 2026, 9:12 AM\""},
		{"card json", card + "json", "application/json; charset=utf-8", `attachment; filename="orders_2026-11-26T12:00:00.000000Z.json"`, `"Customer":"Acme — Wile E. Coyote"`},
		{"card xlsx", card + "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", `attachment; filename="orders_2026-11-26T12:00:00.000000Z.xlsx"`, "Acme — Wile E. Coyote"},
		{"dashcard csv", dashcard + "csv?pivot_results=false", "text/csv", `attachment; filename="orders_2026-11-26T12:00:00.000000Z.csv"`, "Acme — Daffy Duck"},
		{"dashcard xlsx", dashcard + "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", `attachment; filename="orders_2026-11-26T12:00:00.000000Z.xlsx"`, "Rocket Sled"},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, ts.URL+tt.path)
			if res.status != 200 {
				t.Fatalf("status = %d (%s), want 200", res.status, res.body)
			}
			if got := res.header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := res.header.Get("Content-Disposition"); got != tt.wantDisposition {
				t.Errorf("Content-Disposition = %q, want %q", got, tt.wantDisposition)
			}
			body := res.body
			if strings.HasSuffix(tt.path, "xlsx") {
				body = xlsxSheet(t, []byte(res.body))
			}
			if !strings.Contains(body, tt.wantIn) {
				t.Errorf("export lacks %q:\n%s", tt.wantIn, body)
			}
			for _, other := range []string{"Globex", "Initech"} {
				if strings.Contains(body, other) {
					t.Errorf("export of acme contains %s rows", other)
				}
			}
		})
	}
}

func TestExportErrors(t *testing.T) {
	card := "/api/embed/card/" + cardToken(QuestionOrders, acme()) + "/query/"
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"format_rows not a boolean", card + "csv?format_rows=yes", 400, "Invalid request query parameters"},
		{"format_rows checked before the token", "/api/embed/card/x.y.z/query/csv?format_rows=1", 400, "Invalid request query parameters"},
		{"locked in URL", card + "csv?organization_id=globex", 400, "You can only specify a value for :organization_id in the JWT."},
		{"unknown format", card + "pdf", 404, "API endpoint does not exist."},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, ts.URL+tt.path)
			if res.status != tt.wantStatus || res.body != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", res.status, res.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// xlsxSheet opens a workbook and returns its sheet's XML.
func xlsxSheet(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("xlsx is not a zip: %v", err)
	}
	var names []string
	sheet := ""
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name == "xl/worksheets/sheet1.xml" {
			rc, _ := f.Open()
			s, _ := io.ReadAll(rc)
			rc.Close()
			sheet = string(s)
		}
	}
	for _, want := range []string{"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/worksheets/sheet1.xml"} {
		if !slices.Contains(names, want) {
			t.Errorf("xlsx parts = %v, want %s", names, want)
		}
	}
	return sheet
}

func TestParamValues(t *testing.T) {
	statuses := `{"has_more_values":false,"values":[["disputed"],["paid"],["pending"],["refunded"]]}`
	withoutDisputed := `{"has_more_values":false,"values":[["paid"],["pending"],["refunded"]]}`
	card := func(params any) string { return "/api/embed/card/" + cardToken(QuestionOrders, params) + "/params/" }
	dash := func(id int, params any) string { return "/api/embed/dashboard/" + dashToken(id, params) + "/params/" }
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantBody   string
	}{
		{"card listing spans every tenant", card(acme()) + "c_status/values", 200, statuses},
		{"card search", card(acme()) + "c_status/search/E", 200, `{"has_more_values":false,"values":[["disputed"],["pending"],["refunded"]]}`},
		{"card search is case-insensitive contains", card(acme()) + "c_status/search/PA", 200, `{"has_more_values":false,"values":[["paid"]]}`},
		{"card locked param", card(acme()) + "c_org/values", 400, `Cannot search for values: "organization_id" is not an enabled parameter.`},
		{"card disabled param", card(acme()) + "c_region/values", 400, `Cannot search for values: "region" is not an enabled parameter.`},
		{"card unknown param", card(acme()) + "nope/values", 400, `Cannot search for values: nil is not an enabled parameter.`},
		{"card param set in the token", card(map[string]any{"organization_id": "acme", "status": "paid"}) + "c_status/values", 400, `You can't specify a value for "status" if it's already set in the JWT.`},
		{"card remapping", card(acme()) + "c_status/remapping?value=paid", 200, `["paid"]`},
		{"card remapping decodes twice", card(acme()) + "c_status/remapping?value=%2541", 200, `["A"]`},
		{"card remapping of a locked param", card(acme()) + "c_org/remapping?value=acme", 400, `Cannot get remapped value for parameter: "organization_id" is not an enabled parameter.`},
		{"card remapping without value", card(acme()) + "c_status/remapping", 400, "Invalid request query parameters"},
		{"dashboard listing constrained by the locked tenant", dash(DashboardOrders, acme()) + "p_status/values", 200, withoutDisputed},
		{"dashboard listing of another tenant", dash(DashboardOrders, map[string]any{"organization_id": "initech"}) + "p_status/values", 200, statuses},
		{"dashboard listing with locked []", dash(DashboardOrders, map[string]any{"organization_id": []any{}}) + "p_status/values", 200, statuses},
		{"card-sourced listing ignores the tenant", dash(DashboardLeaky, acme()) + "p_status/values", 200, statuses},
		{"dashboard search", dash(DashboardOrders, acme()) + "p_status/search/re", 200, `{"has_more_values":false,"values":[["refunded"]]}`},
		{"dashboard listing constrained by the URL", dash(DashboardOrders, acme()) + "p_status/values?p_status=paid", 200, `{"has_more_values":false,"values":[["paid"]]}`},
		{"editable tenant listing shows every tenant", dash(DashboardEditableTenant, map[string]any{}) + "p_org/values", 200, `{"has_more_values":false,"values":[["acme"],["globex"],["initech"]]}`},
		{"dashboard locked param", dash(DashboardOrders, acme()) + "p_org/values", 400, `Cannot search for values: "organization_id" is not an enabled parameter.`},
		{"dashboard unknown param", dash(DashboardOrders, acme()) + "p_nope/values", 400, `Cannot search for values: nil is not an enabled parameter.`},
		{"dashboard locked in URL by id", dash(DashboardOrders, acme()) + "p_status/values?p_org=globex", 400, "You can only specify a value for :organization_id in the JWT."},
		{"dashboard disabled in URL by id", dash(DashboardOrders, acme()) + "p_status/values?p_region=eu", 400, "You're not allowed to specify a value for :region."},
		{"dashboard slug in URL", dash(DashboardOrders, acme()) + "p_status/values?status=paid", 400, "Invalid query params: could not determine slug for parameter with ID :status"},
		{"dashboard token without the locked tenant", dash(DashboardOrders, map[string]any{}) + "p_status/values", 400, "You must specify a value for :organization_id in the JWT."},
		{"dashboard param set in the token", dash(DashboardOrders, map[string]any{"organization_id": "acme", "status": "paid"}) + "p_status/values", 400, `You can't specify a value for "status" if it's already set in the JWT.`},
		{"dashboard remapping", dash(DashboardOrders, acme()) + "p_status/remapping?value=paid", 200, `["paid"]`},
		{"dashboard remapping of a locked param", dash(DashboardOrders, acme()) + "p_org/remapping?value=globex", 400, `Cannot get remapped value for parameter: "organization_id" is not an enabled parameter.`},
		{"dashboard remapping needs the locked tenant", dash(DashboardOrders, map[string]any{}) + "p_status/remapping?value=paid", 400, "You must specify a value for :organization_id in the JWT."},
		{"dashboard unpublished", dash(DashboardUnpublished, acme()) + "p_status/values", 400, "Embedding is not enabled for this object."},
		{"dashboard listing reads only resource.dashboard", "/api/embed/dashboard/" + Sign(testSecret, map[string]any{"resource": map[string]any{"dashboard": 1, "question": "8"}, "params": acme()}) + "/params/p_status/values", 200, withoutDisputed},
	}
	_, ts := defaultServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, ts.URL+tt.path)
			if res.status != tt.wantStatus || res.body != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", res.status, res.body, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// TestFailQueries: a query the warehouse could not run answers 202 with
// status "failed" and the generic message, on card and dashcard queries;
// exports and the dashboard itself are unaffected, and turning it off
// lets queries run again.
func TestFailQueries(t *testing.T) {
	s, ts := defaultServer(t)
	dash := fmt.Sprintf("%s/api/embed/dashboard/%s/dashcard/%d/card/%d", ts.URL,
		dashToken(DashboardOrders, acme()), DashcardOrdersTable, QuestionOrders)
	card := fmt.Sprintf("%s/api/embed/card/%s/query", ts.URL, cardToken(QuestionOrders, acme()))
	s.FailQueries("db")
	for _, url := range []string{dash, card} {
		res := get(t, url)
		if res.status != 202 {
			t.Fatalf("failing query: status %d, want 202", res.status)
		}
		var r struct {
			Status    string `json:"status"`
			Error     string `json:"error"`
			ErrorType string `json:"error_type"`
		}
		if err := json.Unmarshal([]byte(res.body), &r); err != nil {
			t.Fatal(err)
		}
		if r.Status != "failed" || r.Error != "An error occurred while running the query." || r.ErrorType != "db" {
			t.Errorf("failing query: %s", res.body)
		}
	}
	if res := get(t, fmt.Sprintf("%s/api/embed/dashboard/%s", ts.URL, dashToken(DashboardOrders, acme()))); res.status != 200 {
		t.Errorf("dashboard while queries fail: %d", res.status)
	}
	s.FailQueries("")
	if r := decodeResult(t, get(t, dash).body); r.Status != "completed" {
		t.Errorf("after FailQueries(\"\"): status %q, want completed", r.Status)
	}
}

package metabasetest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

const testAPIKey = "mb_VGVzdEFkbWluS2V5MDEyMzQ1Njc4OQ=="

func adminServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	opts.SecretKey = testSecret
	if opts.APIKey == "" {
		opts.APIKey = testAPIKey
	}
	s, ts := newTestServer(t, opts)
	return s, ts.URL
}

// adminGet sends GET path with the API key under header name hdr ("" for
// no key).
func adminGet(t *testing.T, base, path, hdr, key string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if hdr != "" {
		req.Header[hdr] = []string{key} // as spelt, not canonicalized
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, string(b), res.Header}
}

func adminJSON[T any](t *testing.T, base, path string) T {
	t.Helper()
	res := adminGet(t, base, path, "X-API-Key", testAPIKey)
	if res.status != http.StatusOK {
		t.Fatalf("GET %s = %d %q, want 200", path, res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s Content-Type = %q, want JSON", path, ct)
	}
	var v T
	if err := json.Unmarshal([]byte(res.body), &v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, res.body)
	}
	return v
}

func TestAdminAPIAuthentication(t *testing.T) {
	_, base := adminServer(t, Options{})
	tests := []struct {
		name       string
		path       string
		hdr, key   string
		wantStatus int
		wantBody   string
	}{
		{"no key", "/api/dashboard/1", "", "", 401, "Unauthenticated"},
		{"wrong key", "/api/dashboard/1", "X-API-Key", "mb_wrong", 401, "Unauthenticated"},
		{"empty key", "/api/database", "X-API-Key", "", 401, "Unauthenticated"},
		{"session header is no key", "/api/card/1", "X-Metabase-Session", testAPIKey, 401, "Unauthenticated"},
		{"legacy static key header", "/api/mt/gtap", "X-Metabase-Apikey", testAPIKey, 401, "Unauthenticated"},
		{"unknown admin route needs the key too", "/api/dashboard/1/nothing", "", "", 401, "Unauthenticated"},
		{"canonical spelling", "/api/dashboard/1", "X-Api-Key", testAPIKey, 200, ""},
		{"upper case", "/api/dashboard/1", "X-API-KEY", testAPIKey, 200, ""},
		{"unknown admin route", "/api/dashboard/1/nothing", "X-API-Key", testAPIKey, 404, "API endpoint does not exist."},
		{"non-numeric id", "/api/card/abc", "X-API-Key", testAPIKey, 404, "API endpoint does not exist."},
		{"unknown dashboard", "/api/dashboard/99", "X-API-Key", testAPIKey, 404, "Not found."},
		{"unknown card", "/api/card/99", "X-API-Key", testAPIKey, 404, "Not found."},
		{"unknown database", "/api/database/7/metadata", "X-API-Key", testAPIKey, 404, "Not found."},
		{"sandboxes need the feature", "/api/mt/gtap", "X-API-Key", testAPIKey, 403, msgSandboxingNotActive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := adminGet(t, base, tt.path, tt.hdr, tt.key)
			if res.status != tt.wantStatus {
				t.Fatalf("status = %d (%q), want %d", res.status, res.body, tt.wantStatus)
			}
			if tt.wantBody != "" {
				if res.body != tt.wantBody {
					t.Errorf("body = %q, want %q", res.body, tt.wantBody)
				}
				if ct := res.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("Content-Type = %q, want text/plain", ct)
				}
			}
			if got := res.header.Get("X-Metabase-Version"); got != Version {
				t.Errorf("X-Metabase-Version = %q, want %q", got, Version)
			}
		})
	}

	t.Run("lower-case header on the wire", func(t *testing.T) {
		u := strings.TrimPrefix(base, "http://")
		conn, err := net.Dial("tcp", u)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /api/permissions/group HTTP/1.1\r\nHost: %s\r\nx-api-key: %s\r\nConnection: close\r\n\r\n", u, testAPIKey)
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("status = %d, want 200", res.StatusCode)
		}
	})

	t.Run("no key configured refuses every key", func(t *testing.T) {
		s := New(Options{SecretKey: testSecret})
		r, _ := http.NewRequest(http.MethodGet, "/api/database", nil)
		r.Header.Set("X-API-Key", "")
		if s.authorized(r) {
			t.Error("authorized with no key configured, want refused")
		}
	})
}

func TestAdminDashboardShape(t *testing.T) {
	_, base := adminServer(t, Options{})
	type mappingJSON struct {
		ParameterID string `json:"parameter_id"`
		CardID      *int   `json:"card_id"`
		Target      []any  `json:"target"`
	}
	type dash struct {
		ID              int               `json:"id"`
		EnableEmbedding bool              `json:"enable_embedding"`
		EmbeddingParams map[string]string `json:"embedding_params"`
		Archived        bool              `json:"archived"`
		PublicUUID      *string           `json:"public_uuid"`
		Parameters      []struct {
			ID, Slug, Type string
		} `json:"parameters"`
		Dashcards []struct {
			ID                int                        `json:"id"`
			CardID            *int                       `json:"card_id"`
			Card              *struct{ ID int }          `json:"card"`
			ParameterMappings []mappingJSON              `json:"parameter_mappings"`
			Viz               map[string]json.RawMessage `json:"visualization_settings"`
		} `json:"dashcards"`
	}
	tests := []struct {
		name          string
		id            int
		wantEmbedding bool
		wantParams    map[string]string
		wantSlugs     []string
		// dashcard id → parameter ids mapped (card cards) or "text"
		wantWiring map[int][]string
	}{
		{"clean", DashboardOrders, true, map[string]string{"organization_id": "locked", "status": "enabled", "region": "disabled"},
			[]string{"organization_id", "status", "region"},
			map[int][]string{DashcardOrdersText: {"text", ParamOrganization}, DashcardOrdersTable: {ParamOrganization, ParamStatus, ParamRegion}, DashcardOrdersRevenue: {ParamOrganization, ParamStatus}}},
		{"leaky", DashboardLeaky, true, map[string]string{"organization_id": "locked", "status": "enabled", "region": "disabled"},
			[]string{"organization_id", "status", "region"},
			map[int][]string{DashcardLeakyText: {"text", ParamOrganization}, DashcardLeakyTable: {ParamOrganization, ParamStatus, ParamRegion},
				DashcardLeakyRevenue: {ParamOrganization, ParamStatus}, DashcardLeakyAllOrders: {ParamStatus}}},
		{"editable tenant", DashboardEditableTenant, true, map[string]string{"organization_id": "enabled", "status": "enabled", "region": "disabled"},
			[]string{"organization_id", "status", "region"}, nil},
		{"unpublished", DashboardUnpublished, false, map[string]string{"organization_id": "locked", "status": "enabled", "region": "disabled"},
			[]string{"organization_id", "status", "region"}, nil},
		{"no tenant", DashboardNoTenant, true, map[string]string{"organization": "enabled", "status": "enabled"},
			[]string{"organization", "status"}, map[int][]string{DashcardNoTenantTable: {ParamPickOrganization, ParamStatus}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := adminJSON[dash](t, base, fmt.Sprintf("/api/dashboard/%d", tt.id))
			if d.ID != tt.id || d.EnableEmbedding != tt.wantEmbedding {
				t.Errorf("id, enable_embedding = %d, %v, want %d, %v", d.ID, d.EnableEmbedding, tt.id, tt.wantEmbedding)
			}
			if fmt.Sprint(d.EmbeddingParams) != fmt.Sprint(tt.wantParams) {
				t.Errorf("embedding_params = %v, want %v", d.EmbeddingParams, tt.wantParams)
			}
			var slugs []string
			for _, p := range d.Parameters {
				slugs = append(slugs, p.Slug)
			}
			if !slices.Equal(slugs, tt.wantSlugs) {
				t.Errorf("parameter slugs = %v, want %v", slugs, tt.wantSlugs)
			}
			for _, dc := range d.Dashcards {
				want, ok := tt.wantWiring[dc.ID]
				if !ok {
					continue
				}
				var got []string
				if dc.CardID == nil {
					got = append(got, "text")
					if dc.Card != nil || dc.Viz["virtual_card"] == nil {
						t.Errorf("dashcard %d: a text card wants card null and a virtual_card", dc.ID)
					}
				} else if dc.Card == nil || dc.Card.ID != *dc.CardID {
					t.Errorf("dashcard %d: card does not match card_id", dc.ID)
				}
				for _, m := range dc.ParameterMappings {
					got = append(got, m.ParameterID)
					if dc.CardID != nil && (m.CardID == nil || *m.CardID != *dc.CardID) {
						t.Errorf("dashcard %d mapping %s: card_id %v, want %d", dc.ID, m.ParameterID, m.CardID, *dc.CardID)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("dashcard %d wiring = %v, want %v", dc.ID, got, want)
				}
			}
		})
	}
}

func TestAdminCardShape(t *testing.T) {
	_, base := adminServer(t, Options{})
	type cardJSON struct {
		ID              int               `json:"id"`
		EnableEmbedding bool              `json:"enable_embedding"`
		EmbeddingParams map[string]string `json:"embedding_params"`
		PublicUUID      *string           `json:"public_uuid"`
		Parameters      []struct{ ID, Slug string }
		DatasetQuery    struct {
			Database int    `json:"database"`
			Type     string `json:"type"`
			Native   *struct {
				Query        string                    `json:"query"`
				TemplateTags map[string]map[string]any `json:"template-tags"`
			} `json:"native"`
		} `json:"dataset_query"`
	}
	orders := adminJSON[cardJSON](t, base, fmt.Sprintf("/api/card/%d", QuestionOrders))
	if !orders.EnableEmbedding || orders.EmbeddingParams["organization_id"] != "locked" || orders.DatasetQuery.Type != "native" ||
		orders.DatasetQuery.Native == nil || orders.DatasetQuery.Native.TemplateTags["organization_id"]["dimension"] == nil || len(orders.Parameters) != 3 {
		t.Errorf("card %d = %+v, want a published native card with a locked organization_id template tag", QuestionOrders, orders)
	}
	revenue := adminJSON[cardJSON](t, base, fmt.Sprintf("/api/card/%d", QuestionRevenueByStatus))
	if revenue.EnableEmbedding || revenue.EmbeddingParams != nil || revenue.DatasetQuery.Type != "query" ||
		revenue.PublicUUID == nil || *revenue.PublicUUID != PublicLinkRevenue {
		t.Errorf("card %d = %+v, want an unpublished GUI card with a public link", QuestionRevenueByStatus, revenue)
	}
}

func TestAdminListings(t *testing.T) {
	type item struct {
		ID         int    `json:"id"`
		Name       string `json:"name"`
		PublicUUID string `json:"public_uuid"`
		CardSchema *int   `json:"card_schema"`
	}
	ids := func(items []item) []int {
		var out []int
		for _, it := range items {
			out = append(out, it.ID)
		}
		return out
	}
	_, base := adminServer(t, Options{Sandboxing: true})
	tests := []struct {
		name string
		path string
		want []int
	}{
		{"embeddable dashboards: published, not archived", "/api/dashboard/embeddable", []int{DashboardOrders, DashboardLeaky, DashboardEditableTenant, DashboardNoTenant}},
		{"embeddable cards", "/api/card/embeddable", []int{QuestionOrders, QuestionEditableTenant}},
		{"public dashboards", "/api/dashboard/public", nil},
		{"public cards", "/api/card/public", []int{QuestionRevenueByStatus}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := adminJSON[[]item](t, base, tt.path)
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("ids = %v, want %v", ids(got), tt.want)
			}
			for _, it := range got {
				if it.Name == "" {
					t.Errorf("item %d has no name", it.ID)
				}
				if strings.HasPrefix(tt.path, "/api/card/embeddable") && it.CardSchema == nil {
					t.Errorf("card %d has no card_schema", it.ID)
				}
				if strings.HasSuffix(tt.path, "/public") && it.PublicUUID == "" {
					t.Errorf("public item %d has no public_uuid", it.ID)
				}
			}
		})
	}

	t.Run("metadata", func(t *testing.T) {
		dbs := adminJSON[struct {
			Data  []struct{ ID int }
			Total int
		}](t, base, "/api/database")
		if dbs.Total != 1 || len(dbs.Data) != 1 || dbs.Data[0].ID != DatabaseID {
			t.Errorf("databases = %+v, want one, id %d", dbs, DatabaseID)
		}
		md := adminJSON[struct {
			ID     int
			Tables []struct {
				ID     int
				Name   string
				Fields []struct {
					ID      int
					Name    string
					TableID int `json:"table_id"`
				}
			}
		}](t, base, fmt.Sprintf("/api/database/%d/metadata", DatabaseID))
		if len(md.Tables) != 2 || md.Tables[0].ID != TableOrders || md.Tables[1].ID != TableCustomers {
			t.Fatalf("tables = %+v, want orders and customers", md.Tables)
		}
		if f := md.Tables[0].Fields[1]; f.ID != 102 || f.Name != "organization_id" || f.TableID != TableOrders {
			t.Errorf("orders field 2 = %+v, want organization_id, id 102", f)
		}
		tables := adminJSON[[]struct {
			ID   int
			DBID int `json:"db_id"`
			DB   struct{ ID int }
		}](t, base, "/api/table")
		if len(tables) != 2 || tables[1].DB.ID != DatabaseID || tables[1].DBID != DatabaseID {
			t.Errorf("tables = %+v, want 2 of database %d", tables, DatabaseID)
		}
	})

	t.Run("groups and sandboxes", func(t *testing.T) {
		gs := adminJSON[[]struct {
			ID   int
			Name string
		}](t, base, "/api/permissions/group")
		if len(gs) != 3 || gs[0] != (struct {
			ID   int
			Name string
		}{1, "All Users"}) || gs[1].ID != 2 || gs[1].Name != "Administrators" {
			t.Errorf("groups = %+v, want All Users 1, Administrators 2, and one more", gs)
		}
		type gtap struct {
			ID                  int            `json:"id"`
			GroupID             int            `json:"group_id"`
			TableID             int            `json:"table_id"`
			CardID              *int           `json:"card_id"`
			AttributeRemappings map[string]any `json:"attribute_remappings"`
		}
		all := adminJSON[[]gtap](t, base, "/api/mt/gtap")
		if len(all) != 1 || all[0].GroupID != GroupEmbedded || all[0].TableID != TableOrders || all[0].AttributeRemappings["organization_id"] == nil {
			t.Errorf("sandboxes = %+v, want one on orders for the embedded group", all)
		}
		one := adminGet(t, base, fmt.Sprintf("/api/mt/gtap?group_id=%d&table_id=%d", GroupEmbedded, TableCustomers), "X-API-Key", testAPIKey)
		if one.status != 200 || one.body != "null" {
			t.Errorf("sandbox of customers = %d %s, want 200 null", one.status, one.body)
		}
	})

	t.Run("switches off", func(t *testing.T) {
		_, off := adminServer(t, Options{StaticEmbeddingDisabled: true, PublicSharingDisabled: true})
		for path, want := range map[string]string{"/api/dashboard/embeddable": "Embedding is not enabled.", "/api/card/public": "Public sharing is not enabled."} {
			if res := adminGet(t, off, path, "X-API-Key", testAPIKey); res.status != 400 || res.body != want {
				t.Errorf("GET %s = %d %q, want 400 %q", path, res.status, res.body, want)
			}
		}
	})
}

func TestMutators(t *testing.T) {
	t.Run("wiring the leaky card isolates it", func(t *testing.T) {
		s, base := adminServer(t, Options{})
		path := fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/%d", dashToken(DashboardLeaky, acme()), DashcardLeakyAllOrders, QuestionAllOrdersCount)
		before := decodeResult(t, get(t, base+path).body)
		if err := s.WireDashcard(DashcardLeakyAllOrders, ParamOrganization, "organization_id"); err != nil {
			t.Fatal(err)
		}
		if err := s.WireDashcard(DashcardLeakyAllOrders, ParamOrganization, "organization_id"); err != nil {
			t.Fatalf("wiring twice: %v", err)
		}
		after := decodeResult(t, get(t, base+path).body)
		acmeRows := rowsOf(func(o Order) bool { return o.OrganizationID == "acme" })
		if got, want := fmt.Sprint(before.Data.Rows, after.Data.Rows), fmt.Sprintf("[[%d]] [[%d]]", len(Orders()), acmeRows); got != want {
			t.Errorf("counts before, after = %s, want %s", got, want)
		}
		d := adminJSON[struct {
			Dashcards []struct {
				ID                int
				ParameterMappings []struct {
					ParameterID string `json:"parameter_id"`
				} `json:"parameter_mappings"`
			}
		}](t, base, fmt.Sprintf("/api/dashboard/%d", DashboardLeaky))
		var wired []string
		for _, dc := range d.Dashcards {
			if dc.ID == DashcardLeakyAllOrders {
				for _, m := range dc.ParameterMappings {
					wired = append(wired, m.ParameterID)
				}
			}
		}
		if !slices.Equal(wired, []string{ParamStatus, ParamOrganization}) {
			t.Errorf("admin API wiring = %v, want [p_status p_org]", wired)
		}
		// Another server still serves the sample content.
		other := New(Options{SecretKey: testSecret})
		if dc, _, _ := other.content().dashboard(DashboardLeaky).dashcardCard(DashcardLeakyAllOrders, QuestionAllOrdersCount, other.content()); len(dc.Mappings) != 1 {
			t.Errorf("another server's dashcard has %d mappings, want 1", len(dc.Mappings))
		}
	})

	t.Run("errors leave the content as it was", func(t *testing.T) {
		s, _ := adminServer(t, Options{})
		before := s.content()
		for name, err := range map[string]error{
			"no dashcard":    s.WireDashcard(999, ParamOrganization, "organization_id"),
			"no param":       s.WireDashcard(DashcardLeakyAllOrders, "p_nope", "organization_id"),
			"no column":      s.WireDashcard(DashcardLeakyAllOrders, ParamOrganization, "tenant"),
			"text card":      s.WireDashcard(DashcardLeakyText, ParamStatus, "status"),
			"bad status":     s.SetEmbeddingParam(modelDashboard, DashboardOrders, slugOrg, "open"),
			"bad model":      s.SetEmbeddingParam("collection", 1, slugOrg, statusLocked),
			"no dashboard":   s.SetPublicLink(modelDashboard, 99, "x"),
			"no table":       s.AddSandbox(GroupEmbedded, 99, "organization_id"),
			"sandbox exists": s.AddSandbox(GroupEmbedded, TableOrders, "organization_id"),
		} {
			if err == nil {
				t.Errorf("%s: err = nil, want an error", name)
			}
		}
		if s.content() != before {
			t.Error("a failed change replaced the content")
		}
	})

	t.Run("embedding params, public links, sandboxes", func(t *testing.T) {
		s, base := adminServer(t, Options{Sandboxing: true})
		if err := s.SetEmbeddingParam(modelDashboard, DashboardEditableTenant, slugOrg, statusLocked); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPublicLink(modelDashboard, DashboardOrders, "0b7c1d2e-0000-4000-8000-000000000001"); err != nil {
			t.Fatal(err)
		}
		if err := s.AddSandbox(GroupEmbedded, TableCustomers, "organization_id"); err != nil {
			t.Fatal(err)
		}
		d := adminJSON[struct {
			EmbeddingParams map[string]string `json:"embedding_params"`
		}](t, base, fmt.Sprintf("/api/dashboard/%d", DashboardEditableTenant))
		if d.EmbeddingParams[slugOrg] != statusLocked {
			t.Errorf("embedding_params = %v, want organization_id locked", d.EmbeddingParams)
		}
		// The embed API follows: the browser may no longer set it.
		res := get(t, base+fmt.Sprintf("/api/embed/dashboard/%s/dashcard/%d/card/%d?organization_id=globex", dashToken(DashboardEditableTenant, acme()), DashcardEditableTable, QuestionOrders))
		if res.status != 400 || res.body != "You can only specify a value for :organization_id in the JWT." {
			t.Errorf("browser-set locked param = %d %q, want 400", res.status, res.body)
		}
		if pub := adminJSON[[]struct{ ID int }](t, base, "/api/dashboard/public"); len(pub) != 1 || pub[0].ID != DashboardOrders {
			t.Errorf("public dashboards = %v, want [%d]", pub, DashboardOrders)
		}
		if gt := adminJSON[[]struct{ ID, TableID int }](t, base, "/api/mt/gtap"); len(gt) != 2 || gt[1].ID != 2 {
			t.Errorf("sandboxes = %v, want 2", gt)
		}
	})

	t.Run("concurrent changes and requests", func(t *testing.T) {
		s, base := adminServer(t, Options{})
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				status := []string{statusLocked, statusEnabled}[i%2]
				if err := s.SetEmbeddingParam(modelCard, QuestionEditableTenant, slugOrg, status); err != nil {
					t.Error(err)
				}
			}()
			go func() {
				defer wg.Done()
				if res := adminGet(t, base, fmt.Sprintf("/api/card/%d", QuestionEditableTenant), "X-API-Key", testAPIKey); res.status != 200 {
					t.Errorf("status %d", res.status)
				}
			}()
		}
		wg.Wait()
	})
}

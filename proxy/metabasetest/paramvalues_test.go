package metabasetest

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"
)

// infoJSON is what the tests read of an embed JSON.
type infoJSON struct {
	ParamValues map[string]struct {
		FieldID int        `json:"field_id"`
		Values  [][]string `json:"values"`
	} `json:"param_values"`
	ParamFields map[string]map[string]any `json:"param_fields"`
}

// TestEmbedJSONCarriesEveryTenantsValues: the stand-in keeps Metabase's
// hole (contract §8). An acme token's dashboard and card JSON carry the
// values of the filters' fields over the whole table, other tenants' too:
// a dashboard ships every field wired to an enabled filter, even one the
// token sets, and drops only fields wired solely to locked or disabled
// ones; a card ships every template-tag field, whatever its status.
func TestEmbedJSONCarriesEveryTenantsValues(t *testing.T) {
	_, ts := defaultServer(t)
	org, status, region := strconv.Itoa(fieldByName("organization_id").ID), strconv.Itoa(fieldByName("status").ID), strconv.Itoa(fieldByName("region").ID)
	everyOrg := []string{"acme", "globex", "initech"}
	everyStatus := []string{"disputed", "paid", "pending", "refunded"} // disputed: initech's only
	tests := []struct {
		name string
		path string
		want map[string][]string // field id -> values; fields absent are not carried
	}{
		{"dashboard, tenant locked: the enabled status filter", "/api/embed/dashboard/" + dashToken(DashboardOrders, acme()),
			map[string][]string{status: everyStatus}},
		// region is a template tag of the native card that no parameter
		// is wired to, so nothing removes it.
		{"dashboard, an enabled organization filter", "/api/embed/dashboard/" + dashToken(DashboardNoTenant, map[string]any{}),
			map[string][]string{org: everyOrg, status: everyStatus, region: {"eu", "us"}}},
		{"dashboard, tenant enabled and set by the token", "/api/embed/dashboard/" + dashToken(DashboardEditableTenant, acme()),
			map[string][]string{org: everyOrg, status: everyStatus}},
		{"card: every template-tag field, locked ones too", "/api/embed/card/" + cardToken(QuestionOrders, acme()),
			map[string][]string{org: everyOrg, status: everyStatus, region: {"eu", "us"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, ts.URL+tt.path)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var info infoJSON
			if err := json.Unmarshal([]byte(r.body), &info); err != nil {
				t.Fatal(err)
			}
			if len(info.ParamValues) != len(tt.want) {
				t.Errorf("param_values fields = %d, want %d: %s", len(info.ParamValues), len(tt.want), r.body)
			}
			for id, want := range tt.want {
				fv, ok := info.ParamValues[id]
				var got []string
				for _, v := range fv.Values {
					got = append(got, v...)
				}
				if !ok || strconv.Itoa(fv.FieldID) != id || !slices.Equal(got, want) {
					t.Errorf("param_values[%s] = %d %v, want %v", id, fv.FieldID, got, want)
				}
				if _, ok := info.ParamFields[id]; !ok {
					t.Errorf("param_fields has no field %s", id)
				}
			}
		})
	}
}

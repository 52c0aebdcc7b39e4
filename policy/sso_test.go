package policy

import "testing"

func TestSSOAPI(t *testing.T) {
	tests := []struct {
		name, method, path string
		dataset            bool
		want               Reason
	}{
		{"current user", "GET", "/api/user/current", false, ReasonAllowed},
		{"card", "GET", "/api/card/7", false, ReasonAllowed},
		{"card query", "POST", "/api/card/7/query", false, ReasonAllowed},
		{"card metadata", "GET", "/api/card/7/query_metadata", false, ReasonAllowed},
		{"dashboard", "GET", "/api/dashboard/1", false, ReasonAllowed},
		{"dashcard query", "POST", "/api/dashboard/1/dashcard/12/card/2/query", false, ReasonAllowed},
		{"collection root items", "GET", "/api/collection/root/items", false, ReasonAllowed},
		{"collection tree", "GET", "/api/collection/tree", false, ReasonAllowed},
		{"table metadata", "GET", "/api/table/10/query_metadata", false, ReasonAllowed},
		{"field", "GET", "/api/field/102", false, ReasonAllowed},
		{"database metadata", "GET", "/api/database/1/metadata", false, ReasonAllowed},
		{"search", "GET", "/api/search", false, ReasonAllowed},
		{"dataset on", "POST", "/api/dataset", true, ReasonAllowed},

		{"dataset off", "POST", "/api/dataset", false, ReasonRouteNotAllowed},
		{"dataset export", "POST", "/api/dataset/csv", true, ReasonRouteNotAllowed},
		{"card export", "POST", "/api/card/7/query/csv", false, ReasonRouteNotAllowed},
		{"card edit", "PUT", "/api/card/7", false, ReasonMethodNotAllowed},
		{"card delete", "DELETE", "/api/card/7", false, ReasonMethodNotAllowed},
		{"card query by GET", "GET", "/api/card/7/query", false, ReasonMethodNotAllowed},
		{"card public link", "POST", "/api/card/7/public_link", false, ReasonRouteNotAllowed},
		{"embeddable cards", "GET", "/api/card/embeddable", false, ReasonRouteNotAllowed},
		{"card id 0", "GET", "/api/card/0", false, ReasonRouteNotAllowed},
		{"card id leading zero", "GET", "/api/card/07", false, ReasonRouteNotAllowed},
		{"card id too long", "GET", "/api/card/1234567890", false, ReasonRouteNotAllowed},
		{"database write", "POST", "/api/database", false, ReasonMethodNotAllowed},
		{"database update", "PUT", "/api/database/1", false, ReasonMethodNotAllowed},
		{"field values", "GET", "/api/field/102/values", false, ReasonRouteNotAllowed},
		{"users", "GET", "/api/user", false, ReasonRouteNotAllowed},
		{"another user", "GET", "/api/user/1", false, ReasonRouteNotAllowed},
		{"settings", "GET", "/api/setting", false, ReasonRouteNotAllowed},
		{"permissions", "GET", "/api/permissions/graph", false, ReasonRouteNotAllowed},
		{"api keys", "GET", "/api/api-key", false, ReasonRouteNotAllowed},
		{"sandboxes", "GET", "/api/mt/gtap", false, ReasonRouteNotAllowed},
		{"setup", "POST", "/api/setup", false, ReasonRouteNotAllowed},
		{"notification", "POST", "/api/notification", false, ReasonRouteNotAllowed},
		{"upload", "POST", "/api/upload/csv", false, ReasonRouteNotAllowed},
		{"public", "GET", "/api/public/card/x", false, ReasonRouteNotAllowed},
		{"trailing slash", "GET", "/api/user/current/", false, ReasonRouteNotAllowed},
		{"case variant", "GET", "/API/user/current", false, ReasonRouteNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := SSOAPI(tt.method, tt.path, tt.dataset)
			if d.Reason != tt.want || d.Allow != (tt.want == ReasonAllowed) {
				t.Errorf("SSOAPI(%s %s, dataset=%v) = %+v, want %s", tt.method, tt.path, tt.dataset, d, tt.want)
			}
		})
	}
}

func TestSSOPage(t *testing.T) {
	for path, want := range map[string]bool{
		"/dashboard/1": true, "/dashboard/42-orders-overview": true, "/question/7": true, "/collection/root": true,
		"/collection/3": true, "/search": true,
		"/": false, "/dashboard/": false, "/dashboard/x": false, "/dashboard/1/edit": false, "/question/0": false,
		"/admin/settings": false, "/auth/login": false, "/dashboard/1-a.b": false, "/question/root": false, "/setup": false,
	} {
		if got := SSOPage(path); got != want {
			t.Errorf("SSOPage(%q) = %v, want %v", path, got, want)
		}
	}
}

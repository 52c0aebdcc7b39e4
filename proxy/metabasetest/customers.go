package metabasetest

import (
	"net/http"
	"slices"
)

// customers is the customers table: one row per customer named in the
// orders, every tenant's, in order of first appearance.
func customers() [][]any {
	var rows [][]any
	var seen []string
	for _, o := range orders {
		if slices.Contains(seen, o.Customer) {
			continue
		}
		seen = append(seen, o.Customer)
		rows = append(rows, []any{len(rows) + 1, o.OrganizationID, o.Customer})
	}
	return rows
}

// serveCustomers answers an ad-hoc query over the customers table for an
// SSO user as Metabase does (data_permissions.clj): permissions are
// additive, so a group of the user's (All Users included) that may view
// the table unrestricted gives every tenant's customers, a sandbox on it
// filters by the user's attribute, and anything else is refused. The
// sample's embedded group may view it unrestricted: the hole the audit
// reports as table-unrestricted, served here as Metabase serves it.
func (s *Server) serveCustomers(w http.ResponseWriter, u *SSOUser, ct *content) {
	filters, errMsg, ok := s.tableFilter(u, ct, TableCustomers)
	if !ok {
		writeText(w, http.StatusForbidden, msgNoPermission)
		return
	}
	if errMsg != "" {
		writeJSON(w, http.StatusAccepted, map[string]any{"status": "failed", "error": errMsg, "data": map[string]any{"rows": []any{}, "cols": []any{}}})
		return
	}
	t, _ := ct.tableByID(TableCustomers)
	var res result
	for _, f := range t.Fields {
		res.cols = append(res.cols, map[string]any{"name": f.Name, "display_name": f.Display, "base_type": f.BaseType})
	}
	for _, row := range customers() {
		if customerMatches(t.Fields, row, filters) {
			res.rows = append(res.rows, row)
		}
	}
	writeAPIResult(w, res, nil)
}

func customerMatches(fs []field, row []any, filters []filter) bool {
	for _, f := range filters {
		i := slices.IndexFunc(fs, func(x field) bool { return x.Name == f.field })
		if i < 0 || !slices.ContainsFunc(f.values, func(v any) bool { return cellEquals(row[i], v) }) {
			return false
		}
	}
	return true
}

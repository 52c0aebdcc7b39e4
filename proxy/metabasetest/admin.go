package metabasetest

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The admin read API (contract §5): what an auditor reads with an API key of
// the Administrators group. It is read-only: other methods are not routed.

// Texts of the admin API.
const (
	msgUnauthenticated     = "Unauthenticated"
	msgPublicSharingOff    = "Public sharing is not enabled."
	msgSandboxingNotActive = "Error: sandboxing is not enabled for this instance. Please check you have set a valid Enterprise token and try again."
)

// Database, table and group ids of the sample metadata.
const (
	// DatabaseID is the one database, holding the orders and customers tables.
	DatabaseID = databaseID
	// TableOrders is the orders table; it has a sandbox for GroupEmbedded.
	TableOrders = tableID
	// TableCustomers is the customers table; it has no sandbox.
	TableCustomers = 11

	// GroupAllUsers and GroupAdministrators are the ids Metabase gives its
	// two built-in groups.
	GroupAllUsers       = 1
	GroupAdministrators = 2
	// GroupEmbedded is the group SSO users of the customers' organizations
	// are put in ("Embedded customers").
	GroupEmbedded = 3

	// PublicLinkRevenue is the public link of QuestionRevenueByStatus.
	PublicLinkRevenue = "8f2b6a4e-3c1d-4e5f-9a7b-0c1d2e3f4a5b"
)

// table is a table of the sample database, as the metadata API shows it.
type table struct {
	ID      int
	Name    string
	Display string
	Fields  []field
}

var tables = []table{
	{TableOrders, "orders", "Orders", fields},
	{TableCustomers, "customers", "Customers", []field{
		{111, "id", "ID", "type/BigInteger", "type/PK"},
		{112, "organization_id", "Organization ID", "type/Text", "type/Category"},
		{113, "name", "Name", "type/Text", "type/Name"},
	}},
}

type group struct {
	ID      int
	Name    string
	Members int
}

var groups = []group{
	{GroupAllUsers, "All Users", 5},
	{GroupAdministrators, "Administrators", 1},
	{GroupEmbedded, "Embedded customers", 3},
}

// sandbox is a GTAP: group GroupID sees table TableID filtered by the user
// attribute Attribute, remapped to field FieldID.
type sandbox struct {
	ID, GroupID, TableID int
	Attribute            string
	FieldID              int
}

var sandboxes = []sandbox{
	{ID: 1, GroupID: GroupEmbedded, TableID: TableOrders, Attribute: "organization_id", FieldID: 102},
}

// adminArea reports whether path belongs to the admin read API, and returns
// it without "/api".
func adminArea(path string) (string, bool) {
	rest := strings.TrimPrefix(path, "/api")
	for _, p := range []string{"/database", "/table", "/dashboard", "/card", "/mt/", "/permissions/"} {
		if rest == p || strings.HasPrefix(rest, strings.TrimSuffix(p, "/")+"/") {
			return rest, true
		}
	}
	return "", false
}

// authorized reports whether r carries the configured API key. Header names
// are case-insensitive, so any spelling of X-API-Key is read.
func (s *Server) authorized(r *http.Request) bool {
	key := r.Header.Get("X-Api-Key")
	return s.opts.APIKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.opts.APIKey)) == 1
}

// serveAdminAPI answers the admin read API: 401 without the key, then the
// route, 404 "API endpoint does not exist." for anything else.
func (s *Server) serveAdminAPI(w http.ResponseWriter, r *http.Request, rest string) {
	if !s.authorized(r) {
		writeText(w, http.StatusUnauthorized, msgUnauthenticated)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeText(w, http.StatusNotFound, msgNoEndpoint)
		return
	}
	ct := s.content()
	segs := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	id, idErr := strconv.Atoi(at(segs, 1))
	numeric := idErr == nil && isDigits(at(segs, 1))
	switch {
	case rest == "/database":
		writeJSON(w, http.StatusOK, map[string]any{"data": []any{databaseJSON()}, "total": 1})
	case len(segs) == 3 && segs[0] == "database" && segs[2] == "metadata" && numeric:
		if id != DatabaseID {
			writeText(w, http.StatusNotFound, msgNotFound)
			return
		}
		db := databaseJSON()
		ts := []any{}
		for _, t := range ct.allTables() {
			ts = append(ts, t.json(true))
		}
		db["tables"] = ts
		writeJSON(w, http.StatusOK, db)
	case rest == "/table":
		ts := []any{}
		for _, t := range ct.allTables() {
			j := t.json(false)
			j["db"] = databaseJSON()
			ts = append(ts, j)
		}
		writeJSON(w, http.StatusOK, ts)
	case rest == "/dashboard/embeddable" || rest == "/card/embeddable":
		if s.opts.StaticEmbeddingDisabled {
			writeText(w, http.StatusBadRequest, msgStaticDisabled)
			return
		}
		writeJSON(w, http.StatusOK, ct.listing(segs[0], func(published, archived bool, _ string) bool { return published && !archived }))
	case rest == "/dashboard/public" || rest == "/card/public":
		if s.opts.PublicSharingDisabled {
			writeText(w, http.StatusBadRequest, msgPublicSharingOff)
			return
		}
		writeJSON(w, http.StatusOK, ct.listing(segs[0], func(_, archived bool, uuid string) bool { return uuid != "" && !archived }))
	case len(segs) == 2 && segs[0] == "dashboard" && numeric:
		d := ct.dashboard(id)
		if d == nil {
			writeText(w, http.StatusNotFound, msgNotFound)
			return
		}
		writeJSON(w, http.StatusOK, d.adminJSON(ct))
	case len(segs) == 2 && segs[0] == "card" && numeric:
		c := ct.card(id)
		if c == nil {
			writeText(w, http.StatusNotFound, msgNotFound)
			return
		}
		writeJSON(w, http.StatusOK, c.adminJSON())
	case rest == "/mt/gtap":
		s.serveSandboxes(w, r, ct)
	case rest == "/permissions/group" || rest == "/permissions/graph":
		s.servePermissions(w, rest, ct)
	default:
		writeText(w, http.StatusNotFound, msgNoEndpoint)
	}
}

func at(segs []string, i int) string {
	if i < len(segs) {
		return segs[i]
	}
	return ""
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// serveSandboxes is GET /api/mt/gtap: every sandbox ordered by id, or with
// both group_id and table_id the one sandbox (or null).
func (s *Server) serveSandboxes(w http.ResponseWriter, r *http.Request, ct *content) {
	if !s.opts.Sandboxing {
		writeText(w, http.StatusForbidden, msgSandboxingNotActive)
		return
	}
	q := r.URL.Query()
	g, gerr := strconv.Atoi(q.Get("group_id"))
	t, terr := strconv.Atoi(q.Get("table_id"))
	if q.Has("group_id") && q.Has("table_id") {
		if gerr != nil || terr != nil {
			writeText(w, http.StatusBadRequest, msgInvalidQuery)
			return
		}
		var one any
		for _, sb := range ct.sandboxes {
			if sb.GroupID == g && sb.TableID == t {
				one = sb.json()
			}
		}
		writeJSON(w, http.StatusOK, one)
		return
	}
	out := []any{}
	for _, sb := range ct.sandboxes {
		out = append(out, sb.json())
	}
	writeJSON(w, http.StatusOK, out)
}

func (sb sandbox) json() map[string]any {
	return map[string]any{"id": sb.ID, "group_id": sb.GroupID, "table_id": sb.TableID, "card_id": nil,
		"permission_id": nil, "attribute_remappings": map[string]any{
			sb.Attribute: []any{"dimension", []any{"field", sb.FieldID, nil}}}}
}

const timestamp = "2026-01-01T00:00:00Z"

func databaseJSON() map[string]any {
	return map[string]any{"id": DatabaseID, "name": "Orders warehouse", "engine": "postgres", "is_sample": false,
		"is_audit": false, "is_full_sync": true, "is_on_demand": false, "description": nil, "timezone": "UTC",
		"native_permissions": "write", "initial_sync_status": "complete", "features": []string{"native-parameters", "nested-queries"},
		"created_at": timestamp, "updated_at": timestamp}
}

func (t table) json(withFields bool) map[string]any {
	j := map[string]any{"id": t.ID, "db_id": DatabaseID, "name": t.Name, "display_name": t.Display, "schema": "public",
		"entity_type": "entity/GenericTable", "active": true, "visibility_type": nil, "description": nil,
		"created_at": timestamp, "updated_at": timestamp}
	if withFields {
		fs := []any{}
		for i, f := range t.Fields {
			fs = append(fs, map[string]any{"id": f.ID, "table_id": t.ID, "name": f.Name, "display_name": f.Display,
				"base_type": f.BaseType, "effective_type": f.BaseType, "semantic_type": f.SemanticType,
				"database_type": strings.ToLower(strings.TrimPrefix(f.BaseType, "type/")), "active": true,
				"visibility_type": "normal", "has_field_values": "list", "fk_target_field_id": nil, "position": i})
		}
		j["fields"] = fs
	}
	return j
}

// listing is [{id, name}] of the dashboards (model "dashboard") or cards
// that keep says to; cards add card_schema, public links their uuid.
func (ct *content) listing(model string, keep func(published, archived bool, publicUUID string) bool) []any {
	out := []any{}
	if model == modelDashboard {
		for _, d := range ct.dashboards {
			if keep(d.EnableEmbedding, d.Archived, d.PublicUUID) {
				j := map[string]any{"id": d.ID, "name": d.Name}
				if d.PublicUUID != "" {
					j["public_uuid"] = d.PublicUUID
				}
				out = append(out, j)
			}
		}
		return out
	}
	for _, c := range ct.cards {
		if keep(c.EnableEmbedding, c.Archived, c.PublicUUID) {
			j := map[string]any{"id": c.ID, "name": c.Name, "card_schema": 20}
			if c.PublicUUID != "" {
				j["public_uuid"] = c.PublicUUID
			}
			out = append(out, j)
		}
	}
	return out
}

// embeddingParamsJSON is embedding_params as stored: slug → status, or
// null when the object has none.
func embeddingParamsJSON(eps []embeddingParam) any {
	if len(eps) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, ep := range eps {
		m[ep.Slug] = ep.Status
	}
	return m
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// adminJSON is GET /api/card/{id}: the whole card, its query included.
func (c *card) adminJSON() map[string]any {
	out := c.reducedJSON()
	dq := c.datasetQuery()
	dq["database"] = DatabaseID
	queryType := "query"
	if c.Native {
		queryType = "native"
		dq["native"].(map[string]any)["query"] = "SELECT * FROM orders WHERE true [[AND {{organization_id}}]] [[AND {{status}}]] [[AND {{region}}]]"
	} else {
		dq["query"] = map[string]any{"source-table": TableOrders}
	}
	out["dataset_query"] = dq
	out["query_type"] = queryType
	out["type"] = "question"
	out["database_id"] = DatabaseID
	out["table_id"] = TableOrders
	out["collection_id"] = nil
	out["creator_id"] = 1
	out["archived"] = c.Archived
	out["enable_embedding"] = c.EnableEmbedding
	out["embedding_params"] = embeddingParamsJSON(c.EmbeddingParams)
	out["public_uuid"] = nullable(c.PublicUUID)
	out["made_public_by_id"] = nil
	if c.PublicUUID != "" {
		out["made_public_by_id"] = 1
	}
	out["can_write"] = true
	out["created_at"], out["updated_at"] = timestamp, timestamp
	return out
}

// adminJSON is GET /api/dashboard/{id}: every parameter and every
// parameter mapping, nothing filtered, text cards unsubstituted.
func (d *dashboard) adminJSON(ct *content) map[string]any {
	params := []any{}
	for _, p := range d.Params {
		pj := map[string]any{"id": p.ID, "name": p.Name, "slug": p.Slug, "type": p.Type, "sectionId": "string"}
		if p.ValuesFromCard != 0 {
			pj["values_source_type"] = "card"
			pj["values_source_config"] = map[string]any{"card_id": p.ValuesFromCard,
				"value_field": []any{"field", fieldByName(p.Field).ID, map[string]any{"base-type": "type/Text"}}}
		}
		params = append(params, pj)
	}
	dashcards := []any{}
	for _, dc := range d.Dashcards {
		var c *card
		if dc.CardID != 0 {
			c = ct.card(dc.CardID)
		}
		mappings := []any{}
		for _, m := range dc.Mappings {
			var cardID any
			if c != nil {
				cardID = c.ID
			}
			mappings = append(mappings, map[string]any{"parameter_id": m.ParamID, "card_id": cardID, "target": dc.mappingTarget(m, c)})
		}
		j := map[string]any{"id": dc.ID, "dashboard_id": d.ID, "series": []any{}, "col": dc.Col, "row": dc.Row,
			"size_x": dc.SizeX, "size_y": dc.SizeY, "dashboard_tab_id": nil, "parameter_mappings": mappings,
			"action_id": nil, "card_id": nil, "card": nil, "visualization_settings": map[string]any{},
			"created_at": timestamp, "updated_at": timestamp}
		if c != nil {
			j["card_id"] = c.ID
			j["card"] = c.adminJSON()
		} else {
			j["visualization_settings"] = map[string]any{"text": dc.Text, "virtual_card": map[string]any{
				"name": nil, "display": "text", "visualization_settings": map[string]any{}, "dataset_query": map[string]any{}, "archived": false}}
		}
		dashcards = append(dashcards, j)
	}
	madeBy := any(nil)
	if d.PublicUUID != "" {
		madeBy = 1
	}
	return map[string]any{"id": d.ID, "entity_id": d.EntityID, "name": d.Name, "description": d.Description,
		"archived": d.Archived, "collection_id": nil, "creator_id": 1, "enable_embedding": d.EnableEmbedding,
		"embedding_params": embeddingParamsJSON(d.EmbeddingParams), "parameters": params, "dashcards": dashcards,
		"tabs": []any{}, "public_uuid": nullable(d.PublicUUID), "made_public_by_id": madeBy, "auto_apply_filters": true,
		"width": "fixed", "can_write": true, "created_at": timestamp, "updated_at": timestamp}
}

// change applies f to a copy of the content and serves the copy from then
// on; an error leaves the content as it was.
func (s *Server) change(f func(ct *content) error) error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	ct := s.content().clone()
	if err := f(ct); err != nil {
		return err
	}
	s.data.Store(ct)
	return nil
}

// WireDashcard wires the dashboard parameter paramID to the orders column
// column on dashcard dashcardID, as an editor does in Metabase's dashboard
// editor: from then on the parameter filters that card, in the embed API
// and in the admin API's parameter_mappings. Wiring twice is a no-op. Safe
// to call while serving.
func (s *Server) WireDashcard(dashcardID int, paramID, column string) error {
	if !slices.ContainsFunc(fields, func(f field) bool { return f.Name == column }) {
		return fmt.Errorf("metabasetest: the orders table has no column %q", column)
	}
	return s.change(func(ct *content) error {
		for i := range ct.dashboards {
			d := &ct.dashboards[i]
			for j := range d.Dashcards {
				dc := &d.Dashcards[j]
				if dc.ID != dashcardID {
					continue
				}
				if d.paramByID(paramID) == nil {
					return fmt.Errorf("metabasetest: dashboard %d has no parameter %q", d.ID, paramID)
				}
				if dc.CardID == 0 {
					return fmt.Errorf("metabasetest: dashcard %d is a text card", dashcardID)
				}
				m := mapping{ParamID: paramID, Field: column}
				if !slices.Contains(dc.Mappings, m) {
					dc.Mappings = append(dc.Mappings, m)
				}
				return nil
			}
		}
		return fmt.Errorf("metabasetest: no dashcard %d", dashcardID)
	})
}

// SetEmbeddingParam sets slug's status in the embedding_params of dashboard
// (model "dashboard") or card (model "card") id: "locked", "enabled" or
// "disabled"; "" removes the slug. Safe to call while serving.
func (s *Server) SetEmbeddingParam(model string, id int, slug, status string) error {
	switch status {
	case statusLocked, statusEnabled, statusDisabled, "":
	default:
		return fmt.Errorf("metabasetest: embedding status %q is not locked, enabled or disabled", status)
	}
	return s.change(func(ct *content) error {
		eps, err := ct.embeddingParams(model, id)
		if err != nil {
			return err
		}
		*eps = slices.DeleteFunc(*eps, func(ep embeddingParam) bool { return ep.Slug == slug })
		if status != "" {
			*eps = append(*eps, embeddingParam{slug, status})
		}
		return nil
	})
}

func (ct *content) embeddingParams(model string, id int) (*[]embeddingParam, error) {
	switch model {
	case modelDashboard:
		if d := ct.dashboard(id); d != nil {
			return &d.EmbeddingParams, nil
		}
	case modelCard:
		if c := ct.card(id); c != nil {
			return &c.EmbeddingParams, nil
		}
	default:
		return nil, fmt.Errorf("metabasetest: model %q is not dashboard or card", model)
	}
	return nil, fmt.Errorf("metabasetest: no %s %d", model, id)
}

// SetPublicLink gives dashboard (model "dashboard") or card (model "card")
// id the public link uuid, or removes its link when uuid is "". Safe to
// call while serving.
func (s *Server) SetPublicLink(model string, id int, uuid string) error {
	return s.change(func(ct *content) error {
		switch model {
		case modelDashboard:
			if d := ct.dashboard(id); d != nil {
				d.PublicUUID = uuid
				return nil
			}
		case modelCard:
			if c := ct.card(id); c != nil {
				c.PublicUUID = uuid
				return nil
			}
		default:
			return fmt.Errorf("metabasetest: model %q is not dashboard or card", model)
		}
		return fmt.Errorf("metabasetest: no %s %d", model, id)
	})
}

// AddSandbox sandboxes table tableID for group groupID by the user
// attribute attribute, remapped to the table's organization_id column. As
// when Metabase saves a "sandboxed" table, the table's stored view-data
// for the group becomes unrestricted, and the graph shows it sandboxed.
// Safe to call while serving.
func (s *Server) AddSandbox(groupID, tableID int, attribute string) error {
	return s.change(func(ct *content) error {
		t, ok := ct.tableByID(tableID)
		if !ok {
			return fmt.Errorf("metabasetest: no table %d", tableID)
		}
		fi := slices.IndexFunc(t.Fields, func(f field) bool { return f.Name == "organization_id" })
		ct.granular(groupID)
		ct.access.view[groupID].tables[tableID] = ViewUnrestricted
		next := 1
		for _, sb := range ct.sandboxes {
			if sb.GroupID == groupID && sb.TableID == tableID {
				return fmt.Errorf("metabasetest: group %d already has a sandbox on table %d", groupID, tableID)
			}
			next = max(next, sb.ID+1)
		}
		ct.sandboxes = append(ct.sandboxes, sandbox{ID: next, GroupID: groupID, TableID: tableID, Attribute: attribute, FieldID: t.Fields[fi].ID})
		return nil
	})
}

package metabasetest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
)

// Data permissions (contract §8, "Permissions are additive"), modelled on
// Metabase's permissions/schema.clj (the levels, most permissive first),
// permissions/models/data_permissions.clj (coalesce across groups, new
// tables), permissions/models/data_permissions/graph.clj (the API graph)
// and the Enterprise sandbox overlay (metabase_enterprise/sandbox/models/
// sandbox.clj, merge-sandbox-into-graph).
//
// Each group stores a view-data level for the whole database or one per
// table. A level that is absent is the least permissive, blocked. A
// sandbox is kept apart from the levels (the table's stored level is
// unrestricted, as when Metabase saves a "sandboxed" table) and shows as
// "sandboxed" in the graph. A user's access to a table is the most
// permissive level of any of its groups, All Users included, so a group
// with plain unrestricted access beats a sandbox in another group
// (metabase PR 80406).

// The view-data levels a test may store (SetViewData).
const (
	ViewUnrestricted        = "unrestricted"
	ViewLegacyNoSelfService = "legacy-no-self-service"
	ViewBlocked             = "blocked"
	// viewSandboxed appears only in the graph: it is never stored.
	viewSandboxed = "sandboxed"
)

// schemaPublic is the schema of every table of the sample database.
const schemaPublic = "public"

// access is the permissions part of the content: the tables synced after
// the sample (AddTable) and each group's stored view-data.
type access struct {
	revision int
	added    []table
	view     map[int]groupView
}

// groupView is one group's view-data on the sample database: db for the
// whole database (new tables included), or, when db is "", tables.
type groupView struct {
	db     string
	tables map[int]string
}

// sampleAccess: All Users is blocked on the database; the embedded group
// may view both tables, orders through its sandbox, customers unrestricted
// (the planted hole the audit reports); Administrators need nothing stored.
func sampleAccess() access {
	return access{revision: 1, view: map[int]groupView{
		GroupAllUsers: {db: ViewBlocked},
		GroupEmbedded: {tables: map[int]string{TableOrders: ViewUnrestricted, TableCustomers: ViewUnrestricted}},
	}}
}

func (a access) clone() access {
	out := access{revision: a.revision, added: slices.Clone(a.added), view: make(map[int]groupView, len(a.view))}
	for g, v := range a.view {
		out.view[g] = groupView{db: v.db, tables: maps.Clone(v.tables)}
	}
	return out
}

// allTables lists the sample tables, then the added ones.
func (ct *content) allTables() []table {
	return slices.Concat(tables, ct.access.added)
}

func (ct *content) tableByID(id int) (table, bool) {
	for _, t := range ct.allTables() {
		if t.ID == id {
			return t, true
		}
	}
	return table{}, false
}

func (ct *content) sandboxFor(groupID, tableID int) bool {
	return slices.ContainsFunc(ct.sandboxes, func(sb sandbox) bool { return sb.GroupID == groupID && sb.TableID == tableID })
}

// stored is group g's stored level on table t (no sandbox overlay).
func (ct *content) stored(g, t int) string {
	v, ok := ct.access.view[g]
	switch {
	case !ok:
		return ViewBlocked
	case v.db != "":
		return v.db
	}
	if l, ok := v.tables[t]; ok {
		return l
	}
	return ViewBlocked
}

// viewOf is group g's view-data on table t as the graph shows it.
func (ct *content) viewOf(g, t int) string {
	switch {
	case g == GroupAdministrators:
		return ViewUnrestricted
	case ct.sandboxFor(g, t):
		return viewSandboxed
	}
	return ct.stored(g, t)
}

// readsUnfiltered reports whether a user in groupIDs (All Users implied)
// reads table t without any sandbox. It is Metabase's coalesce for
// view-data: the most permissive level of any group wins, except that a
// block in one group beats legacy-no-self-service in another. A sandboxed
// group counts as sandboxed, not unrestricted, so the sandbox applies only
// when no other group grants the table outright.
func (ct *content) readsUnfiltered(groupIDs []int, t int) bool {
	levels := map[string]bool{}
	for _, g := range append([]int{GroupAllUsers}, groupIDs...) {
		levels[ct.viewOf(g, t)] = true
	}
	return levels[ViewUnrestricted] || (levels[ViewLegacyNoSelfService] && !levels[ViewBlocked])
}

// SetViewData sets group groupID's view-data on the sample database to
// level (ViewUnrestricted, ViewLegacyNoSelfService or ViewBlocked), as an
// admin does in Admin > Permissions > Data: tableID 0 sets it for the whole
// database, tables synced later included; a table id sets that table only,
// and a database-level level the group had before stays on its other
// tables. Sandboxes are kept apart: a sandboxed table shows as sandboxed
// whatever its level. Safe to call while serving.
func (s *Server) SetViewData(groupID, tableID int, level string) error {
	switch level {
	case ViewUnrestricted, ViewLegacyNoSelfService, ViewBlocked:
	default:
		return fmt.Errorf("metabasetest: view-data level %q is not unrestricted, legacy-no-self-service or blocked", level)
	}
	if groupID == GroupAdministrators {
		return fmt.Errorf("metabasetest: the Administrators group's permissions cannot be changed")
	}
	return s.change(func(ct *content) error {
		if tableID == 0 {
			ct.access.view[groupID] = groupView{db: level}
			ct.access.revision++
			return nil
		}
		if _, ok := ct.tableByID(tableID); !ok {
			return fmt.Errorf("metabasetest: no table %d", tableID)
		}
		ct.granular(groupID)
		ct.access.view[groupID].tables[tableID] = level
		ct.access.revision++
		return nil
	})
}

// granular turns group g's database-level level, if any, into the same
// level on every table, as Metabase does when one table changes.
func (ct *content) granular(g int) {
	v := ct.access.view[g]
	if v.tables != nil && v.db == "" {
		return
	}
	tabs := map[int]string{}
	for _, t := range ct.allTables() {
		tabs[t.ID] = ct.stored(g, t.ID)
	}
	ct.access.view[g] = groupView{tables: tabs}
}

// AddTable adds a table to the sample database, as a sync that finds a new
// table does, and returns its id. Its columns are id and organization_id.
// Its permissions are Metabase's for a new table (set-new-table-
// permissions!): a group with a database-level level keeps it (the new
// table inherits it, metabase PR 52052); a group with per-table levels gets
// the level all tables of the schema share, or else unrestricted. Safe to
// call while serving.
func (s *Server) AddTable(name string) (int, error) {
	var id int
	err := s.change(func(ct *content) error {
		id = TableCustomers + 1
		for _, t := range ct.allTables() {
			if t.Name == name {
				return fmt.Errorf("metabasetest: a table %q exists", name)
			}
			id = max(id, t.ID+1)
		}
		for g, v := range ct.access.view {
			if v.db != "" {
				continue
			}
			level := ViewUnrestricted
			if shared := slices.Compact(slices.Sorted(maps.Values(v.tables))); len(shared) == 1 {
				level = shared[0]
			}
			v.tables[id] = level
			ct.access.view[g] = v
		}
		ct.access.added = append(ct.access.added, table{ID: id, Name: name, Display: name, Fields: []field{
			{id*10 + 1, "id", "ID", "type/BigInteger", "type/PK"},
			{id*10 + 2, "organization_id", "Organization ID", "type/Text", "type/Category"},
		}})
		ct.access.revision++
		return nil
	})
	return id, err
}

// adminPerms are what the graph shows for Administrators on every
// database (graph.clj, add-admin-perms-to-permissions-graph).
func adminPerms() map[string]any {
	return map[string]any{"view-data": ViewUnrestricted, "create-queries": "query-builder-and-native",
		"download": map[string]any{"schemas": "full"}, "data-model": map[string]any{"schemas": "all"}, "details": "yes"}
}

// permissionGraph is GET /api/permissions/graph: {revision, groups: {group
// id: {database id: {view-data, create-queries, ...}}}}. view-data is one
// level for the database, or {schema: level or {table id: level}}; a level
// equal to blocked is left out, and a group or database with nothing left
// is left out too, so an absent entry means blocked. Table levels that are
// all the same in a schema collapse into the schema's level before the
// sandboxes are merged in, which spreads a database or schema level over
// its tables and marks each sandboxed table "sandboxed".
func (ct *content) permissionGraph() map[string]any {
	out := map[string]any{}
	ids := slices.Collect(maps.Keys(ct.access.view))
	for _, sb := range ct.sandboxes {
		ids = append(ids, sb.GroupID)
	}
	slices.Sort(ids)
	for _, g := range slices.Compact(ids) {
		if g == GroupAdministrators {
			continue
		}
		vd := ct.viewDataJSON(g)
		if vd == nil {
			continue
		}
		db := map[string]any{"view-data": vd, "create-queries": "query-builder", "download": map[string]any{"schemas": "full"}}
		out[strconv.Itoa(g)] = map[string]any{strconv.Itoa(DatabaseID): db}
	}
	out[strconv.Itoa(GroupAdministrators)] = map[string]any{strconv.Itoa(DatabaseID): adminPerms()}
	return map[string]any{"revision": ct.access.revision, "groups": out}
}

// viewDataJSON is group g's view-data value, nil for blocked everywhere.
func (ct *content) viewDataJSON(g int) any {
	v := ct.access.view[g]
	var level any // a string, or schema → (string or table id → string)
	switch {
	case v.db != "" && v.db != ViewBlocked:
		level = v.db
	case v.db == "" && len(v.tables) > 0:
		perTable := map[string]any{}
		for t, l := range v.tables {
			if l != ViewBlocked {
				perTable[strconv.Itoa(t)] = l
			}
		}
		if shared := slices.Compact(slices.Sorted(maps.Values(v.tables))); len(shared) == 1 && len(v.tables) == len(ct.allTables()) {
			if shared[0] != ViewBlocked {
				level = map[string]any{schemaPublic: shared[0]}
			}
		} else if len(perTable) > 0 {
			level = map[string]any{schemaPublic: perTable}
		}
	}
	var sandboxed []int
	for _, sb := range ct.sandboxes {
		if sb.GroupID == g {
			sandboxed = append(sandboxed, sb.TableID)
		}
	}
	if len(sandboxed) == 0 {
		return level
	}
	// merge-sandbox-into-graph: a database or schema level becomes the
	// level of each of its tables, then each sandboxed table is marked.
	perTable := map[string]any{}
	switch l := level.(type) {
	case string:
		for _, t := range ct.allTables() {
			perTable[strconv.Itoa(t.ID)] = l
		}
	case map[string]any:
		switch sl := l[schemaPublic].(type) {
		case string:
			for _, t := range ct.allTables() {
				perTable[strconv.Itoa(t.ID)] = sl
			}
		case map[string]any:
			maps.Copy(perTable, sl)
		}
	}
	for _, t := range sandboxed {
		perTable[strconv.Itoa(t)] = viewSandboxed
	}
	return map[string]any{schemaPublic: perTable}
}

// groupJSON is an entry of GET /api/permissions/group.
func (g group) json() map[string]any {
	var magic any
	switch g.ID {
	case GroupAllUsers:
		magic = "all-internal-users"
	case GroupAdministrators:
		magic = "admin"
	}
	return map[string]any{"id": g.ID, "name": g.Name, "member_count": g.Members, "magic_group_type": magic,
		"is_tenant_group": false, "entity_id": fmt.Sprintf("group%016d", g.ID)}
}

// servePermissions answers GET /api/permissions/group and /graph (the
// caller is already known to be an administrator).
func (s *Server) servePermissions(w http.ResponseWriter, rest string, ct *content) {
	switch rest {
	case "/permissions/group":
		out := []any{}
		for _, g := range groups {
			out = append(out, g.json())
		}
		writeJSON(w, http.StatusOK, out)
	case "/permissions/graph":
		writeJSON(w, http.StatusOK, ct.permissionGraph())
	default:
		writeText(w, http.StatusNotFound, msgNoEndpoint)
	}
}

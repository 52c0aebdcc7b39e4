package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// The data permission graph, GET /api/permissions/graph, as Metabase v50 and
// later answer it (read in Metabase's permissions/models/data_permissions/
// graph.clj, api-graph, permissions/schema.clj and the Enterprise
// sandbox/models/sandbox.clj, add-sandboxes-to-permissions-graph):
//
//	{"revision": 7, "groups": {"<group id>": {"<database id>": {
//	    "view-data": "unrestricted" | {"<schema>": "unrestricted" | {"<table id>": "sandboxed", ...}},
//	    "create-queries": ..., "download": {"schemas": ...}, "data-model": ..., "details": ...}}}}
//
// A level equal to the least permissive one (blocked, for view-data) is left
// out, and so is a schema, database or group left empty: an absent entry is
// blocked, which is also what Metabase enforces for a user with no value. A
// schema's tables that all share a level collapse into the schema's level,
// and a database-level level covers every table, including tables synced
// later (metabase PR 52052). A sandboxed table shows "sandboxed" (its
// stored level is unrestricted, and the sandbox itself is in /api/mt/gtap).
// Connection impersonation shows "impersonated" at the database level.
//
// What a user may view is the most permissive level over all its groups
// (data_permissions.clj, coalesce), All Users included: a group with
// unrestricted view of a table beats a sandbox in another group.

// The view-data levels the audit knows.
const (
	viewUnrestricted = "unrestricted"
	// viewLegacy behaves as unrestricted unless another group blocks the
	// database; the audit does not count on the block.
	viewLegacy    = "legacy-no-self-service"
	viewBlocked   = "blocked"
	viewSandboxed = "sandboxed"
)

// PermissionGraph is GET /api/permissions/graph, view-data only.
type PermissionGraph struct {
	Revision int `json:"revision"`
	// Groups is group id → database id → that group's permissions on it.
	Groups map[int]map[int]DatabasePermissions `json:"groups"`
}

// DatabasePermissions are one group's permissions on one database.
type DatabasePermissions struct {
	ViewData Access `json:"view-data"`
	// Data is the pre-v50 graph's key; the audit does not read that graph,
	// so a database with Data and no ViewData counts as readable.
	Data json.RawMessage `json:"data"`
}

// Access is a view-data value: Level for the whole database, or Schemas.
// The zero Access is an absent value: blocked.
type Access struct {
	Level   string
	Schemas map[string]SchemaAccess
}

// SchemaAccess is a schema's view-data: Level for every table of it, or
// Tables (table id → level; a table-level value the audit cannot read is
// kept as its JSON text, which matches no level it trusts).
type SchemaAccess struct {
	Level  string
	Tables map[int]string
}

// UnmarshalJSON reads a level string, or a schema map, or null (absent).
func (a *Access) UnmarshalJSON(b []byte) error {
	*a = Access{}
	if isNull(b) {
		return nil
	}
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &a.Level)
	}
	if err := json.Unmarshal(b, &a.Schemas); err != nil {
		return fmt.Errorf("view-data is neither a level nor a schema map: %w", err)
	}
	return nil
}

// UnmarshalJSON reads a level string, or a table map, or null (absent).
func (s *SchemaAccess) UnmarshalJSON(b []byte) error {
	*s = SchemaAccess{}
	if isNull(b) {
		return nil
	}
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &s.Level)
	}
	var tables map[int]json.RawMessage
	if err := json.Unmarshal(b, &tables); err != nil {
		return fmt.Errorf("a schema's view-data is neither a level nor a table map: %w", err)
	}
	s.Tables = make(map[int]string, len(tables))
	for id, raw := range tables {
		var level string
		if json.Unmarshal(raw, &level) != nil {
			level = string(bytes.TrimSpace(raw)) // e.g. a legacy {"read": ..., "query": ...}
		}
		if level != "" && !isNull(raw) {
			s.Tables[id] = level
		}
	}
	return nil
}

func isNull(b []byte) bool { return string(bytes.TrimSpace(b)) == "null" }

// scope says where a level was set, for the finding's text.
type scope int

const (
	scopeAbsent scope = iota
	scopeDatabase
	scopeSchema
	scopeTable
)

// viewData is group's view-data on table t of database db, and where it is
// set. Anything absent on the way down is blocked.
func (g *PermissionGraph) viewData(group, db int, t Table) (string, scope) {
	if g == nil {
		return "unread (no permission graph)", scopeAbsent
	}
	p, ok := g.Groups[group][db]
	switch {
	case !ok:
		return viewBlocked, scopeAbsent
	case p.ViewData.Level != "":
		return p.ViewData.Level, scopeDatabase
	case p.ViewData.Schemas == nil && len(p.Data) > 0 && !isNull(p.Data):
		return "pre-v50 data permissions", scopeDatabase
	}
	s, ok := p.ViewData.Schemas[t.Schema]
	switch {
	case !ok:
		return viewBlocked, scopeAbsent
	case s.Level != "":
		return s.Level, scopeSchema
	}
	if l, ok := s.Tables[t.ID]; ok {
		return l, scopeTable
	}
	return viewBlocked, scopeAbsent
}

// ssoGroups are the groups every SSO user is in whatever the JWT says
// (All Users, by its magic type or as group 1, and All tenant users), then
// embedded: the groups the JWT's groups put them in. Administrator groups
// are left out: admin-group-embedded reports them, and no permission
// narrows an administrator.
func (c *checker) ssoGroups(embedded []int) []Group {
	byID := map[int]Group{}
	for _, g := range c.snap.Groups {
		byID[g.ID] = g
	}
	var out []Group
	seen := map[int]bool{}
	add := func(g Group) {
		if !seen[g.ID] && !isAdminGroup(g) {
			seen[g.ID] = true
			out = append(out, g)
		}
	}
	allUsers, ok := byID[allUsersGroupID]
	if !ok {
		allUsers = Group{ID: allUsersGroupID, Name: "All Users"}
	}
	add(allUsers)
	for _, g := range c.snap.Groups {
		if g.MagicGroupType == magicAllUsers || g.MagicGroupType == magicAllTenantUsers {
			add(g)
		}
	}
	for _, id := range embedded {
		if g, ok := byID[id]; ok {
			add(g)
		}
	}
	return out
}

// Metabase's built-in groups.
const (
	allUsersGroupID     = 1
	adminGroupID        = 2
	magicAllUsers       = "all-internal-users"
	magicAllTenantUsers = "all-external-users"
	magicAdmin          = "admin"
)

func isAdminGroup(g Group) bool {
	return g.ID == adminGroupID || g.MagicGroupType == magicAdmin || g.Name == "Administrators"
}

// permissions reports, for every active table and every group SSO users
// land in, a view-data level that is neither blocked nor a sandbox on the
// tenant attribute: Metabase's permissions are additive, so any one such
// group opens the table to every SSO user, whatever the others say.
func (c *checker) permissions(groups []Group, attr string) {
	for _, db := range c.snap.Databases {
		for _, t := range db.Tables {
			if !t.Active || (t.VisibilityType != nil && *t.VisibilityType == "retired") {
				continue
			}
			for _, g := range groups {
				level, where := c.snap.Permissions.viewData(g.ID, db.ID, t)
				if f, bad := c.tableAccess(db, t, g, level, where, attr); bad {
					c.add(f)
				}
			}
		}
	}
}

// tableAccess judges group g's level on table t.
func (c *checker) tableAccess(db Database, t Table, g Group, level string, where scope, attr string) (Finding, bool) {
	name := tableName(t)
	dbName := "database " + strconv.Itoa(db.ID)
	if db.Name != "" {
		dbName += " (" + db.Name + ")"
	}
	res := Resource{Kind: KindTable, ID: t.ID, Name: name}
	group := fmt.Sprintf("%q (%d)", g.Name, g.ID)
	everyone, builtin := "SSO users of that group read", false
	if g.ID == allUsersGroupID || g.MagicGroupType == magicAllUsers || g.MagicGroupType == magicAllTenantUsers {
		everyone, builtin = "Every SSO user (Metabase puts every JWT user in this group) reads", true
	}
	base := Finding{Severity: SeverityCritical, Resource: res, Group: g.ID, Database: db.ID}
	switch level {
	case viewBlocked:
		return Finding{}, false
	case viewSandboxed:
		i := slices.IndexFunc(c.snap.Sandboxes, func(s Sandbox) bool { return s.GroupID == g.ID && s.TableID == t.ID })
		switch {
		case i < 0:
			base.Code = CodeTableWithoutSandbox
			base.Problem = fmt.Sprintf("The permission graph shows table %s of %s sandboxed for the group %s, but /api/mt/gtap has no such sandbox.", name, dbName, group)
			base.Leak = "The audit cannot see what filters the table: it may show every tenant's rows."
			base.Fix = fmt.Sprintf("In Metabase, Admin > Permissions > Data, set %s for %s to Row and column security filtering by the user attribute %q, or to Blocked.", name, group, attr)
		case !remapsAttribute(c.snap.Sandboxes[i], attr):
			base.Code = CodeTableWithoutSandbox
			base.Problem = fmt.Sprintf("The sandbox of table %s of %s for the group %s does not filter by the user attribute %q.", name, dbName, group, attr)
			base.Leak = everyone + " the table without a filter on their tenant."
			base.Fix = fmt.Sprintf("In Metabase, edit the sandbox of %s for %s and map the user attribute %q to the tenant column, or block the table for the group.", name, group, attr)
		default:
			return Finding{}, false
		}
		return base, true
	case viewUnrestricted, viewLegacy:
		base.Code = CodeTableUnrestricted
		base.Problem = fmt.Sprintf("The group %s may view table %s of %s unrestricted (view-data %q, set %s).", group, name, dbName, level, where)
		base.Leak = everyone + " every tenant's rows of this table: Metabase's permissions are additive, so this beats the sandbox of any other group."
		if where == scopeDatabase {
			base.Leak += " Tables synced later inherit this database-level access too."
		}
		base.Fix = fmt.Sprintf("In Metabase, Admin > Permissions > Data: set View data for %s on %s to Blocked, or sandbox table %s for that group on the user attribute %q (Row and column security).", group, dbName, name, attr)
		if builtin {
			base.Fix = fmt.Sprintf("In Metabase, Admin > Permissions > Data: set View data for %s on %s to Blocked (give customers their tables through a sandboxed group), or sandbox table %s for %s on the user attribute %q (Row and column security).", group, dbName, name, group, attr)
		}
		return base, true
	default:
		base.Code = CodeTableWithoutSandbox
		base.Problem = fmt.Sprintf("The group %s has view-data %q on table %s of %s (set %s): neither blocked nor a sandbox on the user attribute %q.", group, level, name, dbName, where, attr)
		base.Leak = everyone + " the table without the gate's tenant filter (connection impersonation, database routing or a level the audit does not know)."
		base.Fix = fmt.Sprintf("In Metabase, Admin > Permissions > Data: set View data for %s on %s to Blocked, or sandbox table %s for that group on the user attribute %q.", group, dbName, name, attr)
		return base, true
	}
}

func (s scope) String() string {
	switch s {
	case scopeDatabase:
		return "on the database"
	case scopeSchema:
		return "on the schema"
	case scopeTable:
		return "on the table"
	}
	return "nowhere"
}

// remapsAttribute reports whether sandbox sb maps the user attribute attr
// to something: a field name or id, or a parameter target.
func remapsAttribute(sb Sandbox, attr string) bool {
	raw, ok := sb.AttributeRemappings[attr]
	return ok && len(bytes.TrimSpace(raw)) > 0 && !isNull(raw) && string(bytes.TrimSpace(raw)) != `""`
}

func tableName(t Table) string {
	if t.Schema != "" {
		return t.Schema + "." + t.Name
	}
	return t.Name
}

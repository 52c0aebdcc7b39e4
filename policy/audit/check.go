package audit

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The decoded shapes of Metabase's admin API (contract §5), with only the
// fields the checks read. Unknown fields are ignored, as newer Metabase
// versions add some.

// Parameter is a dashboard or card parameter.
type Parameter struct {
	ID     string          `json:"id"`
	Name   string          `json:"name"`
	Slug   string          `json:"slug"`
	Type   string          `json:"type"`
	Target json.RawMessage `json:"target"` // cards only
}

// ParameterMapping wires a dashboard parameter to a dashcard's card.
type ParameterMapping struct {
	ParameterID string          `json:"parameter_id"`
	CardID      *int            `json:"card_id"`
	Target      json.RawMessage `json:"target"`
}

// Dashcard is a card placed on a dashboard; CardID is nil for text,
// heading, link and other virtual cards.
type Dashcard struct {
	ID                int                `json:"id"`
	CardID            *int               `json:"card_id"`
	Card              *Card              `json:"card"`
	Series            []Card             `json:"series"`
	ParameterMappings []ParameterMapping `json:"parameter_mappings"`
}

// Dashboard is GET /api/dashboard/{id}.
type Dashboard struct {
	ID              int               `json:"id"`
	Name            string            `json:"name"`
	Archived        bool              `json:"archived"`
	EnableEmbedding bool              `json:"enable_embedding"`
	EmbeddingParams map[string]string `json:"embedding_params"`
	Parameters      []Parameter       `json:"parameters"`
	Dashcards       []Dashcard        `json:"dashcards"`
}

// TemplateTag is a variable of a native query.
type TemplateTag struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Type      string          `json:"type"`
	Dimension json.RawMessage `json:"dimension"`
}

// Card is GET /api/card/{id} (a question).
type Card struct {
	ID              int               `json:"id"`
	Name            string            `json:"name"`
	Archived        bool              `json:"archived"`
	EnableEmbedding bool              `json:"enable_embedding"`
	EmbeddingParams map[string]string `json:"embedding_params"`
	Parameters      []Parameter       `json:"parameters"`
	DatasetQuery    struct {
		Type   string `json:"type"`
		Native *struct {
			TemplateTags map[string]TemplateTag `json:"template-tags"`
		} `json:"native"`
	} `json:"dataset_query"`
}

// Listed is an entry of the embeddable and public listings.
type Listed struct {
	ID         int    `json:"id"`
	Name       string `json:"name"`
	PublicUUID string `json:"public_uuid"`
}

// Field is a column in the database metadata.
type Field struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	TableID int    `json:"table_id"`
}

// Table is a table in the database metadata.
type Table struct {
	ID             int     `json:"id"`
	DBID           int     `json:"db_id"`
	Name           string  `json:"name"`
	Schema         string  `json:"schema"`
	Active         bool    `json:"active"`
	VisibilityType *string `json:"visibility_type"`
	Fields         []Field `json:"fields"`
}

// Database is GET /api/database/{id}/metadata.
type Database struct {
	ID     int     `json:"id"`
	Name   string  `json:"name"`
	Tables []Table `json:"tables"`
}

// Group is an entry of GET /api/permissions/group.
type Group struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	// MagicGroupType is "admin" for Administrators, "all-internal-users"
	// for All Users and "all-external-users" for All tenant users, on
	// builds that send it.
	MagicGroupType string `json:"magic_group_type"`
}

// Sandbox is a GTAP of GET /api/mt/gtap.
type Sandbox struct {
	ID                  int                        `json:"id"`
	GroupID             int                        `json:"group_id"`
	TableID             int                        `json:"table_id"`
	CardID              *int                       `json:"card_id"`
	AttributeRemappings map[string]json.RawMessage `json:"attribute_remappings"`
}

// Ref names a dashboard or question of tenantgate's policy.
type Ref struct {
	Kind string // KindDashboard or KindQuestion
	ID   int
}

// SSO is what the SSO checks need to know of tenantgate's JWT SSO set-up
// (ConfigFor fills it from the configuration).
type SSO struct {
	// TenantAttribute is the user attribute (a claim of the SSO JWT) that
	// sandboxes must filter by.
	TenantAttribute string
	// Groups are the group names the SSO JWTs put users in.
	Groups []string
	// GroupMappings is Metabase's jwt-group-mappings (JWT group name →
	// Metabase group ids); empty means names are matched to group names.
	GroupMappings map[string][]int
}

// Config is what the audit checks Metabase against.
type Config struct {
	// TenantParam is the slug of the tenant parameter (TENANTGATE_TENANT_PARAM).
	TenantParam string
	// Policy lists the resources of tenantgate's policy; empty means every
	// published resource may be embedded.
	Policy []Ref
	// SSO turns the SSO checks on; nil skips them.
	SSO *SSO
}

// Snapshot is what the audit read from Metabase. A nil entry in Dashboards
// or Cards is a policy resource Metabase does not have (404).
type Snapshot struct {
	Dashboards           map[int]*Dashboard
	Cards                map[int]*Card
	EmbeddableDashboards []Listed
	EmbeddableCards      []Listed
	PublicDashboards     []Listed
	PublicCards          []Listed
	Databases            []Database
	// Groups, Permissions and Sandboxes are read only when the SSO checks
	// run.
	Groups      []Group
	Permissions *PermissionGraph
	Sandboxes   []Sandbox
}

// Check runs every check of cfg over snap. It does no I/O.
func Check(cfg Config, snap *Snapshot) *Report {
	c := checker{cfg: cfg, snap: snap, inPolicy: map[Ref]bool{}}
	for _, r := range cfg.Policy {
		c.inPolicy[r] = true
	}
	c.tenantFields = c.findTenantFields()
	var audited []Audited
	for _, id := range sortedKeys(snap.Dashboards) {
		if a, ok := c.dashboard(id, snap.Dashboards[id]); ok {
			audited = append(audited, a)
		}
	}
	for _, id := range sortedKeys(snap.Cards) {
		if a, ok := c.card(id, snap.Cards[id]); ok {
			audited = append(audited, a)
		}
	}
	c.publicLinks()
	if cfg.SSO != nil {
		c.sso(*cfg.SSO)
	}
	r := newReport(cfg, audited, c.findings)
	if cfg.SSO != nil {
		r.SSOGroups = []CheckedGroup{}
		for _, g := range c.checkedGroups {
			r.SSOGroups = append(r.SSOGroups, CheckedGroup{ID: g.ID, Name: g.Name})
		}
	}
	return r
}

type checker struct {
	cfg          Config
	snap         *Snapshot
	inPolicy     map[Ref]bool
	tenantFields map[int]bool
	findings     []Finding
	// checkedGroups are the groups whose permissions the SSO checks read.
	checkedGroups []Group
}

func (c *checker) add(f Finding) { c.findings = append(c.findings, f) }

// findTenantFields is the set of columns that hold the tenant: those named
// like the tenant parameter, and those the tenant parameter filters on any
// audited dashboard or question.
func (c *checker) findTenantFields() map[int]bool {
	out := map[int]bool{}
	for _, db := range c.snap.Databases {
		for _, t := range db.Tables {
			for _, f := range t.Fields {
				if strings.EqualFold(f.Name, c.cfg.TenantParam) {
					out[f.ID] = true
				}
			}
		}
	}
	for _, d := range c.snap.Dashboards {
		if d == nil {
			continue
		}
		p := paramBySlug(d.Parameters, c.cfg.TenantParam)
		if p == nil {
			continue
		}
		for _, dc := range d.Dashcards {
			for _, m := range dc.ParameterMappings {
				if m.ParameterID == p.ID {
					if id, ok := targetField(m.Target, cardOf(dc, m.CardID)); ok {
						out[id] = true
					}
				}
			}
		}
	}
	for _, cd := range c.snap.Cards {
		if cd == nil {
			continue
		}
		if p := paramBySlug(cd.Parameters, c.cfg.TenantParam); p != nil {
			if id, ok := targetField(p.Target, cd); ok {
				out[id] = true
			}
		}
	}
	return out
}

// published reports whether Metabase serves id through static embedding.
func published(list []Listed, id int) bool {
	return slices.ContainsFunc(list, func(l Listed) bool { return l.ID == id })
}

func (c *checker) dashboard(id int, d *Dashboard) (Audited, bool) {
	res := Resource{Kind: KindDashboard, ID: id}
	inPolicy := c.inPolicy[Ref{KindDashboard, id}]
	if d == nil {
		if inPolicy {
			c.add(notPublished(res, "does not exist in Metabase"))
		}
		return Audited{}, false
	}
	res.Name = d.Name
	pub := d.EnableEmbedding && !d.Archived
	c.drift(res, pub, inPolicy, d.Archived)
	c.tenantParam(res, d.Parameters, d.EmbeddingParams)
	if p := paramBySlug(d.Parameters, c.cfg.TenantParam); p != nil {
		c.wiring(res, d, p)
	}
	for _, p := range d.Parameters {
		if p.Slug == c.cfg.TenantParam || d.EmbeddingParams[p.Slug] != "enabled" {
			continue
		}
		for _, dc := range d.Dashcards {
			hit := slices.ContainsFunc(dc.ParameterMappings, func(m ParameterMapping) bool {
				id, ok := targetField(m.Target, cardOf(dc, m.CardID))
				return m.ParameterID == p.ID && ok && c.tenantFields[id]
			})
			if hit {
				c.add(enabledFiltersTenant(res, p, dc.ID))
				break
			}
		}
	}
	return Audited{Kind: KindDashboard, ID: id, Name: d.Name, Published: pub, InPolicy: inPolicy}, true
}

func (c *checker) card(id int, cd *Card) (Audited, bool) {
	res := Resource{Kind: KindQuestion, ID: id}
	inPolicy := c.inPolicy[Ref{KindQuestion, id}]
	if cd == nil {
		if inPolicy {
			c.add(notPublished(res, "does not exist in Metabase"))
		}
		return Audited{}, false
	}
	res.Name = cd.Name
	pub := cd.EnableEmbedding && !cd.Archived
	c.drift(res, pub, inPolicy, cd.Archived)
	c.tenantParam(res, cd.Parameters, cd.EmbeddingParams)
	for _, p := range cd.Parameters {
		if p.Slug == c.cfg.TenantParam || cd.EmbeddingParams[p.Slug] != "enabled" {
			continue
		}
		if id, ok := targetField(p.Target, cd); ok && c.tenantFields[id] {
			c.add(enabledFiltersTenant(res, p, 0))
		}
	}
	return Audited{Kind: KindQuestion, ID: id, Name: cd.Name, Published: pub, InPolicy: inPolicy}, true
}

// drift compares what Metabase publishes with tenantgate's policy.
func (c *checker) drift(res Resource, pub, inPolicy, archived bool) {
	switch {
	case inPolicy && !pub && archived:
		c.add(notPublished(res, "is archived in Metabase"))
	case inPolicy && !pub:
		c.add(notPublished(res, "is not published for embedding in Metabase (enable_embedding is false)"))
	case !inPolicy && pub && len(c.cfg.Policy) > 0:
		c.add(Finding{Code: CodePublishedResourceNotInPolicy, Severity: SeverityWarning, Resource: res,
			Problem: fmt.Sprintf("Metabase publishes %s for embedding, but tenantgate's policy does not list it.", res),
			Leak:    "The gate will not embed it, but anyone holding Metabase's embedding secret can sign a token for it, with any parameters.",
			Fix:     fmt.Sprintf("If it is not meant to be embedded: open %s in Metabase, Sharing > Embed, and unpublish it. Otherwise add it to policy.resources.", res)})
	}
}

func notPublished(res Resource, why string) Finding {
	return Finding{Code: CodePolicyResourceNotPublished, Severity: SeverityWarning, Resource: res,
		Problem: fmt.Sprintf("tenantgate's policy lists %s, but it %s.", res, why),
		Leak:    "No leak: Metabase refuses to embed it, so every embed of it fails.",
		Fix:     fmt.Sprintf("Publish %s in Metabase (Sharing > Embed > Publish, with %s locked) or remove it from policy.resources.", res, "the tenant parameter")}
}

// tenantParam checks that the tenant parameter exists and is locked.
func (c *checker) tenantParam(res Resource, params []Parameter, eps map[string]string) {
	slug := c.cfg.TenantParam
	p := paramBySlug(params, slug)
	if p == nil {
		c.add(Finding{Code: CodeTenantParamMissing, Severity: SeverityCritical, Resource: res, Parameter: slug,
			Problem: upperFirst(fmt.Sprintf("%s has no parameter with the slug %q.", res, slug)),
			Leak:    "Nothing can restrict it to one tenant: a token without the parameter shows every tenant's rows, and the gate's tokens, which always carry it, are refused (\"Unknown parameter\").",
			Fix:     fmt.Sprintf("In Metabase, add a filter with the slug %q, wire it to the tenant column of every card, and set it to Locked under Sharing > Embed > Parameters.", slug)})
		return
	}
	status, ok := eps[slug]
	if status == "locked" {
		return
	}
	if !ok {
		status = "absent (disabled)"
	}
	leak := "A token that leaves it out shows every tenant's rows, and Metabase refuses the gate's tokens, which carry it."
	if status == "enabled" {
		leak = "\"Enabled\" (Editable) lets the browser set it: whoever omits it from the token or edits the filter sees any tenant's rows."
	}
	c.add(Finding{Code: CodeTenantParamNotLocked, Severity: SeverityCritical, Resource: res, Parameter: slug,
		Problem: fmt.Sprintf("The tenant parameter %q of %s is %s in embedding_params, not locked.", slug, res, status),
		Leak:    leak,
		Fix:     fmt.Sprintf("In Metabase, open %s, Sharing > Embed > Parameters, set %q to Locked and publish the change.", res, slug)})
}

// wiring checks that every card of d is mapped to the tenant parameter p.
func (c *checker) wiring(res Resource, d *Dashboard, p *Parameter) {
	for _, dc := range d.Dashcards {
		if dc.CardID == nil {
			continue // text, heading, link: no query to filter
		}
		cards := []int{*dc.CardID}
		for _, s := range dc.Series {
			cards = append(cards, s.ID)
		}
		for _, cardID := range cards {
			wired := slices.ContainsFunc(dc.ParameterMappings, func(m ParameterMapping) bool {
				return m.ParameterID == p.ID && (m.CardID == nil || *m.CardID == cardID) && dataTarget(m.Target)
			})
			if wired {
				continue
			}
			name := fmt.Sprintf("card %d", cardID)
			if dc.Card != nil && dc.Card.ID == cardID && dc.Card.Name != "" {
				name = fmt.Sprintf("card %d (%s)", cardID, dc.Card.Name)
			}
			c.add(Finding{Code: CodeDashcardNotWired, Severity: SeverityCritical, Resource: res, Dashcard: dc.ID, Parameter: p.Slug,
				Problem: fmt.Sprintf("Dashcard %d of %s shows %s, which is not wired to the tenant parameter %q.", dc.ID, res, name, p.Slug),
				Leak:    "A locked parameter filters only the cards wired to it (metabase#59677): this card shows every tenant's rows to every tenant.",
				Fix:     fmt.Sprintf("In Metabase, edit %s, click the %q filter and connect it to the tenant column of this card (or remove the card), then save.", res, p.Name)})
		}
	}
}

func enabledFiltersTenant(res Resource, p Parameter, dashcard int) Finding {
	return Finding{Code: CodeEnabledParamFiltersTenant, Severity: SeverityCritical, Resource: res, Dashcard: dashcard, Parameter: p.Slug,
		Problem: fmt.Sprintf("The parameter %q of %s filters the tenant column and is \"enabled\" (Editable) for embedding.", p.Slug, res),
		Leak:    "The browser sets it: it can name another tenant, and its value list shows every tenant's ids.",
		Fix:     fmt.Sprintf("In Metabase, open %s, Sharing > Embed > Parameters, set %q to Disabled (or remove the filter); the tenant is filtered by the locked tenant parameter alone.", res, p.Slug)}
}

func (c *checker) publicLinks() {
	for _, l := range c.snap.PublicDashboards {
		c.add(publicLink(Resource{Kind: KindDashboard, ID: l.ID, Name: l.Name}))
	}
	for _, l := range c.snap.PublicCards {
		c.add(publicLink(Resource{Kind: KindQuestion, ID: l.ID, Name: l.Name}))
	}
}

func publicLink(res Resource) Finding {
	return Finding{Code: CodePublicLink, Severity: SeverityCritical, Resource: res,
		Problem: upperFirst(fmt.Sprintf("%s has a public link.", res)),
		Leak:    "Anyone with the link sees it without a token or a locked parameter, so with every tenant's rows.",
		Fix:     fmt.Sprintf("In Metabase, open %s, Sharing > Public link, and remove the link; to stop it for good, turn off Admin settings > Public sharing.", res)}
}

// sso checks the groups SSO users land in, and every table's view-data for
// each of them and for All Users (permissions.go).
func (c *checker) sso(s SSO) {
	groups := map[int]Group{}
	for _, g := range c.snap.Groups {
		groups[g.ID] = g
	}
	var embedded []int
	seen := map[int]bool{}
	addGroup := func(id int) {
		if !seen[id] {
			seen[id] = true
			embedded = append(embedded, id)
		}
	}
	unknown := func(problem string, group int) {
		c.add(Finding{Code: CodeGroupMappingUnknown, Severity: SeverityWarning, Resource: Resource{Kind: KindSSO}, Group: group,
			Problem: problem,
			Leak:    "No leak by itself, but SSO users do not land in the sandboxed group meant for them.",
			Fix:     "Fix jwt-group-mappings (Admin settings > Authentication > JWT > Group schema) so every JWT group maps to an existing group, or create the group."})
	}
	for _, name := range s.Groups {
		if len(s.GroupMappings) > 0 {
			ids, ok := s.GroupMappings[name]
			if !ok {
				unknown(fmt.Sprintf("The SSO group %q is not in jwt-group-mappings.", name), 0)
			}
			for _, id := range ids {
				addGroup(id)
			}
			continue
		}
		i := slices.IndexFunc(c.snap.Groups, func(g Group) bool { return g.Name == name })
		if i < 0 {
			unknown(fmt.Sprintf("The SSO group %q names no Metabase group.", name), 0)
			continue
		}
		addGroup(c.snap.Groups[i].ID)
	}
	for _, name := range sortedKeys(s.GroupMappings) {
		for _, id := range s.GroupMappings[name] {
			if _, ok := groups[id]; !ok {
				unknown(fmt.Sprintf("jwt-group-mappings maps %q to group %d, which does not exist.", name, id), id)
			}
		}
	}
	// A JWT group that Metabase maps puts users in its groups even when
	// tenantgate's configuration does not name it: check those too.
	for _, name := range sortedKeys(s.GroupMappings) {
		for _, id := range s.GroupMappings[name] {
			addGroup(id)
		}
	}
	slices.Sort(embedded)
	for _, id := range embedded {
		g, ok := groups[id]
		if !ok {
			continue
		}
		if isAdminGroup(g) {
			c.add(Finding{Code: CodeAdminGroupEmbedded, Severity: SeverityCritical, Resource: Resource{Kind: KindGroup, ID: g.ID, Name: g.Name}, Group: g.ID,
				Problem: fmt.Sprintf("SSO users are put in the administrator group %q (%d).", g.Name, g.ID),
				Leak:    "Administrators bypass every sandbox and permission: each customer's users see every tenant's data and the admin settings.",
				Fix:     "Remove the administrator group from jwt-group-mappings and from the groups the SSO JWT names; map customers to a sandboxed group."})
		}
	}
	c.checkedGroups = c.ssoGroups(embedded)
	c.permissions(c.checkedGroups, s.TenantAttribute)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// paramBySlug finds the parameter with slug.
func paramBySlug(params []Parameter, slug string) *Parameter {
	for i := range params {
		if params[i].Slug == slug {
			return &params[i]
		}
	}
	return nil
}

// cardOf is the card a mapping of dc points at, for resolving template tags.
func cardOf(dc Dashcard, cardID *int) *Card {
	if dc.Card != nil && (cardID == nil || dc.Card.ID == *cardID) {
		return dc.Card
	}
	for i := range dc.Series {
		if cardID != nil && dc.Series[i].ID == *cardID {
			return &dc.Series[i]
		}
	}
	return dc.Card
}

// dataTarget reports whether a mapping target filters a query: a dimension
// (a column or a field-filter template tag) or a variable. A "text-tag"
// target only fills a text card.
func dataTarget(target json.RawMessage) bool {
	var t []json.RawMessage
	if json.Unmarshal(target, &t) != nil || len(t) == 0 {
		return false
	}
	var kind string
	_ = json.Unmarshal(t[0], &kind)
	return kind == "dimension" || kind == "variable"
}

// targetField resolves a parameter target to the field id it filters:
// ["dimension", ["field", id, opts]] directly, ["dimension",
// ["template-tag", name]] through card's template tag.
func targetField(target json.RawMessage, card *Card) (int, bool) {
	var t []json.RawMessage
	if json.Unmarshal(target, &t) != nil || len(t) < 2 {
		return 0, false
	}
	var kind string
	if json.Unmarshal(t[0], &kind) != nil || kind != "dimension" {
		return 0, false
	}
	return fieldRef(t[1], card)
}

func fieldRef(raw json.RawMessage, card *Card) (int, bool) {
	var ref []json.RawMessage
	if json.Unmarshal(raw, &ref) != nil || len(ref) < 2 {
		return 0, false
	}
	var op string
	_ = json.Unmarshal(ref[0], &op)
	switch op {
	case "field":
		var id int
		if json.Unmarshal(ref[1], &id) == nil {
			return id, true
		}
	case "template-tag":
		var name string
		if json.Unmarshal(ref[1], &name) != nil || card == nil || card.DatasetQuery.Native == nil {
			return 0, false
		}
		if tag, ok := card.DatasetQuery.Native.TemplateTags[name]; ok && len(tag.Dimension) > 0 {
			return fieldRef(tag.Dimension, nil)
		}
	}
	return 0, false
}

func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	return slices.Sorted(maps.Keys(m))
}

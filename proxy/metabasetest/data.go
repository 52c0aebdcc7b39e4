package metabasetest

import (
	"slices"
	"strconv"
)

// Tenants are the organizations of the sample data, in the order their rows
// appear in the orders table.
var Tenants = []string{"acme", "globex", "initech"}

// Order is one row of the sample orders table.
type Order struct {
	ID             int
	OrganizationID string
	Customer       string
	Product        string
	Status         string
	Region         string
	Total          float64
	CreatedAt      string
}

// Orders returns every row of the orders table, all tenants, ordered by ID.
// The slice is a copy: changing it does not change what the stand-in serves.
func Orders() []Order { return slices.Clone(orders) }

// The sample content ids. Dashboards and cards (questions) have separate id
// spaces, as in Metabase.
const (
	// DashboardOrders: organization_id locked, status enabled, region
	// disabled; every card wired to organization_id.
	DashboardOrders = 1
	// DashboardLeaky is DashboardOrders plus DashcardLeakyAllOrders, whose
	// card is not wired to organization_id (metabase#59677), and a status
	// filter whose values come from a card, so its listing ignores the tenant.
	DashboardLeaky = 2
	// DashboardEditableTenant has organization_id "enabled" (browser-settable)
	// instead of locked.
	DashboardEditableTenant = 3
	// DashboardUnpublished is DashboardOrders with enable_embedding false.
	DashboardUnpublished = 4
	// DashboardArchived is DashboardOrders, published but archived.
	DashboardArchived = 5
	// DashboardNoTenant is published without an organization_id parameter;
	// instead an "enabled" (browser-settable) organization filter is wired
	// to the organization_id column.
	DashboardNoTenant = 6
)

// Card (question) ids.
const (
	// QuestionOrders is the native "Orders" table card: published, its
	// parameters organization_id locked, status enabled, region disabled.
	QuestionOrders = 1
	// QuestionRevenueByStatus aggregates orders by status (count, sum of
	// total). Not published on its own.
	QuestionRevenueByStatus = 2
	// QuestionAllOrdersCount counts orders; it has no organization_id
	// filter. Not published on its own.
	QuestionAllOrdersCount = 3
	// QuestionArchived is QuestionOrders, published but archived.
	QuestionArchived = 4
	// QuestionEditableTenant is QuestionOrders with organization_id enabled.
	QuestionEditableTenant = 5
	// QuestionUnpublished is QuestionOrders with enable_embedding false.
	QuestionUnpublished = 6
)

// Dashcard ids, unique across dashboards. A text dashcard has no card.
const (
	DashcardOrdersTable   = 11 // DashboardOrders: QuestionOrders
	DashcardOrdersRevenue = 12 // DashboardOrders: QuestionRevenueByStatus
	DashcardOrdersText    = 13 // DashboardOrders: text "Orders for {{organization_id}}"

	DashcardLeakyTable     = 21 // DashboardLeaky: QuestionOrders
	DashcardLeakyRevenue   = 22 // DashboardLeaky: QuestionRevenueByStatus
	DashcardLeakyText      = 23 // DashboardLeaky: text
	DashcardLeakyAllOrders = 24 // DashboardLeaky: QuestionAllOrdersCount, wired to status only

	DashcardEditableTable   = 31 // DashboardEditableTenant: QuestionOrders
	DashcardEditableRevenue = 32 // DashboardEditableTenant: QuestionRevenueByStatus

	DashcardUnpublishedTable = 41 // DashboardUnpublished: QuestionOrders
	DashcardArchivedTable    = 51 // DashboardArchived: QuestionOrders
	DashcardNoTenantTable    = 61 // DashboardNoTenant: QuestionOrders, wired to ParamPickOrganization and status
)

// Parameter ids. Dashboard parameters and card parameters (template tags)
// have their own ids; both use the slugs organization_id, status and region.
const (
	ParamOrganization = "p_org"
	ParamStatus       = "p_status"
	ParamRegion       = "p_region"
	// ParamPickOrganization is DashboardNoTenant's "enabled" organization
	// filter, slug "organization".
	ParamPickOrganization = "p_org_pick"

	CardParamOrganization = "c_org"
	CardParamStatus       = "c_status"
	CardParamRegion       = "c_region"
)

// Embedding parameter statuses, as stored in embedding_params.
const (
	statusLocked   = "locked"
	statusEnabled  = "enabled"
	statusDisabled = "disabled"
)

// Slugs of the sample parameters.
const (
	slugOrg    = "organization_id"
	slugStatus = "status"
	slugRegion = "region"
)

// orders is the whole table. Every tenant has rows another tenant does not:
// globex sells only in the us, initech only in the eu, and only initech has
// "disputed" orders, so a listing that leaks across tenants shows it.
var orders = []Order{
	{1, "acme", "Acme — Wile E. Coyote", "Rocket Skates", "paid", "us", 149.90, "2026-01-03T09:12:00Z"},
	{2, "acme", "Acme — Wile E. Coyote", "Giant Magnet", "paid", "us", 89.50, "2026-01-07T14:30:00Z"},
	{3, "acme", "Acme — Road Runner Fan Club", "Bird Seed (10 kg)", "refunded", "us", 24.00, "2026-01-11T08:05:00Z"},
	{4, "acme", "Acme — Marvin Martian", "Anvil", "pending", "eu", 310.00, "2026-01-15T16:45:00Z"},
	{5, "acme", "Acme — Marvin Martian", "Earthquake Pills", "paid", "eu", 42.75, "2026-01-19T11:20:00Z"},
	{6, "acme", "Acme — Elmer Fudd", "Tornado Seeds", "paid", "us", 18.25, "2026-01-23T10:00:00Z"},
	{7, "acme", "Acme — Elmer Fudd", "Jet-Propelled Pogo Stick", "pending", "us", 275.00, "2026-01-27T13:15:00Z"},
	{8, "acme", "Acme — Daffy Duck", "Dehydrated Boulders", "paid", "eu", 63.40, "2026-02-02T09:40:00Z"},
	{9, "acme", "Acme — Daffy Duck", "Instant Hole", "refunded", "eu", 12.99, "2026-02-06T17:05:00Z"},
	{10, "acme", "Acme — Wile E. Coyote", "Rocket Sled", "paid", "us", 520.00, "2026-02-10T07:55:00Z"},

	{11, "globex", "Globex — Hank Scorpio", "Doomsday Device", "paid", "us", 999.00, "2026-01-04T12:00:00Z"},
	{12, "globex", "Globex — Homer Simpson", "Hammock", "paid", "us", 79.00, "2026-01-08T15:20:00Z"},
	{13, "globex", "Globex — Homer Simpson", "Donut Box", "pending", "us", 15.50, "2026-01-12T08:45:00Z"},
	{14, "globex", "Globex — Frank Grimes", "Safety Helmet", "paid", "us", 45.00, "2026-01-16T10:10:00Z"},
	{15, "globex", "Globex — Hank Scorpio", "Flamethrower", "refunded", "us", 450.00, "2026-01-20T14:35:00Z"},
	{16, "globex", "Globex — Lenny Leonard", "Reactor Rod", "paid", "us", 1200.00, "2026-01-24T09:00:00Z"},
	{17, "globex", "Globex — Carl Carlson", "Radiation Suit", "paid", "us", 320.00, "2026-01-28T11:25:00Z"},
	{18, "globex", "Globex — Carl Carlson", "Geiger Counter", "pending", "us", 185.25, "2026-02-01T16:50:00Z"},
	{19, "globex", "Globex — Lenny Leonard", "Control Panel Knob", "paid", "us", 9.99, "2026-02-05T13:30:00Z"},
	{20, "globex", "Globex — Frank Grimes", "Hammock", "refunded", "us", 79.00, "2026-02-09T08:20:00Z"},
	{21, "globex", "Globex — Hank Scorpio", "Volcano Lair Lease", "paid", "us", 25000.00, "2026-02-13T10:45:00Z"},
	{22, "globex", "Globex — Homer Simpson", "Bowling Ball", "paid", "us", 64.00, "2026-02-17T18:00:00Z"},

	{23, "initech", "Initech — Peter Gibbons", "TPS Report Covers", "paid", "eu", 34.00, "2026-01-05T09:00:00Z"},
	{24, "initech", "Initech — Milton Waddams", "Red Swingline Stapler", "paid", "eu", 21.50, "2026-01-09T11:11:00Z"},
	{25, "initech", "Initech — Milton Waddams", "Red Swingline Stapler", "disputed", "eu", 21.50, "2026-01-13T11:12:00Z"},
	{26, "initech", "Initech — Bill Lumbergh", "Porsche Detailing", "pending", "eu", 350.00, "2026-01-17T15:00:00Z"},
	{27, "initech", "Initech — Samir Nagheenanajar", "Printer (PC LOAD LETTER)", "refunded", "eu", 499.00, "2026-01-21T10:30:00Z"},
	{28, "initech", "Initech — Michael Bolton", "Fax Machine", "paid", "eu", 149.00, "2026-01-25T12:45:00Z"},
	{29, "initech", "Initech — Peter Gibbons", "Jump to Conclusions Mat", "disputed", "eu", 39.95, "2026-01-29T14:05:00Z"},
	{30, "initech", "Initech — Joanna", "Flair Buttons (37 pieces)", "paid", "eu", 18.50, "2026-02-03T09:25:00Z"},
	{31, "initech", "Initech — Tom Smykowski", "Jump to Conclusions Mat", "pending", "eu", 39.95, "2026-02-07T16:40:00Z"},
}

// Metadata ids of the orders table, as an auditor would see them.
const (
	databaseID = 1
	tableID    = 10
)

// field is a column of the orders table.
type field struct {
	ID           int
	Name         string
	Display      string
	BaseType     string
	SemanticType string
}

var fields = []field{
	{101, "id", "ID", "type/BigInteger", "type/PK"},
	{102, "organization_id", "Organization ID", "type/Text", "type/Category"},
	{103, "customer", "Customer", "type/Text", "type/Name"},
	{104, "product", "Product", "type/Text", "type/Category"},
	{105, "status", "Status", "type/Text", "type/Category"},
	{106, "region", "Region", "type/Text", "type/Category"},
	{107, "total", "Total", "type/Float", "type/Currency"},
	{108, "created_at", "Created At", "type/DateTimeWithLocalTZ", "type/CreationTimestamp"},
}

func fieldByName(name string) field {
	for _, f := range fields {
		if f.Name == name {
			return f
		}
	}
	panic("metabasetest: no field " + name)
}

func fieldByID(id int) field {
	for _, f := range fields {
		if f.ID == id {
			return f
		}
	}
	panic("metabasetest: no field " + strconv.Itoa(id))
}

// value is the cell of column name in row o.
func (o Order) value(name string) any {
	switch name {
	case "id":
		return o.ID
	case "organization_id":
		return o.OrganizationID
	case "customer":
		return o.Customer
	case "product":
		return o.Product
	case "status":
		return o.Status
	case "region":
		return o.Region
	case "total":
		return o.Total
	case "created_at":
		return o.CreatedAt
	}
	panic("metabasetest: no field " + name)
}

// param is a card or dashboard parameter. Field is the column it filters
// (for a card, through its template tag).
type param struct {
	ID    string
	Name  string
	Slug  string
	Type  string
	Field string
	// ValuesFromCard makes the parameter's value list come from a card
	// (values_source_type "card"): Metabase runs that card without the
	// chain-filter constraints, so locked values do not narrow the list.
	ValuesFromCard int
}

// embeddingParam is one entry of an object's embedding_params. A slice
// keeps the order, which decides which error Metabase reports first.
type embeddingParam struct {
	Slug   string
	Status string
}

type cardKind int

const (
	kindRows     cardKind = iota // every column, one row per order
	kindByStatus                 // status, count, sum of total
	kindCount                    // count
)

type card struct {
	ID              int
	EntityID        string
	Name            string
	Description     string
	Display         string
	Native          bool
	Kind            cardKind
	Params          []param
	EmbeddingParams []embeddingParam
	EnableEmbedding bool
	Archived        bool
	// PublicUUID is the card's public link ("" for none).
	PublicUUID string
}

// mapping wires a dashboard parameter to a dashcard: to a column of the
// card (Field) or to a variable of a text card (TextTag).
type mapping struct {
	ParamID string
	Field   string
	TextTag string
}

type dashcard struct {
	ID                     int
	CardID                 int // 0 for a text card
	Col, Row, SizeX, SizeY int
	Text                   string
	Mappings               []mapping
}

type dashboard struct {
	ID              int
	EntityID        string
	Name            string
	Description     string
	Params          []param
	EmbeddingParams []embeddingParam
	EnableEmbedding bool
	Archived        bool
	Dashcards       []dashcard
	// PublicUUID is the dashboard's public link ("" for none).
	PublicUUID string
}

func cardParams() []param {
	return []param{
		{ID: CardParamOrganization, Name: "Organization ID", Slug: slugOrg, Type: "string/=", Field: "organization_id"},
		{ID: CardParamStatus, Name: "Status", Slug: slugStatus, Type: "string/=", Field: "status"},
		{ID: CardParamRegion, Name: "Region", Slug: slugRegion, Type: "string/=", Field: "region"},
	}
}

func tenantLocked() []embeddingParam {
	return []embeddingParam{{slugOrg, statusLocked}, {slugStatus, statusEnabled}, {slugRegion, statusDisabled}}
}

func tenantEnabled() []embeddingParam {
	return []embeddingParam{{slugOrg, statusEnabled}, {slugStatus, statusEnabled}, {slugRegion, statusDisabled}}
}

var cards = []card{
	{ID: QuestionOrders, EntityID: "OrdersCard00000000001", Name: "Orders", Description: "Every order of the organization.",
		Display: "table", Native: true, Kind: kindRows, Params: cardParams(), EmbeddingParams: tenantLocked(), EnableEmbedding: true},
	{ID: QuestionRevenueByStatus, EntityID: "RevenueByStatusCard02", Name: "Revenue by status", Description: "Orders and revenue per status.",
		Display: "bar", Kind: kindByStatus, PublicUUID: PublicLinkRevenue},
	{ID: QuestionAllOrdersCount, EntityID: "AllOrdersCountCard003", Name: "All orders count", Description: "How many orders there are.",
		Display: "scalar", Kind: kindCount},
	{ID: QuestionArchived, EntityID: "ArchivedCard000000004", Name: "Orders (archived)", Display: "table", Native: true, Kind: kindRows,
		Params: cardParams(), EmbeddingParams: tenantLocked(), EnableEmbedding: true, Archived: true},
	{ID: QuestionEditableTenant, EntityID: "EditableTenantCard005", Name: "Orders (editable tenant)", Display: "table", Native: true, Kind: kindRows,
		Params: cardParams(), EmbeddingParams: tenantEnabled(), EnableEmbedding: true},
	{ID: QuestionUnpublished, EntityID: "UnpublishedCard000006", Name: "Orders (unpublished)", Display: "table", Native: true, Kind: kindRows,
		Params: cardParams(), EmbeddingParams: tenantLocked()},
}

func dashboardParams() []param {
	return []param{
		{ID: ParamOrganization, Name: "Organization ID", Slug: slugOrg, Type: "string/=", Field: "organization_id"},
		{ID: ParamStatus, Name: "Status", Slug: slugStatus, Type: "string/=", Field: "status"},
		{ID: ParamRegion, Name: "Region", Slug: slugRegion, Type: "string/=", Field: "region"},
	}
}

// tableDashcard shows QuestionOrders wired to all three parameters.
func tableDashcard(id int) dashcard {
	return dashcard{ID: id, CardID: QuestionOrders, Col: 0, Row: 2, SizeX: 16, SizeY: 8, Mappings: []mapping{
		{ParamID: ParamOrganization, Field: "organization_id"},
		{ParamID: ParamStatus, Field: "status"},
		{ParamID: ParamRegion, Field: "region"},
	}}
}

func revenueDashcard(id int) dashcard {
	return dashcard{ID: id, CardID: QuestionRevenueByStatus, Col: 16, Row: 2, SizeX: 8, SizeY: 8, Mappings: []mapping{
		{ParamID: ParamOrganization, Field: "organization_id"},
		{ParamID: ParamStatus, Field: "status"},
	}}
}

func textDashcard(id int) dashcard {
	return dashcard{ID: id, Col: 0, Row: 0, SizeX: 24, SizeY: 2, Text: "## Orders for {{organization_id}}",
		Mappings: []mapping{{ParamID: ParamOrganization, TextTag: "organization_id"}}}
}

var dashboards = func() []dashboard {
	leakyParams := dashboardParams()
	leakyParams[1].ValuesFromCard = QuestionOrders
	return []dashboard{
		{ID: DashboardOrders, EntityID: "OrdersOverviewDash001", Name: "Orders overview", Description: "Orders of one organization.",
			Params: dashboardParams(), EmbeddingParams: tenantLocked(), EnableEmbedding: true,
			Dashcards: []dashcard{textDashcard(DashcardOrdersText), tableDashcard(DashcardOrdersTable), revenueDashcard(DashcardOrdersRevenue)}},
		{ID: DashboardLeaky, EntityID: "LeakyOverviewDash0002", Name: "Leaky overview", Description: "Orders overview with an unwired card.",
			Params: leakyParams, EmbeddingParams: tenantLocked(), EnableEmbedding: true,
			Dashcards: []dashcard{textDashcard(DashcardLeakyText), tableDashcard(DashcardLeakyTable), revenueDashcard(DashcardLeakyRevenue),
				{ID: DashcardLeakyAllOrders, CardID: QuestionAllOrdersCount, Col: 0, Row: 10, SizeX: 8, SizeY: 4,
					Mappings: []mapping{{ParamID: ParamStatus, Field: "status"}}}}},
		{ID: DashboardEditableTenant, EntityID: "EditableTenantDash003", Name: "Editable tenant", Description: "organization_id is editable.",
			Params: dashboardParams(), EmbeddingParams: tenantEnabled(), EnableEmbedding: true,
			Dashcards: []dashcard{tableDashcard(DashcardEditableTable), revenueDashcard(DashcardEditableRevenue)}},
		{ID: DashboardUnpublished, EntityID: "UnpublishedDash000004", Name: "Unpublished overview",
			Params: dashboardParams(), EmbeddingParams: tenantLocked(),
			Dashcards: []dashcard{tableDashcard(DashcardUnpublishedTable)}},
		{ID: DashboardArchived, EntityID: "ArchivedDash000000005", Name: "Archived overview",
			Params: dashboardParams(), EmbeddingParams: tenantLocked(), EnableEmbedding: true, Archived: true,
			Dashcards: []dashcard{tableDashcard(DashcardArchivedTable)}},
		{ID: DashboardNoTenant, EntityID: "NoTenantDash000000006", Name: "Orders (pick an organization)", Description: "No tenant parameter; the organization is a filter.",
			Params: []param{
				{ID: ParamPickOrganization, Name: "Organization", Slug: "organization", Type: "string/=", Field: "organization_id"},
				{ID: ParamStatus, Name: "Status", Slug: slugStatus, Type: "string/=", Field: "status"},
			},
			EmbeddingParams: []embeddingParam{{"organization", statusEnabled}, {slugStatus, statusEnabled}}, EnableEmbedding: true,
			Dashcards: []dashcard{{ID: DashcardNoTenantTable, CardID: QuestionOrders, Col: 0, Row: 0, SizeX: 24, SizeY: 8, Mappings: []mapping{
				{ParamID: ParamPickOrganization, Field: "organization_id"},
				{ParamID: ParamStatus, Field: "status"},
			}}}},
	}
}()

// content is what one Server serves: the sample cards and dashboards, its
// own copy, so tests can change it (see WireDashcard) without touching
// other servers. It is never changed in place: a change stores a new copy,
// and a request reads one snapshot from start to end.
type content struct {
	cards      []card
	dashboards []dashboard
	sandboxes  []sandbox
	access     access // permissions.go
}

// sampleContent is a deep copy of the sample cards and dashboards.
func sampleContent() *content {
	return (&content{cards: cards, dashboards: dashboards, sandboxes: sandboxes, access: sampleAccess()}).clone()
}

func (ct *content) clone() *content {
	out := &content{cards: slices.Clone(ct.cards), dashboards: slices.Clone(ct.dashboards), sandboxes: slices.Clone(ct.sandboxes), access: ct.access.clone()}
	for i := range out.cards {
		c := &out.cards[i]
		c.Params = slices.Clone(c.Params)
		c.EmbeddingParams = slices.Clone(c.EmbeddingParams)
	}
	for i := range out.dashboards {
		d := &out.dashboards[i]
		d.Params = slices.Clone(d.Params)
		d.EmbeddingParams = slices.Clone(d.EmbeddingParams)
		d.Dashcards = slices.Clone(d.Dashcards)
		for j := range d.Dashcards {
			d.Dashcards[j].Mappings = slices.Clone(d.Dashcards[j].Mappings)
		}
	}
	return out
}

func (ct *content) card(id int) *card {
	for i := range ct.cards {
		if ct.cards[i].ID == id {
			return &ct.cards[i]
		}
	}
	return nil
}

func (ct *content) dashboard(id int) *dashboard {
	for i := range ct.dashboards {
		if ct.dashboards[i].ID == id {
			return &ct.dashboards[i]
		}
	}
	return nil
}

// embeddingStatus reports the embedding_params entry for slug.
func embeddingStatus(eps []embeddingParam, slug string) (string, bool) {
	for _, ep := range eps {
		if ep.Slug == slug {
			return ep.Status, true
		}
	}
	return "", false
}

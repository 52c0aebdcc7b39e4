package metabasetest

import (
	"net/http"
	"strconv"
)

// What Metabase's embedding SDK (@metabase/embedding-sdk-react 0.55, the
// last one carrying the whole SDK) asks of Metabase beyond the handshake
// and the calls in sso.go, found by running it against the stand-in
// (cmd/tenantgate's TestSDKBrowser) and answered as Metabase's source
// does: the token features and embedding settings of
// GET /api/session/properties, the query metadata of a card and a
// dashboard, the readable databases, the root collection, and the Lato font the SDK's stylesheet loads from the
// instance.

// tokenFeatures is the token-features setting: every key Metabase's
// premium-features module lists, as booleans. A stand-in with JWT SSO
// models a Pro instance whose token carries SSO, the embedding SDK and
// modular embedding (the SDK refuses SSO without embedding_sdk); sandboxes
// and tenants follow their options; everything else is off, development
// mode included (the SDK warns on it).
func (s *Server) tokenFeatures() map[string]bool {
	pro := s.opts.SSO.SharedSecret != ""
	f := map[string]bool{}
	for _, k := range []string{"advanced_permissions", "ai_sql_fixer", "ai_sql_generation", "ai_entity_analysis", "attached_dwh",
		"audit_app", "cache_granular_controls", "cache_preemptive", "cloud_custom_smtp", "collection_cleanup", "config_text_file",
		"content_translation", "content_verification", "dashboard_subscription_filters", "database_auth_providers",
		"database_routing", "data_studio", "dependencies", "development_mode", "disable_password_login", "email_allow_list",
		"email_restrict_recipients", "embedding", "embedding_sdk", "embedding_simple", "etl_connections", "etl_connections_pg",
		"hosting", "llm_autodescription", "metabot_v3", "official_collections", "query_reference_validation", "remote_sync",
		"sandboxes", "scim", "semantic_search", "serialization", "session_timeout_config", "snippet_collections", "sso_google",
		"sso_jwt", "sso_ldap", "sso_saml", "sso_slack", "support-users", "table_data_editing", "tenants", "transforms",
		"transforms-python", "upload_management", "whitelabel", "workspaces"} {
		f[k] = false
	}
	f["sso_jwt"], f["embedding_sdk"], f["embedding_simple"] = pro, pro, pro
	f["sandboxes"] = s.opts.Sandboxing
	f["tenants"] = s.opts.SSO.Tenants
	return f
}

// embeddingSettings are the public embedding settings the SDK reads:
// enable-embedding-sdk (off, it refuses to render) and
// enable-embedding-simple follow SSOOptions; both need JWT SSO here.
func (s *Server) embeddingSettings() map[string]any {
	sso := s.opts.SSO
	return map[string]any{
		"enable-embedding-static": !s.opts.StaticEmbeddingDisabled,
		"enable-embedding-sdk":    sso.SharedSecret != "" && !sso.SDKDisabled,
		"enable-embedding-simple": sso.SharedSecret != "" && !sso.SimpleDisabled,
		"jwt-enabled":             sso.SharedSecret != "",
		"jwt-configured":          sso.SharedSecret != "",
		"token-features":          s.tokenFeatures(),
	}
}

// serveSDKAPI answers the session API calls of the SDK that sso.go does
// not: GET /api/card/{id}/query_metadata, GET
// /api/dashboard/{id}/query_metadata, GET /api/database and GET
// /api/collection/root. It reports false for any other request. user is
// the session's user, segs the path's segments after /api/.
func (s *Server) serveSDKAPI(w http.ResponseWriter, r *http.Request, user *SSOUser, ct *content, segs []string) bool {
	if r.Method != http.MethodGet {
		return false
	}
	switch {
	case len(segs) == 1 && segs[0] == "database":
		// The databases the user may read (can-read?), with the total.
		dbs := s.queryMetadata(user, ct)["databases"].([]any)
		writeJSON(w, http.StatusOK, map[string]any{"data": dbs, "total": len(dbs)})
		return true
	case len(segs) == 2 && segs[0] == "collection" && segs[1] == "root":
		// Every user may read the root collection's details; writing to it
		// needs curate permission, which no SSO user of the sample has.
		writeJSON(w, http.StatusOK, map[string]any{"id": "root", "name": "Our analytics", "description": nil,
			"can_write": user.Superuser(), "can_restore": false, "can_delete": false, "effective_location": nil,
			"effective_ancestors": []any{}, "authority_level": nil, "is_personal": false, "parent_id": nil,
			"namespace": nil, "type": nil})
		return true
	case len(segs) != 3 || segs[2] != "query_metadata" || !isDigits(segs[1]):
		return false
	}
	id, _ := strconv.Atoi(segs[1])
	switch segs[0] {
	case "card":
		c := ct.card(id)
		if c == nil {
			writeText(w, http.StatusNotFound, msgNotFound)
			return true
		}
		writeJSON(w, http.StatusOK, s.queryMetadata(user, ct))
	case "dashboard":
		d := ct.dashboard(id)
		if d == nil {
			writeText(w, http.StatusNotFound, msgNotFound)
			return true
		}
		// Metabase's batch-fetch-dashboard-metadata: the cards' metadata,
		// plus the cards and dashboards click behaviours link to (the
		// sample's link to none).
		m := s.queryMetadata(user, ct)
		m["cards"], m["dashboards"] = []any{}, []any{}
		writeJSON(w, http.StatusOK, m)
	default:
		return false
	}
	return true
}

// queryMetadata is Metabase's batch-fetch-query-metadata for the sample's
// cards, which all read the orders table: {databases, tables, fields,
// snippets}. Databases and tables are filtered by what user may read, as
// Metabase's can-read? does: a user with no access to the orders table
// (blocked, no sandbox) gets neither.
func (s *Server) queryMetadata(user *SSOUser, ct *content) map[string]any {
	dbs, ts := []any{}, []any{}
	if _, _, readable := s.rowFilter(user, ct); readable {
		if t, ok := ct.tableByID(TableOrders); ok {
			j := t.json(true)
			j["db"] = databaseJSON()
			ts = append(ts, j)
			dbs = append(dbs, databaseJSON())
		}
	}
	return map[string]any{"databases": dbs, "tables": ts, "fields": []any{}, "snippets": []any{}}
}

// Lato, which the SDK's stylesheet loads from {instance}/app/fonts as
// Metabase serves it. The stand-in has no font to serve: it answers each
// file with its content type and no body, so the browser falls back to
// the next font of the stack (and warns that it could not decode Lato).
func init() {
	for _, weight := range []string{"regular", "700"} {
		for ext, ct := range map[string]string{"eot": "application/vnd.ms-fontobject", "woff2": "font/woff2", "woff": "font/woff",
			"ttf": "font/ttf", "svg": "image/svg+xml"} {
			staticAssets["/app/fonts/Lato/lato-v16-latin-"+weight+"."+ext] = staticAsset{ct, text("")}
		}
	}
}

// The SDK's sample content: a question and a dashboard built with the
// query builder. A sandboxed user may not run native SQL (runForUser), so
// the SDK (and interactive embedding) can show the native QuestionOrders
// to no customer; these are what a Metabase admin builds for them instead.
// Neither is published for static embedding.
const (
	// QuestionOrdersQuery lists the orders table (query builder, MBQL).
	QuestionOrdersQuery = 7
	// DashboardSDK shows QuestionOrdersQuery and QuestionRevenueByStatus,
	// with no parameters: the user's sandbox filters the rows.
	DashboardSDK = 7
	// DashcardSDKTable and DashcardSDKRevenue are DashboardSDK's cards.
	DashcardSDKTable   = 71
	DashcardSDKRevenue = 72
)

func init() {
	cards = append(cards, card{ID: QuestionOrdersQuery, EntityID: "OrdersQueryCard000007", Name: "Orders (query builder)",
		Description: "Every order the user may see.", Display: "table", Kind: kindRows})
	dashboards = append(dashboards, dashboard{ID: DashboardSDK, EntityID: "SDKOverviewDash000007", Name: "Orders overview (query builder)",
		Description: "Orders and revenue, filtered by the user's sandbox.", Dashcards: []dashcard{
			{ID: DashcardSDKTable, CardID: QuestionOrdersQuery, Col: 0, Row: 0, SizeX: 16, SizeY: 8},
			{ID: DashcardSDKRevenue, CardID: QuestionRevenueByStatus, Col: 16, Row: 0, SizeX: 8, SizeY: 8},
		}})
}

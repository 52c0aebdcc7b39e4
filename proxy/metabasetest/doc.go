// Package metabasetest is a stand-in for Metabase's static (guest)
// embedding surface, for tests and demos, like net/http/httptest is for
// servers: the /api/embed API, the /embed pages, /api/health,
// /api/session/properties, a few /app assets and the admin read API an
// auditor uses (contract §5), over a small fixed dataset. Invariant: it is never more lenient than Metabase v0.56 as
// described in shared/metabase-contract.md: same paths, same token and
// embedding_params rules in the same order, same status codes and the same
// text/plain error messages, including Metabase's holes (a locked parameter
// set to [] filters nothing, "enabled" parameters are browser-settable,
// unwired dashcards ignore the tenant, card parameter listings span every
// tenant, the embed JSON's param_values hold every tenant's values of the
// filters' fields), so that a test passing here would pass against
// Metabase. LeakCredential makes it misbehave as no Metabase should (a
// token it minted itself in a header, a body or a stream).
//
// # Sample content
//
// The orders table holds rows of three tenants (Tenants): acme (10 rows,
// eu and us), globex (12 rows, us only) and initech (9 rows, eu only, the
// only one with "disputed" orders). Customers are prefixed with the
// tenant's name ("Acme — Wile E. Coyote"), so a leak is visible. Orders
// returns the table.
//
// Dashboards (parameters p_org, p_status, p_region with slugs
// organization_id, status, region; embedding_params in that order):
//
//	1 DashboardOrders          "Orders overview": organization_id locked, status enabled,
//	                           region disabled; dashcards 13 (text "Orders for
//	                           {{organization_id}}"), 11 (QuestionOrders, wired to all three),
//	                           12 (QuestionRevenueByStatus, wired to organization_id and status)
//	2 DashboardLeaky           as 1 (dashcards 23, 21, 22) plus 24 (QuestionAllOrdersCount,
//	                           wired to status only: metabase#59677); its status values
//	                           come from a card, so listing them ignores the tenant
//	3 DashboardEditableTenant  organization_id enabled instead of locked; dashcards 31, 32
//	4 DashboardUnpublished     as 1 with enable_embedding false; dashcard 41
//	5 DashboardArchived        as 1, published but archived; dashcard 51
//	6 DashboardNoTenant        published with no organization_id parameter; an "enabled"
//	                           organization filter (p_org_pick, slug organization) is
//	                           wired to the organization_id column instead; dashcard 61
//	7 DashboardSDK             not published, no parameters (sdk.go): dashcards 71
//	                           (QuestionOrdersQuery), 72 (QuestionRevenueByStatus); the
//	                           embedding SDK's dashboard, filtered by the user's sandbox
//
// Cards (questions), with template-tag parameters c_org, c_status,
// c_region:
//
//	1 QuestionOrders           native table; organization_id locked, status enabled,
//	                           region disabled; published
//	2 QuestionRevenueByStatus  status, count, sum of total; not published, but shared
//	                           by a public link (PublicLinkRevenue)
//	3 QuestionAllOrdersCount   count; not published
//	4 QuestionArchived         as 1, archived
//	5 QuestionEditableTenant   as 1 with organization_id enabled
//	6 QuestionUnpublished      as 1 with enable_embedding false
//	7 QuestionOrdersQuery      the orders table built with the query builder (MBQL), not
//	                           published: what a sandboxed SSO user can run, who may run
//	                           no native SQL (sdk.go)
//
// Every object also has a 21-character entity id that tokens may use in
// place of the numeric id.
//
// # The admin read API
//
// Behind X-API-Key (Options.APIKey; any header case; otherwise 401
// "Unauthenticated" text/plain), read-only: GET /api/database (data,
// total), /api/database/1/metadata, /api/table, /api/dashboard/{id},
// /api/card/{id} (with enable_embedding, embedding_params, parameters,
// dashcards[].parameter_mappings, public_uuid), /api/dashboard|card/
// embeddable and /public, /api/mt/gtap (only with Options.Sandboxing, else
// 403 as without the Enterprise feature), /api/permissions/group and
// /api/permissions/graph (permissions.go). Database 1 holds the tables
// orders (TableOrders, 10) and customers (TableCustomers, 11). Groups: All
// Users (1), Administrators (2) and Embedded customers (GroupEmbedded, 3).
// All Users is blocked; the embedded group sees orders through one
// sandbox on the organization_id attribute and customers unrestricted.
// Permissions are additive, in the graph and in queries: a group that may
// view orders unrestricted (SetViewData) beats the sandbox, and an ad-hoc
// query over customers (customers.go) gives every tenant's customers to the
// embedded group, as Metabase would.
//
// Each Server serves its own copy of the content. Tests change it while
// serving with WireDashcard (an editor wiring a card: "fixing" the leaky
// dashboard), SetEmbeddingParam, SetPublicLink, AddSandbox, SetViewData
// and AddTable; a request
// sees one snapshot from start to end. SetOverride makes any endpoint fail.
//
// # JWT SSO and sessions
//
// With Options.SSO.SharedSecret set (sso.go): GET /auth/sso in its browser
// variant (302 to return_to with metabase.SESSION, metabase.TIMEOUT and
// metabase.DEVICE; a return_to on another host is 400 "Invalid redirect
// URL") and its SDK variant (X-Metabase-Client: discovery {url, method},
// then {status, id, exp, iat}; 402 when the flavour is off), and since
// 2026 the SDK variant by POST with a JSON body {"jwt"} (ssopost.go; the
// query's and the body's params merged; SSO.RefusePOST: 501 as before
// 2026); HS256 only,
// exp and nbf without leeway, an iat older than 180 s refused, email
// required, users provisioned (or refused with provisioning off), names and
// attributes (strings kept, numbers and booleans as text, the rest and
// "@" keys dropped) replaced at each login, group sync by mapping or by
// name. Sessions are found in Metabase's order: metabase.EMBEDDED_SESSION
// with X-Metabase-Anti-CSRF-Token, then metabase.SESSION, then
// X-Metabase-Session (the first present wins, valid or not), then
// X-API-Key. A session user reaches GET /api/user/current, GET
// /api/card/{id}, GET /api/dashboard/{id}, POST /api/card/{id}/query, POST
// /api/dashboard/{id}/dashcard/{dc}/card/{c}/query and POST /api/dataset
// (MBQL over orders with an "=" filter); queries of the orders table are
// filtered by the sandbox of the user's group on its attribute (no
// attribute: "Query requires user attribute"), users outside a sandboxed
// group and native SQL for sandboxed users get 403. Body parameters of the
// card queries are ignored. The app's pages (/dashboard/..., /question/...,
// /collection/..., /search) are served, to anyone, only with SSO on. Tests
// read User, Users, SessionUser and SessionKeys, and end sessions with
// EndSessions. DELETE /api/session ends the session of the request's key
// (204; none: 404), as Metabase's logout does (ssopost.go).
//
// For Metabase's embedding SDK (sdk.go, as TestSDKBrowser in cmd/tenantgate
// finds it asks): with JWT SSO the stand-in is a Pro instance whose
// token-features (every key Metabase lists) carry sso_jwt, embedding_sdk
// and embedding_simple, with enable-embedding-sdk on unless SDKDisabled;
// a session user also reaches GET /api/card/{id}/query_metadata and GET
// /api/dashboard/{id}/query_metadata ({databases, tables, fields,
// snippets}, plus cards and dashboards; tables the user may not read are
// left out), GET /api/database and GET /api/collection/root. The Lato font
// the SDK's stylesheet loads from /app/fonts/Lato/ is served empty.
//
// For modular embedding (embedjs.go, which writes the protocol down): the
// script /app/embed.js, defining <metabase-question> and
// <metabase-dashboard>, which frame /embed/sdk/v1 and run the JWT
// handshake or the guest token provider for it from the host page, and
// that iframe page, which takes its settings and session by postMessage
// from any window (Metabase's hole) and renders from the session API or
// /api/embed.
//
// Users are keyed by email (any case) and every request reads the user's
// attributes as they are now, so two sign-ins of one email for two
// organizations leave every session of that user with the second one's
// attributes, as in Metabase (issue 12). The attributes sandboxes read are
// merged per request: the tenant's, then jwt_attributes, then attributes an
// admin set by hand (SetLoginAttributes). With SSOOptions.Tenants (Metabase's
// first-class tenants) a JWT's @tenant (a string or an integer, a slug of
// [-_a-z0-9]) puts a new user in that tenant, created on first use with the
// JWT's @tenant.attributes, to which later JWTs only add keys; a user never
// changes tenant (403 "Tenant ID mismatch with existing user", "Cannot add
// tenant claim to internal user", "Tenant claim required for external
// user"), and sandboxes also see @tenant.slug. Without it a JWT naming a
// tenant is refused (403 "Tenants and tenant users are disabled.").
//
// # Site URL
//
// With Options.SiteURL unset (no MB_SITE_URL), the first request that is
// not a health check sets the site URL from its Origin, else its
// X-Forwarded-Host, else its Host (siteurl.go, Metabase's
// maybe-set-site-url), and the export redirect and the public settings'
// "site-url" are built from it, and SSO accepts an absolute return_to on
// its host only. Tests read it with SiteURL.
//
// # Choices where the contract is silent
//
// Values the JVM would word (a header that is not JSON, a non-object
// params claim) get a fixed message; only the status is meant to be relied
// on there. A dashboard's parameter listing applies the other merged
// parameters, locked token values included, as chain-filter constraints,
// as Metabase's chain filter does; a card's listing has no constraints.
// Map tiles check the token and the object, not embedding_params, as
// Metabase's tile endpoints do, and answer a blank PNG. Exports are real
// CSV, JSON and minimal XLSX files.
package metabasetest

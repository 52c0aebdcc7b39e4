// Package metabasetest is a stand-in for Metabase's static (guest)
// embedding surface, for tests and demos, like net/http/httptest is for
// servers: the /api/embed API, the /embed pages, /api/health,
// /api/session/properties and a few /app assets, over a small fixed
// dataset. Invariant: it is never more lenient than Metabase v0.56 as
// described in shared/metabase-contract.md: same paths, same token and
// embedding_params rules in the same order, same status codes and the same
// text/plain error messages, including Metabase's holes (a locked parameter
// set to [] filters nothing, "enabled" parameters are browser-settable,
// unwired dashcards ignore the tenant, card parameter listings span every
// tenant), so that a test passing here would pass against Metabase.
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
//
// Cards (questions), with template-tag parameters c_org, c_status,
// c_region:
//
//	1 QuestionOrders           native table; organization_id locked, status enabled,
//	                           region disabled; published
//	2 QuestionRevenueByStatus  status, count, sum of total; not published
//	3 QuestionAllOrdersCount   count; not published
//	4 QuestionArchived         as 1, archived
//	5 QuestionEditableTenant   as 1 with organization_id enabled
//	6 QuestionUnpublished      as 1 with enable_embedding false
//
// Every object also has a 21-character entity id that tokens may use in
// place of the numeric id.
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

package metabasetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Texts Metabase answers outside the token rules.
const (
	msgNoEndpoint      = "API endpoint does not exist."
	msgNotFound        = "Not found."
	msgInvalidRoute    = "Invalid request route parameters"
	msgInvalidQuery    = "Invalid request query parameters"
	msgStaticDisabled  = "Embedding is not enabled."
	msgObjectArchived  = "The object has been archived."
	msgObjectNotPublic = "Embedding is not enabled for this object."
)

// apiError is an answer other than success. Metabase wraps /api/embed so
// that every exception becomes a 400 whose text/plain body is the message;
// only an unmatched route is a 404.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func badRequest(msg string) error { return &apiError{http.StatusBadRequest, msg} }

var errNoEndpoint = &apiError{http.StatusNotFound, msgNoEndpoint}

// tokenPattern is the route schema of a token path segment: a segment that
// does not match is not routed at all.
var tokenPattern = regexp.MustCompile(`^[A-Za-z0-9\-_=]+\.[A-Za-z0-9\-_=]+\.?[A-Za-z0-9\-_.+=]*$`)

// Embed endpoint actions.
const (
	actGet    = "get"
	actQuery  = "query"
	actExport = "export"
	actPivot  = "pivot"
	actValues = "values"
	actSearch = "search"
	actRemap  = "remapping"
	actTile   = "tile"
)

// embedRoutes are the current /api/embed routes. Placeholders: :token
// (token schema), :format (csv|json|xlsx), anything else a plain segment.
var embedRoutes = []struct {
	pattern, model, action string
}{
	{"card/:token", modelCard, actGet},
	{"card/:token/query", modelCard, actQuery},
	{"card/:token/query/:format", modelCard, actExport},
	{"pivot/card/:token/query", modelCard, actPivot},
	{"card/:token/params/:param/values", modelCard, actValues},
	{"card/:token/params/:param/search/:prefix", modelCard, actSearch},
	{"card/:token/params/:param/remapping", modelCard, actRemap},
	{"tiles/card/:token/:zoom/:x/:y", modelCard, actTile},
	{"dashboard/:token", modelDashboard, actGet},
	{"dashboard/:token/dashcard/:dashcard/card/:card", modelDashboard, actQuery},
	{"dashboard/:token/dashcard/:dashcard/card/:card/:format", modelDashboard, actExport},
	{"pivot/dashboard/:token/dashcard/:dashcard/card/:card", modelDashboard, actPivot},
	{"dashboard/:token/params/:param/values", modelDashboard, actValues},
	{"dashboard/:token/params/:param/search/:prefix", modelDashboard, actSearch},
	{"dashboard/:token/params/:param/remapping", modelDashboard, actRemap},
	{"tiles/dashboard/:token/dashcard/:dashcard/card/:card/:zoom/:x/:y", modelDashboard, actTile},
}

type embedRoute struct {
	model, action string
	vars          map[string]string // decoded path variables
}

// matchEmbed routes the escaped path below /api/embed/.
func matchEmbed(rest string) (embedRoute, bool) {
	segs := strings.Split(rest, "/")
	for _, rt := range embedRoutes {
		pat := strings.Split(rt.pattern, "/")
		if len(pat) != len(segs) {
			continue
		}
		vars, ok := map[string]string{}, true
		for i, p := range pat {
			seg := segs[i]
			switch {
			case !strings.HasPrefix(p, ":"):
				ok = seg == p
			case p == ":token":
				ok = tokenPattern.MatchString(seg)
				vars["token"] = seg
			case p == ":format":
				_, ok = exportTypes[seg]
				vars["format"] = seg
			default:
				// Plain route parameters match [^/,;?]+ and are decoded.
				dec, err := url.PathUnescape(seg)
				ok = err == nil && seg != "" && !strings.ContainsAny(seg, ",;")
				vars[p[1:]] = dec
			}
			if !ok {
				break
			}
		}
		if ok {
			return embedRoute{model: rt.model, action: rt.action, vars: vars}, true
		}
	}
	return embedRoute{}, false
}

// serveEmbedAPI answers /api/embed/*; the caller renders a returned error.
func (s *Server) serveEmbedAPI(w http.ResponseWriter, r *http.Request, rest string) error {
	rt, ok := matchEmbed(rest)
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return errNoEndpoint
	}
	// Route and query schemas are checked before the handler runs, so
	// before the token.
	if err := checkRouteVars(rt); err != nil {
		return err
	}
	q := r.URL.Query()
	formatRows := false
	switch rt.action {
	case actExport:
		var err error
		if formatRows, err = queryBool(q, "format_rows"); err != nil {
			return err
		}
		// pivot_results is validated like Metabase does; the sample cards
		// are no pivot tables, so it changes nothing.
		if _, err = queryBool(q, "pivot_results"); err != nil {
			return err
		}
	case actTile:
		if q.Get("latField") == "" || q.Get("lonField") == "" {
			return badRequest(msgInvalidQuery)
		}
	case actRemap:
		if _, ok := q["value"]; !ok {
			return badRequest(msgInvalidQuery)
		}
	}
	// One snapshot of the content serves the whole request, even if a test
	// changes the content meanwhile.
	ct := s.content()
	if rt.model == modelDashboard && (rt.action == actValues || rt.action == actSearch || rt.action == actRemap) {
		return s.dashboardParamValues(w, r, rt, ct)
	}
	t, err := s.unsignAndTranslate(rt.vars["token"], ct)
	if err != nil {
		return err
	}
	if rt.model == modelCard {
		return s.serveCard(w, r, rt, t, formatRows, ct)
	}
	return s.serveDashboard(w, r, rt, t, formatRows, ct)
}

func checkRouteVars(rt embedRoute) error {
	for _, k := range []string{"dashcard", "card"} {
		if v, ok := rt.vars[k]; ok {
			if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
				return badRequest(msgInvalidRoute)
			}
		}
	}
	for _, k := range []string{"zoom", "x", "y"} {
		if v, ok := rt.vars[k]; ok {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return badRequest(msgInvalidRoute)
			}
		}
	}
	return nil
}

// queryBool decodes an optional boolean query parameter the way Metabase's
// schema does: exactly "true" or "false", once.
func queryBool(q url.Values, key string) (bool, error) {
	vs, ok := q[key]
	if !ok {
		return false, nil
	}
	if len(vs) != 1 || (vs[0] != "true" && vs[0] != "false") {
		return false, badRequest(msgInvalidQuery)
	}
	return vs[0] == "true", nil
}

// checkEmbeddable is Metabase's check-embedding-enabled-for-object, in its
// order: the global switch first, even for an object that does not exist.
func (s *Server) checkEmbeddable(exists, archived, published bool) error {
	switch {
	case s.opts.StaticEmbeddingDisabled:
		return badRequest(msgStaticDisabled)
	case !exists:
		return badRequest(msgNotFound)
	case archived:
		return badRequest(msgObjectArchived)
	case !published:
		return badRequest(msgObjectNotPublic)
	}
	return nil
}

func (s *Server) checkCard(ct *content, id int) (*card, error) {
	c := ct.card(id)
	if err := s.checkEmbeddable(c != nil, c != nil && c.Archived, c != nil && c.EnableEmbedding); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Server) checkDashboard(ct *content, id int) (*dashboard, error) {
	d := ct.dashboard(id)
	if err := s.checkEmbeddable(d != nil, d != nil && d.Archived, d != nil && d.EnableEmbedding); err != nil {
		return nil, err
	}
	return d, nil
}

// serveCard answers the /card and /pivot/card and /tiles/card endpoints.
func (s *Server) serveCard(w http.ResponseWriter, r *http.Request, rt embedRoute, t *embedToken, formatRows bool, ct *content) error {
	id, err := requireResource(t.question, "question")
	if err != nil {
		return err
	}
	c, err := s.checkCard(ct, id)
	if err != nil {
		return err
	}
	tokenParams, err := t.c.params()
	if err != nil {
		return err
	}
	switch rt.action {
	case actGet:
		writeJSON(w, http.StatusOK, c.publicJSON(tokenParams))
		return nil
	case actValues, actSearch, actRemap:
		return c.paramValues(w, r, rt, tokenParams)
	case actTile:
		// The tile endpoints hand ?parameters= to the query without the
		// embedding_params checks; the PNG shows nothing anyway.
		writePNG(w)
		return nil
	}
	user, err := userParams(r.URL.RawQuery, "format_rows", "pivot_results")
	if err != nil {
		return err
	}
	merged, err := validateAndMerge(c.EmbeddingParams, tokenParams, normalize(user))
	if err != nil {
		return err
	}
	var filters []filter
	var applied []any
	for _, p := range c.Params {
		v, ok := merged.get(p.Slug)
		if !ok {
			continue
		}
		filters = append(filters, filter{p.Field, filterValues(v)})
		applied = append(applied, map[string]any{"type": p.Type, "target": c.paramTarget(p), "slug": p.Slug, "value": wrapValue(v)})
	}
	res := c.run(filters, rt.action == actPivot)
	if rt.action == actExport {
		writeExport(w, rt.vars["format"], c.Name, s.now(), res, formatRows)
		return nil
	}
	s.writeEmbedResult(w, res, applied)
	return nil
}

// writeEmbedResult answers an embedded query: its result, or the failure
// FailQueries asks for.
func (s *Server) writeEmbedResult(w http.ResponseWriter, res result, applied []any) {
	if et := s.failing.Load(); et != nil {
		writeFailedResult(w, *et, applied)
		return
	}
	writeAPIResult(w, res, applied)
}

// serveDashboard answers the /dashboard, /pivot/dashboard and
// /tiles/dashboard endpoints except the parameter value ones.
func (s *Server) serveDashboard(w http.ResponseWriter, r *http.Request, rt embedRoute, t *embedToken, formatRows bool, ct *content) error {
	id, err := requireResource(t.dashboard, "dashboard")
	if err != nil {
		return err
	}
	d, err := s.checkDashboard(ct, id)
	if err != nil {
		return err
	}
	tokenParams, err := t.c.params()
	if err != nil {
		return err
	}
	if rt.action == actGet {
		writeJSON(w, http.StatusOK, d.publicJSON(tokenParams, ct))
		return nil
	}
	dcID, _ := strconv.Atoi(rt.vars["dashcard"])
	cardID, _ := strconv.Atoi(rt.vars["card"])
	if rt.action == actTile {
		if _, _, err := d.dashcardCard(dcID, cardID, ct); err != nil {
			return err
		}
		writePNG(w)
		return nil
	}
	user, err := userParams(r.URL.RawQuery, "format_rows", "pivot_results")
	if err != nil {
		return err
	}
	merged, err := validateAndMerge(d.EmbeddingParams, tokenParams, normalize(user))
	if err != nil {
		return err
	}
	// Only now, inside the query processor, does Metabase check that the
	// dashcard is on the dashboard and shows that card.
	dc, c, err := d.dashcardCard(dcID, cardID, ct)
	if err != nil {
		return err
	}
	var filters []filter
	var applied []any
	for _, slug := range merged.keys {
		p := d.paramBySlug(slug)
		if p == nil {
			continue
		}
		v := merged.vals[slug]
		// A parameter filters only the dashcards wired to it (metabase#59677).
		for _, m := range dc.Mappings {
			if m.ParamID == p.ID && m.Field != "" {
				filters = append(filters, filter{m.Field, filterValues(v)})
				applied = append(applied, map[string]any{"id": p.ID, "slug": p.Slug, "type": p.Type,
					"target": dc.mappingTarget(m, c), "value": wrapValue(v)})
			}
		}
	}
	res := c.run(filters, rt.action == actPivot)
	if rt.action == actExport {
		writeExport(w, rt.vars["format"], c.Name, s.now(), res, formatRows)
		return nil
	}
	s.writeEmbedResult(w, res, applied)
	return nil
}

// dashcardCard finds dashcard dcID on d showing card cardID.
func (d *dashboard) dashcardCard(dcID, cardID int, ct *content) (*dashcard, *card, error) {
	for i := range d.Dashcards {
		dc := &d.Dashcards[i]
		if dc.ID == dcID && dc.CardID == cardID && cardID != 0 {
			return dc, ct.card(cardID), nil
		}
	}
	return nil, nil, badRequest(msgNotFound)
}

func (d *dashboard) paramBySlug(slug string) *param {
	for i := range d.Params {
		if d.Params[i].Slug == slug {
			return &d.Params[i]
		}
	}
	return nil
}

func (d *dashboard) paramByID(id string) *param {
	for i := range d.Params {
		if d.Params[i].ID == id {
			return &d.Params[i]
		}
	}
	return nil
}

// wrapValue is the value as the query sees it: single values of a
// string/= parameter become a list.
func wrapValue(v any) any {
	if v == nil {
		return nil
	}
	return filterValues(v)
}

// prStr renders a slug as Clojure's pr-str does in the parameter-values
// messages: quoted, or nil when the parameter id is unknown.
func prStr(slug string, ok bool) string {
	if !ok {
		return "nil"
	}
	return strconv.Quote(slug)
}

// paramValues answers the card's params/{id}/values|search|remapping. No
// chain-filter constraint applies to a card: the values come from every
// row, every tenant.
func (c *card) paramValues(w http.ResponseWriter, r *http.Request, rt embedRoute, tokenParams *omap) error {
	var p *param
	for i := range c.Params {
		if c.Params[i].ID == rt.vars["param"] {
			p = &c.Params[i]
		}
	}
	slug := ""
	if p != nil {
		slug = p.Slug
	}
	if st, _ := embeddingStatus(c.EmbeddingParams, slug); p == nil || st != statusEnabled {
		if rt.action == actRemap {
			return badRequest(fmt.Sprintf("Cannot get remapped value for parameter: %s is not an enabled parameter.", prStr(slug, p != nil)))
		}
		return badRequest(fmt.Sprintf("Cannot search for values: %s is not an enabled parameter.", prStr(slug, p != nil)))
	}
	if v, _ := tokenParams.get(slug); truthy(v) {
		return badRequest(fmt.Sprintf("You can't specify a value for %s if it's already set in the JWT.", prStr(slug, true)))
	}
	if rt.action == actRemap {
		writeJSON(w, http.StatusOK, []any{percentDecode(r.URL.Query().Get("value"))})
		return nil
	}
	writeValues(w, distinctValues(p.Field, nil, rt.vars["prefix"]))
	return nil
}

// dashboardParamValues answers the dashboard's params/{id}/values|search|
// remapping. These read the token without translating resource.question,
// and key the other parameters of the query string by parameter id.
func (s *Server) dashboardParamValues(w http.ResponseWriter, r *http.Request, rt embedRoute, ct *content) error {
	remap := rt.action == actRemap
	value := percentDecode(r.URL.Query().Get("value"))
	c, err := s.unsign(rt.vars["token"])
	if err != nil {
		return err
	}
	raw := c.resource("dashboard")
	if !truthy(raw) {
		return badRequest("Token is missing value for keypath [:resource :dashboard]")
	}
	id, err := toID(modelDashboard, raw, ct)
	if err != nil {
		return err
	}
	d, err := s.checkDashboard(ct, id)
	if err != nil {
		return err
	}
	tokenParams, err := c.params()
	if err != nil {
		return err
	}
	searched := d.paramByID(rt.vars["param"])
	slug := ""
	if searched != nil {
		slug = searched.Slug
	}
	if st, _ := embeddingStatus(d.EmbeddingParams, slug); searched == nil || st != statusEnabled {
		if remap {
			return badRequest(fmt.Sprintf("Cannot get remapped value for parameter: %s is not an enabled parameter.", prStr(slug, searched != nil)))
		}
		return badRequest(fmt.Sprintf("Cannot search for values: %s is not an enabled parameter.", prStr(slug, searched != nil)))
	}
	if v, _ := tokenParams.get(slug); truthy(v) {
		return badRequest(fmt.Sprintf("You can't specify a value for %s if it's already set in the JWT.", prStr(slug, true)))
	}
	bySlug := newOmap()
	if !remap {
		byID, err := userParams(r.URL.RawQuery)
		if err != nil {
			return err
		}
		for _, k := range byID.keys {
			p := d.paramByID(k)
			if p == nil {
				return badRequest(fmt.Sprintf("Invalid query params: could not determine slug for parameter with ID %s", keyword(k)))
			}
			bySlug.set(p.Slug, byID.vals[k])
		}
	}
	merged, err := validateAndMerge(d.EmbeddingParams, tokenParams, normalize(bySlug))
	if err != nil {
		return err
	}
	if remap {
		// Remapping is constrained by the locked values, but a field
		// without a display remapping answers the value itself.
		writeJSON(w, http.StatusOK, []any{value})
		return nil
	}
	// The merged values (token ones included) are chain-filter
	// constraints on the fields wired to their parameters, so a locked
	// tenant narrows the list; a card-sourced list ignores constraints.
	var constraints []filter
	if searched.ValuesFromCard == 0 {
		for _, slug := range merged.keys {
			v := merged.vals[slug]
			if !truthy(v) {
				continue
			}
			for _, f := range d.paramFields(d.paramBySlug(slug)) {
				constraints = append(constraints, filter{f, filterValues(v)})
			}
		}
	}
	writeValues(w, distinctValues(searched.Field, constraints, rt.vars["prefix"]))
	return nil
}

// paramFields lists the columns p is wired to on d's cards.
func (d *dashboard) paramFields(p *param) []string {
	var out []string
	if p == nil {
		return nil
	}
	for _, dc := range d.Dashcards {
		for _, m := range dc.Mappings {
			if m.ParamID == p.ID && m.Field != "" && !slices.Contains(out, m.Field) {
				out = append(out, m.Field)
			}
		}
	}
	return out
}

// distinctValues lists, sorted, the values of column over the rows that
// meet constraints, keeping those containing search (case-insensitive).
func distinctValues(column string, constraints []filter, search string) []string {
	var out []string
	for _, o := range orders {
		if !matches(o, constraints) {
			continue
		}
		v := cellText(o.value(column), false)
		if search != "" && !strings.Contains(strings.ToLower(v), strings.ToLower(search)) {
			continue
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

func writeValues(w http.ResponseWriter, values []string) {
	list := make([][]string, len(values))
	for i, v := range values {
		list[i] = []string{v}
	}
	writeJSON(w, http.StatusOK, map[string]any{"values": list, "has_more_values": false})
}

// percentDecode is ring's url-decode, which the remapping endpoints apply
// to a value the query string already decoded: valid %XX sequences are
// decoded, anything else is kept.
func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(n))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic("metabasetest: " + err.Error())
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// paramTarget is where a card parameter points: its template tag.
func (c *card) paramTarget(p param) any {
	return []any{"dimension", []any{"template-tag", p.Slug}}
}

// mappingTarget is a parameter mapping's target as Metabase stores it.
func (dc *dashcard) mappingTarget(m mapping, c *card) any {
	if m.TextTag != "" {
		return []any{"text-tag", m.TextTag}
	}
	if c.Native {
		for _, p := range c.Params {
			if p.Field == m.Field {
				return c.paramTarget(p)
			}
		}
	}
	f := fieldByName(m.Field)
	return []any{"dimension", []any{"field", f.ID, map[string]any{"base-type": f.BaseType}}}
}

// datasetQuery is the card's query reduced to what embeds may see: its type
// and, for a native query, its template tags.
func (c *card) datasetQuery() map[string]any {
	if !c.Native {
		return map[string]any{"type": "query"}
	}
	tags := newOmap()
	for _, p := range c.Params {
		f := fieldByName(p.Field)
		tags.set(p.Slug, map[string]any{"id": p.ID, "name": p.Slug, "display-name": p.Name, "type": "dimension",
			"dimension": []any{"field", f.ID, nil}, "widget-type": p.Type})
	}
	return map[string]any{"type": "native", "native": map[string]any{"template-tags": tags}}
}

func (c *card) paramJSON(p param) map[string]any {
	return map[string]any{"id": p.ID, "type": p.Type, "target": c.paramTarget(p), "name": p.Name, "slug": p.Slug}
}

// reducedJSON is the card as the public and embed endpoints show it inside a
// dashcard: its own parameters untouched.
func (c *card) reducedJSON() map[string]any {
	params := []any{}
	for _, p := range c.Params {
		params = append(params, c.paramJSON(p))
	}
	return map[string]any{"id": c.ID, "name": c.Name, "description": c.Description, "display": c.Display,
		"visualization_settings": map[string]any{}, "parameters": params, "entity_id": c.EntityID,
		"dataset_query": c.datasetQuery()}
}

func fieldJSON(f field) map[string]any {
	return map[string]any{"id": f.ID, "table_id": tableID, "name": f.Name, "display_name": f.Display,
		"base_type": f.BaseType, "semantic_type": f.SemanticType, "has_field_values": "list",
		"name_field": nil, "dimensions": []any{}}
}

// visible reports whether a parameter stays in an embed's parameters: it is
// "enabled" and the token does not set it.
func visible(eps []embeddingParam, tokenParams *omap, slug string) bool {
	st, _ := embeddingStatus(eps, slug)
	return st == statusEnabled && !tokenParams.has(slug)
}

// publicJSON is GET /api/embed/card/{token}. Its param_values and
// param_fields cover every template-tag field, whatever embedding_params
// say: card-for-unsigned-token removes token, locked and disabled
// parameters from parameters only. The values are read with admin rights,
// every tenant's (contract §8).
func (c *card) publicJSON(tokenParams *omap) map[string]any {
	out := c.reducedJSON()
	params := []any{}
	var fieldIDs []int
	for _, p := range c.Params {
		fieldIDs = append(fieldIDs, fieldByName(p.Field).ID)
		if visible(c.EmbeddingParams, tokenParams, p.Slug) {
			params = append(params, c.paramJSON(p))
		}
	}
	out["parameters"] = params
	out["param_fields"] = paramFieldsJSON(fieldIDs)
	out["param_values"] = paramValuesJSON(fieldIDs)
	return out
}

// paramFieldsJSON is param_fields: field id -> the field's public columns;
// null for no field, as Metabase's hydration gives.
func paramFieldsJSON(ids []int) any {
	if len(ids) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, id := range ids {
		out[strconv.Itoa(id)] = fieldJSON(fieldByID(id))
	}
	return out
}

// paramValuesJSON is param_values: field id -> the field's cached
// FieldValues (field_id, values as [[v] ...], human_readable_values), over
// every row of the table, every tenant's; null for no field.
func paramValuesJSON(ids []int) any {
	if len(ids) == 0 {
		return nil
	}
	out := map[string]any{}
	for _, id := range ids {
		f := fieldByID(id)
		vals := distinctValues(f.Name, nil, "")
		list := make([][]string, len(vals))
		for i, v := range vals {
			list[i] = []string{v}
		}
		out[strconv.Itoa(id)] = map[string]any{"field_id": id, "values": list, "human_readable_values": []any{}}
	}
	return out
}

// publicJSON is GET /api/embed/dashboard/{token}: token values substituted
// into the text cards wired to them, then the mappings and parameters the
// viewer may not set removed.
func (d *dashboard) publicJSON(tokenParams *omap, ct *content) map[string]any {
	params := []any{}
	fieldIDs := d.valueFieldIDs(ct)
	for _, p := range d.Params {
		if !visible(d.EmbeddingParams, tokenParams, p.Slug) {
			continue
		}
		pj := map[string]any{"id": p.ID, "name": p.Name, "slug": p.Slug, "type": p.Type, "sectionId": "string"}
		if p.ValuesFromCard != 0 {
			pj["values_source_type"] = "card"
			pj["values_source_config"] = map[string]any{"card_id": p.ValuesFromCard,
				"value_field": []any{"field", p.Field, map[string]any{"base-type": "type/Text"}}}
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
		text := dc.Text
		for _, m := range dc.Mappings {
			p := d.paramByID(m.ParamID)
			if m.TextTag != "" {
				if v, _ := tokenParams.get(p.Slug); truthy(v) {
					if s, ok := textValue(v); ok {
						text = strings.ReplaceAll(text, "{{"+m.TextTag+"}}", s)
					}
				}
			}
			if st, _ := embeddingStatus(d.EmbeddingParams, p.Slug); st != statusEnabled {
				continue
			}
			var cardID any
			if c != nil {
				cardID = c.ID
			}
			mappings = append(mappings, map[string]any{"parameter_id": m.ParamID, "card_id": cardID, "target": dc.mappingTarget(m, c)})
		}
		j := map[string]any{"id": dc.ID, "dashboard_id": d.ID, "series": []any{}, "col": dc.Col, "row": dc.Row,
			"size_x": dc.SizeX, "size_y": dc.SizeY, "dashboard_tab_id": nil, "parameter_mappings": mappings,
			"card_id": nil, "card": nil, "visualization_settings": map[string]any{}}
		if c != nil {
			j["card_id"] = c.ID
			j["card"] = c.reducedJSON()
		} else {
			j["visualization_settings"] = map[string]any{"text": text, "virtual_card": map[string]any{
				"name": nil, "display": "text", "visualization_settings": map[string]any{}, "dataset_query": map[string]any{}, "archived": false}}
		}
		dashcards = append(dashcards, j)
	}
	return map[string]any{"id": d.ID, "name": d.Name, "description": d.Description, "parameters": params,
		"auto_apply_filters": true, "width": "fixed", "tabs": []any{}, "param_fields": paramFieldsJSON(fieldIDs),
		"param_values": paramValuesJSON(fieldIDs), "dashcards": dashcards}
}

// valueFieldIDs are the fields whose values and metadata the dashboard JSON
// carries, as public-dashboard and remove-locked-parameters compute them:
// every field a dashcard's parameter mapping targets and every template-tag
// field of its native cards, less the fields wired only to parameters
// other than "enabled" ones (locked, disabled or unlisted). A parameter the
// token sets stays: its values ship too.
func (d *dashboard) valueFieldIDs(ct *content) []int {
	var all, kept, removed []int
	for _, dc := range d.Dashcards {
		if c := ct.card(dc.CardID); c != nil && c.Native {
			for _, p := range c.Params {
				all = appendNew(all, fieldByName(p.Field).ID)
			}
		}
		for _, m := range dc.Mappings {
			if m.Field == "" {
				continue
			}
			id := fieldByName(m.Field).ID
			all = appendNew(all, id)
			p := d.paramByID(m.ParamID)
			if st, _ := embeddingStatus(d.EmbeddingParams, p.Slug); st == statusEnabled {
				kept = appendNew(kept, id)
			} else {
				removed = appendNew(removed, id)
			}
		}
	}
	var out []int
	for _, id := range all {
		if !slices.Contains(removed, id) || slices.Contains(kept, id) {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

func appendNew(ids []int, id int) []int {
	if slices.Contains(ids, id) {
		return ids
	}
	return append(ids, id)
}

// textValue formats a token value for a text card: "a", "a and b",
// "a, b, and c".
func textValue(v any) (string, bool) {
	list := filterValues(v)
	parts := make([]string, 0, len(list))
	for _, x := range list {
		switch y := x.(type) {
		case string:
			parts = append(parts, y)
		case json.Number:
			parts = append(parts, y.String())
		default:
			parts = append(parts, fmt.Sprint(y))
		}
	}
	switch len(parts) {
	case 0:
		return "", false
	case 1:
		return parts[0], true
	case 2:
		return parts[0] + " and " + parts[1], true
	}
	return strings.Join(parts[:len(parts)-1], ", ") + ", and " + parts[len(parts)-1], true
}

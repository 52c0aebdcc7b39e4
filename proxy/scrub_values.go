package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Issue 12, class 2, and contract §8: Metabase's embed JSON (GET
// /api/embed/dashboard/{token} and /api/embed/card/{token}) carries
// param_values, the cached values of the filters' fields, read with admin
// rights over the whole table: every tenant's product and customer names,
// in every tenant's browser. Metabase drops only the fields of locked and
// disabled dashboard filters, and none of a card's. The gate drops every
// field's values except those of parameters whose listing the policy turned
// on (value_listings), which is the operator's choice to list every
// tenant's values for that filter.

// dropParamValues rewrites a 200 embed JSON without the values the policy
// does not list. A body that is not a JSON object, or that the gate cannot
// decode, is refused.
func (g *Gate) dropParamValues(resp *http.Response, s *scope) error {
	b, err := readWhole(resp, "embed JSON")
	if err != nil {
		return err
	}
	res := s.resource
	out, err := filterParamValues(b, func(id string) bool { return g.policy.ListsValues(res, id) })
	if err != nil {
		return err
	}
	if err := g.checkBody(out, s); err != nil {
		return err
	}
	setBody(resp, out)
	return nil
}

// filterParamValues keeps in b's param_values only the fields of
// parameters listed says may be listed; fields it cannot attribute to a
// listed parameter are dropped. Values anywhere else (a param_values
// nested in the document, values hydrated into param_fields, as other
// Metabase versions may send) are dropped whatever the policy. The
// document is rebuilt from what was parsed.
func filterParamValues(b []byte, listed func(paramID string) bool) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers go out as they came in
	var top map[string]any
	if err := dec.Decode(&top); err != nil || top == nil {
		return nil, errors.New("embed JSON is not a JSON object; refusing to pass it")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("embed JSON has something after its object; refusing to pass it")
	}
	raw, had := top["param_values"]
	delete(top, "param_values")
	stripValues(top, false)
	if had {
		kept := map[string]any{}
		if values, ok := raw.(map[string]any); ok && len(values) > 0 {
			keep := listedFields(b, listed)
			for k, v := range values {
				if id, err := strconv.Atoi(k); err == nil && strconv.Itoa(id) == k && keep[id] && valueOfField(v, id) {
					kept[k] = v
				}
			}
		}
		top["param_values"] = nil // Metabase's own "none"
		if len(kept) > 0 {
			top["param_values"] = kept
		}
	}
	out, err := json.Marshal(top)
	if err != nil {
		return nil, fmt.Errorf("re-encoding the embed JSON: %w", err)
	}
	return out, nil
}

// stripValues deletes every param_values below the top, and the values of
// fields under param_fields.
func stripValues(v any, inFields bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			if k == "param_values" || (inFields && (k == "values" || k == "human_readable_values")) {
				delete(x, k)
				continue
			}
			stripValues(c, inFields || k == "param_fields")
		}
	case []any:
		for _, c := range x {
			stripValues(c, inFields)
		}
	}
}

// valueOfField reports whether a param_values entry is an object whose
// field_id, when present, is id.
func valueOfField(v any, id int) bool {
	fv, ok := v.(map[string]any)
	if !ok {
		return false
	}
	f, present := fv["field_id"]
	if !present {
		return true
	}
	n, ok := f.(json.Number)
	return ok && n.String() == strconv.Itoa(id)
}

// embedInfo is what listedFields reads of the embed JSON to attribute
// fields to parameters.
type embedInfo struct {
	Parameters []struct {
		ID     string          `json:"id"`
		Target json.RawMessage `json:"target"`
	} `json:"parameters"`
	DatasetQuery *datasetQuery `json:"dataset_query"`
	Dashcards    []struct {
		Mappings []struct {
			ParamID string          `json:"parameter_id"`
			Target  json.RawMessage `json:"target"`
		} `json:"parameter_mappings"`
		Card *struct {
			DatasetQuery *datasetQuery `json:"dataset_query"`
		} `json:"card"`
	} `json:"dashcards"`
	ParamFields map[string]json.RawMessage `json:"param_fields"`
}

type datasetQuery struct {
	Native *struct {
		Tags map[string]templateTag `json:"template-tags"`
	} `json:"native"`
}

type templateTag struct {
	ID        string          `json:"id"`
	Dimension json.RawMessage `json:"dimension"`
}

func (q *datasetQuery) tags() map[string]templateTag {
	if q == nil || q.Native == nil {
		return nil
	}
	return q.Native.Tags
}

// listedFields is the set of field ids wired to a listed parameter: through
// a dashcard's parameter mapping (to a field, or to a native card's
// template tag), a card's template tag, or a param_fields entry keyed by
// parameter id (newer Metabase). Anything it cannot read attributes
// nothing.
func listedFields(b []byte, listed func(string) bool) map[int]bool {
	var info embedInfo
	if json.Unmarshal(b, &info) != nil {
		return nil
	}
	keep := map[int]bool{}
	add := func(id int, ok bool) {
		if ok {
			keep[id] = true
		}
	}
	for _, dc := range info.Dashcards {
		var tags map[string]templateTag
		if dc.Card != nil {
			tags = dc.Card.DatasetQuery.tags()
		}
		for _, m := range dc.Mappings {
			if listed(m.ParamID) {
				add(targetField(m.Target, tags))
			}
		}
	}
	tags := info.DatasetQuery.tags()
	for _, t := range tags {
		if t.ID != "" && listed(t.ID) {
			add(fieldClause(t.Dimension))
		}
	}
	for _, p := range info.Parameters {
		if listed(p.ID) {
			add(targetField(p.Target, tags))
		}
	}
	for pid, fs := range info.ParamFields {
		var list []struct {
			ID *int `json:"id"`
		}
		if !listed(pid) || json.Unmarshal(fs, &list) != nil {
			continue
		}
		for _, f := range list {
			if f.ID != nil {
				keep[*f.ID] = true
			}
		}
	}
	return keep
}

// targetField reads a parameter target: ["dimension", ["field", id, ...]]
// or ["dimension", ["template-tag", name]] through the card's tags.
func targetField(target json.RawMessage, tags map[string]templateTag) (int, bool) {
	var t []json.RawMessage
	if json.Unmarshal(target, &t) != nil || len(t) < 2 || string(t[0]) != `"dimension"` {
		return 0, false
	}
	var clause []json.RawMessage
	if json.Unmarshal(t[1], &clause) != nil || len(clause) < 2 {
		return 0, false
	}
	if string(clause[0]) == `"template-tag"` {
		var name string
		if json.Unmarshal(clause[1], &name) != nil {
			return 0, false
		}
		tag, ok := tags[name]
		if !ok {
			return 0, false
		}
		return fieldClause(tag.Dimension)
	}
	return fieldClause(t[1])
}

// fieldClause reads ["field", id, ...] with an integer id.
func fieldClause(raw json.RawMessage) (int, bool) {
	var c []json.RawMessage
	if json.Unmarshal(raw, &c) != nil || len(c) < 2 || string(c[0]) != `"field"` {
		return 0, false
	}
	var id int
	if json.Unmarshal(c[1], &id) != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

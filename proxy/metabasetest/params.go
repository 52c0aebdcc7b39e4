package metabasetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode"
)

// omap is a JSON object that keeps its keys in order: Metabase walks small
// Clojure maps in insertion order, and that order decides which of several
// bad parameters it reports.
type omap struct {
	keys []string
	vals map[string]any
}

func newOmap() *omap { return &omap{vals: map[string]any{}} }

func (m *omap) set(k string, v any) {
	if _, ok := m.vals[k]; !ok {
		m.keys = append(m.keys, k)
	}
	m.vals[k] = v
}

func (m *omap) get(k string) (any, bool) {
	if m == nil {
		return nil, false
	}
	v, ok := m.vals[k]
	return v, ok
}

func (m *omap) has(k string) bool { _, ok := m.get(k); return ok }

// MarshalJSON keeps the key order.
func (m *omap) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// decodeOrdered decodes data when it is a JSON object (trailing text
// ignored, as cheshire does). Values are decoded with json.Number.
func decodeOrdered(data []byte) (*omap, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, false
	}
	m := newOmap()
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, false
		}
		k, _ := kt.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		m.set(k, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	return m, true
}

// userParams is Metabase's parse-query-params: the JSON object in
// ?parameters= when there is one, else every query-string key as a slug
// (so ?parameters=garbage becomes a parameter named "parameters"). skip
// names keys the endpoint consumes itself (format_rows, pivot_results...).
func userParams(rawQuery string, skip ...string) (*omap, error) {
	q := queryParams(rawQuery)
	var m *omap
	if raw, ok := q.get("parameters"); ok {
		if s, isString := raw.(string); isString {
			if om, isObject := decodeOrdered([]byte(s)); isObject {
				m = om
			} else {
				var v any
				if decodeFirst([]byte(s), &v) == nil && truthy(v) {
					// Clojure reads an empty vector as an empty map; other
					// arrays, strings and numbers fail as a map.
					if list, isList := v.([]any); !isList || len(list) > 0 {
						return nil, badRequest(msgInvalidQuery)
					}
					m = newOmap()
				}
			}
		}
	}
	if m == nil {
		m = q
	}
	out := newOmap()
	for _, k := range m.keys {
		skipped := false
		for _, s := range skip {
			skipped = skipped || k == s
		}
		if !skipped {
			out.set(k, m.vals[k])
		}
	}
	return out, nil
}

// queryParams parses a query string the way ring does: one value as a
// string, a repeated key as a list, keys in order of appearance.
func queryParams(rawQuery string) *omap {
	values, _ := url.ParseQuery(rawQuery)
	m := newOmap()
	for _, part := range strings.FieldsFunc(rawQuery, func(r rune) bool { return r == '&' }) {
		k, _, _ := strings.Cut(part, "=")
		key, err := url.QueryUnescape(k)
		if err != nil || m.has(key) {
			continue
		}
		vs, ok := values[key]
		if !ok {
			continue
		}
		if len(vs) == 1 {
			m.set(key, vs[0])
			continue
		}
		list := make([]any, len(vs))
		for i, v := range vs {
			list[i] = v
		}
		m.set(key, list)
	}
	return m
}

// normalize turns "" values into null, as Metabase's normalize-query-params
// does to URL parameters (not to token parameters).
func normalize(m *omap) *omap {
	out := newOmap()
	for _, k := range m.keys {
		v := m.vals[k]
		if v == "" {
			v = nil
		}
		out.set(k, v)
	}
	return out
}

// nonBlank drops blank-string values (whitespace counts as blank), which
// Metabase ignores when it checks parameters.
func nonBlank(m *omap) *omap {
	out := newOmap()
	for _, k := range m.keys {
		v := m.vals[k]
		if s, ok := v.(string); ok && strings.TrimFunc(s, unicode.IsSpace) == "" {
			continue
		}
		out.set(k, v)
	}
	return out
}

// keyword renders a slug as Metabase's messages do, as a Clojure keyword.
func keyword(slug string) string { return ":" + slug }

// validateAndMerge applies embedding_params to the token's and the URL's
// parameters (Metabase's validate-and-merge-params) and returns the merged
// slug→value map, token values winning. Holes kept on purpose, since the
// gate must defend against them: a locked slug set to [] passes and then
// filters nothing; an enabled slug may come from the URL.
func validateAndMerge(eps []embeddingParam, token, user *omap) (*omap, error) {
	t, u := nonBlank(token), nonBlank(user)
	all := newOmap()
	for _, m := range []*omap{t, u} {
		for _, k := range m.keys {
			all.set(k, m.vals[k])
		}
	}
	for _, ep := range eps {
		slug := ep.Slug
		switch ep.Status {
		case statusDisabled:
			if all.has(slug) {
				return nil, badRequest(fmt.Sprintf("You're not allowed to specify a value for %s.", keyword(slug)))
			}
		case statusEnabled:
			if t.has(slug) && u.has(slug) {
				return nil, badRequest(fmt.Sprintf("You can't specify a value for %s if it's already set in the JWT.", keyword(slug)))
			}
		case statusLocked:
			if v, _ := t.get(slug); v == nil {
				return nil, badRequest(fmt.Sprintf("You must specify a value for %s in the JWT.", keyword(slug)))
			}
			if u.has(slug) {
				return nil, badRequest(fmt.Sprintf("You can only specify a value for %s in the JWT.", keyword(slug)))
			}
		default:
			return nil, badRequest("No matching clause: " + ep.Status)
		}
	}
	for _, k := range all.keys {
		if _, ok := embeddingStatus(eps, k); !ok {
			return nil, badRequest(fmt.Sprintf("Unknown parameter %s.", keyword(k)))
		}
	}
	merged := newOmap()
	for _, m := range []*omap{user, token} {
		for _, k := range m.keys {
			merged.set(k, emptyToNil(m.vals[k]))
		}
	}
	return merged, nil
}

// emptyToNil is the last step of the merge: an empty list or map becomes
// null, which is why a locked [] switches the filter off.
func emptyToNil(v any) any {
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			return nil
		}
	case *omap:
		if len(x.keys) == 0 {
			return nil
		}
	case map[string]any:
		if len(x) == 0 {
			return nil
		}
	}
	return v
}

// filterValues is the list a string/= parameter filters on: a lone value
// is wrapped, null filters nothing.
func filterValues(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

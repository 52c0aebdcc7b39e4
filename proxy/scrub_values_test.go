package proxy

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// A dashboard JSON in Metabase's shape: p_status is wired to field 105
// through a field target, p_tag to 106 through a native card's template
// tag, p_org to 102; param_values holds all three.
const sampleDashboardJSON = `{"id":1,"parameters":[{"id":"p_status","slug":"status"}],
"dashcards":[{"card":{"dataset_query":{"native":{"template-tags":{"region":{"id":"c_region","dimension":["field",106,null]}}}}},
 "parameter_mappings":[{"parameter_id":"p_status","target":["dimension",["field",105,{"base-type":"type/Text"}]]},
  {"parameter_id":"p_tag","target":["dimension",["template-tag","region"]]},
  {"parameter_id":"p_org","target":["dimension",["field",102,null]]}]}],
"param_fields":{"105":{"id":105,"values":[["x"]]}},
"param_values":{"102":{"field_id":102,"values":[["acme"],["globex"]]},"105":{"field_id":105,"values":[["paid"]]},"106":{"field_id":106,"values":[["eu"]]}}}`

// A card JSON: its template tags carry the parameter ids.
const sampleCardJSON = `{"id":1,"parameters":[{"id":"c_status","target":["dimension",["template-tag","status"]]}],
"dataset_query":{"type":"native","native":{"template-tags":{"status":{"id":"c_status","dimension":["field",105,null]},"org":{"id":"c_org","dimension":["field",102,null]}}}},
"param_values":{"102":{"field_id":102,"values":[["globex"]]},"105":{"field_id":105,"values":[["paid"]]}}}`

func listing(ids ...string) func(string) bool {
	return func(id string) bool { return slices.Contains(ids, id) }
}

func paramValueKeys(t *testing.T, b []byte) []string {
	t.Helper()
	var m struct {
		ParamValues map[string]json.RawMessage `json:"param_values"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("output is not JSON: %v: %s", err, b)
	}
	var keys []string
	for k := range m.ParamValues {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestFilterParamValues: only fields wired to a listed parameter keep
// their values, however the wiring is written; anything unattributable,
// nested or hydrated elsewhere goes.
func TestFilterParamValues(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		listed []string
		want   []string
	}{
		{"dashboard, nothing listed", sampleDashboardJSON, nil, nil},
		{"dashboard, field target", sampleDashboardJSON, []string{"p_status"}, []string{"105"}},
		{"dashboard, template-tag target", sampleDashboardJSON, []string{"p_tag"}, []string{"106"}},
		{"dashboard, a card's tag id is not a dashboard parameter", sampleDashboardJSON, []string{"c_region"}, nil},
		{"dashboard, two listed", sampleDashboardJSON, []string{"p_status", "p_org"}, []string{"102", "105"}},
		{"card, template tag", sampleCardJSON, []string{"c_status"}, []string{"105"}},
		{"card, nothing listed", sampleCardJSON, nil, nil},
		{"newer shape: param_fields keyed by parameter", `{"param_fields":{"p_status":[{"id":105}]},"param_values":{"105":{"values":[["a"]]},"102":{}}}`, []string{"p_status"}, []string{"105"}},
		{"field_id that is not its key", `{"param_fields":{"p":[{"id":105}]},"param_values":{"105":{"field_id":102,"values":[]}}}`, []string{"p"}, nil},
		{"not an object entry", `{"param_fields":{"p":[{"id":105}]},"param_values":{"105":[["a"]]}}`, []string{"p"}, nil},
		{"no param_values", `{"id":1}`, []string{"p"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := filterParamValues([]byte(tt.body), listing(tt.listed...))
			if err != nil {
				t.Fatal(err)
			}
			if got := paramValueKeys(t, out); !slices.Equal(got, tt.want) {
				t.Errorf("param_values fields = %v, want %v: %s", got, tt.want, out)
			}
			if bytes.Contains(out, []byte(`"values":[["x"]]`)) {
				t.Errorf("values hydrated into param_fields passed: %s", out)
			}
		})
	}
	nested := `{"dashcards":[{"card":{"param_values":{"102":{"values":[["globex"]]}}}}],"param_values":null}`
	out, err := filterParamValues([]byte(nested), listing("p"))
	if err != nil || strings.Contains(string(out), "globex") {
		t.Errorf("nested param_values: %s %v", out, err)
	}
	for _, bad := range []string{`[]`, `null`, `{"a":1}}`, `{"a":1} {}`, `{`, ``} {
		if _, err := filterParamValues([]byte(bad), listing()); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzFilterParamValues: whatever the embed JSON, an accepted one comes
// out as one JSON object whose param_values hold only fields wired to a
// listed parameter, with no param_values nested anywhere, and filtering it
// again changes nothing.
func FuzzFilterParamValues(f *testing.F) {
	f.Add([]byte(sampleDashboardJSON), "p_status")
	f.Add([]byte(sampleCardJSON), "c_status")
	f.Add([]byte(`{"param_values":{"1":{}},"x":{"param_values":1}}`), "")
	f.Fuzz(func(t *testing.T, body []byte, id string) {
		listed := listing(id)
		out, err := filterParamValues(body, listed)
		if err != nil {
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("output is not a JSON object: %v: %s", err, out)
		}
		allowed := listedFields(body, listed)
		if pv, ok := doc["param_values"].(map[string]any); ok {
			for k := range pv {
				n, err := strconv.Atoi(k)
				if err != nil || !allowed[n] {
					t.Fatalf("field %s kept, listed fields %v: %s", k, allowed, out)
				}
			}
		}
		delete(doc, "param_values")
		rest, _ := json.Marshal(doc)
		if bytes.Contains(rest, []byte(`"param_values"`)) {
			t.Fatalf("nested param_values left: %s", out)
		}
		again, err := filterParamValues(out, listed)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("filtering again: %v\n%s\n%s", err, out, again)
		}
	})
}

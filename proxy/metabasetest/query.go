package metabasetest

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// filter keeps the rows whose field is one of values; no values, no filter.
type filter struct {
	field  string
	values []any
}

// result is what a card's query returns.
type result struct {
	cols []map[string]any
	rows [][]any
}

func matches(o Order, filters []filter) bool {
	for _, f := range filters {
		if len(f.values) == 0 {
			continue
		}
		cell := o.value(f.field)
		if !slices.ContainsFunc(f.values, func(v any) bool { return cellEquals(cell, v) }) {
			return false
		}
	}
	return true
}

// cellEquals compares like SQL equality on a typed column: a number never
// equals a text value and the other way round.
func cellEquals(cell, v any) bool {
	switch c := cell.(type) {
	case string:
		s, ok := v.(string)
		return ok && s == c
	case int:
		n, ok := v.(json.Number)
		i, err := n.Int64()
		return ok && err == nil && int(i) == c
	case float64:
		n, ok := v.(json.Number)
		f, err := n.Float64()
		return ok && err == nil && f == c
	}
	return false
}

// run executes c over the orders matching filters. pivot adds Metabase's
// pivot-grouping column.
func (c *card) run(filters []filter, pivot bool) result {
	var rows []Order
	for _, o := range orders {
		if matches(o, filters) {
			rows = append(rows, o)
		}
	}
	var res result
	switch c.Kind {
	case kindRows:
		for _, f := range fields {
			res.cols = append(res.cols, c.fieldCol(f))
		}
		for _, o := range rows {
			row := make([]any, len(fields))
			for i, f := range fields {
				row[i] = o.value(f.Name)
			}
			res.rows = append(res.rows, row)
		}
	case kindByStatus:
		res.cols = []map[string]any{c.fieldCol(fieldByName("status")), countCol(), {
			"name": "sum", "display_name": "Sum of Total", "base_type": "type/Float", "effective_type": "type/Float",
			"semantic_type": nil, "field_ref": []any{"aggregation", 1}, "source": "aggregation",
		}}
		type agg struct {
			count int
			sum   float64
		}
		by := map[string]*agg{}
		var statuses []string
		for _, o := range rows {
			a, ok := by[o.Status]
			if !ok {
				a = &agg{}
				by[o.Status] = a
				statuses = append(statuses, o.Status)
			}
			a.count++
			a.sum += o.Total
		}
		slices.Sort(statuses)
		for _, s := range statuses {
			res.rows = append(res.rows, []any{s, by[s].count, math.Round(by[s].sum*100) / 100})
		}
	case kindCount:
		res.cols = []map[string]any{countCol()}
		res.rows = [][]any{{len(rows)}}
	}
	if pivot {
		res.cols = append(res.cols, map[string]any{
			"name": "pivot-grouping", "display_name": "pivot-grouping", "base_type": "type/Integer",
			"effective_type": "type/Integer", "field_ref": []any{"expression", "pivot-grouping"}, "source": "breakout",
		})
		for i := range res.rows {
			res.rows[i] = append(res.rows[i], 0)
		}
	}
	return res
}

// fieldCol is a result column as Metabase describes it: by name for a
// native query, by field id for an MBQL one.
func (c *card) fieldCol(f field) map[string]any {
	if c.Native {
		return map[string]any{
			"name": f.Name, "display_name": f.Display, "base_type": f.BaseType, "effective_type": f.BaseType,
			"field_ref": []any{"field", f.Name, map[string]any{"base-type": f.BaseType}}, "source": "native",
		}
	}
	return map[string]any{
		"id": f.ID, "table_id": tableID, "name": f.Name, "display_name": f.Display, "base_type": f.BaseType,
		"effective_type": f.BaseType, "semantic_type": f.SemanticType, "field_ref": []any{"field", f.ID, nil},
		"source": "breakout",
	}
}

func countCol() map[string]any {
	return map[string]any{
		"name": "count", "display_name": "Count", "base_type": "type/BigInteger", "effective_type": "type/BigInteger",
		"semantic_type": "type/Quantity", "field_ref": []any{"aggregation", 0}, "source": "aggregation",
	}
}

// writeAPIResult streams a result the way Metabase's api writer does: 202
// at once, rows first, flushed as they go, then the metadata, reduced to
// the keys public and embedded endpoints keep.
func writeAPIResult(w http.ResponseWriter, res result, applied []any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	flush(w)
	io.WriteString(w, `{"data":{"rows":[`)
	for i, row := range res.rows {
		if i > 0 {
			io.WriteString(w, ",")
		}
		b, _ := json.Marshal(row)
		w.Write(b)
		if i%8 == 7 {
			flush(w)
		}
	}
	cols, _ := json.Marshal(res.cols)
	if applied == nil {
		applied = []any{}
	}
	params, _ := json.Marshal(applied)
	fmt.Fprintf(w, `],"cols":%s,"insights":null,"requested_timezone":"UTC","results_timezone":"UTC"},"json_query":{"parameters":%s},"status":"completed"}`, cols, params)
	flush(w)
}

// writeFailedResult is Metabase's answer to an embedded query that failed:
// the 202 was already sent, and embeds get a generic message, not the
// warehouse's error text.
func writeFailedResult(w http.ResponseWriter, errorType string, applied []any) {
	if applied == nil {
		applied = []any{}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{
		"status": "failed", "error": "An error occurred while running the query.", "error_type": errorType,
		"json_query": map[string]any{"parameters": applied},
	})
}

func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}

// Export formats of the /query/{format} endpoints.
var exportTypes = map[string]string{
	"csv":  "text/csv",
	"json": "application/json; charset=utf-8",
	"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

// writeExport answers a download: 200, an attachment named after the card
// and the time, no row limit.
func writeExport(w http.ResponseWriter, format, cardName string, now time.Time, res result, formatRows bool) {
	var body []byte
	switch format {
	case "csv":
		body = exportCSV(res, formatRows)
	case "json":
		body = exportJSON(res, formatRows)
	case "xlsx":
		body = exportXLSX(res, formatRows)
	}
	h := w.Header()
	h.Set("Content-Type", exportTypes[format])
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s_%s.%s"`,
		slugify(cardName), now.UTC().Format("2006-01-02T15:04:05.000000Z07:00"), format))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// slugify makes a file-name prefix of a card name, like Metabase's u/slugify.
func slugify(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return '_'
	}, s)
}

// cellText is a cell as an export shows it; format_rows gives the
// human-readable form.
func cellText(v any, formatRows bool) string {
	switch x := v.(type) {
	case string:
		if formatRows {
			if t, err := time.Parse(time.RFC3339, x); err == nil {
				return t.Format("January 2, 2006, 3:04 PM")
			}
		}
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		if formatRows {
			return strconv.FormatFloat(x, 'f', 2, 64)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func exportCSV(res result, formatRows bool) []byte {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	header := make([]string, len(res.cols))
	for i, c := range res.cols {
		header[i] = c["display_name"].(string)
	}
	cw.Write(header)
	for _, row := range res.rows {
		rec := make([]string, len(row))
		for i, v := range row {
			rec[i] = cellText(v, formatRows)
		}
		cw.Write(rec)
	}
	cw.Flush()
	return b.Bytes()
}

func exportJSON(res result, formatRows bool) []byte {
	out := make([]*omap, 0, len(res.rows))
	for _, row := range res.rows {
		m := newOmap()
		for i, v := range row {
			if formatRows {
				v = cellText(v, true)
			}
			m.set(res.cols[i]["display_name"].(string), v)
		}
		out = append(out, m)
	}
	b, _ := json.Marshal(out)
	return b
}

// exportXLSX writes a minimal but valid SpreadsheetML workbook: one sheet,
// inline strings, numbers as numbers.
func exportXLSX(res result, formatRows bool) []byte {
	const (
		ns     = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
		relNS  = "http://schemas.openxmlformats.org/package/2006/relationships"
		docRel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
		head   = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"
	)
	var sheet strings.Builder
	sheet.WriteString(head + `<worksheet xmlns="` + ns + `"><sheetData>`)
	writeRow := func(r int, cells []any) {
		fmt.Fprintf(&sheet, `<row r="%d">`, r)
		for i, v := range cells {
			ref := columnName(i) + strconv.Itoa(r)
			switch x := v.(type) {
			case int, float64:
				if !formatRows {
					fmt.Fprintf(&sheet, `<c r="%s"><v>%s</v></c>`, ref, cellText(x, false))
					continue
				}
			}
			var esc bytes.Buffer
			xml.EscapeText(&esc, []byte(cellText(v, formatRows)))
			fmt.Fprintf(&sheet, `<c r="%s" t="inlineStr"><is><t>%s</t></is></c>`, ref, esc.String())
		}
		sheet.WriteString(`</row>`)
	}
	header := make([]any, len(res.cols))
	for i, c := range res.cols {
		header[i] = c["display_name"]
	}
	writeRow(1, header)
	for i, row := range res.rows {
		writeRow(i+2, row)
	}
	sheet.WriteString(`</sheetData></worksheet>`)

	files := []struct{ name, body string }{
		{"[Content_Types].xml", head + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
			`</Types>`},
		{"_rels/.rels", head + `<Relationships xmlns="` + relNS + `"><Relationship Id="rId1" Type="` + docRel +
			`/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", head + `<workbook xmlns="` + ns + `" xmlns:r="` + docRel +
			`"><sheets><sheet name="Query result" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", head + `<Relationships xmlns="` + relNS + `"><Relationship Id="rId1" Type="` + docRel +
			`/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", sheet.String()},
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range files {
		fw, _ := zw.Create(f.name)
		io.WriteString(fw, f.body)
	}
	zw.Close()
	return b.Bytes()
}

// columnName is a spreadsheet column letter: 0 → A, 25 → Z, 26 → AA.
func columnName(i int) string {
	name := ""
	for i++; i > 0; i = (i - 1) / 26 {
		name = string(rune('A'+(i-1)%26)) + name
	}
	return name
}

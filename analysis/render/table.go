package render

import (
	"html"
	"strconv"
	"strings"

	"enclave/api/spec"
)

// MIME types of the bundles built here.
const (
	MIMEText         = "text/plain"
	MIMEHTML         = "text/html"
	MIMEDataResource = "application/vnd.dataresource+json"
	MIMEPNG          = "image/png"
	MIMESVG          = "image/svg+xml"
)

// SuppressedClass is the HTML class of a suppressed table cell.
const SuppressedClass = "enclave-suppressed"

// statusReasons says in words why a cell with a given status shows a
// marker instead of a number; it becomes the cell's title attribute.
var statusReasons = map[string]string{
	spec.Small:      "Suppressed: fewer persons than the minimum cell size",
	spec.Secondary:  "Suppressed so that a small cell cannot be recomputed from the margins",
	spec.Derived:    "Suppressed: a mean, rate or percentage over too few persons",
	spec.Dominance:  "Suppressed: a sum dominated by one or two persons",
	spec.Extreme:    "Suppressed: minimum, maximum and single-person values are never released",
	spec.Difference: "Suppressed: differs from an earlier release by too few persons",
	spec.Model:      "Suppressed: model output refused (residual degrees of freedom or a sparse level)",
	spec.Overlap:    "Suppressed: its window of values overlaps another quantile's of the same group",
	spec.Ties:       "Suppressed: its window holds a few tied values, whose counts its value would tell",
	spec.NoData:     "No value: no rows, or a statistic that is undefined here",
}

// statusReason is the title attribute text for a suppressed cell.
func statusReason(status string) string {
	if r, ok := statusReasons[status]; ok {
		return r
	}
	return "Suppressed (" + cleanText(status) + ")"
}

// cellView is a table cell as every output shows it.
type cellView struct {
	text       string   // display text (the marker for a suppressed cell)
	suppressed bool     // status is not Released
	status     string   // the cell's status
	value      *float64 // released, finite number; nil otherwise
}

func viewCell(c spec.Cell) cellView {
	v := cellView{text: strings.TrimSpace(cleanText(c.Text)), status: c.Status}
	if c.Status != spec.Released {
		// Never look at Value here: a suppressed cell shows its marker only.
		v.suppressed = true
		if v.text == "" {
			if c.Status == spec.NoData {
				v.text = "—"
			} else {
				v.text = "suppressed"
			}
		}
		return v
	}
	if c.Value != nil && finite(*c.Value) {
		x := *c.Value
		v.value = &x
		if v.text == "" {
			v.text = formatNum(x)
		}
	}
	return v
}

// tableView is a table normalised for rendering: rectangular, cleaned,
// with unique field names and a type per column.
type tableView struct {
	title   string
	headers []string // as displayed
	fields  []string // unique, non-empty names for the data resource
	numeric []bool   // column type is "number"
	rows    [][]cellView
	notes   []string
}

func viewTable(t *spec.Table) tableView {
	var tv tableView
	if t == nil {
		return tv
	}
	tv.title = strings.TrimSpace(cleanText(t.Title))
	ncol := len(t.Columns)
	for _, r := range t.Rows {
		ncol = max(ncol, len(r))
	}
	tv.headers = make([]string, ncol)
	for i := range ncol {
		if i < len(t.Columns) {
			tv.headers[i] = strings.TrimSpace(cleanText(t.Columns[i]))
		}
	}
	tv.fields = uniqueNames(tv.headers)
	tv.rows = make([][]cellView, len(t.Rows))
	for i, r := range t.Rows {
		row := make([]cellView, ncol)
		for j := range ncol {
			if j < len(r) {
				row[j] = viewCell(r[j])
			}
		}
		tv.rows[i] = row
	}
	tv.numeric = make([]bool, ncol)
	for j := range ncol {
		num, other := false, false
		for _, r := range tv.rows {
			c := r[j]
			switch {
			case c.suppressed:
			case c.value != nil:
				num = true
			case c.text != "":
				other = true
			}
		}
		tv.numeric[j] = num && !other
	}
	for _, n := range t.Notes {
		if n = strings.TrimSpace(cleanText(n)); n != "" {
			tv.notes = append(tv.notes, n)
		}
	}
	return tv
}

// uniqueNames gives every column a non-empty name that no other column
// has, keeping the given names where they are already unique.
func uniqueNames(headers []string) []string {
	out := make([]string, len(headers))
	used := make(map[string]bool, len(headers))
	for _, h := range headers {
		used[h] = true
	}
	seen := make(map[string]bool, len(headers))
	for i, h := range headers {
		if h != "" && !seen[h] {
			out[i] = h
			seen[h] = true
			continue
		}
		base := h
		if base == "" {
			base = "column " + strconv.Itoa(i+1)
		}
		name := base
		for k := 2; seen[name] || (name != h && used[name]); k++ {
			name = base + " (" + strconv.Itoa(k) + ")"
		}
		out[i] = name
		seen[name] = true
	}
	return out
}

// TableBundle renders a released table as a Jupyter MIME bundle with
// "text/plain" (aligned columns, title line, notes after), "text/html" (a
// <table> with a <caption>, suppressed cells marked with class
// "enclave-suppressed" and a title attribute saying why, and a legend <ul>
// of the notes; all text escaped) and "application/vnd.dataresource+json"
// (numbers for released numeric cells, the marker text for suppressed
// ones). A nil table renders as an empty one.
func TableBundle(t *spec.Table) map[string]any {
	tv := viewTable(t)
	return map[string]any{
		MIMEText:         tablePlain(tv),
		MIMEHTML:         tableHTML(tv),
		MIMEDataResource: tableResource(tv),
	}
}

func tablePlain(tv tableView) string {
	var b strings.Builder
	if tv.title != "" {
		b.WriteString(tv.title)
		b.WriteByte('\n')
	}
	ncol := len(tv.headers)
	if ncol > 0 {
		w := make([]int, ncol)
		for j, h := range tv.headers {
			w[j] = width(h)
			for _, r := range tv.rows {
				w[j] = max(w[j], width(r[j].text))
			}
		}
		line := func(cells []string) {
			var l strings.Builder
			for j, s := range cells {
				if j > 0 {
					l.WriteString("  ")
				}
				if tv.numeric[j] {
					l.WriteString(padLeft(s, w[j]))
				} else {
					l.WriteString(padRight(s, w[j]))
				}
			}
			b.WriteString(strings.TrimRight(l.String(), " "))
			b.WriteByte('\n')
		}
		line(tv.headers)
		rule := make([]string, ncol)
		for j := range rule {
			rule[j] = strings.Repeat("-", w[j])
		}
		line(rule)
		for _, r := range tv.rows {
			cells := make([]string, ncol)
			for j, c := range r {
				cells[j] = c.text
			}
			line(cells)
		}
	}
	if len(tv.rows) == 0 {
		b.WriteString("(no rows)\n")
	}
	if len(tv.notes) > 0 {
		b.WriteString("Notes:\n")
		for _, n := range tv.notes {
			b.WriteString("  ")
			b.WriteString(n)
			b.WriteByte('\n')
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func tableHTML(tv tableView) string {
	esc := html.EscapeString
	var b strings.Builder
	b.WriteString(`<div class="enclave-table">` + "\n<table>\n")
	if tv.title != "" {
		b.WriteString("<caption>" + esc(tv.title) + "</caption>\n")
	}
	if len(tv.headers) > 0 {
		b.WriteString("<thead><tr>")
		for j, h := range tv.headers {
			if tv.numeric[j] {
				b.WriteString(`<th style="text-align:right">`)
			} else {
				b.WriteString(`<th style="text-align:left">`)
			}
			b.WriteString(esc(h) + "</th>")
		}
		b.WriteString("</tr></thead>\n")
	}
	b.WriteString("<tbody>\n")
	for _, r := range tv.rows {
		b.WriteString("<tr>")
		for j, c := range r {
			align := "left"
			if tv.numeric[j] {
				align = "right"
			}
			if c.suppressed {
				b.WriteString(`<td class="` + SuppressedClass + `" data-status="` + esc(cleanText(c.status)) +
					`" title="` + esc(statusReason(c.status)) +
					`" style="text-align:` + align + `;color:#767676;font-style:italic">`)
			} else {
				b.WriteString(`<td style="text-align:` + align + `">`)
			}
			b.WriteString(esc(c.text) + "</td>")
		}
		b.WriteString("</tr>\n")
	}
	if len(tv.rows) == 0 {
		b.WriteString(`<tr><td colspan="` + strconv.Itoa(max(1, len(tv.headers))) + `"><em>no rows</em></td></tr>` + "\n")
	}
	b.WriteString("</tbody>\n</table>\n")
	if len(tv.notes) > 0 {
		b.WriteString(`<ul class="enclave-notes">` + "\n")
		for _, n := range tv.notes {
			b.WriteString("<li>" + esc(n) + "</li>\n")
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString("</div>")
	return b.String()
}

func tableResource(tv tableView) map[string]any {
	fields := make([]any, len(tv.fields))
	for j, name := range tv.fields {
		typ := "string"
		if tv.numeric[j] {
			typ = "number"
		}
		fields[j] = map[string]any{"name": name, "type": typ}
	}
	data := make([]any, len(tv.rows))
	for i, r := range tv.rows {
		rec := make(map[string]any, len(r))
		for j, c := range r {
			switch {
			case c.suppressed:
				rec[tv.fields[j]] = c.text
			case tv.numeric[j] && c.value != nil:
				rec[tv.fields[j]] = *c.value
			case tv.numeric[j]:
				rec[tv.fields[j]] = nil // released but empty
			default:
				rec[tv.fields[j]] = c.text
			}
		}
		data[i] = rec
	}
	return map[string]any{
		"schema": map[string]any{"fields": fields},
		"data":   data,
	}
}

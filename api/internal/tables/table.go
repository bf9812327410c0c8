// Package tables reads a released table (spec.Table) for the Table types
// that stats and genomics give cells: one implementation of their cell
// access, lookup and text rendering.
package tables

import (
	"strings"
	"unicode/utf8"

	"enclave/api/spec"
)

// Text is the cell's text as shown, "" out of range.
func Text(t *spec.Table, row, col int) string {
	if row < 0 || row >= len(t.Rows) || col < 0 || col >= len(t.Rows[row]) {
		return ""
	}
	return t.Rows[row][col].Text
}

// Value is the released number of a cell; ok is false when the cell is
// suppressed, not a number, or out of range.
func Value(t *spec.Table, row, col int) (v float64, ok bool) {
	if row < 0 || row >= len(t.Rows) || col < 0 || col >= len(t.Rows[row]) || t.Rows[row][col].Value == nil {
		return 0, false
	}
	return *t.Rows[row][col].Value, true
}

// Lookup finds the first row whose first cell reads label (ignoring spaces
// around it) and returns its value in the column named col.
func Lookup(t *spec.Table, label, col string) (float64, bool) {
	c := -1
	for i, name := range t.Columns {
		if name == col {
			c = i
		}
	}
	for r, row := range t.Rows {
		if len(row) > 0 && strings.TrimSpace(row[0].Text) == label {
			return Value(t, r, c)
		}
	}
	return 0, false
}

// String renders the table as aligned text: title, header, rows, notes.
func String(t *spec.Table) string {
	width := make([]int, len(t.Columns))
	for i, c := range t.Columns {
		width[i] = utf8.RuneCountInString(c)
	}
	for _, r := range t.Rows {
		for i, c := range r {
			if i < len(width) && utf8.RuneCountInString(c.Text) > width[i] {
				width[i] = utf8.RuneCountInString(c.Text)
			}
		}
	}
	var b strings.Builder
	b.WriteString(t.Title + "\n")
	line := func(cells []string) {
		for i, c := range cells {
			if i >= len(width) {
				break
			}
			if i > 0 {
				b.WriteString("  ")
			}
			b.WriteString(c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)))
		}
		b.WriteString("\n")
	}
	line(t.Columns)
	for _, r := range t.Rows {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = c.Text
		}
		line(cells)
	}
	for _, n := range t.Notes {
		b.WriteString("  " + n + "\n")
	}
	return b.String()
}

package datasets

import "strings"

// The checks of a structured Query that do not depend on the engine that
// runs it: which table it aggregates, what its column references name, and
// which of them identify rows or persons. Each catalog renders the resolved
// references in its own SQL.

// QueryTable returns the table named name of a tier's tables (keyed by
// lower-case name), refusing one that is missing or holds no person rows.
func QueryTable(tables map[string]*TableInfo, tier Tier, name string) (*TableInfo, error) {
	t := tables[strings.ToLower(strings.TrimSpace(name))]
	if t == nil {
		return nil, Errorf("no table %q in the %s tier", name, tier)
	}
	if !t.HasPerson {
		return nil, Errorf("table %s has no person_id: aggregate person tables only (use concept search for the vocabulary)", t.Name)
	}
	return t, nil
}

// ColumnRef is a column reference of a query, resolved.
type ColumnRef struct {
	Column Column
	Func   string // "year" or "month" when the reference reads year(col) or month(col), of a date column
	Joined bool   // a person.* column of a table other than person: the query joins person as p
}

// ResolveColumn resolves ref ("gender_concept_id", "person.year_of_birth",
// "year(condition_start_date)") in table t of a tier's tables.
func ResolveColumn(tables map[string]*TableInfo, tier Tier, t *TableInfo, ref string) (ColumnRef, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	fn := ""
	for _, f := range []string{"year", "month"} {
		if strings.HasPrefix(ref, f+"(") && strings.HasSuffix(ref, ")") {
			fn, ref = f, strings.TrimSpace(ref[len(f)+1:len(ref)-1])
		}
	}
	tab, name, joined := t, ref, false
	if rest, ok := strings.CutPrefix(ref, "person."); ok {
		name = rest
		if t.Name != "person" {
			if tab, joined = tables["person"], true; tab == nil {
				return ColumnRef{}, Errorf("the %s tier has no person table", tier)
			}
		}
	}
	for _, c := range tab.Columns {
		if c.Name != name {
			continue
		}
		if fn != "" && c.Type != "DATE" && !strings.HasPrefix(c.Type, "TIMESTAMP") {
			return ColumnRef{}, Errorf("%s(%s): not a date column", fn, ref)
		}
		return ColumnRef{Column: c, Func: fn, Joined: joined}, nil
	}
	return ColumnRef{}, Errorf("no column %q in table %s", ref, tab.Name)
}

// IsIdentifier reports whether a column reference of a query on table t
// names a row or person identifier (person_id, a primary key, or any other
// *_id that is not a concept id): grouping or filtering by one singles out
// persons, so a query that does is refused before the release rules ever
// see a cell.
func IsIdentifier(tables map[string]*TableInfo, t *TableInfo, ref string) bool {
	ref = strings.ToLower(strings.TrimSpace(ref))
	tab := t
	if name, ok := strings.CutPrefix(ref, "person."); ok {
		ref, tab = name, tables["person"]
	}
	if !strings.HasSuffix(ref, "_id") {
		return false
	}
	if tab == nil {
		return true
	}
	for _, c := range tab.Columns {
		if c.Name == ref {
			return !c.Concept
		}
	}
	return true
}

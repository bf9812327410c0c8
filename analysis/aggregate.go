package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"enclave/analysis/sqlagg"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/release"
)

// at returns the date ages are taken at: a's, checked, or the data cut.
func (s *Server) at(a string) (string, error) {
	if a == "" {
		return s.dataCut, nil
	}
	return a, checkDate("at", a)
}

func (s *Server) descendants(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.ConceptArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	if err := s.knownConcepts(ctx, a.IDs); err != nil {
		return nil, err
	}
	return s.db.Descendants(ctx, a.IDs...)
}

func (s *Server) mapStandard(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.ConceptArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	if err := s.knownConcepts(ctx, a.IDs); err != nil {
		return nil, err
	}
	m, err := s.db.MapToStandard(ctx, a.IDs...)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, id := range a.IDs {
		out = append(out, m[id]...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func specConcepts(cs []datasets.Concept) []spec.Concept {
	out := make([]spec.Concept, 0, len(cs))
	for _, c := range cs {
		out = append(out, spec.Concept{ID: c.ID, Name: c.Name, Domain: c.Domain, Vocabulary: c.Vocabulary, Code: c.Code, Standard: c.Standard == "S"})
	}
	return out
}

func (s *Server) search(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.SearchArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	cs, err := s.db.SearchConcepts(ctx, datasets.ConceptQuery{Text: a.Text, Domain: a.Domain, Vocabulary: a.Vocabulary, StandardOnly: a.Standard, Limit: a.Limit})
	if err != nil {
		return nil, err
	}
	return specConcepts(cs), nil
}

func (s *Server) lookup(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.ConceptArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	names, err := s.conceptNames(ctx, a.IDs)
	if err != nil {
		return nil, err
	}
	var out []spec.Concept
	for _, id := range a.IDs {
		if n, ok := names[id]; ok {
			out = append(out, spec.Concept{ID: id, Name: n})
		}
	}
	return out, nil
}

// vars resolves grouping variables for h.
func (s *Server) vars(h *handle, names []string, at string, max int) ([]variable, error) {
	if len(names) > max {
		return nil, datasets.Errorf("at most %d grouping variables here", max)
	}
	var out []variable
	for _, n := range names {
		v, err := s.variable(n, h.events, at)
		if err != nil {
			return nil, err
		}
		if v.Name == "age" {
			return nil, datasets.Errorf("group by age_decade or age_group, not single years of age")
		}
		out = append(out, v)
	}
	return out, nil
}

// levels lists the distinct fixed values of variable i in rows, sorted.
func levels(rows []groupRow, i int) []any {
	seen := map[string]bool{}
	var out []any
	for _, r := range rows {
		if !r.fixed[i] {
			continue
		}
		k := fmt.Sprintf("%T:%v", r.key[i], r.key[i])
		if !seen[k] {
			seen[k] = true
			out = append(out, r.key[i])
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return lessKey(out[a], out[b]) })
	return out
}

func lessKey(a, b any) bool {
	if a == nil || b == nil {
		return b == nil && a != nil // Unknown last
	}
	switch x := a.(type) {
	case int64:
		if y, ok := b.(int64); ok {
			return x < y
		}
	case float64:
		if y, ok := b.(float64); ok {
			return x < y
		}
	case string:
		if y, ok := b.(string); ok {
			return x < y
		}
	}
	return fmt.Sprint(a) < fmt.Sprint(b)
}

// allSets is every grouping set over n variables, largest first.
func allSets(n int) [][]int {
	switch n {
	case 0:
		return nil
	case 1:
		return [][]int{{0}, {}}
	}
	return [][]int{{0, 1}, {0}, {1}, {}}
}

func (s *Server) count(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.CountArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	t, _, err := s.countTable(ctx, cell, a)
	return t, err
}

// countTable counts a handle's persons (and rows) by up to two variables:
// one variable gives a column of levels and a total, two a crosstab with
// margins.
func (s *Server) countTable(ctx context.Context, cell string, a spec.CountArgs) (*spec.Table, *built, error) {
	h, err := s.handle(a.Handle)
	if err != nil {
		return nil, nil, err
	}
	at, err := s.at(a.At)
	if err != nil {
		return nil, nil, err
	}
	vars, err := s.vars(h, a.By, at, 2)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.grouped(ctx, h, vars, allSets(len(vars)), nil, "")
	if err != nil {
		return nil, nil, err
	}
	byKey := map[string]groupRow{}
	for _, r := range rows {
		byKey[keyString(r.key, r.fixed)] = r
	}
	events := h.events != nil
	partition := true
	for _, v := range vars {
		partition = partition && v.person
	}
	t := &built{title: a.Title}
	if t.title == "" {
		t.title = "Persons: " + h.desc
		if len(a.By) > 0 {
			t.title += " by " + strings.Join(a.By, " × ")
		}
	}
	// mk makes the person (and row) cells of one group.
	mk := func(key []any, fixed []bool) (*release.Cell, *release.Cell) {
		r := byKey[keyString(key, fixed)]
		plan := planFor(h, at, vars, key, fixed)
		desc := describeKey(s, ctx, "persons in "+h.desc, vars, key, fixed)
		pc := t.add(&release.Cell{Stat: release.Count, Value: float64(r.persons), Persons: r.persons, Plan: plan.bytes(), Desc: desc,
			Partitions: partitionsOf(h, at, vars, key, fixed)})
		var rc *release.Cell
		if events {
			// Rows are a row-level statistic: the same persons with other
			// rows (a person picked by a subquery, with one diagnosis
			// more) must not show both counts.
			rc = t.add(&release.Cell{Stat: release.Rows, Value: float64(r.rows), Persons: r.persons, Of: pc, Desc: "rows: " + desc,
				Plan: plan.bytes(), Quantity: rowsQuantity, RowCount: r.rows, Table: h.events.Table})
			if partition {
				// Every row of the group's persons: the partition rule
				// compares it with other counts of those rows (review
				// 32 took one person's diagnoses from three row counts).
				rc.Source, rc.Concepts = rowsSource(h.events), h.events.Concepts
			}
		}
		return pc, rc
	}
	switch len(vars) {
	case 0:
		t.columns = []string{"", "persons"}
		pc, rc := mk(nil, nil)
		row := []*slot{{text: "all"}, {cell: pc}}
		if events {
			t.columns = append(t.columns, "rows")
			row = append(row, &slot{cell: rc})
		}
		t.rows = append(t.rows, row)
	case 1:
		t.columns = []string{vars[0].Name, "persons"}
		if events {
			t.columns = append(t.columns, "rows")
		}
		total, trc := mk([]any{nil}, []bool{false})
		var parts, rowParts []*release.Cell
		for _, lv := range levels(rows, 0) {
			pc, rc := mk([]any{lv}, []bool{true})
			parts = append(parts, pc)
			row := []*slot{{text: s.label(ctx, vars[0], lv)}, {cell: pc}}
			if events {
				row = append(row, &slot{cell: rc})
				rowParts = append(rowParts, rc)
			}
			t.rows = append(t.rows, row)
		}
		row := []*slot{{text: "Total"}, {cell: total}}
		if events {
			row = append(row, &slot{cell: trc})
		}
		t.rows = append(t.rows, row)
		if partition {
			t.margins = append(t.margins, release.Margin{Total: total, Parts: parts})
		}
		if events {
			// Every row has exactly one value of the variable, so the
			// rows always add up to the total, even when a person's rows
			// fall in several levels: a hidden level's rows must not be
			// total less the others.
			t.margins = append(t.margins, release.Margin{Total: trc, Parts: rowParts})
		}
	case 2:
		l0, l1 := levels(rows, 0), levels(rows, 1)
		t.columns = []string{vars[0].Name + " \\ " + vars[1].Name}
		for _, c := range l1 {
			t.columns = append(t.columns, s.label(ctx, vars[1], c))
		}
		t.columns = append(t.columns, "Total")
		colParts := make([][]*release.Cell, len(l1))
		var rowTotals []*release.Cell
		for _, r := range l0 {
			row := []*slot{{text: s.label(ctx, vars[0], r)}}
			var parts []*release.Cell
			for j, c := range l1 {
				pc, _ := mk([]any{r, c}, []bool{true, true})
				parts = append(parts, pc)
				colParts[j] = append(colParts[j], pc)
				row = append(row, &slot{cell: pc})
			}
			rt, _ := mk([]any{r, nil}, []bool{true, false})
			rowTotals = append(rowTotals, rt)
			row = append(row, &slot{cell: rt})
			t.rows = append(t.rows, row)
			if partition {
				t.margins = append(t.margins, release.Margin{Total: rt, Parts: parts})
			}
		}
		row := []*slot{{text: "Total"}}
		var colTotals []*release.Cell
		for j, c := range l1 {
			ct, _ := mk([]any{nil, c}, []bool{false, true})
			colTotals = append(colTotals, ct)
			row = append(row, &slot{cell: ct})
			if partition {
				t.margins = append(t.margins, release.Margin{Total: ct, Parts: colParts[j]})
			}
		}
		grand, _ := mk([]any{nil, nil}, []bool{false, false})
		row = append(row, &slot{cell: grand})
		t.rows = append(t.rows, row)
		if partition {
			t.margins = append(t.margins, release.Margin{Total: grand, Parts: rowTotals}, release.Margin{Total: grand, Parts: colTotals})
		}
		t.notes = append(t.notes, "cells are distinct persons")
	}
	out, err := s.finish(ctx, cell, "stats.Count("+h.desc+groupDesc(a.By)+")", t)
	return out, t, err
}

func groupDesc(by []string) string {
	if len(by) == 0 {
		return ""
	}
	return " by " + strings.Join(by, ", ")
}

// describeKey describes a group for the history and the audit log.
func describeKey(s *Server, ctx context.Context, what string, vars []variable, key []any, fixed []bool) string {
	var parts []string
	for i, v := range vars {
		if fixed[i] {
			parts = append(parts, v.Name+"="+s.label(ctx, v, key[i]))
		}
	}
	if len(parts) == 0 {
		return what
	}
	return what + " | " + strings.Join(parts, ", ")
}

func (s *Server) table1(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.Table1Args
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	at, err := s.at(a.At)
	if err != nil {
		return nil, err
	}
	base, bdesc, err := s.cohortHandle(a.Cohort, "stats.Table1")
	if err != nil {
		return nil, err
	}
	if len(a.Vars) == 0 {
		a.Vars = []string{"gender", "age_group", "race", "ethnicity"}
	}
	if len(a.Vars) > 12 {
		return nil, datasets.Errorf("at most 12 variables in a Table 1")
	}
	type group struct {
		name string
		h    *handle
	}
	groups := []group{{"all", &handle{cohort: base, desc: bdesc}}}
	if len(a.Groups) > 0 {
		groups = nil
		for i, id := range a.Groups {
			c, d, err := s.cohortHandle(id, "stats.Table1 groups")
			if err != nil {
				return nil, err
			}
			name := d
			if i < len(a.GroupNames) && a.GroupNames[i] != "" {
				name = a.GroupNames[i]
			}
			groups = append(groups, group{name, &handle{cohort: &cohortPlan{Op: "and", A: base, B: c}, desc: "(" + bdesc + ") and (" + d + ")"}})
		}
	}
	var vars []variable
	for _, n := range a.Vars {
		v, err := s.variable(n, nil, at)
		if err != nil {
			return nil, err
		}
		if v.Name == "age" {
			return nil, datasets.Errorf("Table 1 shows age as age_group or age_decade")
		}
		vars = append(vars, v)
	}
	t := &built{title: "Table 1: " + bdesc}
	t.columns = []string{"characteristic"}
	for _, g := range groups {
		t.columns = append(t.columns, g.name+" n", g.name+" %")
	}
	// One query per group: each variable's levels and the group's total.
	type result struct {
		byKey  map[string]groupRow
		levels [][]any
	}
	res := make([]result, len(groups))
	sets := [][]int{{}}
	for i := range vars {
		sets = append(sets, []int{i})
	}
	for gi, g := range groups {
		rows, err := s.grouped(ctx, g.h, vars, sets, nil, "")
		if err != nil {
			return nil, err
		}
		res[gi].byKey = map[string]groupRow{}
		for _, r := range rows {
			res[gi].byKey[keyString(r.key, r.fixed)] = r
		}
		for i := range vars {
			res[gi].levels = append(res[gi].levels, levels(rows, i))
		}
	}
	key := func(i int, lv any) ([]any, []bool) {
		k, f := make([]any, len(vars)), make([]bool, len(vars))
		if i >= 0 {
			k[i], f[i] = lv, true
		}
		return k, f
	}
	totals := make([]*release.Cell, len(groups))
	totalRow := []*slot{{text: "N (persons)"}}
	for gi, g := range groups {
		k, f := key(-1, nil)
		r := res[gi].byKey[keyString(k, f)]
		totals[gi] = t.add(&release.Cell{Stat: release.Count, Value: float64(r.persons), Persons: r.persons,
			Plan: planFor(g.h, at, vars, k, f).bytes(), Desc: "persons in " + g.h.desc, Partitions: partitionsOf(g.h, at, vars, k, f)})
		totalRow = append(totalRow, &slot{cell: totals[gi]}, &slot{text: "100%"})
	}
	t.rows = append(t.rows, totalRow)
	for i, v := range vars {
		// The union of levels over groups, so columns line up.
		var lvls []any
		seen := map[string]bool{}
		for gi := range groups {
			for _, lv := range res[gi].levels[i] {
				k := fmt.Sprintf("%T:%v", lv, lv)
				if !seen[k] {
					seen[k] = true
					lvls = append(lvls, lv)
				}
			}
		}
		sort.SliceStable(lvls, func(a, b int) bool { return lessKey(lvls[a], lvls[b]) })
		t.rows = append(t.rows, []*slot{{text: v.Name}})
		parts := make([][]*release.Cell, len(groups))
		for _, lv := range lvls {
			row := []*slot{{text: "  " + s.label(ctx, v, lv)}}
			for gi, g := range groups {
				k, f := key(i, lv)
				r := res[gi].byKey[keyString(k, f)]
				desc := describeKey(s, ctx, "persons in "+g.h.desc, vars, k, f)
				c := t.add(&release.Cell{Stat: release.Count, Value: float64(r.persons), Persons: r.persons,
					Plan: planFor(g.h, at, vars, k, f).bytes(), Desc: desc, Partitions: partitionsOf(g.h, at, vars, k, f)})
				pct := 0.0
				if totals[gi].Persons > 0 {
					pct = 100 * float64(r.persons) / float64(totals[gi].Persons)
				}
				p := t.add(&release.Cell{Stat: release.Percent, Value: pct, Persons: r.persons, Denom: totals[gi].Persons, Of: c, DenomOf: totals[gi], Desc: "% " + desc})
				parts[gi] = append(parts[gi], c)
				row = append(row, &slot{cell: c}, &slot{cell: p})
			}
			t.rows = append(t.rows, row)
		}
		for gi := range groups {
			t.margins = append(t.margins, release.Margin{Total: totals[gi], Parts: parts[gi], Group: len(a.Groups) > 0})
		}
	}
	t.notes = append(t.notes, "ages on "+at)
	return s.finish(ctx, cell, "stats.Table1("+bdesc+groupDesc(a.Vars)+")", t)
}

func (s *Server) describe(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.DescribeArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	h, err := s.handle(a.Handle)
	if err != nil {
		return nil, err
	}
	at, err := s.at(a.At)
	if err != nil {
		return nil, err
	}
	expr, name, err := s.numericExpr(h, a.Column, at)
	if err != nil {
		return nil, err
	}
	vars, err := s.vars(h, a.By, at, 2)
	if err != nil {
		return nil, err
	}
	if name == "age" && h.events != nil {
		for _, v := range vars {
			if !v.person {
				return nil, datasets.Errorf("age is a person's, not a row's: describe it by variables of the person (gender, race, ethnicity, age_group), or of a cohort")
			}
		}
		h = agePersons(h)
		if vars, err = s.vars(h, a.By, at, 2); err != nil {
			return nil, err
		}
	}
	// Only persons with a value contribute: the plan says so.
	hv := withValue(h, name, at)
	extras := []string{"avg(" + expr + ")", "stddev_samp(" + expr + ")"}
	quartiles := []string{"0.25", "0.5", "0.75"}
	sets := [][]int{{}}
	if len(vars) == 1 {
		sets = [][]int{{0}}
	} else if len(vars) == 2 {
		sets = [][]int{{0, 1}}
	}
	cond := "(" + expr + ") IS NOT NULL"
	rows, err := s.grouped(ctx, hv, vars, sets, extras, cond)
	if err != nil {
		return nil, err
	}
	// The quartiles (smoothed), and what sqlagg.Shape reads: few values
	// make the mean a table of counts; a dominant person shows whether
	// they are in the group.
	win, spreads, err := s.smoothedQuantiles(ctx, hv, vars, expr, cond, quartiles, s.sess.Policy.MinCount, true)
	if err != nil {
		return nil, err
	}
	// Over a few values, how many persons hold the rarest (a query of its
	// own, run only then).
	var rarest map[string][]any
	for _, w := range win {
		if values := toInt(w[len(w)-3]); values > release.MaxMeanValues && values <= release.MaxTableValues { // distinct, Σ|x|, tops
			if rarest, err = s.rarestValues(ctx, hv, vars, expr, cond); err != nil {
				return nil, err
			}
			break
		}
	}
	for i, r := range rows {
		if r.rows == 0 {
			continue
		}
		k := keyString(r.key, r.fixed)
		w, ok := win[k]
		if !ok {
			return nil, fmt.Errorf("analysis: describe: group %v has no quartiles", r.key)
		}
		// mean, sd, (quartile, persons near it, its window)×3, then the hidden
		// columns of a split item: distinct values, Σ|x|, the largest
		// per-person sums (an empty list is held as dominated) and the
		// rows with a value.
		rows[i].extra = append(append(append([]any{}, r.extra...), w...), r.rows)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		for k := range rows[i].key {
			if lessKey(rows[i].key[k], rows[j].key[k]) {
				return true
			}
			if lessKey(rows[j].key[k], rows[i].key[k]) {
				return false
			}
		}
		return false
	})
	t := &built{title: fmt.Sprintf("%s of %s", name, h.desc)}
	personLevel := true // no variable of the rows: a group's rows are all its persons' rows
	for _, v := range vars {
		t.columns = append(t.columns, v.Name)
		personLevel = personLevel && v.person
	}
	unit := "rows"
	if h.events == nil {
		unit = "—"
	}
	t.columns = append(t.columns, "persons", unit, "mean", "sd", "q1", "median", "q3")
	var shown []shownGroup
	fewValues := false
	for _, r := range rows {
		if r.rows == 0 {
			continue
		}
		plan := planFor(hv, at, vars, r.key, r.fixed).bytes()
		desc := describeKey(s, ctx, name+" of "+h.desc, vars, r.key, r.fixed)
		pc := t.add(&release.Cell{Stat: release.Count, Value: float64(r.persons), Persons: r.persons, Plan: plan, Desc: "persons with " + desc,
			Partitions: partitionsOf(hv, at, vars, r.key, r.fixed)})
		row := []*slot{}
		for i, v := range vars {
			row = append(row, &slot{text: s.label(ctx, v, r.key[i])})
		}
		row = append(row, &slot{cell: pc})
		var rc *release.Cell
		if h.events != nil {
			rc = t.add(&release.Cell{Stat: release.Rows, Value: float64(r.rows), Persons: r.persons, Of: pc,
				Plan: plan, Desc: "rows of " + desc, Quantity: rowsQuantity, RowCount: r.rows, Table: h.events.Table})
			if personLevel {
				// Read as every row of its persons, as stats.Count's: the
				// rows without a value are not told apart (a count and a
				// Describe of one handle are one table; README residuals).
				rc.Source, rc.Concepts = rowsSource(h.events), h.events.Concepts
			}
			row = append(row, &slot{cell: rc})
		} else {
			row = append(row, &slot{text: ""})
		}
		shown = append(shown, shownGroup{r, pc, rc})
		tails := []float64{0, 0, 0.25, 0.5, 0.25}
		hidden := r.extra[2+3*smoothedWidth : 2+3*smoothedWidth+sqlagg.SplitWidth]
		values, magnitude, top := sqlagg.Shape(hidden)
		var fewest int64
		if few := rarest[keyString(r.key, r.fixed)]; len(few) == 1 {
			fewest = toInt(few[0])
		}
		if values > 0 && (values <= release.MaxMeanValues || values <= release.MaxTableValues && fewest < int64(s.sess.Policy.MinCount)) && !fewValues {
			fewValues = true
			t.notes = append(t.notes, fewValuesNote)
		}
		var mean *release.Cell
		// The median's window first: a quartile whose window overlaps
		// it (or q1's) is hidden.
		windows := []window{windowOf(r.extra[2+smoothedWidth:])}
		for i, st := range []release.Stat{release.Mean, release.Mean, release.Quantile, release.Quantile, release.Quantile} {
			col := i // of r.extra
			if st == release.Quantile {
				col = 2 + smoothedWidth*(i-2)
			}
			c := &release.Cell{Stat: st, Value: toFloat(r.extra[col]), Persons: r.persons, Of: pc, Digits: 2, Tail: tails[i]}
			if st == release.Quantile {
				// Under MinCount persons near the quartile it is held;
				// a quartile with no count (none computed) is too; and
				// one whose window overlaps an earlier quartile's.
				w := windowOf(r.extra[col:])
				c.Near = max(1, toInt(r.extra[col+1]))
				var err error
				if c.Window, err = windowPersons(r.extra[col:]); err != nil {
					return nil, err
				}
				if h.events != nil {
					c.Table, c.Concepts = h.events.Table, h.events.Concepts
				}
				c.Desc = t.columns[len(t.columns)-5+i] + " of " + desc
				switch {
				case i == 3: // the median: windows[0]
				case w.overlaps(windows):
					c.Status = spec.Overlap
				default:
					windows = append(windows, w)
				}
				tw, err := tiesOf(r.extra[col:])
				if err != nil {
					return nil, err
				}
				side := func(cut float64, below bool) ([]byte, error) {
					return planFor(valueSide(hv, name, at, cut, below), at, vars, r.key, r.fixed).bytes(), nil
				}
				if err := s.judgeTies(ctx, t, c, tw, r.rows == r.persons, desc, side); err != nil {
					return nil, err
				}
			}
			if st == release.Mean {
				c.Values, c.Magnitude, c.Top, c.Rarest = values, magnitude, top, fewest
				if i == 1 { // the sd: its dominance is over the spread
					sp := spreads[keyString(r.key, r.fixed)]
					c.Magnitude, c.Top = sp.total, sp.top
				}
			}
			if mean == nil && (h.events != nil || name == "age") {
				// The same persons with a few more rows (one more day)
				// would give those rows' values from two means: the mean
				// is a row-level statistic of the column, and the sd and
				// quartiles follow it. So is a cohort's age: on another
				// date, the same persons' mean age moves by how many of
				// them were born in between (one day: a count of 1–20).
				mean = c
				c.Plan, c.Desc, c.Quantity, c.RowCount = plan, "mean of "+desc, quantityOf(name), sqlagg.RowsOf(hidden)
				switch {
				case h.events == nil:
					c.Quantity, c.Source = ageQuantity, ageSource(at)
				case personLevel:
					// Every row of the group's persons with a value: a
					// model or scan of the same persons reads them too.
					c.Source, c.Concepts = meanSource(h.events, name, at), h.events.Concepts
				}
				if h.events != nil {
					c.Table = h.events.Table
				}
			} else if mean != nil {
				c.Of = mean
			}
			row = append(row, &slot{cell: t.add(c)})
		}
		t.rows = append(t.rows, row)
	}
	if len(t.rows) == 0 {
		t.notes = append(t.notes, "no rows with a value")
	}
	s.hiddenTotals(ctx, t, hv, at, vars, shown)
	t.notes = append(t.notes, smoothedNote(s.sess.Policy.MinCount)+"; minimum and maximum are never released")
	return s.finish(ctx, cell, "stats.Describe("+name+" of "+h.desc+groupDesc(a.By)+")", t)
}

// shownGroup is a group of a result without totals: its persons cell and,
// for events, its rows cell.
type shownGroup struct {
	r      groupRow
	pc, rc *release.Cell
}

// hiddenTotals ties the groups of a result that shows no totals (Describe)
// to their totals. The result does not show them, but other results do
// (stats.Count of the same handle): a group hidden alone would be such a
// total less the released groups. Each total (persons of the handle with
// a value, per margin) is added as a cell that is judged and recorded like
// any other (so differencing sees it) but not shown, with a margin over its
// groups, so that a hidden group always hides another. Persons add up over
// person-level variables only; rows add up over any variable.
func (s *Server) hiddenTotals(ctx context.Context, t *built, h *handle, at string, vars []variable, shown []shownGroup) {
	n := len(vars)
	if n == 0 || len(shown) == 0 {
		return
	}
	for mask := 0; mask < 1<<n-1; mask++ { // every margin: the variables kept fixed
		fixed := make([]bool, n)
		persons := true
		for i := range vars {
			fixed[i] = mask&(1<<i) != 0
			persons = persons && (fixed[i] || vars[i].person)
		}
		type total struct {
			key           []any
			persons, rows int64
			pcs, rcs      []*release.Cell
		}
		var order []string
		totals := map[string]*total{}
		for _, g := range shown {
			key := make([]any, n)
			for i := range key {
				if fixed[i] {
					key[i] = g.r.key[i]
				}
			}
			k := keyString(key, fixed)
			tt := totals[k]
			if tt == nil {
				tt = &total{key: key}
				totals[k] = tt
				order = append(order, k)
			}
			tt.persons += g.r.persons
			tt.rows += g.r.rows
			tt.pcs = append(tt.pcs, g.pc)
			if g.rc != nil {
				tt.rcs = append(tt.rcs, g.rc)
			}
		}
		for _, k := range order {
			tt := totals[k]
			if persons {
				desc := describeKey(s, ctx, "persons with a value in "+h.desc, vars, tt.key, fixed)
				pc := t.add(&release.Cell{Stat: release.Count, Value: float64(tt.persons), Persons: tt.persons, Desc: desc + " (total, not shown)",
					Plan: planFor(h, at, vars, tt.key, fixed).bytes(), Partitions: partitionsOf(h, at, vars, tt.key, fixed)})
				t.margins = append(t.margins, release.Margin{Total: pc, Parts: tt.pcs})
			}
			if len(tt.rcs) > 0 {
				rc := t.add(&release.Cell{Stat: release.Rows, Value: float64(tt.rows), Persons: tt.persons})
				t.margins = append(t.margins, release.Margin{Total: rc, Parts: tt.rcs})
			}
		}
	}
}

// agePersons is the handle whose ages a Describe or Histogram of events
// handle h summarises: the persons of its rows, each once. Weighted by
// their rows, beside the same persons' mean age, ages gave the one person
// with two rows among persons of one each: their age (review 45).
func agePersons(h *handle) *handle {
	return &handle{cohort: h.persons(), desc: "persons of " + h.desc}
}

// withValue restricts h to rows (or persons) with a value of column name.
func withValue(h *handle, name, at string) *handle {
	if h.events == nil || name == "age" {
		return h
	}
	e := *h.events
	e.Where = append(append([]filterPlan(nil), e.Where...), filterPlan{Column: name, Op: "is not null"})
	return &handle{events: &e, desc: h.desc}
}

func (s *Server) incidence(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.IncidenceArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	at, err := s.at(a.At)
	if err != nil {
		return nil, err
	}
	c, cdesc, err := s.cohortHandle(a.Cohort, "stats.Incidence")
	if err != nil {
		return nil, err
	}
	o, odesc, err := s.cohortHandle(a.Outcome, "stats.Incidence outcome")
	if err != nil {
		return nil, err
	}
	h := &handle{cohort: c, desc: cdesc}
	vars, err := s.vars(h, a.By, at, 1)
	if err != nil {
		return nil, err
	}
	b := &sqlb{s: s}
	opred, err := b.pred(o, "p")
	if err != nil {
		return nil, err
	}
	if len(b.args) > 0 {
		// grouped() binds only the base's arguments; an outcome with
		// bound values is counted as its own handle instead.
		return s.incidenceJoined(ctx, cell, a, h, o, odesc, vars, at)
	}
	rows, err := s.grouped(ctx, h, vars, allSets(len(vars)), []string{s.countPersons(ctx, h, "p.person_id", opred)}, "")
	if err != nil {
		return nil, err
	}
	return s.incidenceTable(ctx, cell, a, h, o, odesc, vars, at, rows)
}

// incidenceJoined counts the outcome as a second grouped query over the
// cohort ∧ outcome handle.
func (s *Server) incidenceJoined(ctx context.Context, cell string, a spec.IncidenceArgs, h *handle, o *cohortPlan, odesc string, vars []variable, at string) (any, error) {
	rows, err := s.grouped(ctx, h, vars, allSets(len(vars)), nil, "")
	if err != nil {
		return nil, err
	}
	both := &handle{cohort: &cohortPlan{Op: "and", A: h.cohort, B: o}}
	num, err := s.grouped(ctx, both, vars, allSets(len(vars)), nil, "")
	if err != nil {
		return nil, err
	}
	n := map[string]int64{}
	for _, r := range num {
		n[keyString(r.key, r.fixed)] = r.persons
	}
	for i := range rows {
		rows[i].extra = []any{n[keyString(rows[i].key, rows[i].fixed)]}
	}
	return s.incidenceTable(ctx, cell, a, h, o, odesc, vars, at, rows)
}

func (s *Server) incidenceTable(ctx context.Context, cell string, a spec.IncidenceArgs, h *handle, o *cohortPlan, odesc string, vars []variable, at string, rows []groupRow) (any, error) {
	both := &handle{cohort: &cohortPlan{Op: "and", A: h.cohort, B: o}, desc: "(" + h.desc + ") with (" + odesc + ")"}
	t := &built{title: "Proportion with " + odesc + " among " + h.desc}
	if len(vars) == 1 {
		t.columns = []string{vars[0].Name}
	} else {
		t.columns = []string{""}
	}
	t.columns = append(t.columns, "persons", "with outcome", "%", "95% CI")
	byKey := map[string]groupRow{}
	for _, r := range rows {
		byKey[keyString(r.key, r.fixed)] = r
	}
	var keys [][]any
	var fixes [][]bool
	if len(vars) == 1 {
		for _, lv := range levels(rows, 0) {
			keys, fixes = append(keys, []any{lv}), append(fixes, []bool{true})
		}
		keys, fixes = append(keys, []any{nil}), append(fixes, []bool{false})
	} else {
		keys, fixes = [][]any{nil}, [][]bool{nil}
	}
	var denParts, numParts []*release.Cell
	var denTotal, numTotal *release.Cell
	for i, k := range keys {
		f := fixes[i]
		r := byKey[keyString(k, f)]
		num := int64(0)
		if len(r.extra) > 0 {
			num = toInt(r.extra[0])
		}
		desc := describeKey(s, ctx, h.desc, vars, k, f)
		den := t.add(&release.Cell{Stat: release.Count, Value: float64(r.persons), Persons: r.persons, Plan: planFor(h, at, vars, k, f).bytes(),
			Desc: "persons in " + desc, Partitions: partitionsOf(h, at, vars, k, f)})
		nc := t.add(&release.Cell{Stat: release.Count, Value: float64(num), Persons: num, Plan: planFor(both, at, vars, k, f).bytes(),
			Desc: "with outcome: " + desc, Partitions: partitionsOf(both, at, vars, k, f)})
		// The persons without the outcome can be derived: a hidden cell
		// that the margin rule protects like any other.
		rest := t.add(&release.Cell{Stat: release.Count, Value: float64(r.persons - num), Persons: r.persons - num})
		t.margins = append(t.margins, release.Margin{Total: den, Parts: []*release.Cell{nc, rest}})
		pct, lo, hi := wilson(num, r.persons)
		pc := t.add(&release.Cell{Stat: release.Percent, Value: pct, Persons: num, Denom: r.persons, Of: nc, DenomOf: den, Digits: 1})
		ci := t.add(&release.Cell{Stat: release.Percent, Value: lo, Persons: num, Denom: r.persons, Of: nc, DenomOf: den, Digits: 1})
		ci2 := t.add(&release.Cell{Stat: release.Percent, Value: hi, Persons: num, Denom: r.persons, Of: nc, DenomOf: den, Digits: 1})
		label := "all"
		if len(vars) == 1 {
			label = "Total"
			if f[0] {
				label = s.label(ctx, vars[0], k[0])
				denParts, numParts = append(denParts, den), append(numParts, nc)
			} else {
				denTotal, numTotal = den, nc
			}
		}
		t.rows = append(t.rows, []*slot{{text: label}, {cell: den}, {cell: nc}, {cell: pc}, {cell: ci}, {cell: ci2}})
	}
	if len(vars) == 1 {
		t.columns = append(t.columns[:4], "95% CI low", "95% CI high")
		if vars[0].person {
			t.margins = append(t.margins, release.Margin{Total: denTotal, Parts: denParts}, release.Margin{Total: numTotal, Parts: numParts})
		}
	} else {
		t.columns = append(t.columns[:4], "95% CI low", "95% CI high")
	}
	t.notes = append(t.notes, "Wilson score intervals")
	return s.finish(ctx, cell, "stats.Incidence("+odesc+" in "+h.desc+groupDesc(a.By)+")", t)
}

// wilson is the proportion k/n in percent with its 95% Wilson interval.
func wilson(k, n int64) (p, lo, hi float64) {
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	const z = 1.959963984540054
	ph := float64(k) / float64(n)
	nn := float64(n)
	den := 1 + z*z/nn
	mid := (ph + z*z/(2*nn)) / den
	half := z * math.Sqrt(ph*(1-ph)/nn+z*z/(4*nn*nn)) / den
	return 100 * ph, 100 * math.Max(0, mid-half), 100 * math.Min(1, mid+half)
}

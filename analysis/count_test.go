package analysis_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"enclave/analysis"
	"enclave/api/spec"
)

// labelSQL is the label the kernel shows for a grouping variable, written
// in SQL over the person alias p (and the events alias x): concept names
// for concept ids, "40–49" for decades.
func labelSQL(v, at string) string {
	concept := func(col string) string {
		return fmt.Sprintf("CASE WHEN %[1]s IS NULL THEN 'Unknown' WHEN %[1]s = 0 THEN 'No matching concept' ELSE coalesce((SELECT c.concept_name FROM concept c WHERE c.concept_id = %[1]s), 'concept ' || %[1]s) END", col)
	}
	age := ageSQL("p", at)
	decade := func(e string) string {
		return fmt.Sprintf("CAST(floor((%[1]s) / 10) * 10 AS BIGINT) || '–' || (CAST(floor((%[1]s) / 10) * 10 AS BIGINT) + 9)", e)
	}
	switch v {
	case "gender":
		return concept("p.gender_concept_id")
	case "race":
		return concept("p.race_concept_id")
	case "ethnicity":
		return concept("p.ethnicity_concept_id")
	case "age_decade":
		return decade(age)
	case "birth_decade":
		return decade("p.year_of_birth")
	case "age_group":
		return fmt.Sprintf("CASE WHEN %[1]s <= 17 THEN '0–17' WHEN %[1]s <= 44 THEN '18–44' WHEN %[1]s <= 64 THEN '45–64' ELSE '65+' END", age)
	case "condition_concept_id":
		return concept("x.condition_concept_id")
	case "year(condition_start_date)":
		return "CAST(year(x.condition_start_date) AS VARCHAR)"
	}
	panic("no label SQL for " + v)
}

// truth is a ground-truth group: persons and rows.
type truth struct{ persons, rows int64 }

// groupTruth counts persons and rows of from/where by the labels of vars
// ("" for a margin): the cells of a count table.
func groupTruth(t *testing.T, from, where string, vars []string, at string) map[[2]string]truth {
	t.Helper()
	out := map[[2]string]truth{}
	var ls []string
	for _, v := range vars {
		ls = append(ls, labelSQL(v, at))
	}
	for len(ls) < 2 {
		ls = append(ls, "''")
	}
	q := fmt.Sprintf("SELECT coalesce(l0, ''), coalesce(l1, ''), count(DISTINCT pid), count(*) FROM (SELECT %s AS l0, %s AS l1, p.person_id AS pid FROM %s WHERE %s) GROUP BY CUBE (l0, l1)", ls[0], ls[1], from, where)
	for _, r := range queryRows(t, q) {
		k := [2]string{r[0].(string), r[1].(string)}
		out[k] = truth{r[2].(int64), r[3].(int64)}
	}
	return out
}

// hiddenDetermined reports the hidden cells (by name) whose value follows
// from released cells through the margins: each margin says total = Σ
// parts. Gaussian elimination over the hidden cells; a hidden cell is
// determined when a row of the reduced system is 1 at it and 0 elsewhere.
func hiddenDetermined(margins [][]string, hidden map[string]bool) []string {
	idx := map[string]int{}
	var names []string
	for _, m := range margins {
		for _, c := range m {
			if hidden[c] {
				if _, ok := idx[c]; !ok {
					idx[c] = len(names)
					names = append(names, c)
				}
			}
		}
	}
	var a [][]float64
	for _, m := range margins { // m[0] is the total
		r := make([]float64, len(names))
		for i, c := range m {
			if j, ok := idx[c]; ok {
				if i == 0 {
					r[j]--
				} else {
					r[j]++
				}
			}
		}
		a = append(a, r)
	}
	row := 0
	var piv []int
	for j := 0; j < len(names) && row < len(a); j++ {
		best := -1
		for i := row; i < len(a); i++ {
			if math.Abs(a[i][j]) > 1e-9 && (best < 0 || math.Abs(a[i][j]) > math.Abs(a[best][j])) {
				best = i
			}
		}
		if best < 0 {
			continue
		}
		a[row], a[best] = a[best], a[row]
		f := a[row][j]
		for k := range a[row] {
			a[row][k] /= f
		}
		for i := range a {
			if i != row && math.Abs(a[i][j]) > 1e-9 {
				g := a[i][j]
				for k := range a[i] {
					a[i][k] -= g * a[row][k]
				}
			}
		}
		piv = append(piv, j)
		row++
	}
	var out []string
	for i, j := range piv {
		unit := true
		for k, v := range a[i] {
			if k != j && math.Abs(v) > 1e-9 {
				unit = false
			}
		}
		if unit {
			out = append(out, names[j])
		}
	}
	return out
}

func TestCountNoGrouping(t *testing.T) {
	e := newEnv(t)
	all := e.count(e.persons())
	checkCount(t, "all persons", all, queryInt(t, "SELECT count(*) FROM person"))
	tab := e.table(spec.MCount, spec.CountArgs{Handle: e.events("condition_occurrence", cT2D).ID})
	if len(tab.Rows) != 1 || len(tab.Columns) != 3 || tab.Columns[2] != "rows" || tab.Ref == "" {
		t.Fatalf("table %+v", tab)
	}
	checkCount(t, "T2D persons", tab.Rows[0][1], queryInt(t, "SELECT count(DISTINCT person_id) FROM condition_occurrence WHERE condition_concept_id = 201826"))
	checkCount(t, "T2D rows", tab.Rows[0][2], queryInt(t, "SELECT count(*) FROM condition_occurrence WHERE condition_concept_id = 201826"))
	// A small cohort: 19 persons with the rare condition.
	rare := e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cRare}}})
	n := queryInt(t, "SELECT count(DISTINCT person_id) FROM condition_occurrence WHERE condition_concept_id = 443601")
	if n < 1 || n > 20 {
		t.Fatalf("the rare condition has %d persons", n)
	}
	c := e.count(rare)
	checkCount(t, "rare", c, n)
	if c.Status != spec.Small {
		t.Errorf("rare cohort status %q", c.Status)
	}
	// A cohort of nobody shows 0, released.
	none := e.count(e.derive(e.persons(), spec.Step{Age: &spec.AgeStep{Min: 140, Max: 150}}))
	if v := released(t, "nobody", none); v != 0 || none.Text != "0" {
		t.Errorf("nobody: %q", none.Text)
	}
}

func TestCountByOneVar(t *testing.T) {
	cut := dataCut(t)
	inT2D := "p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)"
	cases := []struct {
		name, by   string
		events     bool
		mk         func(e *env) spec.Handle
		from, cond string
		partition  bool
	}{
		{"all by gender", "gender", false, func(e *env) spec.Handle { return e.persons() }, "person p", "TRUE", true},
		{"all by race", "race", false, func(e *env) spec.Handle { return e.persons() }, "person p", "TRUE", true},
		{"all by ethnicity", "ethnicity", false, func(e *env) spec.Handle { return e.persons() }, "person p", "TRUE", true},
		{"all by age_group", "age_group", false, func(e *env) spec.Handle { return e.persons() }, "person p", "TRUE", true},
		{"all by age_decade", "age_decade", false, func(e *env) spec.Handle { return e.persons() }, "person p", "TRUE", true},
		{"all by birth_decade", "birth_decade", false, func(e *env) spec.Handle { return e.persons() }, "person p", "TRUE", true},
		{"T2D by gender", "gender", false, func(e *env) spec.Handle {
			return e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		}, "person p", inT2D, true},
		{"T2D by race", "race", false, func(e *env) spec.Handle {
			return e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		}, "person p", inT2D, true},
		{"T2D rows by gender", "gender", true, func(e *env) spec.Handle { return e.events("condition_occurrence", cT2D) },
			"condition_occurrence x JOIN person p ON p.person_id = x.person_id", "x.condition_concept_id = 201826", true},
		{"conditions by concept", "condition_concept_id", true, func(e *env) spec.Handle { return e.events("condition_occurrence") },
			"condition_occurrence x JOIN person p ON p.person_id = x.person_id", "TRUE", false},
		{"drugs of females by concept", "drug_concept_id", true, func(e *env) spec.Handle {
			return e.derive(e.events("drug_exposure"), spec.Step{Of: e.derive(e.persons(), spec.Step{Sex: "female"}).ID})
		}, "drug_exposure x JOIN person p ON p.person_id = x.person_id", "p.gender_concept_id = 8532", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			tab := e.table(spec.MCount, spec.CountArgs{Handle: c.mk(e).ID, By: []string{c.by}})
			lbl := ""
			if c.by == "drug_concept_id" {
				lbl = strings.ReplaceAll(labelSQL("condition_concept_id", cut), "x.condition_concept_id", "x.drug_concept_id")
			} else {
				lbl = labelSQL(c.by, cut)
			}
			want := groupTruthLabel(t, c.from, c.cond, lbl)
			wantCols := []string{c.by, "persons"}
			if c.events {
				wantCols = append(wantCols, "rows")
			}
			if fmt.Sprint(tab.Columns) != fmt.Sprint(wantCols) {
				t.Fatalf("columns %q", tab.Columns)
			}
			if len(tab.Rows) != len(want) {
				t.Errorf("%d rows, SQL has %d groups with the total", len(tab.Rows), len(want))
			}
			if last := tab.Rows[len(tab.Rows)-1][0].Text; last != "Total" {
				t.Errorf("last row %q", last)
			}
			hiddenP, hiddenR := map[string]bool{}, map[string]bool{}
			var margP, margR []string
			small := 0
			for _, r := range tab.Rows {
				label := r[0].Text
				key := label
				if label == "Total" {
					key = ""
				}
				w, ok := want[key]
				if !ok {
					t.Errorf("row %q is not a group in SQL", label)
					continue
				}
				checkCount(t, label+" persons", r[1], w.persons)
				if r[1].Status == spec.Small {
					small++
				}
				if r[1].Value == nil {
					hiddenP[key] = true
				}
				if c.events {
					checkCount(t, label+" rows", r[2], w.rows)
					if r[2].Value == nil {
						hiddenR[key] = true
					}
					if r[1].Value == nil && r[2].Value != nil {
						t.Errorf("%s: rows of hidden persons shown", label)
					}
				}
				if key == "" {
					margP, margR = append([]string{""}, margP...), append([]string{""}, margR...)
				} else {
					margP, margR = append(margP, key), append(margR, key)
				}
			}
			if c.partition && small == 1 && len(hiddenP) < 2 {
				t.Errorf("one small level and no other cell hidden")
			}
			if c.partition {
				if d := hiddenDetermined([][]string{margP}, hiddenP); len(d) > 0 {
					t.Errorf("hidden person counts %q follow from the total and the other levels", d)
				}
			}
			// Every row has exactly one level: the rows always add up.
			if c.events {
				if d := hiddenDetermined([][]string{margR}, hiddenR); len(d) > 0 {
					t.Errorf("hidden row counts %q follow from the total rows and the other levels", d)
				}
			}
			if small > 0 && !contains(tab.Notes, "≤20") {
				t.Errorf("notes %q do not explain ≤20", tab.Notes)
			}
			t.Logf("%d levels, %d small, %d persons hidden", len(tab.Rows)-1, small, len(hiddenP))
		})
	}
}

// groupTruthLabel counts persons and rows by a label expression, with the
// total under "".
func groupTruthLabel(t *testing.T, from, where, label string) map[string]truth {
	t.Helper()
	q := fmt.Sprintf("SELECT coalesce(l, ''), count(DISTINCT pid), count(*) FROM (SELECT %s AS l, p.person_id AS pid FROM %s WHERE %s) GROUP BY GROUPING SETS ((l), ())", label, from, where)
	out := map[string]truth{}
	for _, r := range queryRows(t, q) {
		out[r[0].(string)] = truth{r[1].(int64), r[2].(int64)}
	}
	return out
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func TestCountByTwoVars(t *testing.T) {
	cut := dataCut(t)
	cases := []struct {
		name   string
		by     []string
		mk     func(e *env) spec.Handle
		from   string
		cond   string
		events bool
	}{
		{"all: gender × age_group", []string{"gender", "age_group"}, func(e *env) spec.Handle { return e.persons() }, "person p", "TRUE", false},
		{"all: race × gender", []string{"race", "gender"}, func(e *env) spec.Handle { return e.persons() }, "person p", "TRUE", false},
		{"T2D: age_decade × gender", []string{"age_decade", "gender"}, func(e *env) spec.Handle {
			return e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		}, "person p", "p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)", false},
		{"HTN rows: gender × year", []string{"gender", "year(condition_start_date)"}, func(e *env) spec.Handle {
			return e.events("condition_occurrence", cHTN)
		}, "condition_occurrence x JOIN person p ON p.person_id = x.person_id", "x.condition_concept_id = 320128", true},
		{"conditions: gender × concept", []string{"gender", "condition_concept_id"}, func(e *env) spec.Handle {
			return e.derive(e.events("condition_occurrence"), where("condition_concept_id", "in", cT2D, cHTN, 432867))
		}, "condition_occurrence x JOIN person p ON p.person_id = x.person_id", "x.condition_concept_id IN (201826, 320128, 432867)", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			tab := e.table(spec.MCount, spec.CountArgs{Handle: c.mk(e).ID, By: c.by})
			want := groupTruth(t, c.from, c.cond, c.by, cut)
			if tab.Columns[len(tab.Columns)-1] != "Total" || tab.Rows[len(tab.Rows)-1][0].Text != "Total" {
				t.Fatalf("no margins: %q", tab.Columns)
			}
			hidden := map[string]bool{}
			name := func(k [2]string) string { return k[0] + "|" + k[1] }
			var rowsM, colsM [][]string
			grandRows, grandCols := []string{"|"}, []string{"|"}
			colKeys := tab.Columns[1 : len(tab.Columns)-1]
			for j := range colKeys {
				colsM = append(colsM, []string{"|" + colKeys[j]})
			}
			cells, small := 0, 0
			for _, r := range tab.Rows {
				rl := r[0].Text
				if rl == "Total" {
					rl = ""
				}
				m := []string{rl + "|"}
				for j, cl := range tab.Columns[1:] {
					if cl == "Total" {
						cl = ""
					}
					k := [2]string{rl, cl}
					w := want[k] // missing: a zero cell
					checkCount(t, name(k), r[j+1], w.persons)
					cells++
					if r[j+1].Status == spec.Small {
						small++
					}
					if r[j+1].Value == nil {
						hidden[name(k)] = true
					}
					if rl != "" && cl != "" {
						m = append(m, name(k))
						colsM[j] = append(colsM[j], name(k))
					}
				}
				if rl != "" {
					rowsM = append(rowsM, m)
					grandRows = append(grandRows, rl+"|")
				}
			}
			for _, cl := range colKeys {
				grandCols = append(grandCols, "|"+cl)
			}
			// Every group in SQL is in the table.
			for k, w := range want {
				if w.persons > 0 && !hasCell(tab, k) {
					t.Errorf("group %q missing", k)
				}
			}
			// The margins that add up: over a person-level variable
			// (each person has one value) every total is the sum of its
			// parts; over an events column (a person's rows may have
			// several values) only the margins over the person variable do.
			margins := append(append(rowsM, colsM...), grandRows, grandCols)
			if c.events {
				margins = append(colsM, grandRows) // the rows are gender
			}
			if d := hiddenDetermined(margins, hidden); len(d) > 0 {
				t.Errorf("hidden cells %q follow from the margins", d)
			}
			t.Logf("%d cells, %d small, %d hidden", cells, small, len(hidden))
		})
	}
}

func hasCell(tab *spec.Table, k [2]string) bool {
	row, col := false, false
	for _, r := range tab.Rows {
		if r[0].Text == k[0] || (k[0] == "" && r[0].Text == "Total") {
			row = true
		}
	}
	for _, c := range tab.Columns {
		if c == k[1] || (k[1] == "" && c == "Total") {
			col = true
		}
	}
	return row && col
}

// duplicatedPersons is the fixture's engine with every third person's row
// of the person table repeated, as a tier built without deduplication
// would hold it.
type duplicatedPersons struct{ analysis.Engine }

func (d duplicatedPersons) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	dup := "(SELECT * FROM person UNION ALL SELECT * FROM person WHERE person_id % 3 = 0)"
	q = strings.ReplaceAll(q, "FROM person p", "FROM "+dup+" p")
	if strings.HasSuffix(q, "FROM person") {
		q = strings.TrimSuffix(q, "person") + dup
	}
	return d.Engine.QueryContext(ctx, q, args...)
}

// TestPersonsCountedOnceWhenRowsRepeat: cohorts are counted with a plain
// count of person rows only where the person table holds each person once;
// over a table that repeats some, the counts are still of distinct persons.
func TestPersonsCountedOnceWhenRowsRepeat(t *testing.T) {
	plain := newEnv(t)
	dup := newEnvOn(t, duplicatedPersons{engine(t)}, filepath.Join(t.TempDir(), "history.jsonl"))
	want := plain.table(spec.MCount, spec.CountArgs{Handle: plain.persons().ID, By: []string{"gender"}})
	got := dup.table(spec.MCount, spec.CountArgs{Handle: dup.persons().ID, By: []string{"gender"}})
	texts := func(tab *spec.Table) (out []string) {
		for _, r := range tab.Rows {
			for _, c := range r {
				out = append(out, c.Text)
			}
		}
		return out
	}
	if fmt.Sprint(texts(got)) != fmt.Sprint(texts(want)) {
		t.Fatalf("counts over repeated person rows %v, want %v", texts(got), texts(want))
	}
	// The wrapper does repeat rows: a plain count over it is larger.
	rows, err := duplicatedPersons{engine(t)}.QueryContext(context.Background(), "SELECT count(*) FROM person")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	if !rows.Next() || rows.Scan(&n) != nil || n <= queryInt(t, "SELECT count(*) FROM person") {
		t.Fatalf("the duplicating engine does not repeat rows (%d)", n)
	}
	total := queryInt(t, "SELECT count(*) FROM person")
	checkCount(t, "all persons", plain.count(plain.persons()), total)
	checkCount(t, "all persons, rows repeated", dup.count(dup.persons()), total)
}

// TestBreakdownOfOnePerson is review 28's third attack: a cohort of one
// person, broken down, listed that person's conditions (the groups shown),
// race and sex (Table 1) and BMI readings (the histogram bins shown as
// ≤20 beside hidden zeros). A breakdown of 1–20 persons shows no rows;
// its plot draws and marks no bar.
func TestBreakdownOfOnePerson(t *testing.T) {
	sw := findSandwich(t)
	e := newEnv(t)
	one := sw.target(e)
	conds := e.events("condition_occurrence")
	for _, tab := range []*spec.Table{
		e.table(spec.MCount, spec.CountArgs{Handle: e.derive(conds, spec.Step{Of: one.ID}).ID, By: []string{"condition_concept_id"}}),
		e.table(spec.MTable1, spec.Table1Args{Cohort: one.ID, Vars: []string{"gender", "race", "age_decade"}}),
	} {
		if len(tab.Rows) != 0 || !contains(tab.Notes, "no breakdown") {
			t.Errorf("%s: %d rows %v, notes %q; want none and the note", tab.Title, len(tab.Rows), tab.Rows, tab.Notes)
		}
	}
	var p spec.Plot
	e.must(spec.MHistogram, spec.HistogramArgs{Handle: e.derive(e.events("measurement", cBMI), spec.Step{Of: one.ID}).ID, Column: "value_as_number", Bins: 40, Min: 10, Max: 50}, &p)
	if p.Table == nil || len(p.Table.Rows) != 0 {
		t.Errorf("histogram of one person's BMI: table %v", p.Table)
	}
	// A breakdown of many persons still lists its rows.
	if tab := e.table(spec.MTable1, spec.Table1Args{Cohort: e.persons().ID, Vars: []string{"gender"}}); len(tab.Rows) < 2 {
		t.Errorf("Table 1 of everyone: %d rows", len(tab.Rows))
	}
}

// TestCompareOneOfItsGroupsIsOnePerson is review 29's first finding: a
// stats.Compare column for a one-person group showed ≤20 at that person's
// sex, race and age group and 0 elsewhere. Every count of a group of 1–20
// persons is hidden alike; the other group's column is shown.
func TestCompareOneOfItsGroupsIsOnePerson(t *testing.T) {
	sw := findSandwich(t)
	e := newEnv(t)
	all := e.persons()
	tab := e.table(spec.MTable1, spec.Table1Args{Cohort: all.ID, Vars: []string{"gender", "race", "age_group"},
		Groups: []string{sw.target(e).ID, all.ID}, GroupNames: []string{"t", "all"}})
	shownAll := 0
	for _, r := range tab.Rows {
		if len(r) < 5 || r[0].Text == "N (persons)" {
			continue
		}
		if c := r[1]; c.Text != "*" {
			t.Errorf("%s: the one-person group shows %q", strings.TrimSpace(r[0].Text), c.Text)
		}
		if r[3].Value != nil {
			shownAll++
		}
	}
	if shownAll == 0 {
		t.Errorf("the group of everyone shows nothing: %v", tab.Rows)
	}
}

// TestCountRowsPartition is review 32's attack with counts alone: the rows
// of condition_occurrence of P (persons without type 2 diabetes and T, who
// have it), then of W (others without it) and of P ∪ W with its rows left
// out: P's rows plus W's less the union's are T's diabetes rows. The
// union's rows are hidden, its persons shown; and with every row, all
// three are shown. Four blocks, as Describe means, likewise.
func TestCountRowsPartition(t *testing.T) {
	const at = "2024-12-31"
	for _, filtered := range []bool{true, false} {
		e := newEnv(t)
		all := e.persons()
		s := e.events("condition_occurrence")
		sf := s
		if filtered {
			sf = e.derive(s, spec.Step{Where: &spec.Filter{Column: "condition_concept_id", Op: "!=", Values: []any{float64(cT2D)}}})
		}
		t2d := e.derive(all, spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		q := e.derive(e.derive(all, spec.Step{With: &spec.Has{Handle: s.ID}}), spec.Step{Minus: t2d.ID})
		tgt := e.derive(t2d, spec.Step{Age: &spec.AgeStep{Min: 50, Max: 52, At: at}})
		p1 := e.derive(e.derive(q, spec.Step{Sex: "female"}), spec.Step{Or: tgt.ID})
		w := e.derive(q, spec.Step{Sex: "male"})
		u := e.derive(p1, spec.Step{Or: w.ID})
		count := func(events, cohort spec.Handle) []spec.Cell {
			tab := e.table(spec.MCount, spec.CountArgs{Handle: e.derive(events, spec.Step{Of: cohort.ID}).ID})
			return tab.Rows[0][1:]
		}
		for _, c := range [][]spec.Cell{count(s, p1), count(sf, w)} {
			if c[0].Value == nil || c[1].Value == nil {
				t.Fatalf("filtered %v: persons %+v, rows %+v", filtered, c[0], c[1])
			}
		}
		c := count(sf, u)
		if c[0].Value == nil || (c[1].Value == nil) != filtered {
			t.Errorf("filtered %v: the union: persons %+v, rows %+v", filtered, c[0], c[1])
		}
	}
	// Four blocks of BMI means: P, then Y, Z and P ∪ Y ∪ Z over the
	// readings below 60 (only some of P's are above).
	e := newEnv(t)
	all := e.persons()
	bmi := e.events("measurement", cBMI)
	below := e.derive(bmi, spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: "<", Values: []any{60.0}}})
	with := e.derive(all, spec.Step{With: &spec.Has{Handle: bmi.ID}})
	band := func(sex string, lo, hi int) spec.Handle {
		return e.derive(e.derive(with, spec.Step{Sex: sex}), spec.Step{Age: &spec.AgeStep{Min: lo, Max: hi, At: at}})
	}
	p, y, z := band("female", 20, 50), band("male", 20, 45), band("male", 46, 70)
	mean := func(events, cohort spec.Handle) spec.Cell {
		d := e.table(spec.MDescribe, spec.DescribeArgs{Handle: e.derive(events, spec.Step{Of: cohort.ID}).ID, Column: "value_as_number", At: at})
		return d.Rows[0][2]
	}
	for _, c := range []spec.Cell{mean(bmi, p), mean(below, y), mean(below, z)} {
		if c.Value == nil {
			t.Fatalf("a block's mean hidden: %+v", c)
		}
	}
	if c := mean(below, e.derive(e.derive(p, spec.Step{Or: y.ID}), spec.Step{Or: z.ID})); c.Value != nil {
		t.Errorf("the union of the four blocks: mean %+v", c)
	}
}

// TestRowsAcrossResults is review 33's attack: Describe's rows of a
// cohort's BMI readings, then stats.Count's rows of the same persons'
// readings up to a cut-off (or the other way round): the persons are the
// same, and the difference was one person's readings above the cut-off.
// Row counts are one quantity whichever result shows them: the second is
// hidden, its persons too (they were released beside it).
func TestRowsAcrossResults(t *testing.T) {
	const at = "2024-12-31"
	for _, countFirst := range []bool{false, true} {
		e := newEnv(t)
		bmi := e.events("measurement", cBMI)
		low := e.derive(bmi, spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: "<=", Values: []any{30.0}}})
		c := e.derive(e.derive(e.persons(), spec.Step{With: &spec.Has{Handle: low.ID}}), spec.Step{Age: &spec.AgeStep{Min: 40, Max: 60, At: at}})
		describe := func() spec.Cell {
			d := e.table(spec.MDescribe, spec.DescribeArgs{Handle: e.derive(bmi, spec.Step{Of: c.ID}).ID, Column: "value_as_number", At: at})
			return d.Rows[0][1]
		}
		count := func() spec.Cell {
			return e.table(spec.MCount, spec.CountArgs{Handle: e.derive(low, spec.Step{Of: c.ID}).ID}).Rows[0][2]
		}
		first, second := describe, count
		if countFirst {
			first, second = count, describe
		}
		if r := first(); r.Value == nil {
			t.Fatalf("count first %v: the first rows %+v", countFirst, r)
		}
		if r := second(); r.Value != nil {
			t.Errorf("count first %v: the second rows %+v", countFirst, r)
		}
	}
}

// TestCompareColumnsAddUp is review 34's attack: a Compare of X ∪ T, X ∪ Y
// and Y, by race and then ethnicity: in every row the first less the
// second plus the third is T. The audit saw only the result's first 16
// cells, so the second variable's rows gave T's ethnicity (and, with T
// narrowed by a condition, whether they have it). No row shows three
// numbers that add up to 1–20. And a Compare of A and A ∪ T hid just the
// cells holding T, which named T's race: now the whole second group is.
func TestCompareColumnsAddUp(t *testing.T) {
	sw := findSandwich(t)
	const at = "2024-12-31"
	e := newEnv(t)
	all := e.persons()
	tgt := sw.target(e)
	band := func(lo, hi int) spec.Handle {
		return e.derive(e.derive(all, spec.Step{Age: &spec.AgeStep{Min: lo, Max: hi, At: at}}), spec.Step{Minus: tgt.ID})
	}
	x, y := band(18, 49), band(50, 130)
	or := func(a, b spec.Handle) spec.Handle { return e.derive(a, spec.Step{Or: b.ID}) }
	tab := e.table(spec.MTable1, spec.Table1Args{Cohort: all.ID, Vars: []string{"race", "ethnicity"},
		Groups: []string{or(x, tgt).ID, or(x, y).ID, y.ID}, GroupNames: []string{"xt", "xy", "y"}})
	for _, r := range tab.Rows {
		if len(r) < 7 || r[1].Value == nil || r[3].Value == nil || r[5].Value == nil {
			continue
		}
		if d := *r[1].Value - *r[3].Value + *r[5].Value; d >= 1 && d <= 20 {
			t.Errorf("%s: %s − %s + %s = %g", strings.TrimSpace(r[0].Text), r[1].Text, r[3].Text, r[5].Text, d)
		}
	}
	e = newEnv(t)
	all = e.persons()
	a := e.derive(e.derive(all, spec.Step{Age: &spec.AgeStep{Min: 60, Max: 130, At: at}}), spec.Step{Minus: sw.target(e).ID})
	tab = e.table(spec.MTable1, spec.Table1Args{Cohort: all.ID, Vars: []string{"race", "ethnicity"},
		Groups: []string{a.ID, e.derive(a, spec.Step{Or: sw.target(e).ID}).ID}, GroupNames: []string{"a", "at"}})
	hidden, shown := 0, 0
	for _, r := range tab.Rows {
		if len(r) < 5 || r[3].Text == "" {
			continue
		}
		if r[3].Value == nil {
			hidden++
		} else if r[1].Value != nil && *r[1].Value > 0 {
			shown++
		}
	}
	if hidden > 0 && shown > 0 {
		t.Errorf("A and A ∪ T: %d cells of A ∪ T hidden beside %d shown: which are hidden names T's levels", hidden, shown)
	}
}

// TestCountAgainstADeepCompare is review 35's attack: a Compare of 30
// filler groups, then X ∪ Y and Y, by race; then counts of X ∪ T and of Y
// by race. X ∪ T less X ∪ Y plus Y is T in every row, and the Compare's
// cells were past the first cells of a result the audit takes (178 − 205
// + 28 = 1 here). No race shows three numbers that add up to 1–20.
func TestCountAgainstADeepCompare(t *testing.T) {
	const at = ""
	e := newEnv(t)
	persons := e.persons()
	band := func(lo, hi int) spec.Handle {
		return e.derive(persons, spec.Step{Age: &spec.AgeStep{Min: lo, Max: hi, At: at}})
	}
	all := band(18, 89)
	// T: women aged 45 with hyperlipidemia, apart from X and Y.
	tgt := e.derive(e.derive(band(45, 45), spec.Step{Sex: "female"}), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{432867}}})
	x, y := band(50, 89), band(20, 30)
	var groups, names []string
	for j := 0; j < 30; j++ {
		groups = append(groups, band(19+2*j, 89).ID)
		names = append(names, fmt.Sprintf("j%02d", j))
	}
	groups = append(groups, e.derive(x, spec.Step{Or: y.ID}).ID, y.ID)
	names = append(names, "xy", "y")
	cmp := e.table(spec.MTable1, spec.Table1Args{Cohort: all.ID, Vars: []string{"race"}, Groups: groups, GroupNames: names})
	xy := map[string]*float64{}
	for _, r := range cmp.Rows {
		if len(r) >= 2*len(groups)+1 {
			xy[strings.TrimSpace(r[0].Text)] = r[2*30+1].Value
		}
	}
	byRace := func(h spec.Handle) map[string]*float64 {
		out := map[string]*float64{}
		for _, r := range e.table(spec.MCount, spec.CountArgs{Handle: h.ID, By: []string{"race"}}).Rows {
			out[strings.TrimSpace(r[0].Text)] = r[1].Value
		}
		return out
	}
	xt, yy := byRace(e.derive(x, spec.Step{Or: tgt.ID})), byRace(y)
	checked := 0
	for race, v := range xy {
		if v == nil || xt[race] == nil || yy[race] == nil {
			continue
		}
		checked++
		if d := *xt[race] - *v + *yy[race]; d >= 1 && d <= 20 {
			t.Errorf("%s: %g − %g + %g = %g", race, *xt[race], *v, *yy[race], d)
		}
	}
	if len(xy) == 0 {
		t.Fatalf("no race rows in the Compare: %v", cmp.Rows)
	}
	t.Logf("%d races with all three shown", checked)
}

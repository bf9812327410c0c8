package analysis_test

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"enclave/api/spec"
)

func TestTable1(t *testing.T) {
	e := newEnv(t)
	cut := dataCut(t)
	t2d := e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
	vars := []string{"gender", "age_group", "race"}
	tab := e.table(spec.MTable1, spec.Table1Args{Cohort: t2d.ID, Vars: vars})
	from, cond := "person p", "p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)"
	n := queryInt(t, "SELECT count(*) FROM person p WHERE "+cond)
	if fmt.Sprint(tab.Columns) != "[characteristic all n all %]" {
		t.Fatalf("columns %q", tab.Columns)
	}
	if tab.Rows[0][0].Text != "N (persons)" || released(t, "N", tab.Rows[0][1]) != float64(n) {
		t.Fatalf("N row %+v, want %d", tab.Rows[0], n)
	}
	// Variable header rows, then one row per level.
	var cur string
	var want map[string]truth
	hidden := map[string]bool{}
	margins := map[string][]string{}
	seen := map[string]int{}
	for _, r := range tab.Rows[1:] {
		if len(r) == 1 {
			cur = r[0].Text
			want = groupTruthLabel(t, from, cond, labelSQL(cur, cut))
			margins[cur] = []string{"N"}
			continue
		}
		label := strings.TrimPrefix(r[0].Text, "  ")
		w, ok := want[label]
		if !ok {
			t.Errorf("%s: level %q not in SQL", cur, label)
			continue
		}
		seen[cur]++
		name := cur + "=" + label
		checkCount(t, name, r[1], w.persons)
		margins[cur] = append(margins[cur], name)
		if r[1].Value == nil {
			hidden[name] = true
			if r[2].Value != nil {
				t.Errorf("%s: percentage %q of a hidden count", name, r[2].Text)
			}
			continue
		}
		pct := 100 * float64(w.persons) / float64(n)
		if r[2].Value == nil || math.Abs(*r[2].Value-pct) > 0.05+1e-9 || r[2].Text != fmt.Sprintf("%.1f%%", pct) {
			t.Errorf("%s: %q (%v), want %.1f%%", name, r[2].Text, r[2].Value, pct)
		}
	}
	for _, v := range vars {
		// want has the levels and the total ("").
		if got, w := seen[v], len(groupTruthLabel(t, from, cond, labelSQL(v, cut)))-1; got != w {
			t.Errorf("%s: %d levels, SQL %d", v, got, w)
		}
		if d := hiddenDetermined([][]string{margins[v]}, hidden); len(d) > 0 {
			t.Errorf("%s: hidden levels %q follow from N and the others", v, d)
		}
	}
	if len(hidden) == 0 {
		t.Errorf("expected small levels in race and gender of the T2D cohort")
	}

	// Split by sex: each group's N is its own cohort's size.
	e = newEnv(t)
	t2d = e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
	fem := e.derive(e.persons(), spec.Step{Sex: "female"})
	mal := e.derive(e.persons(), spec.Step{Sex: "male"})
	tab = e.table(spec.MTable1, spec.Table1Args{Cohort: t2d.ID, Vars: []string{"age_group"}, Groups: []string{fem.ID, mal.ID}, GroupNames: []string{"F", "M"}})
	if fmt.Sprint(tab.Columns) != "[characteristic F n F % M n M %]" {
		t.Fatalf("columns %q", tab.Columns)
	}
	for i, g := range []int{8532, 8507} {
		want := queryInt(t, fmt.Sprintf("SELECT count(*) FROM person p WHERE %s AND p.gender_concept_id = %d", cond, g))
		if v := released(t, "group N", tab.Rows[0][1+2*i]); v != float64(want) {
			t.Errorf("group %d N %v, want %d", g, v, want)
		}
		lv := groupTruthLabel(t, from, fmt.Sprintf("%s AND p.gender_concept_id = %d", cond, g), labelSQL("age_group", cut))
		for _, r := range tab.Rows[2:] {
			w := lv[strings.TrimPrefix(r[0].Text, "  ")]
			checkCount(t, r[0].Text, r[1+2*i], w.persons)
			if r[1+2*i].Value != nil && math.Abs(*r[2+2*i].Value-100*float64(w.persons)/float64(want)) > shownTol(r[2+2*i].Text)+1e-9 {
				t.Errorf("%s: %s", r[0].Text, r[2+2*i].Text)
			}
		}
	}
}

// describeTruth is DuckDB's own summary of the same rows.
type describeTruth struct {
	persons, rows                 int64
	mean, sd, q1, med, q3, lo, hi float64
	values                        []personValue
}

// windowValues is how many distinct values the rows of smoothedQuantile's
// window hold, and how many rows it has.
func windowValues(vs []personValue, p float64) (distinct, rows int) {
	_, _, first, last, _ := smoothedWindow(vs, p)
	sorted := slices.Clone(vs)
	slices.SortFunc(sorted, func(a, b personValue) int {
		if c := cmp.Compare(a.v, b.v); c != 0 {
			return c
		}
		return cmp.Compare(a.pid, b.pid)
	})
	seen := map[float64]bool{}
	for _, x := range sorted[first-1 : last] {
		seen[x.v] = true
	}
	return len(seen), last - first + 1
}

// personValue is one row's value and its person.
type personValue struct {
	v   float64
	pid int64
}

// smoothedQuantile is the quantile p as Describe releases it: with the n
// values ranked (ties by person), the mean of those within w ranks of
// rank c = round(p·(n−1)+1), where w is at least 10 and reaches the 21st
// person counted by their row nearest c.
func smoothedQuantile(vs []personValue, p float64) float64 {
	mean, _, _, _, _ := smoothedWindow(vs, p)
	return mean
}

// smoothedWindow is smoothedQuantile's window: the mean of its values,
// the persons it holds (none when more than half its rows are one
// person's: it is hidden), its first and last rank, and who those persons
// are (in order).
func smoothedWindow(vs []personValue, p float64) (mean float64, persons, first, last int, members []int64) {
	vs = slices.Clone(vs)
	slices.SortFunc(vs, func(a, b personValue) int {
		if c := cmp.Compare(a.v, b.v); c != 0 {
			return c
		}
		return cmp.Compare(a.pid, b.pid)
	})
	n := len(vs)
	c := math.Round(p*float64(n-1) + 1)
	nearest := map[int64]float64{}
	for i, x := range vs {
		d := math.Abs(float64(i+1) - c)
		if old, ok := nearest[x.pid]; !ok || d < old {
			nearest[x.pid] = d
		}
	}
	ds := slices.Sorted(maps.Values(nearest))
	w := float64(n)
	if len(ds) >= 21 {
		w = ds[20]
	}
	w = max(10, w)
	sum, k := 0.0, 0
	who := map[int64]int{}
	for i, x := range vs {
		if math.Abs(float64(i+1)-c) <= w {
			sum += x.v
			k++
			who[x.pid]++
			if first == 0 {
				first = i + 1
			}
			last = i + 1
		}
	}
	persons = len(who)
	if 2*slices.Max(slices.Collect(maps.Values(who))) > k {
		persons = 0
	}
	return sum / float64(k), persons, first, last, slices.Sorted(maps.Keys(who))
}

func TestDescribe(t *testing.T) {
	cut := dataCut(t)
	m := "measurement x JOIN person p ON p.person_id = x.person_id"
	a1c := "x.measurement_concept_id = 3004410 AND x.value_as_number IS NOT NULL"
	cases := []struct {
		name   string
		mk     func(e *env) spec.Handle
		column string
		by     []string
		from   string
		cond   string
		value  string
		events bool
		minmax bool // check no released statistic equals a group's extreme
	}{
		{"HbA1c", func(e *env) spec.Handle { return e.events("measurement", cHbA1c) }, "value_as_number", nil, m, a1c, "x.value_as_number", true, true},
		{"HbA1c by gender", func(e *env) spec.Handle { return e.events("measurement", cHbA1c) }, "value_as_number", []string{"gender"}, m, a1c, "x.value_as_number", true, true},
		{"HbA1c of T2D by gender", func(e *env) spec.Handle {
			t2d := e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
			return e.derive(e.events("measurement", cHbA1c), spec.Step{Of: t2d.ID})
		}, "value_as_number", []string{"gender"}, m, a1c + " AND p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)", "x.value_as_number", true, true},
		{"HbA1c by race", func(e *env) spec.Handle { return e.events("measurement", cHbA1c) }, "value_as_number", []string{"race"}, m, a1c, "x.value_as_number", true, true},
		{"HbA1c by gender × age_group", func(e *env) spec.Handle { return e.events("measurement", cHbA1c) }, "value_as_number", []string{"gender", "age_group"}, m, a1c, "x.value_as_number", true, true},
		{"age of T2D by race", func(e *env) spec.Handle {
			return e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		}, "age", []string{"race"}, "person p", "p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)", "CAST(" + ageSQL("p", cut) + " AS DOUBLE)", false, false},
		{"steps by gender", func(e *env) spec.Handle { return e.events("activity_summary") }, "steps", []string{"gender"},
			"activity_summary x JOIN person p ON p.person_id = x.person_id", "x.steps IS NOT NULL", "CAST(x.steps AS DOUBLE)", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			tab := e.table(spec.MDescribe, spec.DescribeArgs{Handle: c.mk(e).ID, Column: c.column, By: c.by})
			for _, col := range tab.Columns {
				if l := strings.ToLower(col); strings.Contains(l, "min") || strings.Contains(l, "max") {
					t.Errorf("column %q", col)
				}
			}
			nb := len(c.by)
			want := map[string]describeTruth{}
			var ls []string
			for _, v := range c.by {
				ls = append(ls, labelSQL(v, cut))
			}
			key := "''"
			if nb > 0 {
				key = strings.Join(ls, " || '|' || ")
			}
			v := c.value
			q := fmt.Sprintf(`SELECT %s, count(DISTINCT p.person_id), count(*), avg(%[2]s), stddev_samp(%[2]s), min(%[2]s), max(%[2]s)
				FROM %[3]s WHERE %[4]s GROUP BY 1`, key, v, c.from, c.cond)
			values := map[string][]personValue{}
			for _, r := range queryRows(t, fmt.Sprintf(`SELECT %s, %s, p.person_id FROM %s WHERE %s`, key, v, c.from, c.cond)) {
				if x, ok := r[1].(float64); ok {
					values[r[0].(string)] = append(values[r[0].(string)], personValue{x, r[2].(int64)})
				}
			}
			for _, r := range queryRows(t, q) {
				f := func(i int) float64 {
					switch x := r[i].(type) {
					case float64:
						return x
					case int64:
						return float64(x)
					}
					return math.NaN()
				}
				vs := values[r[0].(string)]
				want[r[0].(string)] = describeTruth{r[1].(int64), r[2].(int64), f(3), f(4),
					smoothedQuantile(vs, 0.25), smoothedQuantile(vs, 0.5), smoothedQuantile(vs, 0.75), f(5), f(6), vs}
			}
			if len(tab.Rows) != len(want) {
				t.Errorf("%d rows, SQL %d groups", len(tab.Rows), len(want))
			}
			small, tied, quartiles := 0, 0, 0
			hidden := map[string]bool{}
			for _, r := range tab.Rows {
				var parts []string
				for i := 0; i < nb; i++ {
					parts = append(parts, r[i].Text)
				}
				k := strings.Join(parts, "|")
				w, ok := want[k]
				if !ok {
					t.Errorf("group %q not in SQL", k)
					continue
				}
				checkCount(t, k+" persons", r[nb], w.persons)
				if c.events {
					checkCount(t, k+" rows", r[nb+1], w.rows)
				}
				stats := r[nb+2:]
				if len(stats) != 5 {
					t.Fatalf("row %+v", r)
				}
				hidden[k] = r[nb].Value == nil
				if r[nb].Value == nil {
					if w.persons < 21 {
						small++
					}
					// Hidden persons (small, or hidden with a small
					// group): every statistic of the group is hidden.
					for i, s := range stats {
						if s.Value != nil || s.Status == spec.Released {
							t.Errorf("%s (%d persons): statistic %d shown %q", k, w.persons, i, s.Text)
						}
					}
					continue
				}
				exact := []float64{w.mean, w.sd, w.q1, w.med, w.q3}
				tails := []float64{1, 1, 0.25, 0.5, 0.25}
				quartiles += 3
				for i, s := range stats {
					if s.Value == nil && i >= 2 {
						// A quartile whose window holds a few tied values
						// may be hidden (their counts), whatever its persons.
						d, rows := windowValues(w.values, []float64{0.25, 0.5, 0.75}[i-2])
						few := d >= 2 && d <= 5 && d < rows
						if s.Status == spec.Ties && !few {
							t.Errorf("%s: quartile %d hidden for ties, but its window holds %d values in %d rows", k, i, d, rows)
						}
						if few && (s.Status == spec.Ties || s.Status == spec.Derived) {
							tied++
							continue
						}
					}
					if s.Value == nil {
						if float64(w.persons)*tails[i] >= 21 && i < 2 || w.persons >= 84 {
							t.Errorf("%s (%d persons): statistic %d hidden (%s)", k, w.persons, i, s.Status)
						}
						continue
					}
					// The value a cell gets is the number shown, no more digits.
					if want, _ := strconv.ParseFloat(fmt.Sprintf("%.2f", exact[i]), 64); *s.Value != want {
						t.Errorf("%s: statistic %d = %v, DuckDB %v rounded as shown %v", k, i, *s.Value, exact[i], want)
					}
					if s.Text != fmt.Sprintf("%.2f", exact[i]) {
						t.Errorf("%s: statistic %d shown %q, want %.2f", k, i, s.Text, exact[i])
					}
					if c.minmax && (*s.Value == w.lo || *s.Value == w.hi) {
						t.Errorf("%s: statistic %d equals the group's minimum or maximum", k, i)
					}
				}
			}
			// The groups add up to the persons with a value, which
			// stats.count releases: no hidden group may follow from
			// that total and the others.
			if nb == 1 {
				m := []string{"(total)"}
				for k := range hidden {
					m = append(m, k)
				}
				if d := hiddenDetermined([][]string{m}, hidden); len(d) > 0 {
					t.Errorf("hidden groups %q follow from the total and the others", d)
				}
			}
			t.Logf("%d of %d quartiles hidden as windows of tied values (ties.go)", tied, quartiles)
			if c.name == "HbA1c by race" && small == 0 {
				t.Errorf("expected races with fewer than 21 persons")
			}
		})
	}
}

// wilson95 is the Wilson score interval, from its textbook form.
func wilson95(k, n int64) (lo, hi float64) {
	z := 1.959963984540054
	p := float64(k) / float64(n)
	nn := float64(n)
	centre := p + z*z/(2*nn)
	spread := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn))
	d := 1 + z*z/nn
	return 100 * (centre - spread) / d, 100 * (centre + spread) / d
}

func TestIncidence(t *testing.T) {
	cut := dataCut(t)
	inT2D := "p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)"
	cases := []struct {
		name       string
		mk         func(e *env) (cohort, outcome spec.Handle)
		by         []string
		cohortSQL  string
		outcomeSQL string
		// nonCasesSmall lists groups whose non-cases number 1–20.
		nonCasesSmall []string
	}{
		{"T2D among 40–80 by gender", func(e *env) (spec.Handle, spec.Handle) {
			return e.derive(e.persons(), spec.Step{Age: &spec.AgeStep{Min: 40, Max: 80}}),
				e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		}, []string{"gender"}, ageSQL("p", cut) + " BETWEEN 40 AND 80", inT2D, nil},
		{"T2D among 40–80", func(e *env) (spec.Handle, spec.Handle) {
			return e.derive(e.persons(), spec.Step{Age: &spec.AgeStep{Min: 40, Max: 80}}),
				e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		}, nil, ageSQL("p", cut) + " BETWEEN 40 AND 80", inT2D, nil},
		{"any visit by age_group (an outcome with no bound values)", func(e *env) (spec.Handle, spec.Handle) {
			return e.persons(), e.derive(e.events("visit_occurrence"), toPersons)
		}, []string{"age_group"}, "TRUE", "p.person_id IN (SELECT person_id FROM visit_occurrence)", nil},
		{"HbA1c tested among T2D by gender", func(e *env) (spec.Handle, spec.Handle) {
			return e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}}),
				e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "measurement", Concepts: []int64{cHbA1c}}})
		}, []string{"gender"}, inT2D, "p.person_id IN (SELECT person_id FROM measurement WHERE measurement_concept_id = 3004410)",
			[]string{"FEMALE", "MALE", "Total"}},
		{"T2D among metformin users: everyone", func(e *env) (spec.Handle, spec.Handle) {
			return e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "drug_exposure", Concepts: []int64{40163924}}}),
				e.derive(e.persons(), spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
		}, nil, "p.person_id IN (SELECT person_id FROM drug_exposure WHERE drug_concept_id = 40163924)", inT2D, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			co, out := c.mk(e)
			tab := e.table(spec.MIncidence, spec.IncidenceArgs{Cohort: co.ID, Outcome: out.ID, By: c.by})
			label := "'all'"
			if len(c.by) == 1 {
				label = labelSQL(c.by[0], cut)
			}
			q := fmt.Sprintf(`SELECT coalesce(l, 'Total'), count(*), count(*) FILTER (WHERE o) FROM (SELECT %s AS l, (%s) AS o FROM person p WHERE %s)
				GROUP BY GROUPING SETS ((l), ())`, label, c.outcomeSQL, c.cohortSQL)
			want := map[string][2]int64{}
			for _, r := range queryRows(t, q) {
				want[r[0].(string)] = [2]int64{r[1].(int64), r[2].(int64)}
			}
			if len(c.by) == 0 {
				want = map[string][2]int64{"all": want["all"]}
			}
			if len(tab.Rows) != len(want) {
				t.Fatalf("%d rows, SQL %d", len(tab.Rows), len(want))
			}
			if len(tab.Columns) != 6 {
				t.Fatalf("columns %q", tab.Columns)
			}
			for _, r := range tab.Rows {
				w, ok := want[r[0].Text]
				if !ok {
					t.Errorf("group %q not in SQL", r[0].Text)
					continue
				}
				den, num := w[0], w[1]
				checkCount(t, r[0].Text+" persons", r[1], den)
				checkCount(t, r[0].Text+" with outcome", r[2], num)
				restSmall := den-num >= 1 && den-num <= 20
				if restSmall && r[2].Value != nil {
					t.Errorf("%s: numerator %s shown while only %d persons lack the outcome", r[0].Text, r[2].Text, den-num)
				}
				if contains(c.nonCasesSmall, r[0].Text) != restSmall {
					t.Errorf("%s: %d of %d: the test expects otherwise", r[0].Text, num, den)
				}
				if r[2].Value == nil {
					for _, s := range r[3:] {
						if s.Value != nil {
							t.Errorf("%s: %q shown with a hidden numerator", r[0].Text, s.Text)
						}
					}
					continue
				}
				pct := 100 * float64(num) / float64(den)
				lo, hi := wilson95(num, den)
				for i, x := range []float64{pct, lo, hi} {
					s := r[3+i]
					if s.Value == nil || math.Abs(*s.Value-x) > 0.05+1e-9 || s.Text != fmt.Sprintf("%.1f%%", x) {
						t.Errorf("%s: column %d is %q (%v), want %.4f", r[0].Text, 3+i, s.Text, s.Value, x)
					}
				}
			}
		})
	}
}

package analysis_test

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"enclave/api/spec"
)

// binRange reads a histogram label "[lo, hi)" or "[lo, hi]", an end of
// an automatic range's first and last bars "-∞" and "+∞".
func binRange(t *testing.T, label string) (lo, hi float64, closed bool) {
	t.Helper()
	closed = strings.HasSuffix(label, "]")
	in := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(label, "["), "("), ")"), "]")
	a, b, ok := strings.Cut(in, ", ")
	if !ok {
		t.Fatalf("bin label %q", label)
	}
	num := func(s string) (float64, error) {
		switch s {
		case "-∞":
			return math.Inf(-1), nil
		case "+∞":
			return math.Inf(1), nil
		}
		return strconv.ParseFloat(s, 64)
	}
	var err1, err2 error
	lo, err1 = num(a)
	hi, err2 = num(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("bin label %q", label)
	}
	return lo, hi, closed
}

// checkPlot checks what every plot must have: a rendering registered in
// the session whose text lists each bar (suppressed ones by the marker
// only) and the released table it was drawn from.
func checkPlot(t *testing.T, e *env, p *spec.Plot, bars int) {
	t.Helper()
	if p.Ref == "" || p.Table == nil || p.Table.Ref == "" || p.Table.Ref == p.Ref {
		t.Fatalf("plot refs: %q, table %v", p.Ref, p.Table)
	}
	b, ok := e.sess.Rendered(p.Ref)
	if !ok {
		t.Fatalf("plot %s is not registered", p.Ref)
	}
	for _, mime := range []string{"image/png", "image/svg+xml", "text/plain"} {
		if b[mime] == nil {
			t.Errorf("plot bundle has no %s", mime)
		}
	}
	if _, ok := e.sess.Rendered(p.Table.Ref); !ok {
		t.Errorf("the plot's table %s is not registered", p.Table.Ref)
	}
	text, _ := b["text/plain"].(string)
	lines := strings.Split(text, "\n")
	suppressed := 0
	// A bar hidden for its few persons shows ≤20; when one is hidden for
	// another reason (to protect another, or differencing), all show *:
	// ≤20 over a bar of thousands would be false (review 62).
	marker := "≤20"
	for _, r := range p.Table.Rows[:bars] {
		if h := r[len(r)-1]; h.Value == nil && h.Status != spec.Small {
			marker = "*"
		}
	}
	for _, r := range p.Table.Rows[:bars] {
		h := r[len(r)-1]
		var line string
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), r[0].Text+" ") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("bar %q not in the plot's text %q", r[0].Text, text)
			continue
		}
		if h.Value == nil {
			suppressed++
			if !strings.HasSuffix(line, marker+" (suppressed)") {
				t.Errorf("suppressed bar drawn as %q", line)
			}
		} else if strings.Contains(line, "suppressed") {
			t.Errorf("released bar %q drawn as suppressed", line)
		}
	}
	t.Logf("%d bars, %d suppressed", bars, suppressed)
}

func TestHistogramAge(t *testing.T) {
	cut := dataCut(t)
	age := ageSQL("p", cut)
	for _, c := range []struct {
		name     string
		args     spec.HistogramArgs
		from     string
		suppress bool // expect suppressed bins
	}{
		{"fixed range", spec.HistogramArgs{Column: "age", Bins: 10, Min: 0, Max: 100}, "person p", false},
		{"data range", spec.HistogramArgs{Column: "age", Bins: 20}, "person p", false},
		{"T2D, fine bins", spec.HistogramArgs{Column: "age", Bins: 20}, "person p WHERE p.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			h := e.persons()
			if strings.Contains(c.from, "WHERE") {
				h = e.derive(h, spec.Step{With: &spec.Has{Table: "condition_occurrence", Concepts: []int64{cT2D}}})
			}
			c.args.Handle = h.ID
			p := e.plot(spec.MHistogram, c.args)
			if fmt.Sprint(p.Table.Columns) != "[age persons]" {
				t.Errorf("columns %q", p.Table.Columns)
			}
			where := " WHERE "
			if strings.Contains(c.from, "WHERE") {
				where = " AND "
			}
			auto := c.args.Min == 0 && c.args.Max == 0
			var sum int64
			var first, last float64
			hidden := 0
			for i, r := range p.Table.Rows {
				lo, hi, closed := binRange(t, r[0].Text)
				if i == 0 {
					first = lo
				}
				last = hi
				if auto {
					// The automatic range's bars take in every value.
					if math.IsInf(lo, -1) != (i == 0) || math.IsInf(hi, 1) != (i == len(p.Table.Rows)-1) || closed {
						t.Errorf("bin %q: only the first bar is open below and the last above", r[0].Text)
					}
					lo, hi = math.Max(lo, -1e6), math.Min(hi, 1e6)
				} else if closed != (i == len(p.Table.Rows)-1) {
					t.Errorf("bin %q: only the last bin is closed", r[0].Text)
				}
				op := "<"
				if closed {
					op = "<="
				}
				n := queryInt(t, fmt.Sprintf("SELECT count(*) FROM %s%s%s >= %v AND %s %s %v", c.from, where, age, lo, age, op, hi))
				sum += n
				checkCount(t, r[0].Text, r[1], n)
				if r[1].Value == nil {
					hidden++
				}
			}
			if auto {
				// The data range reaches the 1st and 99th percentiles,
				// smoothed as Describe's are: the second bar starts at or
				// below the first, the last at or above the 99th.
				var vs []personValue
				for _, r := range queryRows(t, fmt.Sprintf("SELECT CAST(%s AS DOUBLE), p.person_id FROM %s", age, c.from)) {
					vs = append(vs, personValue{r[0].(float64), r[1].(int64)})
				}
				p1, p99 := smoothedQuantile(vs, 0.01), smoothedQuantile(vs, 0.99)
				lo2, hi2, _ := binRange(t, p.Table.Rows[1][0].Text)
				_, hi1, _ := binRange(t, p.Table.Rows[0][0].Text)
				loN, _, _ := binRange(t, p.Table.Rows[len(p.Table.Rows)-1][0].Text)
				width := hi2 - lo2 // the bars' width
				if lo2 != hi1 || hi1-width > p1 || loN+width < p99 {
					t.Errorf("range from %v, bars of %v to %v, misses the percentiles %v, %v", hi1-width, width, loN+width, p1, p99)
				}
				first, last = -1e6, 1e6
			}
			all := queryInt(t, fmt.Sprintf("SELECT count(*) FROM %s%s%s BETWEEN %v AND %v", c.from, where, age, first, last))
			if sum != all {
				t.Errorf("bins hold %d persons, the range %d", sum, all)
			}
			if c.suppress != (hidden > 0) {
				t.Errorf("%d bins hidden", hidden)
			}
			if hidden == 1 {
				t.Errorf("a single hidden bin is the range's total less the others")
			}
			checkPlot(t, e, p, len(p.Table.Rows))
		})
	}
}

func TestHistogramValues(t *testing.T) {
	e := newEnv(t)
	a1c := e.events("measurement", cHbA1c)
	p := e.plot(spec.MHistogram, spec.HistogramArgs{Handle: a1c.ID, Column: "value_as_number", Bins: 22, Min: 4, Max: 15})
	if fmt.Sprint(p.Table.Columns) != "[value_as_number persons rows]" || len(p.Table.Rows) != 22 {
		t.Fatalf("table %q, %d rows", p.Table.Columns, len(p.Table.Rows))
	}
	var rows int64
	hidden := 0
	for i, r := range p.Table.Rows {
		lo, hi := 4+0.5*float64(i), 4+0.5*float64(i+1)
		wl, wh, _ := binRange(t, r[0].Text)
		if wl != lo || wh != hi {
			t.Errorf("bin %d is %q", i, r[0].Text)
		}
		op := "<"
		if i == 21 {
			op = "<="
		}
		w := queryRows(t, fmt.Sprintf("SELECT count(DISTINCT person_id), count(*) FROM measurement WHERE measurement_concept_id = 3004410 AND value_as_number >= %v AND value_as_number %s %v", lo, op, hi))
		persons, n := w[0][0].(int64), w[0][1].(int64)
		rows += n
		checkCount(t, r[0].Text+" persons", r[1], persons)
		checkCount(t, r[0].Text+" rows", r[2], n)
		if r[2].Value == nil {
			hidden++
		}
	}
	if want := queryInt(t, "SELECT count(*) FROM measurement WHERE measurement_concept_id = 3004410 AND value_as_number BETWEEN 4 AND 15"); rows != want {
		t.Errorf("bins hold %d rows, the range %d", rows, want)
	}
	if hidden == 0 {
		t.Errorf("expected sparse bins at high HbA1c to be hidden")
	}
	checkPlot(t, e, p, 22)
}

func TestBar(t *testing.T) {
	e := newEnv(t)
	cut := dataCut(t)
	p := e.plot(spec.MBar, spec.CountArgs{Handle: e.persons().ID, By: []string{"race"}})
	want := groupTruthLabel(t, "person p", "TRUE", labelSQL("race", cut))
	rows := p.Table.Rows
	if rows[len(rows)-1][0].Text != "Total" || len(rows) != len(want) {
		t.Fatalf("%d rows, %d groups", len(rows), len(want))
	}
	var sum int64
	for _, r := range rows[:len(rows)-1] {
		w, ok := want[r[0].Text]
		if !ok {
			t.Fatalf("bar %q is not a race", r[0].Text)
		}
		sum += w.persons
		checkCount(t, r[0].Text, r[1], w.persons)
	}
	if total := released(t, "total", rows[len(rows)-1][1]); total != float64(sum) || sum != want[""].persons {
		t.Errorf("total %v, bars sum to %d, SQL %d", total, sum, want[""].persons)
	}
	checkPlot(t, e, p, len(rows)-1)
	var err error
	if err = e.call(spec.MBar, spec.CountArgs{Handle: e.persons().ID}, nil); err == nil || !strings.Contains(err.Error(), "exactly one grouping variable") {
		t.Errorf("bar without a variable: %v", err)
	}
}

// TestHistogramTails: a histogram over the data's range leaves out the
// persons beyond its ends; released with the cohort's count, the bins must
// not give away how few they are, whichever comes first.
func TestHistogramTails(t *testing.T) {
	for _, c := range []struct {
		name string
		sex  string
		bins int
	}{{"all, 20 bins", "", 20}, {"women, 5 bins", "female", 5}} {
		for _, countFirst := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, count first %v", c.name, countFirst), func(t *testing.T) {
				e := newEnv(t)
				h := e.persons()
				if c.sex != "" {
					h = e.derive(h, spec.Step{Sex: c.sex})
				}
				var total spec.Cell
				if countFirst {
					total = e.count(h)
				}
				p := e.plot(spec.MHistogram, spec.HistogramArgs{Handle: h.ID, Column: "age", Bins: c.bins})
				if !countFirst {
					total = e.count(h)
				}
				sum, hidden := 0.0, 0
				for _, r := range p.Table.Rows {
					if r[1].Value == nil {
						hidden++
					} else {
						sum += *r[1].Value
					}
				}
				// What the released numbers say about everyone not in a
				// released bin (hidden bins and both tails): 0 or ≥21.
				if total.Value != nil {
					if rest := *total.Value - sum; rest > 0 && rest < 21 {
						t.Errorf("count %v less the released bins %v: %v persons", *total.Value, sum, rest)
					}
				}
				t.Logf("count %q, %d bins hidden", total.Text, hidden)
			})
		}
	}
}

// TestHistogramRangeJudged: an automatic range is two values of the data
// (smoothed 1st and 99th percentiles), judged as a Describe's quartiles
// are. The top of the range of 20 known readings and one person's gave
// that person's glucose reading while the bars were hidden (review 36):
// the same persons with one added get no range at all, whichever comes
// first. A Describe and a histogram of the same rows stay an honest pair,
// and the bars of an automatic range take in every value.
func TestHistogramRangeJudged(t *testing.T) {
	var top float64
	var holders int64
	for _, r := range queryRows(t, fmt.Sprintf(`WITH r AS (SELECT person_id, value_as_number AS v FROM measurement
		WHERE measurement_concept_id = %d AND value_as_number IS NOT NULL)
		SELECT max(v), (SELECT count(DISTINCT person_id) FROM r WHERE v = (SELECT max(v) FROM r)) FROM r`, cHbA1c)) {
		top, holders = r[0].(float64), r[1].(int64)
	}
	if holders != 1 {
		t.Fatalf("fixture: the top HbA1c reading %v is held by %d persons", top, holders)
	}
	rows := func(e *env, lessTop bool) spec.Handle {
		h := e.events("measurement", cHbA1c)
		if lessTop {
			topRows := e.derive(h, spec.Step{Where: &spec.Filter{Column: "value_as_number", Op: ">=", Values: []any{top}}})
			h = e.derive(h, spec.Step{Of: e.derive(e.persons(), spec.Step{Without: &spec.Has{Handle: topRows.ID}}).ID})
		}
		return h
	}
	histogram := func(e *env, h spec.Handle) (*spec.Plot, error) {
		var p spec.Plot
		err := e.call(spec.MHistogram, spec.HistogramArgs{Handle: h.ID, Column: "value_as_number", Bins: 20}, &p)
		return &p, err
	}
	for _, lessFirst := range []bool{true, false} {
		e := newEnv(t)
		if _, err := histogram(e, rows(e, lessFirst)); err != nil {
			t.Fatalf("first histogram: %v", err)
		}
		_, err := histogram(e, rows(e, !lessFirst))
		if err == nil || !strings.Contains(err.Error(), "automatic range of this histogram is not released") {
			t.Errorf("the same persons with one more (or less), after: %v", err)
		}
	}
	e := newEnv(t)
	h := rows(e, false)
	d := e.table(spec.MDescribe, spec.DescribeArgs{Handle: h.ID, Column: "value_as_number"})
	p, err := histogram(e, h)
	if err != nil {
		t.Fatalf("a histogram after a Describe of the same rows: %v", err)
	}
	if d.Rows[0][0].Value == nil {
		t.Fatalf("Describe hidden: %v", d.Rows[0])
	}
	var persons, rowsIn int64
	for _, r := range p.Table.Rows {
		for i, c := range r[1:] {
			if c.Value == nil {
				t.Fatalf("bar %q hidden after the Describe", r[0].Text)
			}
			if i == 0 {
				persons += int64(*c.Value)
			} else {
				rowsIn += int64(*c.Value)
			}
		}
	}
	all := queryInt(t, fmt.Sprintf("SELECT count(*) FROM measurement WHERE measurement_concept_id = %d AND value_as_number IS NOT NULL", cHbA1c))
	if rowsIn != all || persons < int64(*d.Rows[0][0].Value) {
		t.Errorf("bars hold %d rows of %d and %d persons (%v with a value): an automatic range takes in every value", rowsIn, all, persons, *d.Rows[0][0].Value)
	}
}

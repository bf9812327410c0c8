package release

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"enclave/api/spec"
)

func count(n int64) *Cell { return &Cell{Stat: Count, Value: float64(n), Persons: n} }

func mustPolicy(t testing.TB, over map[string]any) Policy {
	t.Helper()
	p, err := LoadPolicy("", over)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func judge(t testing.TB, p Policy, d *Decision) {
	t.Helper()
	if err := p.Judge(context.Background(), d, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestPrimaryRules(t *testing.T) {
	def := Defaults()
	p5 := mustPolicy(t, map[string]any{"rounding": 5})
	pr := mustPolicy(t, map[string]any{"p_ratio": 0.5})
	tests := []struct {
		name   string
		p      Policy
		cell   Cell
		status string
		text   string // "" skips the check
	}{
		{"count 0 shown", def, Cell{Stat: Count, Value: 0, Persons: 0}, spec.Released, "0"},
		{"count 1", def, Cell{Stat: Count, Value: 1, Persons: 1}, spec.Small, "≤20"},
		{"count 20", def, Cell{Stat: Count, Value: 20, Persons: 20}, spec.Small, "≤20"},
		{"count 21", def, Cell{Stat: Count, Value: 21, Persons: 21}, spec.Released, "21"},
		{"count 12345", def, Cell{Stat: Count, Value: 12345, Persons: 12345}, spec.Released, "12,345"},
		{"rows judged by persons: many rows of 5 persons", def, Cell{Stat: Rows, Value: 500, Persons: 5}, spec.Small, "≤20"},
		{"rows judged by persons: 30 rows of 21 persons", def, Cell{Stat: Rows, Value: 30, Persons: 21}, spec.Released, "30"},
		{"percent small numerator", def, Cell{Stat: Percent, Value: 5, Persons: 5, Denom: 100}, spec.Derived, "*"},
		{"percent small denominator", def, Cell{Stat: Percent, Value: 0, Persons: 0, Denom: 15}, spec.Derived, "*"},
		{"percent zero of large denominator", def, Cell{Stat: Percent, Value: 0, Persons: 0, Denom: 100}, spec.Released, "0.0%"},
		{"percent released", def, Cell{Stat: Percent, Value: 30, Persons: 30, Denom: 100}, spec.Released, "30.0%"},
		{"rate small denominator", def, Cell{Stat: Rate, Value: 0.5, Persons: 10, Denom: 20}, spec.Derived, "*"},
		{"mean 20 persons", def, Cell{Stat: Mean, Value: 54.2, Persons: 20}, spec.Derived, "*"},
		{"mean 21 persons", def, Cell{Stat: Mean, Value: 54.25, Persons: 21, Digits: 2}, spec.Released, "54.25"},
		{"mean over 2 values is a proportion", def, Cell{Stat: Mean, Value: 0.4, Persons: 500, Digits: 3, Values: 2}, spec.Derived, "*"},
		{"mean over 3 values (mean and sd give all 3 counts)", def, Cell{Stat: Mean, Value: 8520.5, Persons: 500, Digits: 3, Values: 3}, spec.Derived, "*"},
		{"mean over 4 values, each of 21 persons or more", def, Cell{Stat: Mean, Value: 2.5, Persons: 500, Digits: 1, Values: 4, Rarest: 21, Magnitude: 1250, Top: []float64{4, 4}}, spec.Released, "2.5"},
		{"mean over 4 values, one of 20 persons (review 60)", def, Cell{Stat: Mean, Value: 2.5, Persons: 500, Digits: 1, Values: 4, Rarest: 20, Magnitude: 1250, Top: []float64{4, 4}}, spec.Derived, "*"},
		{"mean over 5 values, their persons not known (%sql)", def, Cell{Stat: Mean, Value: 2.5, Persons: 500, Digits: 1, Values: 5, Magnitude: 1250, Top: []float64{4, 4}}, spec.Derived, "*"},
		{"mean over 6 values", def, Cell{Stat: Mean, Value: 2.5, Persons: 500, Digits: 1, Values: 6, Magnitude: 1250, Top: []float64{4, 4}}, spec.Released, "2.5"},
		{"mean with a dominant row (a 2e9 marker among 8,500s)", def, Cell{Stat: Mean, Value: 4.692e6, Persons: 427, Digits: 3, Values: 3 + 1, Rarest: 30, Magnitude: 2e9 + 426*8520, Top: []float64{2e9, 8532}}, spec.Dominance, ""},
		{"mean whose two largest rows are 95% of the sum", def, Cell{Stat: Mean, Value: 10, Persons: 30, Digits: 1, Values: 6, Magnitude: 300, Top: []float64{150, 135}}, spec.Dominance, ""},
		{"sd whose one person holds 96% of the squared deviations (review 60)", def, Cell{Stat: Mean, Value: 5.05, Persons: 44, Digits: 2, Values: 6, Magnitude: 1096, Top: []float64{1052, 3}}, spec.Dominance, ""},
		{"quantile 20 persons", def, Cell{Stat: Quantile, Value: 3, Persons: 20}, spec.Derived, "*"},
		{"smoothed median, 21 persons near it", def, Cell{Stat: Quantile, Value: 3, Persons: 500, Tail: 0.5, Near: 21}, spec.Released, "3.0"},
		{"smoothed median, 20 persons near it (one person's rows at the middle)", def, Cell{Stat: Quantile, Value: 3, Persons: 500, Tail: 0.5, Near: 20}, spec.Derived, "*"},
		{"coef 21 persons", def, Cell{Stat: Coef, Value: 0.123, Persons: 21, Digits: 3}, spec.Released, "0.123"},
		{"extreme of many", def, Cell{Stat: Extreme, Value: 99, Persons: 100000}, spec.Extreme, "*"},
		{"extreme of none", def, Cell{Stat: Extreme, Value: 0, Persons: 0}, spec.Extreme, "*"},
		{"sum top-2 95%", def, Cell{Stat: Sum, Value: 1000, Persons: 50, Top: []float64{600, 350, 5}}, spec.Dominance, "*"},
		{"sum top-1 95%", def, Cell{Stat: Sum, Value: 1000, Persons: 50, Top: []float64{950, 2}}, spec.Dominance, "*"},
		{"sum negative top-2 95%", def, Cell{Stat: Sum, Value: -1000, Persons: 50, Top: []float64{-600, -350}}, spec.Dominance, "*"},
		{"sum top-2 exactly 90%", def, Cell{Stat: Sum, Value: 1000, Persons: 50, Top: []float64{500, 400}}, spec.Released, "1000.0"},
		{"sum undominated", def, Cell{Stat: Sum, Value: 1000, Persons: 50, Top: []float64{100, 90}}, spec.Released, "1000.0"},
		{"sum small", def, Cell{Stat: Sum, Value: 1000, Persons: 20, Top: []float64{100, 90}}, spec.Derived, "*"},
		{"sum p-ratio (p 50%): rest 20 < 50% of 60", pr, Cell{Stat: Sum, Value: 100, Persons: 30, Top: []float64{60, 20}}, spec.Dominance, "*"},
		{"sum p-ratio (p 50%): rest 40 ≥ 50% of 50", pr, Cell{Stat: Sum, Value: 100, Persons: 30, Top: []float64{50, 10}}, spec.Released, ""},
		{"sum p-ratio default: same sum released", def, Cell{Stat: Sum, Value: 100, Persons: 30, Top: []float64{60, 20}}, spec.Released, ""},
		{"sum without its top contributions", def, Cell{Stat: Sum, Value: 1000, Persons: 50}, spec.Dominance, "*"},
		{"sum zero", def, Cell{Stat: Sum, Value: 0, Persons: 50, Top: []float64{0, 0}}, spec.Released, "0.0"},
		{"NaN mean", def, Cell{Stat: Mean, Value: math.NaN(), Persons: 50}, spec.NoData, "–"},
		{"Inf rate", def, Cell{Stat: Rate, Value: math.Inf(1), Persons: 50, Denom: 50}, spec.NoData, "–"},
		{"NaN count", def, Cell{Stat: Count, Value: math.NaN(), Persons: 50}, spec.NoData, "–"},
		{"caller's status kept", def, Cell{Stat: Coef, Value: 1, Persons: 1000, Status: spec.Model}, spec.Model, "*"},
		{"rounding 5: 23 → 25", p5, Cell{Stat: Count, Value: 23, Persons: 23}, spec.Released, "25"},
		{"rounding 5: 22 → 20", p5, Cell{Stat: Count, Value: 22, Persons: 22}, spec.Released, "20"},
		{"rounding 5: rows 1,002 → 1,000", p5, Cell{Stat: Rows, Value: 1002, Persons: 400}, spec.Released, "1,000"},
		{"rounding 5: 0 stays 0", p5, Cell{Stat: Count, Value: 0, Persons: 0}, spec.Released, "0"},
		{"rounding 5: small stays hidden", p5, Cell{Stat: Count, Value: 7, Persons: 7}, spec.Small, "≤20"},
		{"rounding 5: means not rounded", p5, Cell{Stat: Mean, Value: 23.4, Persons: 23}, spec.Released, "23.4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cell
			judge(t, tt.p, &Decision{Cells: []*Cell{&c}})
			if c.Status != tt.status {
				t.Fatalf("status %q, want %q", c.Status, tt.status)
			}
			sc := tt.p.SpecCell(&c)
			if tt.text != "" && sc.Text != tt.text {
				t.Errorf("shown as %q, want %q", sc.Text, tt.text)
			}
			if c.Suppressed() && sc.Value != nil {
				t.Errorf("suppressed cell carries its value %v", *sc.Value)
			}
			if !c.Suppressed() && (sc.Value == nil || *sc.Value != c.Value) {
				t.Errorf("released cell's value %v missing", c.Value)
			}
		})
	}
}

// checkMargins fails for any relation with exactly one suppressed member:
// that member is its total minus (or plus) the others.
func checkMargins(t *testing.T, margins []Margin, name func(*Cell) string) {
	t.Helper()
	for i, m := range margins {
		var hidden []string
		if m.Total.Suppressed() {
			hidden = append(hidden, "total "+name(m.Total))
		}
		for _, c := range m.Parts {
			if c.Suppressed() {
				hidden = append(hidden, name(c))
			}
		}
		if len(hidden) == 1 {
			t.Errorf("margin %d has one suppressed member, recomputable: %s", i, hidden[0])
		}
	}
}

// recoverable returns the suppressed cells whose value follows from the
// released cells and the margins by linear algebra (a suppressed x is
// determined iff its unit vector lies in the row space of the relations
// restricted to the suppressed cells).
func recoverable(margins []Margin) []*Cell {
	idx := map[*Cell]int{}
	var hid []*Cell
	note := func(c *Cell) {
		if _, ok := idx[c]; !ok && c.Suppressed() {
			idx[c] = len(hid)
			hid = append(hid, c)
		}
	}
	for _, m := range margins {
		note(m.Total)
		for _, c := range m.Parts {
			note(c)
		}
	}
	var rows [][]float64
	for _, m := range margins {
		r := make([]float64, len(hid))
		if i, ok := idx[m.Total]; ok {
			r[i] = -1
		}
		for _, c := range m.Parts {
			if i, ok := idx[c]; ok {
				r[i]++
			}
		}
		rows = append(rows, r)
	}
	base := rank(rows)
	var out []*Cell
	for i, c := range hid {
		e := make([]float64, len(hid))
		e[i] = 1
		if rank(append(clone(rows), e)) == base {
			out = append(out, c)
		}
	}
	return out
}

func clone(m [][]float64) [][]float64 {
	out := make([][]float64, len(m))
	for i, r := range m {
		out[i] = append([]float64(nil), r...)
	}
	return out
}

func rank(m [][]float64) int {
	m = clone(m)
	r := 0
	for col := 0; len(m) > 0 && col < len(m[0]) && r < len(m); col++ {
		piv := -1
		for i := r; i < len(m); i++ {
			if math.Abs(m[i][col]) > 1e-9 {
				piv = i
				break
			}
		}
		if piv < 0 {
			continue
		}
		m[r], m[piv] = m[piv], m[r]
		for i := range m {
			if i != r && math.Abs(m[i][col]) > 1e-9 {
				f := m[i][col] / m[r][col]
				for j := col; j < len(m[i]); j++ {
					m[i][j] -= f * m[r][j]
				}
			}
		}
		r++
	}
	return r
}

func TestSecondaryOneWay(t *testing.T) {
	tests := []struct {
		name      string
		parts     []int64
		small     []int // indexes suppressed as small
		secondary []int // indexes (len(parts) = the total) suppressed as secondary
	}{
		{"one small category", []int64{200, 150, 140, 10}, []int{3}, []int{2}},
		{"zeros never chosen", []int64{0, 200, 150, 0, 140, 10}, []int{5}, []int{4}},
		{"two small categories", []int64{200, 150, 10, 12}, []int{2, 3}, nil},
		{"only zeros left: the total is hidden", []int64{0, 0, 15, 0}, []int{2, 4}, nil}, // total 15 is small itself
		{"all small", []int64{5, 7, 3}, []int{0, 1, 2, 3}, nil},
		{"all small, total shown", []int64{5, 7, 9}, []int{0, 1, 2}, nil},
		{"nothing small", []int64{200, 150, 140}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cells []*Cell
			total := int64(0)
			for _, n := range tt.parts {
				cells = append(cells, count(n))
				total += n
			}
			tot := count(total)
			d := &Decision{Cells: append(append([]*Cell{}, cells...), tot), Margins: []Margin{{Total: tot, Parts: cells}}}
			judge(t, Defaults(), d)
			want := map[int]string{}
			for _, i := range tt.small {
				want[i] = spec.Small
			}
			for _, i := range tt.secondary {
				want[i] = spec.Secondary
			}
			for i, c := range d.Cells {
				if c.Status != want[i] {
					t.Errorf("cell %d (%v) status %q, want %q", i, c.Value, c.Status, want[i])
				}
			}
			checkMargins(t, d.Margins, func(c *Cell) string { return fmt.Sprint(c.Value) })
			if r := recoverable(d.Margins); len(r) > 0 {
				t.Errorf("%d suppressed cells recoverable from the total", len(r))
			}
		})
	}
}

// crosstab builds an R×C table with row totals, column totals and a grand
// total, and the margins relating them.
type crosstab struct {
	inner      [][]*Cell
	rowT, colT []*Cell
	grand      *Cell
	d          *Decision
	names      map[*Cell]string
}

func newCrosstab(vals [][]int64) *crosstab {
	x := &crosstab{names: map[*Cell]string{}}
	R, C := len(vals), len(vals[0])
	colSum := make([]int64, C)
	var all []*Cell
	var grand int64
	for i, row := range vals {
		var cells []*Cell
		var sum int64
		for j, v := range row {
			c := count(v)
			x.names[c] = fmt.Sprintf("[%d,%d]=%d", i, j, v)
			cells = append(cells, c)
			all = append(all, c)
			sum += v
			colSum[j] += v
		}
		x.inner = append(x.inner, cells)
		rt := count(sum)
		x.names[rt] = fmt.Sprintf("row %d total=%d", i, sum)
		x.rowT = append(x.rowT, rt)
		grand += sum
	}
	for j := 0; j < C; j++ {
		ct := count(colSum[j])
		x.names[ct] = fmt.Sprintf("col %d total=%d", j, colSum[j])
		x.colT = append(x.colT, ct)
	}
	x.grand = count(grand)
	x.names[x.grand] = fmt.Sprintf("grand=%d", grand)
	all = append(append(append(all, x.rowT...), x.colT...), x.grand)
	x.d = &Decision{Cells: all}
	for i := 0; i < R; i++ {
		x.d.Margins = append(x.d.Margins, Margin{Total: x.rowT[i], Parts: x.inner[i]})
	}
	for j := 0; j < C; j++ {
		var col []*Cell
		for i := 0; i < R; i++ {
			col = append(col, x.inner[i][j])
		}
		x.d.Margins = append(x.d.Margins, Margin{Total: x.colT[j], Parts: col})
	}
	x.d.Margins = append(x.d.Margins, Margin{Total: x.grand, Parts: x.rowT}, Margin{Total: x.grand, Parts: x.colT})
	return x
}

func (x *crosstab) name(c *Cell) string { return x.names[c] }

func TestSecondaryCrosstab(t *testing.T) {
	tests := []struct {
		name string
		vals [][]int64
	}{
		{"one small inner cell", [][]int64{{120, 80, 95}, {60, 5, 140}, {210, 77, 33}}},
		{"one small cell, zeros around", [][]int64{{120, 0, 95}, {0, 5, 140}, {210, 77, 0}}},
		{"small cell in a small row", [][]int64{{120, 80, 95}, {0, 5, 0}, {210, 77, 33}}},
		{"two small cells, same row", [][]int64{{120, 80, 95, 40}, {60, 5, 140, 9}, {210, 77, 33, 50}}},
		{"all inner cells small", [][]int64{{10, 12}, {11, 9}}},
		{"all cells small", [][]int64{{1, 2}, {3, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := newCrosstab(tt.vals)
			judge(t, Defaults(), x.d)
			checkMargins(t, x.d.Margins, x.name)
			for _, c := range x.d.Cells {
				if c.Status == spec.Secondary && c.Value == 0 {
					t.Errorf("zero cell %s chosen as complementary", x.name(c))
				}
				if c.Value > 0 && c.Value < 21 && !c.Suppressed() {
					t.Errorf("small cell %s released", x.name(c))
				}
			}
			for _, c := range recoverable(x.d.Margins) {
				t.Errorf("suppressed %s recoverable from the margins", x.name(c))
			}
		})
	}
}

// TestSecondaryRandom checks on many random crosstabs, with zeros and
// small cells, that no relation has one suppressed member, no zero is
// suppressed as a complement and no suppressed cell follows from the
// released cells by combining several relations (as a zero-filled row
// turns "part = row total" into a chain across the table).
func TestSecondaryRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tables, deep, hidden, cells := 0, 0, 0, 0
	for n := 0; n < 3000; n++ {
		R, C := 2+rng.IntN(6), 2+rng.IntN(6)
		vals := make([][]int64, R)
		for i := range vals {
			vals[i] = make([]int64, C)
			for j := range vals[i] {
				switch r := rng.Float64(); {
				case r < 0.1:
					vals[i][j] = 0
				case r < 0.3:
					vals[i][j] = 1 + rng.Int64N(20)
				default:
					vals[i][j] = 21 + rng.Int64N(500)
				}
			}
		}
		x := newCrosstab(vals)
		judge(t, Defaults(), x.d)
		checkMargins(t, x.d.Margins, x.name)
		for _, c := range x.d.Cells {
			if c.Status == spec.Secondary && c.Value == 0 {
				t.Fatalf("zero cell %s chosen as complementary in %v", x.name(c), vals)
			}
		}
		tables++
		for _, c := range x.d.Cells {
			cells++
			if c.Suppressed() {
				hidden++
			}
		}
		if r := recoverable(x.d.Margins); len(r) > 0 {
			deep++
			if deep <= 3 {
				var names []string
				for _, c := range r {
					names = append(names, x.name(c))
				}
				t.Errorf("%v: recoverable by combining relations: %s", vals, strings.Join(names, ", "))
			}
		}
	}
	if deep > 0 {
		t.Errorf("%d of %d random tables leave a suppressed cell recoverable", deep, tables)
	}
	t.Logf("%d tables: %.1f%% of cells suppressed", tables, 100*float64(hidden)/float64(cells))
}

func TestFollow(t *testing.T) {
	t.Run("percent of a small count", func(t *testing.T) {
		n := count(7)
		pct := &Cell{Stat: Percent, Value: 7, Persons: 7, Denom: 100, Of: n}
		judge(t, Defaults(), &Decision{Cells: []*Cell{pct, n}})
		if n.Status != spec.Small || pct.Status != spec.Derived {
			t.Errorf("count %q, percent %q", n.Status, pct.Status)
		}
	})
	t.Run("percent of a secondary count", func(t *testing.T) {
		parts := []*Cell{count(200), count(150), count(140), count(10)}
		tot := count(500)
		var pcts []*Cell
		for _, c := range parts {
			pcts = append(pcts, &Cell{Stat: Percent, Value: c.Value / 5, Persons: c.Persons, Denom: 500, Of: c})
		}
		d := &Decision{Cells: append(append(append([]*Cell{}, pcts...), parts...), tot), Margins: []Margin{{Total: tot, Parts: parts}}}
		judge(t, Defaults(), d)
		want := []string{spec.Released, spec.Released, spec.Derived, spec.Derived}
		for i, c := range pcts {
			if c.Status != want[i] {
				t.Errorf("percent of %v: %q, want %q", parts[i].Value, c.Status, want[i])
			}
		}
		if parts[2].Status != spec.Secondary {
			t.Errorf("140 status %q, want secondary", parts[2].Status)
		}
	})
	t.Run("percent of a hidden denominator", func(t *testing.T) {
		// 111 shown and 56.3% of N would give N = 197.
		n := count(111)
		den := &Cell{Stat: Count, Value: 197, Persons: 197, Status: spec.Difference}
		pct := &Cell{Stat: Percent, Value: 56.3, Persons: 111, Denom: 197, Of: n, DenomOf: den}
		judge(t, Defaults(), &Decision{Cells: []*Cell{pct, n, den}})
		if n.Status != spec.Released || pct.Status != spec.Derived {
			t.Errorf("count %q, percent %q: want the count released and the percent hidden", n.Status, pct.Status)
		}
	})
	t.Run("chain, in any order", func(t *testing.T) {
		n := count(7)
		mean := &Cell{Stat: Mean, Value: 3, Persons: 70, Of: n}
		sd := &Cell{Stat: Mean, Value: 1, Persons: 70, Of: mean}
		judge(t, Defaults(), &Decision{Cells: []*Cell{sd, mean, n}})
		if mean.Status != spec.Derived || sd.Status != spec.Derived {
			t.Errorf("mean %q, sd %q: want both derived", mean.Status, sd.Status)
		}
	})
	t.Run("a follower in a margin", func(t *testing.T) {
		// Rows cells whose person counts are judged elsewhere: the row
		// count of a hidden person count is hidden, and the margin it is
		// in must then hide another.
		small := count(7)
		r1 := &Cell{Stat: Rows, Value: 30, Persons: 30, Of: small}
		r2, r3 := &Cell{Stat: Rows, Value: 300, Persons: 100}, &Cell{Stat: Rows, Value: 200, Persons: 90}
		tot := &Cell{Stat: Rows, Value: 530, Persons: 220}
		d := &Decision{Cells: []*Cell{small, r1, r2, r3, tot}, Margins: []Margin{{Total: tot, Parts: []*Cell{r1, r2, r3}}}}
		judge(t, Defaults(), d)
		if r1.Status != spec.Derived {
			t.Fatalf("r1 %q, want derived", r1.Status)
		}
		checkMargins(t, d.Margins, func(c *Cell) string { return fmt.Sprint(c.Value) })
	})
}

func TestMarkerAndLegend(t *testing.T) {
	p := Defaults()
	cells := []*Cell{
		{Stat: Count, Status: spec.Small}, {Stat: Count, Status: spec.Secondary}, {Stat: Rows, Status: spec.Difference},
		{Stat: Mean, Status: spec.Derived}, {Stat: Sum, Status: spec.Dominance}, {Stat: Extreme, Status: spec.Extreme},
		{Stat: Coef, Status: spec.Model}, {Stat: Mean, Status: spec.NoData},
	}
	want := []string{"≤20", "*", "*", "*", "*", "*", "*", "–"}
	for i, c := range cells {
		if got := p.MarkerFor(c); got != want[i] {
			t.Errorf("marker for %v/%q = %q, want %q", c.Stat, c.Status, got, want[i])
		}
	}
	if got := len(p.Legend(cells)); got != 8 {
		t.Errorf("legend has %d lines, want 8", got)
	}
	if got := p.Legend([]*Cell{count(30)}); len(got) != 0 {
		t.Errorf("legend of released cells: %q", got)
	}
}

func TestFormatValue(t *testing.T) {
	tests := []struct {
		s      Stat
		v      float64
		digits int
		want   string
	}{
		{Count, 1234567, 0, "1,234,567"},
		{Count, -1234, 0, "-1,234"},
		{Percent, 12.345, 2, "12.35%"},
		{Percent, 12.345, 0, "12.3%"},
		{Mean, 2.5e7, 1, "2.5e+07"},
		{Mean, 0.001, 1, "0.001"},
		{Mean, 0, 0, "0.0"},
		{Coef, 3534, Whole, "3534"}, // a model's residual df
	}
	for _, tt := range tests {
		if got := formatValue(tt.s, tt.v, tt.digits); got != tt.want {
			t.Errorf("formatValue(%v, %v, %d) = %q, want %q", tt.s, tt.v, tt.digits, got, tt.want)
		}
	}
}

// TestSpecCellValueIsTheShownValue: the value a cell's code gets is the
// number shown, so hidden digits cannot carry a sum of a few rows.
func TestSpecCellValueIsTheShownValue(t *testing.T) {
	tests := []struct {
		c    Cell
		text string
		v    float64
	}{
		{Cell{Stat: Mean, Value: 5.6351234, Persons: 2123}, "5.6", 5.6},
		{Cell{Stat: Mean, Value: 5.6351234, Persons: 2123, Digits: 3}, "5.635", 5.635},
		{Cell{Stat: Count, Value: 6270, Persons: 2123}, "6,270", 6270},
		{Cell{Stat: Quantile, Value: 61.2571, Persons: 2123, Tail: 0.5}, "61.3", 61.3},
		{Cell{Stat: Mean, Value: 2.5e-7, Persons: 2123}, "2.5e-07", 2.5e-7},
		{Cell{Stat: Percent, Value: 56.34517766497462, Persons: 111, Denom: 197}, "56.3%", 56.3},
		{Cell{Stat: Coef, Value: -0.93734518, Persons: 4762, Digits: 4}, "-0.9373", -0.9373},
	}
	for _, tt := range tests {
		c := tt.c
		c.Status = spec.Released
		got := Defaults().SpecCell(&c)
		if got.Text != tt.text || got.Value == nil || *got.Value != tt.v {
			t.Errorf("%v: %q %v, want %q %v", tt.c.Value, got.Text, got.Value, tt.text, tt.v)
		}
	}
}

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

// TestSQLQuantileTiesTellNoCount is review 59's attack: the median of year
// of birth over a cohort built as blocks of known years around a group
// (the women born in y−1, the hypertensives born in y, persons born in y+1
// up to a birthday). The median's window is 21 consecutive ranks; among
// tied years its value says how many of them hold each year, so where it
// spans the group it gives the group's size, a count of 1–20 that
// stats.Count hides. Every padding size that puts the window over the
// group is tried, each on a fresh history, with the padding's own count
// released first: no median shown may give the group's size, and medians
// whose window lies within the padding are shown.
func TestSQLQuantileTiesTellNoCount(t *testing.T) {
	years, women := map[int64]int64{}, map[int64]int64{}
	for _, r := range queryRows(t, "SELECT year_of_birth, count(*), count(*) FILTER (WHERE gender_concept_id = 8532) FROM person GROUP BY 1") {
		years[r[0].(int64)], women[r[0].(int64)] = r[1].(int64), r[2].(int64)
	}
	const htn = "person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 320128)"
	group := map[int64]int64{}
	for _, r := range queryRows(t, "SELECT year_of_birth, count(*) FROM person WHERE "+htn+" GROUP BY 1") {
		group[r[0].(int64)] = r[1].(int64)
	}
	y := int64(-1)
	for yy := int64(1930); yy < 2000; yy++ {
		if g := group[yy]; g >= 11 && g <= 20 && women[yy-1] >= 21 && years[yy+1] >= women[yy-1]+g+10 {
			y = yy
			break
		}
	}
	if y < 0 {
		t.Fatal("the fixture has no year with 11–20 hypertensives after a year of 21 women or more and before one of enough persons")
	}
	nA, g := women[y-1], group[y]
	// Padding born in y+1 up to a birthday: each size the birthdays give.
	type cut struct{ month, day, size int64 }
	var cuts []cut
	for _, r := range queryRows(t, fmt.Sprintf("SELECT m, d, CAST(sum(k) OVER (ORDER BY m, d) AS BIGINT) FROM (SELECT month_of_birth AS m, day_of_birth AS d, count(*) AS k FROM person WHERE year_of_birth = %d GROUP BY 1, 2) ORDER BY 1, 2", y+1)) {
		cuts = append(cuts, cut{r[0].(int64), r[1].(int64), r[2].(int64)})
	}
	// The padding's size: released first, or after the median as two
	// parts (review 61), or as a total less another count.
	pad := fmt.Sprintf("year_of_birth = %d AND gender_concept_id = 8532", y-1)
	count := func(e *env, where string) int64 {
		got := firstRow(t, e.sql("SELECT count(*) AS npersons FROM person WHERE "+where))[0]
		n, err := strconv.ParseInt(strings.ReplaceAll(got, ",", ""), 10, 64)
		if err != nil {
			return -1 // hidden
		}
		return n
	}
	ways := []struct {
		name          string
		before, after func(e *env) int64
	}{
		{"first", func(e *env) int64 { return count(e, pad) }, nil},
		{"in two parts after", nil, func(e *env) int64 {
			a, b := count(e, pad+" AND month_of_birth <= 6"), count(e, pad+" AND month_of_birth > 6")
			if a < 0 || b < 0 {
				return -1
			}
			return a + b
		}},
		{"as a difference after", nil, func(e *env) int64 {
			a, b := count(e, fmt.Sprintf("(%s) OR year_of_birth = %d", pad, y-3)), count(e, fmt.Sprintf("year_of_birth = %d", y-3))
			if a < 0 || b < 0 {
				return -1
			}
			return a - b
		}},
	}
	shown, spanned := 0, 0
	for ci, c := range cuts {
		if ci%2 == 1 {
			continue // every other padding size: each moves the window a rank or two
		}
		n := nA + g + c.size
		rank := int64(math.Round(0.5*float64(n-1) + 1))
		if rank+10 < nA+g-2 || rank-10 > nA+g+12 {
			continue // the window lies far from the group
		}
		for _, way := range ways {
			e := newEnv(t)
			known := int64(-1)
			if way.before != nil {
				known = way.before(e)
			}
			row := firstRow(t, e.sql(fmt.Sprintf(`SELECT count(*) AS n, median(year_of_birth) AS md FROM person WHERE (%s)
			OR (year_of_birth = %d AND %s) OR (year_of_birth = %d AND (month_of_birth < %d OR month_of_birth = %d AND day_of_birth <= %d))`,
				pad, y, htn, y+1, c.month, c.month, c.day)))
			if way.after != nil {
				known = way.after(e)
			}
			if !shownNumber(row[1]) || known < 0 {
				continue
			}
			if known != nA {
				t.Fatalf("the women born in %d %s: %d, want %d", y-1, way.name, known, nA)
			}
			shown++
			// The attacker's arithmetic: the window's first rank f, the
			// rows of y−1 in it (from the padding's count), and from the
			// value how many of the others are y+1.
			m, _ := strconv.ParseFloat(row[1], 64)
			size, _ := strconv.ParseInt(row[0], 10, 64)
			f := int64(math.Round(0.5*float64(size-1)+1)) - 10
			k1 := min(21, max(0, nA-f+1))
			k3 := int64(math.Round(21*(m-float64(y-1)))) - (21 - k1)
			k2 := 21 - k1 - k3
			if k3 <= 0 || k2 <= 0 {
				continue // the window does not span the group's end
			}
			spanned++
			if est := f - 1 + k1 + k2 - nA; est == g {
				t.Errorf("padding to %d-%02d-%02d, its size %s: n %s, median %s gives the %d hypertensives born in %d", y+1, c.month, c.day, way.name, row[0], row[1], g, y)
			}
		}
	}
	if shown == 0 {
		t.Errorf("no median shown: a window within the padding born in %d tells nothing of the group", y+1)
	}
	t.Logf("%d medians shown, %d of them spanning the group's end", shown, spanned)
}

// TestDescribeRankCells: a Describe quartile whose window holds two ages
// tells how many persons of its group are younger than the elder; that
// count, and the count of the others, are judged and recorded as counts
// (not shown). The recorded sizes are the ground truth's.
func TestDescribeRankCells(t *testing.T) {
	const at = "2020-01-01"
	ages := map[string][]personValue{}
	for _, r := range queryRows(t, `SELECT CASE gender_concept_id WHEN 8507 THEN 'MALE' ELSE 'FEMALE' END, person_id,
		2020 - year_of_birth - CASE WHEN month_of_birth * 100 + day_of_birth > 101 THEN 1 ELSE 0 END FROM person WHERE gender_concept_id IN (8507, 8532)`) {
		ages[r[0].(string)] = append(ages[r[0].(string)], personValue{float64(r[2].(int64)), r[1].(int64)})
	}
	// The truth: per sex, for each quartile whose window holds 2 to 5
	// ages, the persons younger than each but the youngest, and the
	// others. A window of two ages always shows its ranks; one of more
	// may be hidden whole (its value tells the ages between).
	want, may := map[int64]bool{}, map[int64]bool{}
	for _, vs := range ages {
		sorted := slices.SortedFunc(slices.Values(vs), func(a, b personValue) int { return cmp.Compare(a.v, b.v) })
		for _, p := range []float64{0.25, 0.5, 0.75} {
			d, _ := windowValues(vs, p)
			if d < 2 || d > 5 {
				continue
			}
			_, _, first, last, _ := smoothedWindow(vs, p)
			for _, x := range slices.Compact(slices.Collect(func(yield func(float64) bool) {
				for _, r := range sorted[first-1 : last] {
					if !yield(r.v) {
						return
					}
				}
			})) {
				below := int64(0)
				for _, y := range vs {
					if y.v < x {
						below++
					}
				}
				if below < int64(first) { // x is the window's youngest
					continue
				}
				may[below], may[int64(len(vs))-below] = true, true
				if d == 2 {
					want[below], want[int64(len(vs))-below] = true, true
				}
			}
		}
	}
	if len(want) == 0 {
		t.Fatal("no quartile of age by sex spans two ages in the fixture")
	}
	e := newEnv(t)
	tab := e.table(spec.MDescribe, spec.DescribeArgs{Handle: e.persons().ID, Column: "age", By: []string{"gender"}, At: at})
	got := map[int64]bool{}
	for _, r := range e.historyRecords() {
		if strings.Contains(r.Desc, "a quantile's rank") {
			got[r.Size] = true
		}
	}
	for n := range want {
		if !got[n] {
			t.Errorf("rank count %d (a window of two ages) not recorded: recorded %v", n, slices.Sorted(maps.Keys(got)))
		}
	}
	for n := range got {
		if !may[n] {
			t.Errorf("rank count %d recorded, not a boundary of any window of 2–5 ages: %v", n, slices.Sorted(maps.Keys(may)))
		}
	}
	for _, r := range tab.Rows {
		vs, ok := ages[r[0].Text]
		if !ok {
			continue
		}
		for i, c := range r[3:] { // mean, sd, q1, median, q3 of thousands of persons
			if c.Value != nil {
				continue
			}
			// A quartile whose window holds 3 ages is hidden: the one
			// between is a block of at most 19 persons.
			if d := 0; i >= 2 {
				d, _ = windowValues(vs, []float64{0.25, 0.5, 0.75}[i-2])
				if c.Status == spec.Ties && d >= 3 {
					continue
				}
			}
			t.Errorf("%s: statistic %d hidden (%s)", r[0].Text, i, c.Status)
		}
	}
}

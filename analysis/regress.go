package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"enclave/analysis/models"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/release"

	"github.com/RoaringBitmap/roaring/v2"
)

// term is one side of a model formula.
type term struct {
	name   string // as written
	kind   string // age, categorical, has, mean
	column string // categorical: person column
	h      *handle
	hcol   string // mean: the column averaged
}

var termRE = regexp.MustCompile(`^(has|mean)\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:,\s*([a-z_][a-z0-9_]*)\s*)?\)$`)

// parseTerm resolves one term of a formula.
func (s *Server) parseTerm(src string, bind map[string]string) (term, error) {
	src = strings.TrimSpace(src)
	switch strings.ToLower(src) {
	case "age":
		return term{name: "age", kind: "age"}, nil
	case "sex", "gender":
		return term{name: "gender", kind: "categorical", column: "gender_concept_id"}, nil
	case "race":
		return term{name: "race", kind: "categorical", column: "race_concept_id"}, nil
	case "ethnicity":
		return term{name: "ethnicity", kind: "categorical", column: "ethnicity_concept_id"}, nil
	}
	m := termRE.FindStringSubmatch(src)
	if m == nil {
		return term{}, datasets.Errorf("model term %q: use age, gender, race, ethnicity, has(NAME) or mean(NAME) with NAME bound to a handle", clip(src, 60))
	}
	id, ok := bind[m[2]]
	if !ok {
		return term{}, datasets.Errorf("model term %s: the name %s is not bound to a handle (pass it in the Vars map)", clip(src, 60), m[2])
	}
	h, err := s.handle(id)
	if err != nil {
		return term{}, err
	}
	t := term{name: src, kind: m[1], h: h}
	if t.kind == "mean" {
		if h.events == nil {
			return term{}, datasets.Errorf("mean(%s) needs an events handle with values (a measurement, a Fitbit table)", m[2])
		}
		t.hcol = m[3]
		if t.hcol == "" {
			t.hcol = "value_as_number"
		}
		if _, _, err := s.numericExpr(h, t.hcol, s.dataCut); err != nil {
			return term{}, err
		}
	}
	return t, nil
}

func (s *Server) regress(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.RegressArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	if a.Kind != "linear" && a.Kind != "logistic" {
		return nil, datasets.Errorf("model kind %q: linear or logistic", clip(a.Kind, 20))
	}
	at, err := s.at(a.At)
	if err != nil {
		return nil, err
	}
	c, cdesc, err := s.cohortHandle(a.Cohort, "a model")
	if err != nil {
		return nil, err
	}
	lhs, rhs, ok := strings.Cut(a.Formula, "~")
	if !ok {
		return nil, datasets.Errorf("a formula reads \"outcome ~ term + term\"")
	}
	y, err := s.parseTerm(lhs, a.Bind)
	if err != nil {
		return nil, err
	}
	if y.kind == "categorical" {
		return nil, datasets.Errorf("the outcome cannot be categorical; use has(NAME) for a binary outcome")
	}
	if a.Kind == "logistic" && y.kind != "has" {
		return nil, datasets.Errorf("a logistic model needs a binary outcome: has(NAME)")
	}
	var xs []term
	for _, part := range strings.Split(rhs, "+") {
		t, err := s.parseTerm(part, a.Bind)
		if err != nil {
			return nil, err
		}
		xs = append(xs, t)
	}
	if len(xs) > 20 {
		return nil, datasets.Errorf("at most 20 terms")
	}
	// One row per person of the cohort with every term.
	b := &sqlb{s: s}
	var sel []string
	var joins []string
	complete := c
	expr := func(t term, i int) (string, error) {
		switch t.kind {
		case "age":
			return s.d.cast(s.ageExpr("p", at), "DOUBLE"), nil
		case "categorical":
			return "p." + t.column, nil
		case "has":
			var inner string
			var err error
			if t.h.events != nil {
				inner, err = b.eventsSQL(t.h.events, fmt.Sprintf("h%d", i), "person_id")
			} else {
				q := fmt.Sprintf("q%d", i)
				var pr string
				pr, err = b.pred(t.h.cohort, q)
				inner = "SELECT " + q + ".person_id FROM person " + q + " WHERE " + pr
			}
			if err != nil {
				return "", err
			}
			return s.d.cast("CASE WHEN p.person_id IN ("+inner+") THEN 1 ELSE 0 END", "DOUBLE"), nil
		}
		return fmt.Sprintf("m%d.v", i), nil
	}
	all := append([]term{y}, xs...)
	for i, t := range all {
		e, err := expr(t, i)
		if err != nil {
			return nil, err
		}
		sel = append(sel, e)
	}
	var means []rowTerm // the mean(NAME) terms, whose rows are counted too
	for i, t := range all {
		if t.kind != "mean" {
			continue
		}
		means = append(means, rowTerm{quantity: quantityOf(t.hcol), desc: t.name, src: meanSource(t.h.events, t.hcol, at), table: t.h.events.Table,
			concepts: t.h.events.Concepts, events: t.h.events})
		sel = append(sel, fmt.Sprintf("coalesce(m%d.k, 0)", i)) // after the terms: see the scan
		vx, _, _ := s.numericExpr(t.h, t.hcol, at)
		alias := fmt.Sprintf("mx%d", i)
		w, err := b.eventsWhere(t.h.events, alias)
		if err != nil {
			return nil, err
		}
		w = append(w, strings.Replace(vx, "x.", alias+".", 1)+" IS NOT NULL")
		v := strings.Replace(vx, "x.", alias+".", 1)
		joins = append(joins, fmt.Sprintf("LEFT JOIN (SELECT %s.person_id, avg(%s) AS v, count(%s) AS k FROM %s %s WHERE %s GROUP BY 1) m%d ON m%d.person_id = p.person_id",
			alias, v, v, quoteIdent(t.h.events.Table), alias, strings.Join(w, " AND "), i, i))
		e := *t.h.events
		e.Where = append(append([]filterPlan(nil), e.Where...), filterPlan{Column: t.hcol, Op: "is not null"})
		complete = &cohortPlan{Op: "and", A: complete, B: &cohortPlan{Op: "with", Events: &e}}
	}
	pr, err := b.pred(c, "p")
	if err != nil {
		return nil, err
	}
	q := "SELECT " + strings.Join(sel, ", ") + " FROM person p " + strings.Join(joins, " ") + " WHERE " + pr
	rows, err := s.db.QueryContext(ctx, q, b.args...)
	if err != nil {
		return nil, err
	}
	var data [][]any
	for rows.Next() {
		vals, err := scanValues(rows, len(all)+len(means))
		if err != nil {
			rows.Close()
			return nil, err
		}
		ok := true
		for i := range all {
			vals[i] = normaliseKey(vals[i])
			if vals[i] == nil {
				ok = false
			}
		}
		if ok {
			data = append(data, vals[:len(all)])
			for j := range means {
				k := toInt(vals[len(all)+j])
				means[j].rows += k
				means[j].perRow = append(means[j].perRow, k)
			}
		}
		if len(data) > 5_000_000 {
			rows.Close()
			return nil, datasets.Errorf("the model has more than 5 million persons; narrow the cohort")
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return s.fitTable(ctx, cell, a, cdesc, complete, at, y, xs, data, withRows(means))
}

// rowTerm is a mean(NAME) term of a model: the quantity its per-person
// means are computed from and how many rows of it the model's persons have.
type rowTerm struct {
	quantity, desc string
	table          string  // the events' table ("" for ages)
	src            []byte  // the rows' release.Cell.Source
	concepts       []int64 // the rows' release.Cell.Concepts
	rows           int64   // over the model's persons
	perRow         []int64 // each person's (a row of data), nil for ages: one each
	events         *eventsPlan
}

// fewWithMany explains why a per-person mean of rows is not released when
// 1 to minN−1 of its persons have more than one row (perPerson: each
// person's rows; nil for ages, one each). A Describe of the same rows
// weights each person by their rows, the per-person mean each once: with
// everyone else at one row, r·(row mean) − n·(person mean) is the sum of
// the few persons' readings times (1 − 1/their rows), and review 45 read a
// woman's three LDL readings, 158, 146 and 128, from a Describe and a
// model of a cohort padded with persons of one reading each.
func fewWithMany(perPerson []int64, minN int64) string {
	var many int64
	for _, k := range perPerson {
		if k > 1 {
			many++
		}
	}
	if many == 0 || many >= minN {
		return ""
	}
	return fmt.Sprintf("1–%d of its persons have more than one row, and a mean of the same rows would give theirs: use rows of one per person, or a cohort where none or at least %d have more", minN-1, minN)
}

// withRows adds to means, for each term over events, the same rows as
// rows of the events whatever the column (rowsQuantity, rowsSource): a
// mean of range_high over the rows less one reading beside a mean of
// range_low over all of them, both constant per concept, put the one
// person off the line every other person is on, and a model's has()
// coefficients gave their diagnoses (review 43).
func withRows(means []rowTerm) []rowTerm {
	for _, m := range means {
		if m.events != nil {
			m.quantity, m.src, m.desc = rowsQuantity, rowsSource(m.events), "rows of "+m.desc
			means = append(means, m)
		}
	}
	return means
}

// rowsOf is how many rows of the term the persons at rows of data have.
func (m rowTerm) rowsOf(rows *roaring.Bitmap) int64 {
	if m.perRow == nil {
		return int64(rows.GetCardinality())
	}
	var n int64
	for it := rows.Iterator(); it.HasNext(); {
		n += m.perRow[it.Next()]
	}
	return n
}

// fitTable checks the design against the model rules, fits it and
// returns the released coefficient table.
func (s *Server) fitTable(ctx context.Context, cell string, a spec.RegressArgs, cdesc string, complete *cohortPlan, at string, y term, xs []term, data [][]any, means []rowTerm) (any, error) {
	pol := s.sess.Policy
	minN := int64(pol.MinCount)
	t := &built{title: fmt.Sprintf("%s regression: %s (persons: %s)", strings.Title(a.Kind), strings.TrimSpace(a.Formula), cdesc)}
	n := int64(len(data))
	nCell := t.add(&release.Cell{Stat: release.Count, Value: float64(n), Persons: n,
		Plan: cellPlan{C: complete, At: at}.bytes(), Desc: "model persons: " + cdesc})
	// The same persons with a few more rows of a mean(NAME) term (one more
	// day) move its estimates by those rows' values: each such term's rows
	// are judged as a row-level statistic (not shown), and the estimates
	// follow them.
	est := nCell
	for _, x := range append([]term{y}, xs...) {
		if x.kind == "age" {
			means = append(means, rowTerm{quantity: ageQuantity, desc: "age on " + at, src: ageSource(at), rows: n})
			break
		}
	}
	for _, m := range means {
		est = t.add(&release.Cell{Stat: release.Rows, Value: float64(m.rows), Persons: n, Of: est, Plan: nCell.Plan,
			Quantity: m.quantity, RowCount: m.rows, Source: m.src, Table: m.table, Concepts: m.concepts, Desc: "model rows of " + m.desc + ": " + cdesc + " (not shown)"})
	}
	var refused []string
	// Expand categorical terms; check each level and binary term.
	d := models.Design{}
	type col struct {
		name  string
		get   func(row []any) float64
		count func() (ones int64)
	}
	var cols []col
	for i, x := range xs {
		i := i + 1
		switch x.kind {
		case "categorical":
			counts := map[int64]int64{}
			for _, r := range data {
				counts[r[i].(int64)]++
			}
			lv := make([]int64, 0, len(counts))
			for k := range counts {
				lv = append(lv, k)
			}
			// The most frequent level is the reference; the others follow
			// in concept order, not by size: listed by size, they ranked
			// levels a Table 1 shows as ≤20 (review 53).
			slices.Sort(lv)
			ref := 0
			for j, l := range lv {
				if counts[l] > counts[lv[ref]] {
					ref = j
				}
			}
			first := lv[ref]
			lv = append([]int64{first}, slices.Delete(lv, ref, ref+1)...)
			v := variable{concept: true}
			for _, l := range lv {
				if counts[l] < minN {
					refused = append(refused, fmt.Sprintf("level %q of %s has fewer than %d persons: merge or drop it", s.label(ctx, v, l), x.name, pol.MinCount))
				}
			}
			for _, l := range lv[1:] { // the most frequent level is the reference
				l := l
				cols = append(cols, col{name: x.name + "=" + s.label(ctx, v, l), get: func(r []any) float64 {
					if r[i].(int64) == l {
						return 1
					}
					return 0
				}})
			}
		default:
			cols = append(cols, col{name: x.name, get: func(r []any) float64 { return toFloat(r[i]) }})
			if x.kind != "has" {
				if why := fewValues(data, i, minN); why != "" {
					refused = append(refused, x.name+": "+why)
				}
			}
			if x.kind == "has" {
				ones := int64(0)
				for _, r := range data {
					if toFloat(r[i]) == 1 {
						ones++
					}
				}
				if ones < minN || n-ones < minN {
					refused = append(refused, fmt.Sprintf("%s: fewer than %d persons in one of its two groups", x.name, pol.MinCount))
				}
			}
		}
	}
	if y.kind == "has" {
		ones := int64(0)
		for _, r := range data {
			if toFloat(r[0]) == 1 {
				ones++
			}
		}
		if ones < minN || n-ones < minN {
			refused = append(refused, fmt.Sprintf("outcome %s: fewer than %d persons with or without it", y.name, pol.MinCount))
		}
	}
	if y.kind == "age" || y.kind == "mean" {
		if why := fewValues(data, 0, minN); why != "" {
			refused = append(refused, "outcome "+y.name+": "+why)
		}
	}
	for _, m := range means {
		if m.quantity != rowsQuantity {
			if why := fewWithMany(m.perRow, minN); why != "" {
				refused = append(refused, m.desc+": "+why)
			}
		}
	}
	// The model's groups: its persons, each level of a categorical term,
	// each has() term, and with a binary outcome each of those with the
	// outcome. The estimates are combinations of the groups' means, so no
	// combination of their sizes may single out 1–20 persons (has(A) and
	// has(A plus one person) leave that person; the cases among a small
	// level of sex are a count), and each group is judged as a count
	// against the workspace's releases (two models whose has() groups
	// differ by one person; a level's cases subtracted from a table's
	// margins), which the estimates follow.
	groups := s.modelGroups(ctx, complete, at, y, xs, data)
	sets := make([]*roaring.Bitmap, len(groups))
	for i, g := range groups {
		sets[i] = g.rows
	}
	if len(refused) == 0 && (release.GroupsRevealSmall(sets, minN-1) || (y.kind == "has" && oneSided(sets))) {
		// One text for both: a group whose cases are all or none of it
		// cannot be fitted (separation), and if that had its own reason,
		// "one case in has(b)" against "none" would be told apart.
		refused = append(refused, fmt.Sprintf("some combination of the groups its terms%s define holds 1–%d persons (or a group is all with or all without the outcome), and its estimates would tell their values: drop or widen a term; the usual cause is a level of a categorical term that few persons have (such as a gender other than female and male): restrict the persons to the levels you compare (omop.Persons().Female().Or(omop.Persons().Male()))",
			map[bool]string{true: " and outcome", false: ""}[y.kind == "has"], pol.MinCount-1))
	}
	var groupCells []*release.Cell // not shown; recorded only when the model is fitted
	for _, g := range groups[1:] { // groups[0] is the model's persons: nCell
		k := int64(g.rows.GetCardinality())
		est = t.add(&release.Cell{Stat: release.Count, Value: float64(k), Persons: k, Of: est, Plan: g.plan.bytes(),
			Desc: "model group " + g.desc + ": " + cdesc + " (not shown)"})
		groupCells = append(groupCells, est)
		// A group's rows too: the female level's mean of the outcome is
		// its estimates' sum, and the same women with other rows in a
		// model padded with other men gave one woman's reading left out
		// (review 31).
		if k == 0 {
			continue
		}
		for _, m := range means {
			r := m.rowsOf(g.rows)
			est = t.add(&release.Cell{Stat: release.Rows, Value: float64(r), Persons: k, Of: est, Plan: g.plan.bytes(),
				Quantity: m.quantity, RowCount: r, Source: m.src, Table: m.table, Concepts: m.concepts, Desc: "model group " + g.desc + " rows of " + m.desc + ": " + cdesc + " (not shown)"})
			groupCells = append(groupCells, est)
		}
	}
	for _, c := range cols {
		d.Names = append(d.Names, c.name)
	}
	for _, r := range data {
		row := make([]float64, len(cols))
		for j, c := range cols {
			row[j] = c.get(r)
		}
		d.X = append(d.X, row)
		d.Y = append(d.Y, toFloat(r[0]))
	}
	p := len(cols) + 1
	if int(n)-p < pol.MinDOF {
		refused = append(refused, fmt.Sprintf("residual degrees of freedom below %d", pol.MinDOF))
	}
	if n < minN {
		// A model of 1–20 persons says nothing of them: which levels
		// they have, how many values a term takes or whether one has
		// several rows would describe them, as a Table 1 of so few
		// would (review 53 read one person's race from "level … has
		// fewer than 21 persons").
		refused = []string{fmt.Sprintf("the model has 1–%d persons", pol.MinCount-1)}
		d.Names = d.Names[:0]
		for _, x := range xs {
			d.Names = append(d.Names, x.name)
		}
	}
	t.columns = []string{"term", "estimate", "SE", "statistic", "p", "95% CI low", "95% CI high"}
	if a.Kind == "logistic" {
		t.columns = append(t.columns, "OR", "OR low", "OR high")
	}
	var fit *models.Fit
	var err error
	if len(refused) == 0 && n > int64(p) {
		if a.Kind == "linear" {
			fit, err = models.Linear(d)
		} else {
			fit, err = models.Logistic(d)
		}
		var me *models.Error
		if errors.As(err, &me) {
			refused = append(refused, me.Error())
			fit, err = nil, nil
		} else if err != nil {
			return nil, err
		}
		// A person (or a handful) far from the others in the terms'
		// values carries the fit: the line passes through their outcome
		// (one woman of 86 among 27 persons aged 19–21 gave her mean BMI
		// as intercept + 86·slope). Each person's weight in their own
		// fitted value must be under 1/(MinCount−1), as in a mean of
		// MinCount persons.
		if fit != nil && fit.MaxLeverage >= 1/float64(pol.MinCount-1) {
			refused = append(refused, fmt.Sprintf("some persons lie so far from the others in the terms' values that fewer than %d of them carry the fit: widen the cohort, or drop or group the term", pol.MinCount))
			fit = nil
		}
	}
	names := append([]string{models.InterceptName}, d.Names...)
	for i, name := range names {
		row := []*slot{{text: name}}
		var vals []float64
		if fit != nil {
			tm := fit.Terms[i]
			vals = []float64{tm.Coef, tm.SE, tm.Stat, tm.P, tm.Lo, tm.Hi}
			if a.Kind == "logistic" {
				vals = append(vals, tm.OR, tm.ORLo, tm.ORHi)
			}
		} else {
			vals = make([]float64, len(t.columns)-1)
		}
		for j, v := range vals {
			c := &release.Cell{Stat: release.Coef, Value: v, Persons: n, Of: est, Digits: 4}
			if j == 3 {
				c.Digits = 6
			}
			if fit == nil {
				c.Status = spec.Model
			}
			row = append(row, &slot{cell: t.add(c)})
		}
		t.rows = append(t.rows, row)
	}
	t.rows = append(t.rows, []*slot{{text: "persons"}, {cell: nCell}})
	if fit != nil {
		dof := t.add(&release.Cell{Stat: release.Coef, Value: float64(fit.DF), Persons: n, Of: est, Digits: release.Whole})
		t.rows = append(t.rows, []*slot{{text: "residual df"}, {cell: dof}})
		if a.Kind == "linear" {
			r2 := t.add(&release.Cell{Stat: release.Coef, Value: fit.R2, Persons: n, Of: est, Digits: 4})
			t.rows = append(t.rows, []*slot{{text: "R²"}, {cell: r2}})
		} else {
			aic := t.add(&release.Cell{Stat: release.Coef, Value: fit.AIC, Persons: n, Of: est, Digits: 1})
			t.rows = append(t.rows, []*slot{{text: "AIC"}, {cell: aic}})
		}
	}
	if fit == nil {
		// A refused model releases no estimate: its groups tell nothing
		// and are not recorded, or a corrected model of the same persons
		// (without a small level) was hidden against them (review 50).
		for _, c := range groupCells {
			c.Status = spec.Model
		}
	}
	for _, r := range refused {
		t.notes = append(t.notes, "model refused: "+r)
	}
	t.notes = append(t.notes, "no residuals or fitted values are released; ages on "+at)
	return s.finish(ctx, cell, "stats."+strings.Title(a.Kind)+"("+strings.TrimSpace(a.Formula)+" in "+cdesc+")", t)
}

// oneSided reports whether, in the groups of a binary outcome's model
// (modelGroups: the groups, then each of them with the outcome, in the
// same order), some group is all cases or has none.
func oneSided(sets []*roaring.Bitmap) bool {
	n := len(sets) / 2
	for i := range n {
		if k := sets[n+i].GetCardinality(); k == 0 || k == sets[i].GetCardinality() {
			return true
		}
	}
	return false
}

// modelGroup is a group of a model's persons that its estimates are
// built from: rows holds the indexes of its rows in the model's data.
type modelGroup struct {
	desc string
	plan cellPlan
	rows *roaring.Bitmap
}

// modelGroups returns the model's persons, then each level of each
// categorical term, each has() term and, for a binary outcome, the
// outcome and each of those groups with it. A numeric term whose persons
// fall in clusters (see clusters) adds each cluster as a group.
//
// A linear model's residuals sum to zero within each level of its
// categorical and has() terms, so its estimates and each level's mean
// covariates (which Describe releases) give the level's sum of the
// outcome: for has(NAME), its count of cases. A logistic model gives them
// exactly only when it has no numeric term, but with one (age) it still
// gives them nearly: the standard error of has(b) was 1.02 over 1 case in
// b and 0.37 over 10, and two fits whose outcomes differ by one person
// (T2D, or T2D plus one person if that person is male) differ in every
// estimate, so the seventh review read a person's sex and BMI from them.
// So the cases are groups whatever the model's terms.
func (s *Server) modelGroups(ctx context.Context, complete *cohortPlan, at string, y term, xs []term, data [][]any) []modelGroup {
	minN := int64(s.sess.Policy.MinCount)
	all := roaring.New()
	all.AddRange(0, uint64(len(data)))
	groups := []modelGroup{{desc: "persons", plan: cellPlan{C: complete, At: at}, rows: all}}
	where := func(i int, keep func(v any) bool) *roaring.Bitmap {
		b := roaring.New()
		for r, row := range data {
			if keep(row[i]) {
				b.Add(uint32(r))
			}
		}
		return b
	}
	for i, x := range xs {
		i := i + 1
		switch x.kind {
		case "categorical":
			seen := map[int64]bool{}
			for _, r := range data {
				seen[r[i].(int64)] = true
			}
			levels := make([]int64, 0, len(seen))
			for l := range seen {
				levels = append(levels, l)
			}
			slices.Sort(levels)
			for _, l := range levels {
				groups = append(groups, modelGroup{desc: fmt.Sprintf("%s=%s", x.name, s.label(ctx, variable{concept: true}, l)),
					plan: cellPlan{C: complete, At: at, Fix: []fixVar{{Var: x.name, V: l}}},
					rows: where(i, func(v any) bool { return v.(int64) == l })})
			}
		case "has":
			groups = append(groups, modelGroup{desc: x.name, plan: cellPlan{C: &cohortPlan{Op: "and", A: complete, B: x.h.persons()}, At: at},
				rows: where(i, func(v any) bool { return toFloat(v) == 1 })})
		case "age", "mean":
			for _, r := range clusters(data, i, minN) {
				groups = append(groups, modelGroup{desc: fmt.Sprintf("%s in %g–%g", x.name, r.lo, r.hi),
					plan: cellPlan{C: &cohortPlan{Op: "and", A: complete, B: x.within(r, at)}, At: at},
					rows: where(i, func(v any) bool { f := toFloat(v); return f >= r.lo && f <= r.hi })})
			}
		}
	}
	if y.kind != "has" {
		return groups
	}
	cases := where(0, func(v any) bool { return toFloat(v) == 1 })
	n := len(groups)
	for _, g := range groups[:n] {
		p := g.plan
		p.C = &cohortPlan{Op: "and", A: p.C, B: y.h.persons()}
		groups = append(groups, modelGroup{desc: g.desc + " with " + y.name, plan: p, rows: roaring.And(g.rows, cases)})
	}
	return groups
}

// fewValues says why column i of data may not enter a model as a number:
// over at most release.MaxMeanValues distinct values a numeric term is a
// categorical one in disguise (age in a cohort of two birth years; a
// measurement flag), and a value held by 1..minN−1 persons would let its
// coefficient single them out. "" when the column may be used.
func fewValues(data [][]any, i int, minN int64) string {
	counts := map[float64]int64{}
	for _, r := range data {
		counts[toFloat(r[i])]++
		if len(counts) > release.MaxMeanValues {
			return ""
		}
	}
	for _, n := range counts {
		if n < minN {
			return fmt.Sprintf("takes only %d distinct values, one of them held by fewer than %d persons: group it or use it as categorical", len(counts), minN)
		}
	}
	return ""
}

// valueRange is a cluster of a numeric term's values: its own lowest and
// highest value, and the cuts halfway to the next value outside it on
// either side (±Inf at the ends), which select it again by a plan.
type valueRange struct{ lo, hi, below, above float64 }

// clusters returns the clusters of column i of data when its values fall
// in more than one, else nil. A line fitted through persons in far-apart
// clusters passes near each cluster's mean outcome: two models whose far
// clusters differ by one person (34 persons aged 84–86, then the same
// with one of 87, each beside other young persons) gave that person's
// BMI (review 26). So each cluster is a model group, judged and
// differenced like a has() term's persons.
//
// The values are split, and each side split again, at the widest gap
// that is at least as wide as the values on either side of it (in the
// part being split) when each side holds at least minN persons: farther
// apart than either side is wide, each side's persons carry the fit
// near them; or at a gap that a few persons bridge (see split). A side of fewer persons
// is refused by the leverage rule instead. Values spread without such a
// gap (ages of a cohort, a lab value) form one cluster.
func clusters(data [][]any, i int, minN int64) []valueRange {
	counts := map[float64]int64{}
	for _, r := range data {
		counts[toFloat(r[i])]++
	}
	vs := make([]float64, 0, len(counts))
	for v := range counts {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	pre := make([]int64, len(vs)+1) // pre[k]: persons below vs[k]
	for k, v := range vs {
		pre[k+1] = pre[k] + counts[v]
	}
	var out []valueRange
	var split func(a, b int)
	split = func(a, b int) { // the values vs[a..b]
		// The widest empty gap; failing one, the gap that holds the
		// fewest persons (fewer than minN) and is at least twice as wide
		// as either side: a bridge that joins two clusters does not stop
		// the fit passing near each one's mean (one person aged 38
		// between bands of 20–30 and 55–65 did, review 28). The
		// bridge's persons are in no cluster, so the persons less the
		// clusters are a group of 1–20 and the model is refused. (Twice:
		// of evenly spread values any 20 would make a bridge.)
		best, bestJ, width, bridge := -1, -1, 0.0, int64(0)
		try := func(k, j int, factor float64) {
			g, in := vs[j]-vs[k], pre[j]-pre[k+1]
			if g >= factor*(vs[k]-vs[a]) && g >= factor*(vs[b]-vs[j]) && pre[k+1]-pre[a] >= minN && pre[b+1]-pre[j] >= minN &&
				(best < 0 || in < bridge || in == bridge && g > width) {
				best, bestJ, width, bridge = k, j, g, in
			}
		}
		for k := a; k < b; k++ {
			try(k, k+1, 1)
		}
		if best < 0 {
			// Each start j of a right side with fewer than minN persons
			// between it and k.
			for k := a; k < b; k++ {
				for j := k + 1; j <= b && pre[j]-pre[k+1] < minN; j++ {
					try(k, j, 2)
				}
			}
		}
		if best < 0 {
			r := valueRange{lo: vs[a], hi: vs[b], below: math.Inf(-1), above: math.Inf(1)}
			if a > 0 {
				r.below = (vs[a-1] + vs[a]) / 2
			}
			if b < len(vs)-1 {
				r.above = (vs[b] + vs[b+1]) / 2
			}
			out = append(out, r)
			return
		}
		split(a, best)
		split(bestJ, b)
	}
	if len(vs) > 0 {
		split(0, len(vs)-1)
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// within is the cohort of the persons whose value of numeric term x lies
// in cluster r: an age band, or a band of the term's per-person mean.
func (x term) within(r valueRange, at string) *cohortPlan {
	if x.kind == "age" {
		return &cohortPlan{Op: "age", Min: int(math.Round(r.lo)), Max: int(math.Round(r.hi)), At: at}
	}
	c := &cohortPlan{Op: "mean", Events: x.h.events, Col: x.hcol}
	if !math.IsInf(r.below, 0) {
		c.Lo = &r.below
	}
	if !math.IsInf(r.above, 0) {
		c.Hi = &r.above
	}
	return c
}

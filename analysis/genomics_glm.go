package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/RoaringBitmap/roaring/v2"
	"gonum.org/v1/gonum/mat"

	"enclave/analysis/models"
	"enclave/analysis/render"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/genomics/assoc"
	"enclave/datasets/genomics/plink"
	"enclave/release"
)

// glmInputs are the inputs of a scan as assoc.Run got them (kept for the
// tests that rerun the scan with `enclave genomics glm`).
type glmInputs struct {
	fs     *plink.Fileset
	pheno  assoc.Column
	covars []assoc.Column
	plan   *cohortPlan
	ds     string
}

// genoScan is a released scan, kept for its rows and plots.
type genoScan struct {
	ref      string
	title    string
	pheno    string
	logistic bool
	lambda   *release.Cell
	lambdaOK bool
	columns  []string // of the summary rows
	rows     []*scanRow
	notes    []string
}

// scanRow is one kept (not dropped) row of a scan.
type scanRow struct {
	id                 string
	chrom              int
	chromName          string
	pos                int64
	n, beta, se, p, or *release.Cell
	slots              []*slot // the summary row
}

// pcQuantity is the Quantity of PC scores as a scan's covariates.
const pcQuantity = "pc scores"

// scanMean is a mean of events in a genome scan (the phenotype or a
// covariate), the ages at a date or PC scores: its column (ageQuantity,
// pcQuantity), its rows' Source and table, and k, the query column that
// counts a person's rows, summed over the persons tested in rows.
type scanMean struct {
	col, desc string
	table     string // the events' table ("" for ages and PCs)
	src       []byte
	concepts  []int64 // the rows' release.Cell.Concepts
	k         string
	rows      int64
	perSample []int64 // each sample's k
	events    *eventsPlan
}

// rowsOf is how many rows of m the samples in set have.
func (m *scanMean) rowsOf(set *roaring.Bitmap) int64 {
	var n int64
	for it := set.Iterator(); it.HasNext(); {
		n += m.perSample[it.Next()]
	}
	return n
}

// released reports whether the row's p-value was released.
func (r *scanRow) released() bool { return !r.p.Suppressed() && !r.beta.Suppressed() }

// glmTerm is one resolved covariate.
type glmTerm struct {
	names []string // the design columns it adds
	kind  string   // age, sex, cohort, events, pcs
	h     *handle
	gh    *genoHandle
}

// genoGLM serves genomics.GLM.
func (s *Server) genoGLM(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.GenoGLMArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	vh, err := s.genoHandle(a.Variants, spec.KindVariants, "genomics.GLM")
	if err != nil {
		return nil, err
	}
	ds, fs := vh.ds, vh.fs
	at, err := s.at(a.At)
	if err != nil {
		return nil, err
	}
	pol := s.sess.Policy
	minN := pol.MinCount
	// The population: the cohort (or everyone), and every condition that
	// a person needs to have a phenotype and covariates. The same plan
	// rebuilds the tested set for the release history.
	pop := &cohortPlan{Op: "all"}
	popDesc := "all genotyped persons"
	if a.Cohort != "" {
		if pop, popDesc, err = s.cohortHandle(a.Cohort, "Scan.Of"); err != nil {
			return nil, err
		}
	}
	conj := []*cohortPlan{pop}
	// Arguments bind in the order of the query text: SELECT expressions
	// (b), then the joins (bj), then the predicate (bp).
	b, bj, bp := &sqlb{s: s}, &sqlb{s: s}, &sqlb{s: s}
	var joins []string
	// Each mean(…) of events (the phenotype, an events covariate) is a
	// row-level statistic of the persons tested: its rows are counted, in
	// the query's last columns.
	var means []scanMean
	meanJoin := func(e *eventsPlan, col string, i int, desc string) (string, *cohortPlan, error) {
		h := &handle{events: e}
		vx, _, err := s.numericExpr(h, col, at)
		if err != nil {
			return "", nil, err
		}
		alias := fmt.Sprintf("gm%d", i)
		w, err := bj.eventsWhere(e, alias)
		if err != nil {
			return "", nil, err
		}
		vxa := strings.Replace(vx, "x.", alias+".", 1)
		w = append(w, vxa+" IS NOT NULL")
		joins = append(joins, fmt.Sprintf("LEFT JOIN (SELECT %s.person_id, avg(%s) AS v, count(*) AS k FROM %s %s WHERE %s GROUP BY 1) gj%d ON gj%d.person_id = p.person_id",
			alias, vxa, quoteIdent(e.Table), alias, strings.Join(w, " AND "), i, i))
		means = append(means, scanMean{col: col, desc: desc, src: meanSource(e, col, at), table: e.Table, k: fmt.Sprintf("coalesce(gj%d.k, 0)", i),
			concepts: e.Concepts, events: e})
		ee := *e
		ee.Where = append(append([]filterPlan(nil), e.Where...), filterPlan{Column: col, Op: "is not null"})
		return fmt.Sprintf("gj%d.v", i), &cohortPlan{Op: "with", Events: &ee}, nil
	}
	// Phenotype.
	var yExpr, phenoDesc string
	var casesPlan, controlsPlan *cohortPlan
	var phenoEvents *eventsPlan // a quantitative phenotype's events and column
	var phenoCol string
	binary := false
	switch a.Pheno.Kind {
	case "binary":
		binary = true
		cs, cdesc, err := s.cohortHandle(a.Pheno.Cases, "genomics.Binary")
		if err != nil {
			return nil, err
		}
		casesPlan = cs
		inCases, err := b.pred(cs, "gq")
		if err != nil {
			return nil, err
		}
		yExpr = s.d.cast("CASE WHEN p.person_id IN (SELECT gq.person_id FROM person gq WHERE "+inCases+") THEN 1.0 ELSE 0.0 END", "DOUBLE")
		phenoDesc = "in (" + cdesc + ")"
		if a.Pheno.Controls != "" {
			ct, ctdesc, err := s.cohortHandle(a.Pheno.Controls, "Phenotype.Versus")
			if err != nil {
				return nil, err
			}
			conj = append(conj, &cohortPlan{Op: "minus", A: &cohortPlan{Op: "or", A: cs, B: ct}, B: &cohortPlan{Op: "and", A: cs, B: ct}})
			phenoDesc += " versus (" + ctdesc + ")"
		}
		// Controls are the tested persons who are not cases.
		controlsPlan = &cohortPlan{Op: "minus", A: &cohortPlan{Op: "all"}, B: cs}
	case "quantitative":
		h, err := s.handle(a.Pheno.Handle)
		if err != nil {
			return nil, err
		}
		if h.events == nil {
			return nil, datasets.Errorf("genomics.Quantitative needs events with values (omop.Measurements…); %s is a cohort", a.Pheno.Handle)
		}
		col := a.Pheno.Column
		if col == "" {
			col = "value_as_number"
		}
		if strings.EqualFold(strings.TrimSpace(col), "age") {
			return nil, datasets.Errorf("genomics.Quantitative: age is a covariate, not a phenotype column")
		}
		expr, have, err := meanJoin(h.events, col, 0, "the phenotype, "+col+" of "+h.desc)
		if err != nil {
			return nil, err
		}
		yExpr, phenoDesc = expr, "mean "+col+" of "+h.desc
		phenoEvents, phenoCol = h.events, col
		conj = append(conj, have)
	default:
		return nil, datasets.Errorf("genomics.GLM: the phenotype is genomics.Binary or genomics.Quantitative")
	}
	// Covariates.
	if len(a.Covariates) > 30 {
		return nil, datasets.Errorf("genomics.GLM: at most 30 covariates")
	}
	var terms []glmTerm
	var sel []string
	seen := map[string]bool{}
	for i, c := range a.Covariates {
		key := strings.ToLower(strings.TrimSpace(c.Name)) + "|" + c.Handle
		if seen[key] {
			return nil, datasets.Errorf("genomics.GLM: covariate %s given twice", clip(c.Name+c.Handle, 40))
		}
		seen[key] = true
		switch {
		case c.Handle == "":
			switch strings.ToLower(strings.TrimSpace(c.Name)) {
			case "age":
				terms = append(terms, glmTerm{kind: "age", names: []string{"age"}})
				sel = append(sel, s.d.cast(s.ageExpr("p", at), "DOUBLE"))
				means = append(means, scanMean{col: ageQuantity, desc: "covariate age on " + at, src: ageSource(at), k: "1"})
			case "race", "ethnicity":
				// Categorical: expanded once the levels are known.
				name := strings.ToLower(strings.TrimSpace(c.Name))
				terms = append(terms, glmTerm{kind: "categorical", names: []string{name}})
				sel = append(sel, s.d.cast("p."+name+"_concept_id", "DOUBLE"))
			case "sex", "gender":
				terms = append(terms, glmTerm{kind: "sex", names: []string{"sex"}})
				sel = append(sel, s.d.cast("CASE p.gender_concept_id WHEN 8507 THEN 1 WHEN 8532 THEN 0 END", "DOUBLE"))
				conj = append(conj, &cohortPlan{Op: "or", A: &cohortPlan{Op: "sex", Sex: 8507}, B: &cohortPlan{Op: "sex", Sex: 8532}})
			default:
				return nil, datasets.Errorf("genomics.GLM: covariate %q: use \"age\", \"sex\", \"race\", \"ethnicity\", PCs from genomics.PCA, a cohort or events handle", clip(c.Name, 40))
			}
		case s.isGenoHandle(c.Handle):
			gh, err := s.genoHandle(c.Handle, spec.KindPCs, "a covariate")
			if err != nil {
				return nil, err
			}
			if gh.ds != ds {
				return nil, datasets.Errorf("genomics.GLM: the PCs %s were computed on dataset %s, the variants are of %s", c.Handle, gh.ds.name, ds.name)
			}
			t := glmTerm{kind: "pcs", gh: gh}
			for k := range gh.scores {
				t.names = append(t.names, fmt.Sprintf("PC%d", k+1))
			}
			terms = append(terms, t)
			conj = append(conj, gh.cohort)
			means = append(means, scanMean{col: pcQuantity, desc: "covariate " + gh.desc, src: gh.source, k: "1"})
		default:
			h, err := s.handle(c.Handle)
			if err != nil {
				return nil, err
			}
			if h.cohort != nil {
				q := fmt.Sprintf("gc%d", i)
				inner, err := b.pred(h.cohort, q)
				if err != nil {
					return nil, err
				}
				terms = append(terms, glmTerm{kind: "cohort", h: h, names: []string{fmt.Sprintf("in(%s)", c.Handle)}})
				sel = append(sel, s.d.cast("CASE WHEN p.person_id IN (SELECT "+q+".person_id FROM person "+q+" WHERE "+inner+") THEN 1.0 ELSE 0.0 END", "DOUBLE"))
			} else {
				expr, have, err := meanJoin(h.events, "value_as_number", i+1, "covariate mean("+c.Handle+")")
				if err != nil {
					return nil, err
				}
				terms = append(terms, glmTerm{kind: "events", h: h, names: []string{fmt.Sprintf("mean(%s)", c.Handle)}})
				sel = append(sel, expr)
				conj = append(conj, have)
			}
		}
	}
	tested := conj[0]
	for _, c := range conj[1:] {
		tested = &cohortPlan{Op: "and", A: tested, B: c}
	}
	// One row per person of the tested plan.
	pr, err := bp.pred(tested, "p")
	if err != nil {
		return nil, err
	}
	q := "SELECT p.person_id, " + yExpr
	for _, e := range sel {
		q += ", " + e
	}
	// Sex for chrX and chrY (plink2: sex covariate on chrX, males only
	// on chrY), from the person's gender as the "sex" covariate.
	q += ", CASE p.gender_concept_id WHEN 8507 THEN 1 WHEN 8532 THEN 2 ELSE 0 END"
	for _, m := range means {
		q += ", " + m.k
	}
	q += " FROM person p " + strings.Join(joins, " ") + " WHERE " + pr
	qargs := append(append(append([]any(nil), b.args...), bj.args...), bp.args...)
	rows, err := s.db.QueryContext(ctx, q, qargs...)
	if err != nil {
		return nil, err
	}
	nS := len(ds.samples)
	sampleOf := map[int64]int{}
	for i, p := range ds.person {
		if p >= 0 {
			sampleOf[p] = i
		}
	}
	ncol := 2 + len(sel)
	// Sex of every linked person, not only those tested: on chrX the
	// founders' allele frequency that chooses A1 counts males as haploid
	// (plink2 with --update-sex), and the founders are all of them (a
	// variant near 0.5 took the other allele when the untested were
	// counted as diploid).
	sexOf := make([]int, nS)
	for code, concept := range map[int]int64{1: 8507, 2: 8532} {
		set, err := s.cohortSet(ctx, ds, &cohortPlan{Op: "sex", Sex: concept})
		if err != nil {
			rows.Close()
			return nil, err
		}
		for i, p := range ds.person {
			if p >= 0 && set.Contains(uint32(p)) {
				sexOf[i] = code
			}
		}
	}
	pheno := assoc.Column{Name: "PHENO", Values: nanSlice(nS), Binary: binary}
	direct := make([][]float64, len(sel)) // the SQL covariates, by sample
	for j := range direct {
		direct[j] = nanSlice(nS)
	}
	inT := make([]bool, nS)
	for rows.Next() {
		vals, err := scanValues(rows, ncol+1+len(means))
		if err != nil {
			rows.Close()
			return nil, err
		}
		pid := toInt(vals[0])
		i, ok := sampleOf[pid]
		if !ok {
			continue
		}
		inT[i] = true
		pheno.Values[i] = toFloat(vals[1])
		for j := range sel {
			direct[j][i] = toFloat(vals[2+j])
		}
		sexOf[i] = int(toInt(vals[2+len(sel)]))
		for j := range means {
			k := toInt(vals[3+len(sel)+j])
			means[j].rows += k
			if means[j].perSample == nil {
				means[j].perSample = make([]int64, nS)
			}
			means[j].perSample[i] = k
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, m := range means {
		if why := fewWithMany(m.perSample, int64(s.sess.Policy.MinCount)); why != "" {
			return nil, datasets.Errorf("%s: %s", m.desc, why)
		}
	}
	// Each events mean's rows again as rows of its events whatever the
	// column (see withRows): a range_low phenotype over every reading and
	// a range_high one over all but one person's reading gave that
	// person's genotype at 551 of 551 variants (review 43).
	for _, m := range means {
		if m.events != nil {
			m.col, m.src, m.desc = rowsQuantity, rowsSource(m.events), "rows of "+m.desc
			means = append(means, m)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Design columns aligned to the dataset's samples.
	var covars []assoc.Column
	var covNames []string
	var termOf []int // covariate column → term
	sexCovar := ""
	si := 0
	for ti, t := range terms {
		if t.kind == "sex" {
			sexCovar = t.names[0]
		}
		switch t.kind {
		case "pcs":
			for k, sc := range t.gh.scores {
				covars = append(covars, assoc.Column{Name: t.names[k], Values: sc})
				termOf = append(termOf, ti)
			}
			covNames = append(covNames, t.names...)
			continue
		case "categorical":
			cols, err := s.expandCategorical(ctx, t.names[0], direct[si], inT)
			if err != nil {
				return nil, err
			}
			si++
			for _, c := range cols {
				covars = append(covars, c)
				covNames = append(covNames, c.Name)
				termOf = append(termOf, ti)
			}
			continue
		default:
			covars = append(covars, assoc.Column{Name: t.names[0], Values: direct[si]})
			termOf = append(termOf, ti)
			si++
		}
		covNames = append(covNames, t.names...)
	}
	// The tested persons: in the plan, genotyped, with every value. A
	// person the plan admits always has them; check rather than assume.
	n, cases := 0, 0
	for i := range inT {
		if !inT[i] {
			pheno.Values[i] = math.NaN()
			continue
		}
		ok := !math.IsNaN(pheno.Values[i])
		for _, c := range covars {
			if math.IsNaN(c.Values[i]) {
				ok = false
			}
		}
		if !ok {
			return nil, fmt.Errorf("genomics.GLM: person of the tested plan without a value (sample %d)", i)
		}
		n++
		if binary && pheno.Values[i] == 1 {
			cases++
		}
	}
	// Standardise the covariates over the persons tested (plink2
	// --covar-variance-standardize): the ADD estimates do not change, and
	// ages in years sit beside unit-norm PC scores without an unstable
	// scale. Binary covariates are checked as 0/1 first.
	binCov := make([]bool, len(covars))
	for ci := range covars {
		binCov[ci] = isBinaryColumn(covars[ci], inT)
		if n < 2 {
			continue
		}
		mean, sd := 0.0, 0.0
		for i := range inT {
			if inT[i] {
				mean += covars[ci].Values[i]
			}
		}
		mean /= float64(n)
		for i := range inT {
			if inT[i] {
				d := covars[ci].Values[i] - mean
				sd += d * d
			}
		}
		sd = math.Sqrt(sd / float64(n-1))
		if sd == 0 {
			return nil, datasets.Errorf("genomics.GLM: covariate %s is the same for every person tested", covNames[ci])
		}
		std := nanSlice(nS)
		for i := range inT {
			if inT[i] {
				std[i] = (covars[ci].Values[i] - mean) / sd
			}
		}
		covars[ci] = assoc.Column{Name: covars[ci].Name, Values: std}
	}
	// The persons each variant is tested on: everyone tested, but on chrX
	// only those of known sex, on chrY only males (as assoc.Run models
	// them); the release rules count genotypes over exactly those.
	nv := len(fs.Variants)
	chroms := make([]int, nv)
	for v := range fs.Variants {
		chroms[v] = fs.Variants[v].ChromCode
	}
	masks := map[int]*testedMasks{}
	for _, c := range []int{0, plink.ChromX, plink.ChromY} {
		in := func(i int) bool { return inT[i] }
		switch c {
		case plink.ChromX:
			in = func(i int) bool { return inT[i] && (sexCovar != "" || sexOf[i] != 0) }
		case plink.ChromY:
			in = func(i int) bool { return inT[i] && sexOf[i] == 1 }
		}
		masks[c] = newTestedMasks(nS, in, binary, pheno.Values)
	}
	masksOf := func(v int) *testedMasks {
		if m := masks[chroms[v]]; m != nil {
			return m
		}
		return masks[0]
	}
	s.geno.mu.Lock()
	s.geno.lastGLM = &glmInputs{fs: fs, pheno: pheno, covars: covars, plan: tested, ds: ds.name}
	s.geno.mu.Unlock()

	kind := "Linear"
	if binary {
		kind = "Logistic (Firth fallback)"
	}
	model := "A1 dosage"
	if len(terms) > 0 {
		// Terms, not the levels of a categorical covariate: which levels
		// the persons tested hold is not released.
		var tn []string
		for _, t := range terms {
			tn = append(tn, t.names...)
		}
		model += " + " + strings.Join(compactPCs(tn), " + ")
	}
	t := &built{title: fmt.Sprintf("%s scan: %s ~ %s; %s; persons: %s", kind, phenoDesc, model, vh.desc, popDesc)}
	anchor := t.add(anchorCell(ds.name, tested, fs, n, "persons tested: "+phenoDesc+" in "+popDesc))
	chain := anchor
	var casesCell, ctrlCell *release.Cell
	if binary {
		casesCell = t.add(&release.Cell{Stat: release.Count, Value: float64(cases), Persons: int64(cases), Of: anchor,
			Plan: genoPlanBytes(ds.name, &cohortPlan{Op: "and", A: tested, B: casesPlan}, fs), Desc: "cases tested: " + phenoDesc})
		ctrlCell = t.add(&release.Cell{Stat: release.Count, Value: float64(n - cases), Persons: int64(n - cases), Of: casesCell,
			Plan: genoPlanBytes(ds.name, &cohortPlan{Op: "and", A: tested, B: controlsPlan}, fs), Desc: "controls tested: " + phenoDesc})
		chain = ctrlCell
	}
	// Model rules: enough persons, cases and controls, each level of a
	// binary covariate, and residual degrees of freedom.
	var refused []string
	if n < minN {
		refused = append(refused, fmt.Sprintf("fewer than %d persons tested", minN))
	}
	if binary && (cases < minN || n-cases < minN) {
		refused = append(refused, fmt.Sprintf("fewer than %d cases or controls", minN))
	}
	// The scan's groups (see scanGroups), each 0/1 covariate's first.
	groups, onesOf, cohortOnes := scanGroups(covars, binCov, terms, termOf, inT, binary, pheno.Values)
	// A quantitative phenotype whose values fall in clusters far apart (a
	// constant per concept, 0 for some persons and 4 for others) is a
	// grouping in disguise: each variant's beta gives each cluster's
	// genotype sum, and a cluster of D and one person beside D's released
	// frequencies gave that person's genotype at 171 of 171 variants
	// (review 41). So each cluster is a group, as the cases of a binary
	// phenotype are: no combination of them may single out 1–20 persons,
	// and each is differenced against the workspace's releases.
	var phenoGroups []scanCohort
	if !binary {
		var data [][]any
		var at []int
		for i, in := range inT {
			if in {
				data, at = append(data, []any{pheno.Values[i]}), append(at, i)
			}
		}
		for _, r := range clusters(data, 0, int64(minN)) {
			set := roaring.New()
			for k, row := range data {
				if v := toFloat(row[0]); v >= r.lo && v <= r.hi {
					set.Add(uint32(at[k]))
				}
			}
			groups = append(groups, set)
			in := &cohortPlan{Op: "mean", Events: phenoEvents, Col: phenoCol}
			if !math.IsInf(r.below, 0) {
				in.Lo = &r.below
			}
			if !math.IsInf(r.above, 0) {
				in.Hi = &r.above
			}
			phenoGroups = append(phenoGroups, scanCohort{name: fmt.Sprintf("phenotype in %g–%g", r.lo, r.hi), ones: int(set.GetCardinality()),
				set: set, h: &handle{cohort: in}})
		}
	}
	for ci, ones := range onesOf {
		if ones == nil {
			continue
		}
		if k := int(ones.GetCardinality()); k < minN || n-k < minN {
			if t := terms[termOf[ci]]; t.kind == "categorical" {
				refused = append(refused, fmt.Sprintf("covariate %s: a level with fewer than %d persons (merge small levels into a cohort covariate)", t.names[0], minN))
			} else {
				refused = append(refused, fmt.Sprintf("covariate %s: fewer than %d persons in one of its two groups", covNames[ci], minN))
			}
		}
	}
	if n-(len(covars)+2) < pol.MinDOF {
		refused = append(refused, fmt.Sprintf("residual degrees of freedom below %d", pol.MinDOF))
	}
	if len(refused) == 0 {
		if why := phenoSpread(pheno.Values, covars, inT, minN, binary); why != "" {
			refused = append(refused, why)
		}
	}
	// The scan's groups are its persons and each 0/1 covariate's (a
	// cohort, sex, a level), with a binary phenotype the cases within
	// each. The covariates are fitted jointly, so no combination of the groups may
	// single out 1–20 persons: G∪T, H∪T and G∪H span T alone (their sum
	// less twice the third), whose phenotype the covariates then fit
	// exactly, so that the scan is the scan without T, and beside the
	// same scan with G and H it gave T's genotypes (review 27). Each
	// cohort covariate's persons are also differenced against earlier
	// releases, as a model's has() groups are, which the rows follow.
	if len(refused) == 0 && release.GroupsRevealSmall(groups, int64(minN-1)) {
		refused = append(refused, fmt.Sprintf("some combination of the groups its 0/1 covariates%s define holds 1–%d persons, whose phenotype the covariates would fit: drop or widen a covariate",
			map[bool]string{true: " and cases", false: " and the clusters of its phenotype's values"}[binary], minN-1))
	}
	for _, g := range append(slices.Clone(cohortOnes), phenoGroups...) {
		k := int64(g.ones)
		chain = t.add(&release.Cell{Stat: release.Count, Value: float64(k), Persons: k, Of: chain,
			Plan: genoPlanBytes(ds.name, &cohortPlan{Op: "and", A: tested, B: g.h.persons()}, nil),
			Desc: "scan group " + g.name + ": " + popDesc + " (not shown)"})
	}
	// The same persons with other rows of a mean (one person's readings
	// above a cut-off left out) move every estimate by those rows: with
	// the scan of all their rows, each variant's change in beta had the
	// sign of that person's genotype (review 30). So the rows are judged
	// as a row-level statistic (not shown), and the variant rows follow.
	for _, m := range means {
		chain = t.add(&release.Cell{Stat: release.Rows, Value: float64(m.rows), Persons: int64(n), Of: chain,
			Plan: genoPlanBytes(ds.name, tested, nil), Quantity: quantityOf(m.col), RowCount: m.rows, Source: m.src, Table: m.table, Concepts: m.concepts,
			Desc: "scan rows of " + m.desc + ": " + popDesc + " (not shown)"})
	}
	// And each cohort covariate's two blocks: with a cohort Z as a
	// covariate, the scan of P ∪ Z is the scans of P and of Z added up
	// (review 31), so each block's rows are judged too.
	for _, g := range cohortOnes {
		if n == 0 || len(means) == 0 || means[0].perSample == nil {
			break
		}
		in := &cohortPlan{Op: "and", A: tested, B: g.h.persons()}
		out := &cohortPlan{Op: "minus", A: tested, B: g.h.persons()}
		for _, m := range means {
			r := m.rowsOf(g.set)
			for _, b := range []struct {
				plan       *cohortPlan
				size, rows int64
				desc       string
			}{{in, int64(g.ones), r, "in " + g.name}, {out, int64(n - g.ones), m.rows - r, "not in " + g.name}} {
				if b.size == 0 {
					continue
				}
				chain = t.add(&release.Cell{Stat: release.Rows, Value: float64(b.rows), Persons: b.size, Of: chain,
					Plan: genoPlanBytes(ds.name, b.plan, nil), Quantity: quantityOf(m.col), RowCount: b.rows, Source: m.src, Table: m.table, Concepts: m.concepts,
					Desc: "scan rows of " + m.desc + ", persons " + b.desc + ": " + popDesc + " (not shown)"})
			}
		}
	}
	// Rows the release rules drop by their genotype counts are not fitted
	// at all (most are rare variants, where the Firth fallback costs the
	// most); the others are fitted, and dropped if the fit fails.
	drop := make([]string, nv)
	var res *assoc.Result
	var keep []int           // variants fitted
	rowOf := make([]int, nv) // variant → row of res, -1 when not fitted
	if len(refused) == 0 {
		// Variant-level differencing of the persons tested, and of the
		// cases, against the genomics populations released before.
		prior, err := s.priorSets(ctx, ds)
		if err != nil {
			return nil, err
		}
		testedSet := roaring.New()
		for i, in := range inT {
			if in && ds.person[i] >= 0 {
				testedSet.Add(uint32(ds.person[i]))
			}
		}
		diffs := popDiffs(ds, testedSet, prior, minN)
		var whole atomic.Bool // every row dropped (see differenced)
		err = plink.Parallel(nv, threads(), func(lo, hi int) error {
			for v := lo; v < hi; v++ {
				m := masksOf(v)
				row, dose := fs.Row(v), fs.Dosage(v)
				called := row
				if dose != nil {
					// The persons with a call of a dosage variant are
					// those with a dosage (its n).
					called = roundedRow(dose, nil)
				}
				// Differencing first: a row near one released before is
				// dropped for that whatever its counts, or which count
				// rule dropped it would tell the genotype of the person
				// added (a class of 0 that became 1).
				hide, all := differenced(&fs.Variants[v], called, diffs, minN, true)
				if all {
					whole.Store(true)
				}
				if hide {
					drop[v] = differencingDrop(minN)
				} else {
					drop[v] = countReason(row, dose, m.all, m.cases, m.controls, minN)
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if whole.Load() {
			for v := range drop {
				drop[v] = differencingDrop(minN)
			}
		}
		for v := range drop {
			rowOf[v] = -1
			if drop[v] == "" {
				rowOf[v] = len(keep)
				keep = append(keep, v)
			}
		}
		kc := make([]int, len(keep))
		for i, v := range keep {
			kc[i] = chroms[v]
		}
		res, err = assoc.Run(variantSubset{fs, keep}, pheno, covars, assoc.Options{Threads: threads(), HideCovar: true, Founders: ds.founders,
			Chrom: kc, Sex: sexOf, SexCovariate: sexCovar})
		if err != nil {
			return nil, &datasets.Error{Safe: "genomics.GLM: the model cannot be fitted: collinear or badly scaled covariates (as plink2 --glm would refuse)", Err: err}
		}
		for v, k := range rowOf {
			if k >= 0 {
				drop[v] = fitReason(res, k)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc := &genoScan{title: t.title, pheno: phenoDesc, logistic: binary}
	sc.columns = []string{"variant", "chrom", "pos", "A1", "n", "beta", "SE", "p"}
	t.columns = []string{"variant", "chrom", "pos", "ref", "alt", "A1", "n", "beta", "SE", "p"}
	if binary {
		sc.columns = []string{"variant", "chrom", "pos", "A1", "n", "log OR", "SE", "OR", "p", "Firth"}
		t.columns = []string{"variant", "chrom", "pos", "ref", "alt", "A1", "n", "log OR", "SE", "p", "Firth"}
	}
	dropped := map[string]int{}
	var chi []float64
	if res != nil {
		nt := len(res.Tests)
		for v := range fs.Variants {
			if drop[v] != "" {
				dropped[drop[v]]++
				continue
			}
			vr := &fs.Variants[v]
			rv := rowOf[v]
			k := rv * nt
			obs := int64(res.Obs[rv])
			coef := func(x float64, digits int, what string) *release.Cell {
				return t.add(&release.Cell{Stat: release.Coef, Value: x, Persons: obs, Of: chain, Digits: digits, Desc: vr.ID + ": " + what})
			}
			r := &scanRow{id: vr.ID, chrom: vr.ChromCode, chromName: vr.Chrom, pos: vr.Pos}
			r.n = t.add(&release.Cell{Stat: release.Count, Value: float64(obs), Persons: obs, Of: chain, Desc: vr.ID + ": persons tested"})
			r.beta = coef(res.Beta[k], 4, "beta")
			r.se = coef(res.SE[k], 4, "SE")
			r.p = coef(res.P[k], 4, "p")
			a1 := vr.Alt()
			if res.A1IsRef[rv] {
				a1 = vr.Ref()
			}
			pos := strconv.FormatInt(vr.Pos, 10)
			full := []*slot{{text: vr.ID}, {text: vr.Chrom}, {text: pos}, {text: vr.Ref()}, {text: vr.Alt()}, {text: a1},
				{cell: r.n}, {cell: r.beta}, {cell: r.se}, {cell: r.p}}
			r.slots = []*slot{{text: vr.ID}, {text: vr.Chrom}, {text: pos}, {text: a1}, {cell: r.n}, {cell: r.beta}, {cell: r.se}}
			if binary {
				firth := "N"
				if res.Firth[rv] {
					firth = "Y"
				}
				full = append(full, &slot{text: firth})
				r.or = coef(math.Exp(res.Beta[k]), 4, "OR")
				r.slots = append(r.slots, &slot{cell: r.or}, &slot{cell: r.p}, &slot{text: firth})
			} else {
				r.slots = append(r.slots, &slot{cell: r.p})
			}
			t.rows = append(t.rows, full)
			sc.rows = append(sc.rows, r)
			z := res.Beta[k] / res.SE[k]
			chi = append(chi, z*z)
		}
	}
	lam := math.NaN()
	if len(chi) > 0 {
		sort.Float64s(chi)
		med := chi[len(chi)/2]
		if len(chi)%2 == 0 {
			med = (chi[len(chi)/2-1] + chi[len(chi)/2]) / 2
		}
		lam = med / 0.45493642311957283
	}
	sc.lambda = t.add(&release.Cell{Stat: release.Coef, Value: lam, Persons: int64(n), Of: chain, Digits: 3, Desc: "lambda GC"})
	if res == nil {
		sc.lambda.Status = spec.Model
	}
	// Judge.
	what := fmt.Sprintf("genomics.GLM(%s ~ %s; %s; %s)", phenoDesc, model, vh.desc, popDesc)
	if _, err := s.sess.Decide(ctx, cell, &release.Decision{What: what, Cells: t.cells, Held: s.held}); err != nil {
		return nil, err
	}
	released := 0
	for _, r := range sc.rows {
		if r.released() {
			released++
		}
	}
	// Notes, from judged cells only.
	var notes []string
	notes = append(notes, s.sess.Policy.Legend(t.cells)...)
	for _, r := range refused {
		notes = append(notes, "scan refused: "+r)
	}
	tested2 := "persons tested: " + s.cellText(anchor)
	if binary {
		tested2 += " (cases " + s.cellText(casesCell) + ", controls " + s.cellText(ctrlCell) + ")"
	}
	notes = append(notes, tested2)
	totalDropped := 0
	if res != nil {
		notes = append(notes, fmt.Sprintf("variants tested: %s; rows released: %s; λ_GC = %s (median χ² of the released rows / 0.4549)",
			groupDigits(nv), groupDigits(released), s.cellText(sc.lambda)))
		reasons := make([]string, 0, len(dropped))
		for why, k := range dropped {
			reasons = append(reasons, fmt.Sprintf("%s %s", groupDigits(k), why))
			totalDropped += k
		}
		sort.Strings(reasons)
		// Why rows were dropped is counted from the genotypes of the
		// persons tested: said only when they are released.
		if totalDropped > 0 && !chain.Suppressed() {
			notes = append(notes, fmt.Sprintf("rows dropped: %s (%s)", groupDigits(totalDropped), strings.Join(reasons, "; ")))
		}
	}
	notes = append(notes, "A1 is the tested allele, the minor allele among the dataset's founders (plink2 --glm); beta per copy of A1; no residuals, fitted values, dosages or PC scores are released; ages on "+at)
	if nd := dosageVariants(fs); nd > 0 {
		notes = append(notes, fmt.Sprintf("%s of the variants have dosages (VCF DS): they are tested on the A1 dosage, as plink2 --vcf FILE dosage=DS --glm (n: persons with a dosage); their rows need a minor allele count from dosages of at least %d and pass the genotype-class rules on the hard calls and on the dosages rounded to the nearest genotype", groupDigits(nd), minN))
	}
	sc.notes = notes
	// The full table (every kept row, genome order) for export; the
	// summary (top rows by p) for the notebook.
	pol = s.sess.Policy
	full := &spec.Table{Title: t.title, Columns: t.columns, Notes: notes}
	for _, r := range t.rows {
		full.Rows = append(full.Rows, s.specRow(r))
	}
	top := a.Top
	if top <= 0 {
		top = 20
	}
	summary := sc.topTable(s, min(top, 1000), nil)
	ref := s.register(cell, render.TableBundle(summary), full)
	full.Ref, summary.Ref, sc.ref = ref, ref, ref
	s.geno.mu.Lock()
	if len(s.geno.scans) > 64 {
		clear(s.geno.scans)
	}
	s.geno.scans[ref] = sc
	s.geno.mu.Unlock()
	out := spec.GenoScan{Table: *summary, Lambda: pol.SpecCell(sc.lambda), Variants: nv, Released: released, Dropped: totalDropped}
	return out, nil
}

// specRow renders judged slots.
func (s *Server) specRow(r []*slot) []spec.Cell {
	pol := s.sess.Policy
	row := make([]spec.Cell, len(r))
	for i, sl := range r {
		switch {
		case sl == nil:
		case sl.cell == nil:
			row[i] = spec.Cell{Text: sl.text}
		default:
			row[i] = pol.SpecCell(sl.cell)
		}
	}
	return row
}

// topTable is the summary table of sc: the top rows by p (or the rows of
// ids), released rows only.
func (sc *genoScan) topTable(s *Server, top int, ids []string) *spec.Table {
	var rows []*scanRow
	if ids != nil {
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		for _, r := range sc.rows {
			if want[r.id] && r.released() {
				rows = append(rows, r)
			}
		}
	} else {
		for _, r := range sc.rows {
			if r.released() {
				rows = append(rows, r)
			}
		}
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].p.Value < rows[j].p.Value })
		if len(rows) > top {
			rows = rows[:top]
		}
	}
	t := &spec.Table{Title: sc.title, Columns: sc.columns, Notes: sc.notes}
	for _, r := range rows {
		t.Rows = append(t.Rows, s.specRow(r.slots))
	}
	return t
}

// compactPCs writes PC1 … PCk as "PC1–PCk".
func compactPCs(names []string) []string {
	var out []string
	for i := 0; i < len(names); i++ {
		if names[i] == "PC1" {
			j := i
			for j+1 < len(names) && names[j+1] == fmt.Sprintf("PC%d", j-i+2) {
				j++
			}
			if j > i {
				out = append(out, names[i]+"–"+names[j])
				i = j
				continue
			}
		}
		out = append(out, names[i])
	}
	return out
}

func nanSlice(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// isBinaryColumn reports whether c takes only 0 and 1 over the tested samples.
func isBinaryColumn(c assoc.Column, in []bool) bool {
	for i, x := range c.Values {
		if in[i] && x != 0 && x != 1 {
			return false
		}
	}
	return true
}

// expandCategorical turns a concept-valued covariate into 0/1 columns as
// plink2 --glm does: one per level among the persons tested (in), named
// "name=LEVEL", in the order of the level names, leaving out the most
// common level (the reference; a tie goes to the first name).
func (s *Server) expandCategorical(ctx context.Context, name string, ids []float64, in []bool) ([]assoc.Column, error) {
	count := map[int64]int{}
	for i, x := range ids {
		if in[i] && !math.IsNaN(x) {
			count[int64(x)]++
		}
	}
	var levels []int64
	for id := range count {
		levels = append(levels, id)
	}
	names, err := s.conceptNames(ctx, levels)
	if err != nil {
		return nil, err
	}
	label := func(id int64) string {
		if n := names[id]; n != "" {
			return n
		}
		if id == 0 {
			return "No matching concept"
		}
		return fmt.Sprintf("concept %d", id)
	}
	sort.Slice(levels, func(a, b int) bool { return label(levels[a]) < label(levels[b]) })
	if len(levels) < 2 {
		return nil, datasets.Errorf("genomics.GLM: covariate %s is the same for every person tested", name)
	}
	ref := levels[0]
	for _, id := range levels {
		if count[id] > count[ref] {
			ref = id
		}
	}
	var out []assoc.Column
	for _, id := range levels {
		if id == ref {
			continue
		}
		v := nanSlice(len(ids))
		for i, x := range ids {
			if in[i] && !math.IsNaN(x) {
				v[i] = 0
				if int64(x) == id {
					v[i] = 1
				}
			}
		}
		out = append(out, assoc.Column{Name: name + "=" + label(id), Values: v})
	}
	return out, nil
}

// testedMasks are the samples a variant is tested on, and among them the
// cases and the controls of a binary phenotype (nil otherwise).
type testedMasks struct{ all, cases, controls *plink.Mask }

func newTestedMasks(n int, in func(int) bool, binary bool, y []float64) *testedMasks {
	m := &testedMasks{all: plink.NewMask(n, in)}
	if binary {
		m.cases = plink.NewMask(n, func(i int) bool { return in(i) && y[i] == 1 })
		m.controls = plink.NewMask(n, func(i int) bool { return in(i) && y[i] == 0 })
	}
	return m
}

// variantSubset is the variants idx of a fileset, for assoc.Run.
type variantSubset struct {
	fs  *plink.Fileset
	idx []int
}

func (g variantSubset) NumSamples() int  { return g.fs.NumSamples() }
func (g variantSubset) NumVariants() int { return len(g.idx) }
func (g variantSubset) Row(v int) []byte { return g.fs.Row(g.idx[v]) }

// Dosage gives assoc.Run the dosage rows (assoc.DosageGenotypes).
func (g variantSubset) Dosage(v int) []uint16 { return g.fs.Dosage(g.idx[v]) }

// dosageVariants counts the variants of fs with dosage rows.
func dosageVariants(fs *plink.Fileset) int {
	if !fs.HasDosages() {
		return 0
	}
	n := 0
	for v := range fs.Variants {
		if fs.Dosage(v) != nil {
			n++
		}
	}
	return n
}

// roundedRow packs, for a dosage row, the genotype nearest each dosage
// (plink.RoundCall): every person with a dosage is in a class.
func roundedRow(dose []uint16, buf []byte) []byte {
	buf = buf[:0]
	buf = append(buf, make([]byte, (len(dose)+3)/4)...)
	for i, u := range dose {
		buf[i>>2] |= plink.RoundCall(u) << uint(2*(i&3))
	}
	return buf
}

// countReason says why the genomics release rules drop a row, from the
// genotype counts among the persons tested (mask), or "" to fit it.
//
// For a variant with dosages (dose not nil) the rules hold three times
// over: the minor allele count from dosages (the smaller of the ALT
// dosage sum and 2 × persons with a dosage − that sum, over the persons
// tested with a dosage, on the 0..2 scale the scan regresses on) must
// reach minN; the dosages rounded to the nearest genotype (every person
// with a dosage in a class) must pass every hard-call rule (allele count,
// classes, carriers among cases and controls); and so must the genotype
// classes and carriers of the hard calls (DS within 0.1 of a genotype).
// So neither a few confident calls nor a few persons with a dosage far
// from the others can stand out in a released row.
func countReason(row []byte, dose []uint16, mask, cases, controls *plink.Mask, minN int) string {
	if dose == nil {
		return hardReason(row, mask, cases, controls, minN, true, "")
	}
	var alt, obs int64
	for i, u := range dose {
		if u != plink.DosageMissing && mask.Has(i) {
			alt += int64(u)
			obs++
		}
	}
	if dmac := min(alt, 2*plink.DosageUnit*obs-alt); dmac < int64(minN)*plink.DosageUnit {
		return fmt.Sprintf("with a minor allele count below %d (dosages)", minN)
	}
	if why := hardReason(roundedRow(dose, nil), mask, cases, controls, minN, true, " (dosages rounded to the nearest genotype)"); why != "" {
		return why
	}
	return hardReason(row, mask, cases, controls, minN, false, " (hard calls)")
}

// differencingDrop is the reason a scan row is dropped for differencing.
func differencingDrop(minN int) string {
	return fmt.Sprintf("whose persons with a call differ by 1–%d from a population released before (differencing)", minN-1)
}

// hardReason is countReason's rules over a packed row; mac checks the
// minor allele count too; what qualifies the reasons.
func hardReason(row []byte, mask, cases, controls *plink.Mask, minN int, mac bool, what string) string {
	c := plink.CountRowMasked(row, mask)
	nm := c.NonMissing()
	alt := c.A1Count()
	small := func(k int) bool { return k > 0 && k < minN }
	if mac && min(alt, 2*nm-alt) < minN {
		return fmt.Sprintf("with a minor allele count below %d%s", minN, what)
	}
	if small(c.HomA1) || small(c.Het) || small(c.HomA2) {
		return fmt.Sprintf("with a genotype class of 1–%d persons%s", minN-1, what)
	}
	if cases != nil {
		minorAlt := c.HomA1 <= c.HomA2
		carriers := func(m *plink.Mask) int {
			k := plink.CountRowMasked(row, m)
			if minorAlt {
				return k.HomA1 + k.Het
			}
			return k.HomA2 + k.Het
		}
		if small(carriers(cases)) || small(carriers(controls)) {
			return fmt.Sprintf("with 1–%d minor-allele carriers among the cases or the controls%s", minN-1, what)
		}
	}
	return ""
}

// fitReason says why a fitted row k of res is dropped ("" = kept).
func fitReason(res *assoc.Result, k int) string {
	if res.Err[k] != 0 {
		return "without an estimate (" + res.Err[k].String() + ")"
	}
	if res.Unfinished[k] {
		return "whose fit did not converge"
	}
	if nt := len(res.Tests); math.IsNaN(res.P[k*nt]) || math.IsNaN(res.SE[k*nt]) || res.SE[k*nt] == 0 {
		return "without an estimate"
	}
	return ""
}

// scanCohort is a cohort covariate of a scan and how many of the persons
// tested are in it.
type scanCohort struct {
	name string
	h    *handle
	ones int
	set  *roaring.Bitmap // the samples in it
}

// scanGroups returns a scan's groups as sets of samples: the persons
// tested, the persons at the higher value of each 0/1 covariate and, for
// a binary phenotype, the cases within each of those; the latter by
// covariate (nil when it is not 0/1); and the cohort covariates with
// their persons tested.
func scanGroups(covars []assoc.Column, binCov []bool, terms []glmTerm, termOf []int, inT []bool, binary bool, pheno []float64) (sets, onesOf []*roaring.Bitmap, cohorts []scanCohort) {
	all := roaring.New()
	for i, in := range inT {
		if in {
			all.Add(uint32(i))
		}
	}
	sets = []*roaring.Bitmap{all}
	onesOf = make([]*roaring.Bitmap, len(covars))
	for ci, c := range covars {
		if !binCov[ci] {
			continue
		}
		hi := math.Inf(-1)
		for i, in := range inT {
			if in {
				hi = math.Max(hi, c.Values[i])
			}
		}
		ones := roaring.New()
		for i, in := range inT {
			if in && c.Values[i] == hi {
				ones.Add(uint32(i))
			}
		}
		sets, onesOf[ci] = append(sets, ones), ones
		if t := terms[termOf[ci]]; t.kind == "cohort" {
			cohorts = append(cohorts, scanCohort{name: t.names[0], h: t.h, ones: int(ones.GetCardinality()), set: ones})
		}
	}
	if binary {
		cases := roaring.New()
		for i, in := range inT {
			if in && pheno[i] == 1 {
				cases.Add(uint32(i))
			}
		}
		n := len(sets)
		for _, g := range sets[:n] {
			sets = append(sets, roaring.And(g, cases))
		}
	}
	return sets, onesOf, cohorts
}

// phenoSpread says why a phenotype may not be scanned over the persons
// inT with covariates covars: "" when it may. Each variant's estimate is
// Σ eᵢ(gᵢ − ḡ)/Σ(gᵢ − ḡ)² to first order, with eᵢ the phenotype less what
// the covariates fit (for a binary one, less the probability a logistic
// fit of the covariates gives); where one person's eᵢ is most of that
// spread, every estimate follows their genotype. A phenotype equal for
// everyone but one person (the mean of two constant columns, 99 and 5.6,
// over the one person with both) gave their genotype at every released
// variant (review 37), and so did the one case among controls that an
// events covariate or an age gap set apart from the other cases (review
// 39). So, as in a mean of MinCount persons, no person's e² may exceed
// 1/(MinCount−1) of Σe²; and, as stats.Linear's outcome, a quantitative
// phenotype of at most release.MaxMeanValues values may not have one held
// by 1..minN−1 persons.
func phenoSpread(y []float64, covars []assoc.Column, inT []bool, minN int, binary bool) string {
	if binary {
		e, why := logisticResiduals(y, covars, inT)
		if why != "" {
			return why
		}
		return spreadRule(e, minN, "whether a person is a case, less the probability the covariates give it,")
	}
	counts := map[float64]int{}
	for i, in := range inT {
		if in && len(counts) <= release.MaxMeanValues {
			counts[y[i]]++
		}
	}
	if len(counts) <= release.MaxMeanValues {
		for _, k := range counts {
			if k < minN {
				return fmt.Sprintf("the phenotype takes only %d distinct values, one of them held by fewer than %d persons", len(counts), minN)
			}
		}
	}
	e, ok := residuals(y, covars, inT)
	if !ok {
		return "" // collinear covariates: the fit refuses the scan
	}
	return spreadRule(e, minN, "phenotype, less what the covariates fit,")
}

// spreadRule is phenoSpread's bound on the residuals e.
func spreadRule(e []float64, minN int, what string) string {
	var ss, most float64
	for _, r := range e {
		ss += r * r
		most = max(most, r*r)
	}
	if ss > 0 && most > ss/float64(minN-1) {
		return fmt.Sprintf("one person's %s holds more than 1/%d of its spread, so every variant's estimate would follow that person's genotype: change or widen the phenotype, the covariates or the cohort", what, minN-1)
	}
	return ""
}

// logisticResiduals fits the 0/1 phenotype y on an intercept and covars
// by logistic regression over the persons inT and returns y less the
// fitted probabilities; why says when the covariates separate the cases
// from the controls (no finite fit: the scan would fit one side exactly).
func logisticResiduals(y []float64, covars []assoc.Column, inT []bool) (e []float64, why string) {
	d := models.Design{}
	for _, c := range covars {
		d.Names = append(d.Names, c.Name)
	}
	for i, in := range inT {
		if !in {
			continue
		}
		row := make([]float64, len(covars))
		for j, c := range covars {
			row[j] = c.Values[i]
		}
		d.X = append(d.X, row)
		d.Y = append(d.Y, y[i])
	}
	fit, err := models.Logistic(d)
	if errors.Is(err, models.ErrSeparation) {
		return nil, "the covariates separate the cases from the controls (some group of them is all cases or all controls): drop or widen a covariate"
	}
	if err != nil {
		return nil, "" // the scan's own fit says why
	}
	for k, row := range d.X {
		eta := fit.Terms[0].Coef
		for j, x := range row {
			eta += fit.Terms[j+1].Coef * x
		}
		e = append(e, d.Y[k]-1/(1+math.Exp(-eta)))
	}
	return e, ""
}

// residuals fits y on an intercept and covars by least squares over the
// persons inT (normal equations, Cholesky) and returns y less the fit, in
// sample order of the persons inT; ok is false when the covariates are
// collinear.
func residuals(y []float64, covars []assoc.Column, inT []bool) (e []float64, ok bool) {
	p := len(covars) + 1
	x := func(i, j int) float64 {
		if j == 0 {
			return 1
		}
		return covars[j-1].Values[i]
	}
	xtx := mat.NewSymDense(p, nil)
	xty := mat.NewVecDense(p, nil)
	for i, in := range inT {
		if !in {
			continue
		}
		for a := 0; a < p; a++ {
			xa := x(i, a)
			xty.SetVec(a, xty.AtVec(a)+xa*y[i])
			for b := a; b < p; b++ {
				xtx.SetSym(a, b, xtx.At(a, b)+xa*x(i, b))
			}
		}
	}
	var ch mat.Cholesky
	if !ch.Factorize(xtx) {
		return nil, false
	}
	var beta mat.VecDense
	if err := ch.SolveVecTo(&beta, xty); err != nil {
		return nil, false
	}
	for i, in := range inT {
		if !in {
			continue
		}
		fit := 0.0
		for a := 0; a < p; a++ {
			fit += x(i, a) * beta.AtVec(a)
		}
		e = append(e, y[i]-fit)
	}
	return e, true
}

package genomics

import (
	"fmt"

	"enclave/api/internal/call"
	"enclave/api/internal/tables"
	"enclave/api/omop"
	"enclave/api/spec"
)

// VariantSet is a selection of variants of one genotype dataset, held by
// the kernel.
type VariantSet struct{ h spec.Handle }

// Ref is the kernel's handle.
func (v VariantSet) Ref() spec.Handle { return v.h }

// String describes the selection (never genotypes).
func (v VariantSet) String() string { return "variants " + v.h.ID + ": " + v.h.Desc }

// Variants selects variants of the workspace's genotype dataset: regions
// ("chr19:44905000-44910000"), chromosomes ("chr19") or variant ids
// ("rs429358"), any mix; no argument selects every variant.
func Variants(sel ...string) VariantSet { return VariantsIn("", sel...) }

// VariantsIn is Variants in a named genotype dataset of the workspace
// (see Datasets; a VCF dataset is named after its file, e.g. "cohort.vcf").
func VariantsIn(dataset string, sel ...string) VariantSet {
	var h spec.Handle
	call.Must("genomics.Variants", spec.MGenoVariants, spec.GenoVariantsArgs{Dataset: dataset, Select: sel}, &h)
	return VariantSet{h}
}

func variantsID(op string, v VariantSet) string {
	if v.h.ID == "" {
		panic(&call.Error{Op: op, Msg: "needs variants from genomics.Variants"})
	}
	return v.h.ID
}

func cohortID(op string, c omop.Cohort) string {
	if c.Ref().ID == "" {
		panic(&call.Error{Op: op, Msg: "needs a cohort from enclave/omop"})
	}
	return c.Ref().ID
}

// Table is a released table.
type Table struct{ spec.Table }

// MIMEBundle shows the table as the kernel rendered it.
func (t Table) MIMEBundle() map[string]any {
	return map[string]any{spec.MIMERef: spec.Ref{Ref: t.Ref}}
}

// ResultRef is the kernel's reference of the table (for export.File).
func (t Table) ResultRef() string { return t.Ref }

// NumRows is the number of rows.
func (t Table) NumRows() int { return len(t.Rows) }

// Text is the cell's text as shown ("1,234", "≤20").
func (t Table) Text(row, col int) string { return tables.Text(&t.Table, row, col) }

// Value is the released number of a cell; ok is false when the cell is
// suppressed, not a number, or out of range.
func (t Table) Value(row, col int) (v float64, ok bool) { return tables.Value(&t.Table, row, col) }

// Lookup finds the first row whose first cell reads label (a variant id)
// and returns its value in the column named col.
func (t Table) Lookup(label, col string) (float64, bool) { return tables.Lookup(&t.Table, label, col) }

// String renders the table as aligned text.
func (t Table) String() string { return tables.String(&t.Table) }

// Group is a named subgroup of a cohort, for By.
type Group struct {
	Name   string
	Cohort omop.Cohort
}

// Summary is a per-variant genotype summary awaiting its cohort (Of).
type Summary struct {
	kind   string
	v      VariantSet
	groups []Group
}

// Freq summarises allele frequencies: per variant the minor allele (A1)
// of the cohort, its frequency and count, its carriers and the persons
// with a call.
func Freq(v VariantSet) Summary { return Summary{kind: "freq", v: v} }

// Hardy gives genotype counts and the Hardy–Weinberg exact test p-value
// per variant (shown only when no genotype class is hidden). On chrX the
// genotype classes are the females' and the haploid columns the males'
// alleles (plink2 --hardy's .hardy.x); chrY and MT have haploid counts
// and no test.
func Hardy(v VariantSet) Summary { return Summary{kind: "hardy", v: v} }

// Missing gives, per variant, the persons with a call and the call rate.
func Missing(v VariantSet) Summary { return Summary{kind: "missing", v: v} }

// By splits the summary by groups (each intersected with the cohort), e.g.
// cases and controls: one row per variant and group.
func (s Summary) By(groups ...Group) Summary {
	s.groups = append(append([]Group(nil), s.groups...), groups...)
	return s
}

// Of computes the summary over the genotyped persons of cohort c.
func (s Summary) Of(c omop.Cohort) Table {
	op := map[string]string{"freq": "genomics.Freq", "hardy": "genomics.Hardy", "missing": "genomics.Missing"}[s.kind]
	a := spec.GenoSummaryArgs{Kind: s.kind, Variants: variantsID(op, s.v), Cohort: cohortID(op, c)}
	for _, g := range s.groups {
		a.Groups = append(a.Groups, cohortID(op, g.Cohort))
		a.GroupNames = append(a.GroupNames, g.Name)
	}
	var t Table
	call.Must(op, spec.MGenoSummary, a, &t.Table)
	return t
}

// PCASpec is a principal component analysis awaiting its cohort (Of).
type PCASpec struct {
	k int
	v VariantSet
}

// PCA asks for the top k principal components of the genotypes.
func PCA(k int) PCASpec { return PCASpec{k: k} }

// Using computes the components over the variants of v instead of every
// autosomal variant. Either way only variants with a minor allele
// frequency of at least 1% and a call rate of at least 90% among the
// dataset's genotyped persons are used, and at least 500 of them are
// needed: over a few, the eigenvalues are those variants' genotype counts.
func (p PCASpec) Using(v VariantSet) PCASpec {
	p.v = v
	return p
}

// Of computes the components over the genotyped persons of cohort c. The
// scores stay in the kernel; use the handle as a covariate of GLM. A
// cohort where one person holds more than 1/21 of the genotype spread (a
// few persons, or one far from all the others) is refused.
func (p PCASpec) Of(c omop.Cohort) PCs {
	a := spec.GenoPCAArgs{PCs: p.k, Cohort: cohortID("genomics.PCA", c)}
	if p.v.h.ID != "" {
		a.Variants = p.v.h.ID
	}
	var r spec.GenoPCs
	call.Must("genomics.PCA", spec.MGenoPCA, a, &r)
	return PCs{h: r.Handle, t: Table{r.Table}}
}

// PCs are principal components held by the kernel: per-person scores never
// leave it. Use them as covariates (Scan.Covariates).
type PCs struct {
	h spec.Handle
	t Table
}

// Ref is the kernel's handle.
func (p PCs) Ref() spec.Handle { return p.h }

// String describes the components (never scores).
func (p PCs) String() string { return "PCs " + p.h.ID + ": " + p.h.Desc }

// Variance is the released table: each component's share of the
// genotype variance (its eigenvalue over the GRM's trace), in percent to
// 0.1 point, as a scree plot reads it.
func (p PCs) Variance() Table { return p.t }

// MIMEBundle shows the variance table.
func (p PCs) MIMEBundle() map[string]any { return p.t.MIMEBundle() }

// Phenotype is the outcome of an association scan.
type Phenotype struct{ p spec.GenoPhenotype }

// Binary is a case/control phenotype: the persons of cases are cases,
// every other person tested a control (see Versus).
func Binary(cases omop.Cohort) Phenotype {
	return Phenotype{spec.GenoPhenotype{Kind: "binary", Cases: cohortID("genomics.Binary", cases)}}
}

// Versus takes the controls from cohort controls only (persons in both
// cohorts are left out).
func (p Phenotype) Versus(controls omop.Cohort) Phenotype {
	p.p.Controls = cohortID("Phenotype.Versus", controls)
	return p
}

// Quantitative is each person's mean value_as_number over the rows of e
// (e.g. LDL measurements); persons without a value are left out.
func Quantitative(e omop.Events) Phenotype {
	if e.Ref().ID == "" {
		panic(&call.Error{Op: "genomics.Quantitative", Msg: "needs events from enclave/omop (e.g. omop.Measurements)"})
	}
	return Phenotype{spec.GenoPhenotype{Kind: "quantitative", Handle: e.Ref().ID}}
}

// Column averages another numeric column of the events than value_as_number.
func (p Phenotype) Column(name string) Phenotype {
	p.p.Column = name
	return p
}

// Scan is an association scan; it runs in the kernel the first time its
// result is needed (shown, read or plotted), once.
type Scan struct {
	a   spec.GenoGLMArgs
	res *spec.GenoScan
}

// GLM scans every variant of v for association with y: linear regression
// for a quantitative phenotype, logistic regression with Firth fallback
// for a binary one (plink2 --glm semantics; the tested allele A1 is the
// minor allele).
func GLM(v VariantSet, y Phenotype) *Scan {
	if y.p.Kind == "" {
		panic(&call.Error{Op: "genomics.GLM", Msg: "needs a phenotype from genomics.Binary or genomics.Quantitative"})
	}
	return &Scan{a: spec.GenoGLMArgs{Variants: variantsID("genomics.GLM", v), Pheno: y.p}}
}

func (s *Scan) clone() *Scan {
	c := &Scan{a: s.a}
	c.a.Covariates = append([]spec.GenoCovariate(nil), s.a.Covariates...)
	return c
}

// Covariates adjusts the scan for covariates: "age", "sex", "race" and
// "ethnicity" (categorical: one 0/1 column per level but the most common,
// as plink2), PCs from
// genomics.PCA, cohorts (0/1) and events handles (the person's mean
// value_as_number).
func (s *Scan) Covariates(cs ...any) *Scan {
	out := s.clone()
	for _, c := range cs {
		switch x := c.(type) {
		case string:
			out.a.Covariates = append(out.a.Covariates, spec.GenoCovariate{Name: x})
		case PCs:
			out.a.Covariates = append(out.a.Covariates, spec.GenoCovariate{Handle: x.h.ID})
		case omop.Handle:
			out.a.Covariates = append(out.a.Covariates, spec.GenoCovariate{Handle: x.Ref().ID})
		default:
			panic(&call.Error{Op: "Scan.Covariates", Msg: fmt.Sprintf("a covariate is \"age\", \"sex\", PCs or an omop handle, not %T", c)})
		}
	}
	return out
}

// Of restricts the scan to the persons of cohort c.
func (s *Scan) Of(c omop.Cohort) *Scan {
	out := s.clone()
	out.a.Cohort = cohortID("Scan.Of", c)
	return out
}

// AgesOn takes ages at the date ("YYYY-MM-DD"; "" = the data cut).
func (s *Scan) AgesOn(date string) *Scan {
	out := s.clone()
	out.a.At = date
	return out
}

// run runs the scan once.
func (s *Scan) run() *spec.GenoScan {
	if s.res == nil {
		var r spec.GenoScan
		call.Must("genomics.GLM", spec.MGenoGLM, s.a, &r)
		s.res = &r
	}
	return s.res
}

// Table is the summary table: the top rows by p, with the persons tested,
// λ_GC and the rows dropped by the release rules.
func (s *Scan) Table() Table { return Table{s.run().Table} }

// MIMEBundle shows the summary table.
func (s *Scan) MIMEBundle() map[string]any { return s.Table().MIMEBundle() }

// ResultRef is the kernel's reference of the scan: export.File writes every
// released row; plot.Manhattan and plot.QQ draw them.
func (s *Scan) ResultRef() string { return s.run().Table.Ref }

// String renders the summary table as text.
func (s *Scan) String() string { return s.Table().String() }

// Lambda is the genomic inflation factor λ_GC over the released rows.
func (s *Scan) Lambda() (float64, bool) {
	c := s.run().Lambda
	if c.Value == nil {
		return 0, false
	}
	return *c.Value, true
}

// Tested is the number of variants tested.
func (s *Scan) Tested() int { return s.run().Variants }

// Released is the number of rows released.
func (s *Scan) Released() int { return s.run().Released }

// Dropped is the number of rows the release rules dropped (the summary
// table's notes say why).
func (s *Scan) Dropped() int { return s.run().Dropped }

// Top is the n released rows with the smallest p-values (at most 1000).
func (s *Scan) Top(n int) Table {
	var t Table
	call.Must("Scan.Top", spec.MGenoRows, spec.GenoRowsArgs{Ref: s.ResultRef(), Top: n}, &t.Table)
	return t
}

// Find is the released rows of the variants with the given ids (a variant
// whose row was dropped is absent).
func (s *Scan) Find(ids ...string) Table {
	var t Table
	call.Must("Scan.Find", spec.MGenoRows, spec.GenoRowsArgs{Ref: s.ResultRef(), IDs: ids}, &t.Table)
	return t
}

// Lookup is the value of column col ("beta", "SE", "p", "OR", "n") of the
// released row of variant id.
func (s *Scan) Lookup(id, col string) (float64, bool) { return s.Find(id).Lookup(id, col) }

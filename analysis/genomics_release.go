package analysis

// How genomics results meet the release rules (package release):
//
//   - Every result has an anchor cell per population: the count of the
//     persons genotyped in the cohort (or tested by a scan), with a plan
//     (genoPlan) that rebuilds that set, so the release history differences
//     it like any count: a cohort and the same cohort less 1–20 persons
//     cannot both be released. Every variant-level cell follows its anchor
//     (release.Cell.Of): when the anchor is hidden, so is every count,
//     frequency and estimate of the result. Scans chain the cases and the
//     controls too (anchor ← cases ← controls ← rows), so changing one
//     person's case status between two scans hides the second.
//   - Per variant, the genotype classes, carriers, allele count, allele
//     frequency and persons with a call are judged by release.Policy.Judge
//     on their own small decision with their margins (called = hom + het +
//     hom; carriers = het + hom minor; allele count = carriers + hom
//     minor): allele and carrier counts of 1–20 persons are hidden (≤20)
//     and secondary suppression hides what would let them be recomputed.
//     Judging each variant alone is exact (variants share no cell) and keeps
//     the cost linear. The outcome is then fixed (Status set) and the cells
//     go, with the anchors, to the session's Decide (differencing, audit).
//     A Hardy–Weinberg p-value is hidden whenever a genotype class is.
//   - An association row is dropped (not computed into the table at all)
//     when among the persons tested the minor allele count is below
//     MinCount, a genotype class holds 1..MinCount-1 persons, or (binary)
//     the minor-allele carriers among the cases or among the controls are
//     1..MinCount-1; the table's notes count the dropped rows by reason.
//   - A variant with dosages (a VCF's DS) is scanned on its dosages, so
//     its row rules hold three times over (countReason): the minor allele
//     count from dosages (smaller of the ALT dosage sum and 2 × persons
//     with a dosage − that sum, over the persons tested) must reach
//     MinCount, and the class and carrier rules hold on the hard calls and
//     on the dosages rounded to the nearest genotype. In a summary its
//     counts are hard-call counts, and its dosage frequency is a rate of
//     the persons carrying any minor allele dosage over those with a
//     dosage, hidden also when its minor allele dosage sum is
//     1..MinCount-1. Differencing checks its rounded classes (and the
//     persons with a dosage) as well as its hard calls.
//   - Variant counts are differenced too (see popDiff below): a class of
//     a variant whose persons differ by 1..MinCount-1 from those of an
//     earlier released population hides the variant's cells (summaries)
//     or drops its row (scans).
//   - Nothing per person is ever put in a result: no genotype, dosage, PC
//     score, fitted value or residual. Missing calls are not genotypes: the
//     persons with a call are released per variant (as allele numbers are
//     in public variant browsers), and only when at least MinCount.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/analysis/render"
	"enclave/api/spec"
	"enclave/datasets/genomics/plink"
	"enclave/release"
)

// judgeLocal applies the policy's primary and secondary rules to the cells
// of one variant (no history: differencing is for the anchors) and fixes
// their outcome.
func (s *Server) judgeLocal(ctx context.Context, cells []*release.Cell, margins []release.Margin) {
	s.sess.Policy.Judge(ctx, &release.Decision{Cells: cells, Margins: margins}, nil, nil)
}

// genoFinish judges t's cells with the session (differencing, audit),
// renders at most maxShown rows (the rest stay in the released table for
// export) and registers the rendering. notes, if not nil, adds notes built
// from the judged cells.
func (s *Server) genoFinish(ctx context.Context, cell, what string, t *built, maxShown int, notes func() []string) (full, shown *spec.Table, err error) {
	d := &release.Decision{What: what, Cells: t.cells, Held: s.held}
	if _, err := s.sess.Decide(ctx, cell, d); err != nil {
		return nil, nil, err
	}
	pol := s.sess.Policy
	full = &spec.Table{Title: t.title, Columns: t.columns}
	for _, r := range t.rows {
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
		full.Rows = append(full.Rows, row)
	}
	full.Notes = append(pol.Legend(t.cells), t.notes...)
	if notes != nil {
		full.Notes = append(full.Notes, notes()...)
	}
	shown = full
	if maxShown > 0 && len(full.Rows) > maxShown {
		cp := *full
		cp.Rows = full.Rows[:maxShown]
		cp.Notes = append(append([]string(nil), full.Notes...),
			fmt.Sprintf("the first %s of %s rows are shown; export.File writes them all", groupDigits(maxShown), groupDigits(len(full.Rows))))
		shown = &cp
	}
	ref := s.register(cell, render.TableBundle(shown), full)
	full.Ref = ref
	if shown != full {
		shown.Ref = ref
	}
	return full, shown, nil
}

// cellText is a judged cell as the researcher sees it.
func (s *Server) cellText(c *release.Cell) string { return s.sess.Policy.SpecCell(c).Text }

// anchorCell is the count of persons of a genomics result's population,
// differenced against the workspace's releases.
// sel is the result's variants (nil when it releases no variant counts).
func anchorCell(ds string, c *cohortPlan, sel *plink.Fileset, n int, desc string) *release.Cell {
	return &release.Cell{Stat: release.Count, Value: float64(n), Persons: int64(n), Plan: genoPlanBytes(ds, c, sel), Desc: desc}
}

// Differencing at the variant level. The anchors stop a population that
// differs by 1..MinCount-1 persons from an earlier one; but two
// populations that differ by more can still differ by 1..MinCount-1
// carriers of one variant, and the difference of the two carrier counts
// is then a small count. The variant counts are too many to go to the
// history one by one, so they are differenced here, against every
// genomics population the workspace released on the dataset (from the
// history, any kernel's) and the other populations of the same result:
// for an earlier population E and this one P, D1 = E \ P and D2 = P \ E;
// a genotype class (each genotype, the carriers of either allele, the
// persons with a call) has person sets C∩E and C∩P, which are nested
// when C∩D1 or C∩D2 is empty and then differ by |C∩D1| + |C∩D2|. When
// that is 1..MinCount-1 for any class, the variant's cells are hidden in
// P (a summary) or its row dropped (a scan).
//
// Which rows are hidden is itself told, so it must not follow one
// person's genotypes. When D1 or D2 holds 1..MinCount-1 persons (E less
// one person T, then 36 persons and T: review 48 read T's carrier status
// at 1,024 of 1,024 rare variants from which rows were hidden), the rows
// of P are hidden all together if any is, one bit for the table. When
// each holds none or MinCount or more, rows are judged one by one, and a
// class shown as ≤20 on either side hides nothing: the difference is not
// known (hiding it hid a dataset's allele counts after the same table for
// its cases, 0 homozygotes among the cases and 8 among everyone, review
// 47). With a few persons on one side it would be: E without T showing 0
// homozygotes and T with persons of E showing ≤20 say T is one.

// popDiff is an earlier population's difference from the current one, as
// sample masks.
// spans are the earlier result's variants (nil: every variant).
type popDiff struct {
	gone, only *plink.Mask
	spans      [][3]int64
	// few: gone or only holds 1..MinCount-1 persons. pop is the current
	// population, set when neither does (see above).
	few bool
	pop *plink.Mask
}

// priorPop is an earlier population and the variants it released.
type priorPop struct {
	set   *roaring.Bitmap
	spans [][3]int64 // nil: every variant
}

func (d popDiff) covers(v *plink.Variant) bool {
	if d.spans == nil {
		return true
	}
	for _, s := range d.spans {
		if int64(v.ChromCode) == s[0] && v.Pos >= s[1] && v.Pos <= s[2] {
			return true
		}
	}
	return false
}

// maxPriorSets bounds the rebuilt sets kept per session.
const maxPriorSets = 512

// priorSets returns the person sets (genotyped in d) of the genomics
// populations the workspace released on d.
func (s *Server) priorSets(ctx context.Context, d *genoDataset) ([]priorPop, error) {
	if s.sess.History == nil {
		return nil, nil
	}
	plans, err := s.sess.History.Plans([]byte(`{"g":`))
	if err != nil {
		return nil, err
	}
	var out []priorPop
	for _, raw := range plans {
		var p genoPlan
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&p); err != nil || p.G.C == nil {
			return nil, fmt.Errorf("analysis: unreadable genomics plan in the release history: %v", err)
		}
		if p.G.DS != d.name || p.G.NoV {
			continue
		}
		g := s.geno
		g.mu.Lock()
		set := g.priorSets[string(raw)]
		g.mu.Unlock()
		if set == nil {
			if set, err = s.cohortSet(ctx, d, p.G.C); err != nil {
				return nil, err
			}
			g.mu.Lock()
			if len(g.priorSets) >= maxPriorSets {
				clear(g.priorSets)
			}
			g.priorSets[string(raw)] = set
			g.mu.Unlock()
		}
		// A population of 1–20 genotyped persons released no variant
		// rows (its anchor showed ≤20): nothing to difference against.
		if d.mask(set).Count() < s.sess.Policy.MinCount {
			continue
		}
		out = append(out, priorPop{set: set, spans: p.G.V})
	}
	return out, nil
}

// popDiffs are the differences of pop from the earlier populations (and
// the others given), leaving out those equal to pop.
func popDiffs(d *genoDataset, pop *roaring.Bitmap, earlier []priorPop, minN int) []popDiff {
	var out []popDiff
	var popMask *plink.Mask
	for _, e := range earlier {
		gone := roaring.AndNot(e.set, pop)
		only := roaring.AndNot(pop, e.set)
		if gone.IsEmpty() && only.IsEmpty() {
			continue
		}
		pd := popDiff{gone: d.mask(gone), only: d.mask(only), spans: e.spans}
		small := func(n int) bool { return n > 0 && n < minN }
		if pd.few = small(pd.gone.Count()) || small(pd.only.Count()); !pd.few {
			if popMask == nil {
				popMask = d.mask(pop)
			}
			pd.pop = popMask
		}
		out = append(out, pd)
	}
	return out
}

// differenced reports whether a genotype class of variant v (row) is
// nested between pop and an earlier population that released v and
// differs by 1..minN-1 persons, and whether all of pop's rows are to be
// hidden for it (whole: the populations differ by a few persons on one
// side). calledOnly checks only the persons with a call (a scan releases
// no other count of a variant).
func differenced(v *plink.Variant, row []byte, diffs []popDiff, minN int, calledOnly bool) (hide, whole bool) {
	small := func(k int) bool { return k > 0 && k < minN }
	for _, d := range diffs {
		if !d.covers(v) || hide && !d.few {
			continue
		}
		a := plink.CountRowMasked(row, d.gone)
		b := plink.CountRowMasked(row, d.only)
		var p plink.Counts // the current population's, when the two are far apart
		if d.pop != nil {
			p = plink.CountRowMasked(row, d.pop)
		}
		// Per class: in gone, in only, in the current population.
		classes := [][3]int{{a.NonMissing(), b.NonMissing(), p.NonMissing()}}
		if !calledOnly {
			classes = append(classes, [3]int{a.HomA1, b.HomA1, p.HomA1}, [3]int{a.Het, b.Het, p.Het}, [3]int{a.HomA2, b.HomA2, p.HomA2},
				[3]int{a.HomA1 + a.Het, b.HomA1 + b.Het, p.HomA1 + p.Het}, [3]int{a.HomA2 + a.Het, b.HomA2 + b.Het, p.HomA2 + p.Het})
		}
		for _, k := range classes {
			if (k[0] == 0 || k[1] == 0) && k[0]+k[1] > 0 && k[0]+k[1] < minN {
				if d.pop != nil && (small(k[2]) || small(k[2]-k[1]+k[0])) {
					continue // one side shows ≤20: the difference is not known
				}
				hide = true
				if d.few {
					return true, true
				}
				break
			}
		}
	}
	return hide, false
}

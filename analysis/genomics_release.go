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
//   - Nothing per person is ever put in a result: no genotype, dosage, PC
//     score, fitted value or residual. Missing calls are not genotypes: the
//     persons with a call are released per variant (as allele numbers are
//     in public variant browsers), and only when at least MinCount.

import (
	"context"
	"fmt"

	"enclave/analysis/render"
	"enclave/api/spec"
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
	d := &release.Decision{What: what, Cells: t.cells}
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
func anchorCell(ds string, c *cohortPlan, n int, desc string) *release.Cell {
	return &release.Cell{Stat: release.Count, Value: float64(n), Persons: int64(n), Plan: genoPlanBytes(ds, c), Desc: desc}
}

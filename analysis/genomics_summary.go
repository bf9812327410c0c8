package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/genomics/plink"
	"enclave/datasets/genomics/qc"
	"enclave/release"
)

// maxSummaryVariants bounds one summary (every row is judged and audited).
const maxSummaryVariants = 200_000

// maxShownRows is the rows a genomics table renders in the notebook.
const maxShownRows = 200

// variantCells are the judged cells of one variant in one population.
type variantCells struct {
	called, homMajor, het, homMinor, carriers, mac, maf, callRate, hwe *release.Cell
}

// summaryCells builds and judges the cells of counts c (over a population
// of n persons, anchor a) with the minor allele given.
func (s *Server) summaryCells(ctx context.Context, c plink.Counts, minorIsAlt bool, n int, hwe bool, a *release.Cell, desc string) variantCells {
	homMinor, homMajor := c.HomA2, c.HomA1
	if minorIsAlt {
		homMinor, homMajor = c.HomA1, c.HomA2
	}
	called := c.NonMissing()
	carriers := c.Het + homMinor
	mac := c.Het + 2*homMinor
	count := func(v int, what string) *release.Cell {
		return &release.Cell{Stat: release.Count, Value: float64(v), Persons: int64(v), Desc: desc + ": " + what}
	}
	vc := variantCells{
		called:   count(called, "persons with a call"),
		homMajor: count(homMajor, "homozygous major"),
		het:      count(c.Het, "heterozygous"),
		homMinor: count(homMinor, "homozygous minor"),
		carriers: count(carriers, "minor allele carriers"),
	}
	vc.mac = &release.Cell{Stat: release.Rows, Value: float64(mac), Persons: int64(carriers), Of: vc.called, Desc: desc + ": minor allele count"}
	maf := math.NaN()
	if called > 0 {
		maf = float64(mac) / float64(2*called)
	}
	vc.maf = &release.Cell{Stat: release.Rate, Value: maf, Persons: int64(carriers), Denom: int64(called), Of: vc.mac, Digits: 4, Desc: desc + ": minor allele frequency"}
	rate := math.NaN()
	if n > 0 {
		rate = 100 * float64(called) / float64(n)
	}
	vc.callRate = &release.Cell{Stat: release.Percent, Value: rate, Persons: int64(called), Denom: int64(n), Of: vc.called, Digits: 1, Desc: desc + ": call rate"}
	margins := []release.Margin{
		{Total: vc.called, Parts: []*release.Cell{vc.homMajor, vc.het, vc.homMinor}},
		{Total: vc.carriers, Parts: []*release.Cell{vc.het, vc.homMinor}},
		{Total: vc.mac, Parts: []*release.Cell{vc.carriers, vc.homMinor}},
	}
	cells := []*release.Cell{vc.called, vc.homMajor, vc.het, vc.homMinor, vc.carriers, vc.mac, vc.maf, vc.callRate}
	s.judgeLocal(ctx, cells, margins)
	// The Hardy–Weinberg p-value, with the persons called and the allele
	// count, gives back the genotype classes: it is shown only when none
	// of them is hidden.
	p := math.NaN()
	if hwe && called > 0 {
		p = qc.HweP(c.Het, c.HomA1, c.HomA2, false)
	}
	vc.hwe = &release.Cell{Stat: release.Coef, Value: p, Persons: int64(called), Digits: 4, Desc: desc + ": HWE p"}
	if !hwe || called == 0 {
		vc.hwe.Status = spec.NoData
	} else if vc.homMajor.Suppressed() || vc.het.Suppressed() || vc.homMinor.Suppressed() || vc.called.Suppressed() {
		vc.hwe.Status = spec.Derived
	}
	// From here on every cell hangs on the anchor only: the per-variant
	// relations are settled.
	for _, c := range append(cells, vc.hwe) {
		c.Of = a
	}
	return vc
}

var summaryKinds = map[string]string{"freq": "genomics.Freq", "hardy": "genomics.Hardy", "missing": "genomics.Missing"}

// genoSummary serves genomics.Freq, Hardy and Missing.
func (s *Server) genoSummary(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.GenoSummaryArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	op, ok := summaryKinds[a.Kind]
	if !ok {
		return nil, datasets.Errorf("summary kind %q: freq, hardy or missing", clip(a.Kind, 20))
	}
	vh, err := s.genoHandle(a.Variants, spec.KindVariants, op)
	if err != nil {
		return nil, err
	}
	c, cdesc, err := s.cohortHandle(a.Cohort, op)
	if err != nil {
		return nil, err
	}
	if len(a.GroupNames) != len(a.Groups) {
		return nil, datasets.Errorf("%s: %d group names for %d groups", op, len(a.GroupNames), len(a.Groups))
	}
	if len(a.Groups) > 20 {
		return nil, datasets.Errorf("%s: at most 20 groups", op)
	}
	fs := vh.fs
	if len(fs.Variants) > maxSummaryVariants {
		return nil, datasets.Errorf("%s: %s variants selected; a summary takes at most %s (select regions)", op, groupDigits(len(fs.Variants)), groupDigits(maxSummaryVariants))
	}
	ds := vh.ds
	// Populations: the cohort, or each group within it.
	type pop struct {
		name   string
		plan   *cohortPlan
		set    *roaring.Bitmap
		mask   *plink.Mask
		anchor *release.Cell
	}
	all, err := s.cohortSet(ctx, ds, c)
	if err != nil {
		return nil, err
	}
	allMask := ds.mask(all)
	var pops []pop
	if len(a.Groups) == 0 {
		pops = append(pops, pop{name: "", plan: c, set: all, mask: allMask})
	}
	for i, gid := range a.Groups {
		gc, _, err := s.cohortHandle(gid, op+" group")
		if err != nil {
			return nil, err
		}
		plan := &cohortPlan{Op: "and", A: c, B: gc}
		set, err := s.cohortSet(ctx, ds, plan)
		if err != nil {
			return nil, err
		}
		name := a.GroupNames[i]
		if name == "" {
			name = "group " + strconv.Itoa(i+1)
		}
		pops = append(pops, pop{name: clip(name, 60), plan: plan, set: set, mask: ds.mask(set)})
	}
	t := &built{title: fmt.Sprintf("%s: %s; persons: %s", op, vh.desc, cdesc)}
	for i := range pops {
		p := &pops[i]
		desc := "persons genotyped in " + cdesc
		if p.name != "" {
			desc += " (" + p.name + ")"
		}
		p.anchor = t.add(anchorCell(ds.name, p.plan, fs, p.mask.Count(), desc))
	}
	grouped := len(a.Groups) > 0
	t.columns = []string{"variant"}
	if grouped {
		t.columns = append(t.columns, "group")
	}
	switch a.Kind {
	case "freq":
		t.columns = append(t.columns, "chrom", "pos", "ref", "alt", "A1", "A1 freq", "A1 count", "carriers", "called")
	case "hardy":
		t.columns = append(t.columns, "A1", "hom A1", "het", "hom other", "HWE p")
	case "missing":
		t.columns = append(t.columns, "called", "call rate %")
	}
	// Variant-level differencing against the populations released before
	// and the other populations of this result.
	prior, err := s.priorSets(ctx, ds)
	if err != nil {
		return nil, err
	}
	diffs := make([][]popDiff, len(pops))
	for k := range pops {
		earlier := append([]priorPop(nil), prior...)
		for j := range pops {
			if j != k {
				earlier = append(earlier, priorPop{set: pops[j].set})
			}
		}
		diffs[k] = popDiffs(ds, pops[k].set, earlier)
	}
	minN := s.sess.Policy.MinCount
	// Counting is cheap (popcounts); do it in parallel, then judge.
	nv := len(fs.Variants)
	counts := make([][]plink.Counts, nv)
	minorAlt := make([]bool, nv)
	differ := make([][]bool, nv)
	err = plink.Parallel(nv, threads(), func(lo, hi int) error {
		for v := lo; v < hi; v++ {
			row := fs.Row(v)
			c := plink.CountRowMasked(row, allMask)
			minorAlt[v] = 2*c.HomA1 <= 2*c.HomA2 // ALT count ≤ REF count (ties: ALT)
			counts[v] = make([]plink.Counts, len(pops))
			differ[v] = make([]bool, len(pops))
			for k := range pops {
				counts[v][k] = plink.CountRowMasked(row, pops[k].mask)
				differ[v][k] = differenced(&fs.Variants[v], row, diffs[k], minN, false)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for v := range fs.Variants {
		vr := &fs.Variants[v]
		a1 := vr.Ref()
		if minorAlt[v] {
			a1 = vr.Alt()
		}
		autosomal := vr.ChromCode >= 1 && vr.ChromCode <= 22
		for k, p := range pops {
			vc := s.summaryCells(ctx, counts[v][k], minorAlt[v], p.mask.Count(), autosomal, p.anchor, vr.ID)
			if differ[v][k] {
				for _, c := range []*release.Cell{vc.called, vc.homMajor, vc.het, vc.homMinor, vc.carriers, vc.mac, vc.maf, vc.callRate, vc.hwe} {
					if !c.Suppressed() {
						c.Status = spec.Difference
					}
				}
			}
			row := []*slot{{text: vr.ID}}
			if grouped {
				row = append(row, &slot{text: p.name})
			}
			add := func(cs ...*release.Cell) {
				for _, c := range cs {
					row = append(row, &slot{cell: t.add(c)})
				}
			}
			switch a.Kind {
			case "freq":
				row = append(row, &slot{text: vr.Chrom}, &slot{text: strconv.FormatInt(vr.Pos, 10)}, &slot{text: vr.Ref()}, &slot{text: vr.Alt()}, &slot{text: a1})
				add(vc.maf, vc.mac, vc.carriers, vc.called)
			case "hardy":
				row = append(row, &slot{text: a1})
				add(vc.homMinor, vc.het, vc.homMajor, vc.hwe)
			case "missing":
				add(vc.called, vc.callRate)
			}
			t.rows = append(t.rows, row)
		}
	}
	t.notes = append(t.notes, "A1 is the minor allele among the cohort's genotyped persons; counts and frequencies are over the persons with a call")
	if a.Kind == "hardy" {
		t.notes = append(t.notes, "HWE p: exact test (autosomes only); hidden when a genotype class is hidden")
	}
	full, _, err := s.genoFinish(ctx, cell, fmt.Sprintf("%s(%s of %s)", op, vh.desc, cdesc), t, maxShownRows, func() []string {
		var out []string
		for _, p := range pops {
			line := "persons genotyped in the cohort"
			if p.name != "" {
				line += " (" + p.name + ")"
			}
			out = append(out, line+": "+s.cellText(p.anchor))
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	// The worker gets every released row (for Lookup and Value); the
	// notebook shows the first rows.
	return full, nil
}

// releasedTable is the full released table registered under ref.
func (s *Server) releasedTable(ref string) (*spec.Table, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tablesR[ref]
	return t, ok
}

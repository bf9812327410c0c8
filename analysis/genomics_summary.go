package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"

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
	// Haploid calls (males on chrX and chrY, everyone on MT), shown by
	// Hardy; nil on autosomes.
	hapMajor, hapMinor *release.Cell
}

// sexCounts are one variant's calls in one population, split as plink2
// --freq and --hardy count them on the variant's chromosome.
type sexCounts struct {
	// dip are the diploid calls: everyone on autosomes (and XY); females
	// on chrX (females and persons of unknown sex when the population has
	// no male).
	dip plink.Counts
	// ns are the calls of persons of unknown sex on chrX when the
	// population has males: diploid, counted in frequencies, left out of
	// the chrX Hardy–Weinberg test.
	ns plink.Counts
	// hap are the haploid calls: males on chrX and chrY, everyone on MT. A
	// heterozygous haploid call counts as missing.
	hap plink.Counts
	// sexAware: the variant is on chrX, chrY or MT.
	sexAware bool
	// hwe is the test: 'a' autosomal, 'x' chrX (females and males), 0 none.
	hwe byte
	// n is the persons the call rate is over (males on chrY).
	n int
}

// popMasks are a population's samples split by OMOP sex.
type popMasks struct {
	all, males, females, nosex *plink.Mask
}

// countSex counts row's calls in population pm for chromosome chrom.
func countSex(row []byte, chrom int, pm *popMasks) sexCounts {
	var c sexCounts
	c.n = pm.all.Count()
	switch chrom {
	case plink.ChromX:
		c.sexAware = true
		if pm.males.Count() == 0 {
			c.dip = plink.CountRowMasked(row, pm.all)
		} else {
			c.dip = plink.CountRowMasked(row, pm.females)
			c.hap = plink.CountRowMasked(row, pm.males)
			if pm.nosex.Count() > 0 {
				c.ns = plink.CountRowMasked(row, pm.nosex)
			}
		}
		if pm.males.Count()+pm.females.Count() > 0 {
			c.hwe = 'x'
		}
	case plink.ChromY:
		c.sexAware = true
		c.hap = plink.CountRowMasked(row, pm.males)
		c.n = pm.males.Count()
	case plink.ChromMT:
		c.sexAware = true
		c.hap = plink.CountRowMasked(row, pm.all)
	default:
		c.dip = plink.CountRowMasked(row, pm.all)
		if (chrom >= 1 && chrom <= 22) || chrom == plink.ChromXY {
			c.hwe = 'a'
		}
	}
	return c
}

// doseCounts are one dosage variant's allele dosages in one population,
// counted as plink2 --freq counts them on the variant's chromosome (as
// countSex: a haploid dosage, half the stored 0..2 value, is one allele).
type doseCounts struct {
	alt, obs float64 // ALT allele dosage and allele observations
	// carriers: persons with a dosage of ALT above 0, of REF above 0.
	altCarriers, refCarriers int
	persons                  int // persons with a dosage
}

// countDose counts a dosage row in population pm for chromosome chrom.
func countDose(dose []uint16, chrom int, pm *popMasks) doseCounts {
	var c doseCounts
	for i, u := range dose {
		if u == plink.DosageMissing || !pm.all.Has(i) {
			continue
		}
		haploid := false
		switch chrom {
		case plink.ChromX:
			haploid = pm.males != nil && pm.males.Count() > 0 && pm.males.Has(i)
		case plink.ChromY:
			if pm.males == nil || !pm.males.Has(i) {
				continue
			}
			haploid = true
		case plink.ChromMT:
			haploid = true
		}
		d := float64(u) / plink.DosageUnit
		if haploid {
			c.alt += d / 2
			c.obs++
		} else {
			c.alt += d
			c.obs += 2
		}
		c.persons++
		if u > 0 {
			c.altCarriers++
		}
		if u < 2*plink.DosageUnit {
			c.refCarriers++
		}
	}
	return c
}

// altMinor reports whether ALT is the minor allele of c (ALT alleles no
// more than REF alleles; ties: ALT).
func (c sexCounts) altMinor() bool {
	alt := 2*(c.dip.HomA1+c.ns.HomA1) + c.dip.Het + c.ns.Het + c.hap.HomA1
	ref := 2*(c.dip.HomA2+c.ns.HomA2) + c.dip.Het + c.ns.Het + c.hap.HomA2
	return alt <= ref
}

// summaryCells builds and judges the cells of counts c (over a population
// anchored at a) with the minor allele given. For a variant with dosages
// (dc not nil) the allele frequency is the dosages' (plink2 --freq on a
// dosage=DS import), judged as a rate of the persons carrying any minor
// allele dosage over the persons with a dosage, and hidden when the minor
// allele dosage sum is 1..MinCount-1 alleles' worth; every count stays a
// hard-call count.
func (s *Server) summaryCells(ctx context.Context, c sexCounts, dc *doseCounts, minorIsAlt bool, a *release.Cell, desc string) variantCells {
	minor := func(k plink.Counts) (homMinor, homMajor int) {
		if minorIsAlt {
			return k.HomA1, k.HomA2
		}
		return k.HomA2, k.HomA1
	}
	dMinor, dMajor := minor(c.dip)
	nMinor, nMajor := minor(c.ns)
	hMinor, hMajor := minor(c.hap)
	called := c.dip.NonMissing() + c.ns.NonMissing() + hMinor + hMajor
	carriers := c.dip.Het + dMinor + c.ns.Het + nMinor + hMinor
	mac := c.dip.Het + 2*dMinor + c.ns.Het + 2*nMinor + hMinor
	obs := 2*(c.dip.NonMissing()+c.ns.NonMissing()) + hMinor + hMajor
	count := func(v int, what string) *release.Cell {
		return &release.Cell{Stat: release.Count, Value: float64(v), Persons: int64(v), Desc: desc + ": " + what}
	}
	vc := variantCells{
		called:   count(called, "persons with a call"),
		homMajor: count(dMajor, "homozygous major"),
		het:      count(c.dip.Het, "heterozygous"),
		homMinor: count(dMinor, "homozygous minor"),
		carriers: count(carriers, "minor allele carriers"),
	}
	vc.mac = &release.Cell{Stat: release.Rows, Value: float64(mac), Persons: int64(carriers), Of: vc.called, Desc: desc + ": minor allele count"}
	maf := math.NaN()
	if obs > 0 {
		maf = float64(mac) / float64(obs)
	}
	vc.maf = &release.Cell{Stat: release.Rate, Value: maf, Persons: int64(carriers), Denom: int64(called), Of: vc.mac, DenomOf: vc.called, Digits: 4, Desc: desc + ": minor allele frequency"}
	doseMAC := 0.0
	if dc != nil {
		doseMAC, vc.maf.Persons = dc.alt, int64(dc.altCarriers)
		if !minorIsAlt {
			doseMAC, vc.maf.Persons = dc.obs-dc.alt, int64(dc.refCarriers)
		}
		vc.maf.Value, vc.maf.Denom = math.NaN(), int64(dc.persons)
		if dc.obs > 0 {
			vc.maf.Value = doseMAC / dc.obs
		}
		vc.maf.Desc = desc + ": minor allele frequency (dosages)"
	}
	rate := math.NaN()
	if c.n > 0 {
		rate = 100 * float64(called) / float64(c.n)
	}
	vc.callRate = &release.Cell{Stat: release.Percent, Value: rate, Persons: int64(called), Denom: int64(c.n), Of: vc.called, Digits: 1, Desc: desc + ": call rate"}
	cells := []*release.Cell{vc.called, vc.homMajor, vc.het, vc.homMinor, vc.carriers, vc.mac, vc.maf, vc.callRate}
	var margins []release.Margin
	if !c.sexAware {
		margins = []release.Margin{
			{Total: vc.called, Parts: []*release.Cell{vc.homMajor, vc.het, vc.homMinor}},
			{Total: vc.carriers, Parts: []*release.Cell{vc.het, vc.homMinor}},
			{Total: vc.mac, Parts: []*release.Cell{vc.carriers, vc.homMinor}},
		}
	} else {
		// Every class the totals are made of is a judged cell, shown or
		// not (persons of unknown sex on chrX never are), so that no
		// hidden class follows from the totals and the classes shown.
		vc.hapMajor, vc.hapMinor = count(hMajor, "haploid major"), count(hMinor, "haploid minor")
		calledParts := []*release.Cell{vc.homMajor, vc.het, vc.homMinor, vc.hapMajor, vc.hapMinor}
		carrierParts := []*release.Cell{vc.het, vc.homMinor, vc.hapMinor}
		macParts := []*release.Cell{vc.carriers, vc.homMinor}
		cells = append(cells, vc.hapMajor, vc.hapMinor)
		if c.ns.NonMissing() > 0 {
			nsMajor, nsHet, nsMinor := count(nMajor, "unknown sex, homozygous major"), count(c.ns.Het, "unknown sex, heterozygous"), count(nMinor, "unknown sex, homozygous minor")
			calledParts = append(calledParts, nsMajor, nsHet, nsMinor)
			carrierParts = append(carrierParts, nsHet, nsMinor)
			macParts = append(macParts, nsMinor)
			cells = append(cells, nsMajor, nsHet, nsMinor)
		}
		margins = []release.Margin{
			{Total: vc.called, Parts: calledParts},
			{Total: vc.carriers, Parts: carrierParts},
			{Total: vc.mac, Parts: macParts},
		}
	}
	s.judgeLocal(ctx, cells, margins)
	if dc != nil && doseMAC > 0 && doseMAC < float64(s.sess.Policy.MinCount) && !vc.maf.Suppressed() {
		vc.maf.Status = spec.Small
	}
	// The Hardy–Weinberg p-value, with the persons called and the allele
	// count, gives back the genotype classes: it is shown only when none
	// of them is hidden.
	p := math.NaN()
	switch {
	case c.hwe == 'a' && c.dip.NonMissing() > 0:
		p = qc.HweP(c.dip.Het, c.dip.HomA1, c.dip.HomA2, false)
	case c.hwe == 'x' && c.dip.NonMissing()+c.hap.HomA1+c.hap.HomA2 > 0:
		p = qc.HweXchrP(c.dip.Het, c.dip.HomA2, c.dip.HomA1, c.hap.HomA2, c.hap.HomA1, false)
	}
	vc.hwe = &release.Cell{Stat: release.Coef, Value: p, Persons: int64(called), Digits: 4, Desc: desc + ": HWE p"}
	classes := []*release.Cell{vc.homMajor, vc.het, vc.homMinor, vc.called}
	if vc.hapMajor != nil {
		classes = append(classes, vc.hapMajor, vc.hapMinor)
	}
	hidden := false
	for _, k := range classes {
		hidden = hidden || k.Suppressed()
	}
	switch {
	case math.IsNaN(p):
		vc.hwe.Status = spec.NoData
	case hidden:
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
			// A population of 1–20 persons shows no rows (below): there
			// is nothing of it to difference against, and comparing the
			// others with it hid all of a group's rows when it was one
			// person (review 48).
			if n := pops[j].mask.Count(); j != k && n >= s.sess.Policy.MinCount {
				earlier = append(earlier, priorPop{set: pops[j].set})
			}
		}
		diffs[k] = popDiffs(ds, pops[k].set, earlier, s.sess.Policy.MinCount)
	}
	minN := s.sess.Policy.MinCount
	// Sex from OMOP (as the scans' sex): needed when a variant is on chrX,
	// chrY or MT.
	sexAware := false
	for v := range fs.Variants {
		switch fs.Variants[v].ChromCode {
		case plink.ChromX, plink.ChromY, plink.ChromMT:
			sexAware = true
		}
	}
	masks := func(set *roaring.Bitmap, m *plink.Mask) *popMasks { return &popMasks{all: m} }
	if sexAware {
		males, err := s.cohortSet(ctx, ds, &cohortPlan{Op: "sex", Sex: 8507})
		if err != nil {
			return nil, err
		}
		females, err := s.cohortSet(ctx, ds, &cohortPlan{Op: "sex", Sex: 8532})
		if err != nil {
			return nil, err
		}
		masks = func(set *roaring.Bitmap, m *plink.Mask) *popMasks {
			return &popMasks{all: m, males: ds.mask(roaring.And(set, males)), females: ds.mask(roaring.And(set, females)),
				nosex: ds.mask(roaring.AndNot(roaring.AndNot(set, males), females))}
		}
	}
	// A1 is the minor allele among all the dataset's genotyped persons of
	// the tier, never the cohort's: a label computed from the cohort's
	// genotypes is shown even when every count is hidden, and a cohort
	// with an exact tie flipped it when one person was added (review 36).
	allPM := masks(ds.persons, ds.mask(ds.persons))
	pms := make([]*popMasks, len(pops))
	for k := range pops {
		pms[k] = masks(pops[k].set, pops[k].mask)
	}
	// Counting is cheap (popcounts); do it in parallel, then judge.
	nv := len(fs.Variants)
	counts := make([][]sexCounts, nv)
	doses := make([][]doseCounts, nv) // nil for a variant without dosages
	minorAlt := make([]bool, nv)
	differ := make([][]bool, nv)
	whole := make([]atomic.Bool, len(pops)) // every row of the population hidden
	err = plink.Parallel(nv, threads(), func(lo, hi int) error {
		var rounded []byte
		for v := lo; v < hi; v++ {
			row, dose := fs.Row(v), fs.Dosage(v)
			chrom := fs.Variants[v].ChromCode
			if dose != nil {
				// Dosages: the minor allele by dosage frequency, and the
				// persons with a dosage and their nearest genotypes
				// differenced as well as the hard calls.
				all := countDose(dose, chrom, allPM)
				minorAlt[v] = all.alt <= all.obs-all.alt
				doses[v] = make([]doseCounts, len(pops))
				rounded = roundedRow(dose, rounded)
			} else {
				minorAlt[v] = countSex(row, chrom, allPM).altMinor()
			}
			counts[v] = make([]sexCounts, len(pops))
			differ[v] = make([]bool, len(pops))
			for k := range pops {
				counts[v][k] = countSex(row, chrom, pms[k])
				hide, all := differenced(&fs.Variants[v], row, diffs[k], minN, false)
				if dose != nil {
					doses[v][k] = countDose(dose, chrom, pms[k])
					h, a := differenced(&fs.Variants[v], rounded, diffs[k], minN, false)
					hide, all = hide || h, all || a
				}
				differ[v][k] = hide
				if all {
					whole[k].Store(true)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k := range pops {
		if whole[k].Load() {
			for v := range differ {
				differ[v][k] = true
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if a.Kind == "hardy" && sexAware {
		t.columns = append(t.columns, "haploid A1", "haploid other")
	}
	// A population of 1–20 persons has no rows: which class holds its
	// persons (≤20 beside hidden zeros), and even its minor allele, would
	// be their genotypes (review 28).
	few := func(p pop) bool { n := p.mask.Count(); return n > 0 && n < minN }
	for _, p := range pops {
		if few(p) {
			t.notes = append(t.notes, fmt.Sprintf("a population of 1–%d persons has no variant rows: they would show its persons' genotypes", minN-1))
			break
		}
	}
	for v := range fs.Variants {
		vr := &fs.Variants[v]
		a1 := vr.Ref()
		if minorAlt[v] {
			a1 = vr.Alt()
		}
		for k, p := range pops {
			if few(p) {
				continue
			}
			var dc *doseCounts
			if doses[v] != nil {
				dc = &doses[v][k]
			}
			vc := s.summaryCells(ctx, counts[v][k], dc, minorAlt[v], p.anchor, vr.ID)
			if differ[v][k] {
				// Every cell, the small ones too: a class of 0 beside one
				// shown ≤20 would say which class the person added is in.
				for _, c := range []*release.Cell{vc.called, vc.homMajor, vc.het, vc.homMinor, vc.carriers, vc.mac, vc.maf, vc.callRate, vc.hwe, vc.hapMajor, vc.hapMinor} {
					if c != nil {
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
				if sexAware {
					if vc.hapMajor != nil {
						add(vc.hapMinor, vc.hapMajor)
					} else {
						row = append(row, nil, nil)
					}
				}
			case "missing":
				add(vc.called, vc.callRate)
			}
			t.rows = append(t.rows, row)
		}
	}
	t.notes = append(t.notes, "A1 is the minor allele among all the dataset's genotyped persons (not the cohort's, so it says nothing of them; its frequency in the cohort may pass 0.5); counts and frequencies are over the persons with a call")
	if sexAware {
		t.notes = append(t.notes, "chrX, chrY and MT counted as plink2 does, by OMOP sex: males haploid on chrX, males only on chrY, everyone haploid on MT (a heterozygous haploid call counts as missing); on chrX the hom/het columns are females, persons of unknown sex count in frequencies only")
	}
	if nd := dosageVariants(fs); nd > 0 {
		t.notes = append(t.notes, fmt.Sprintf("%s of the variants have dosages (VCF DS): A1 is their minor allele by dosage and A1 freq is counted from the dosages, as plink2 --vcf FILE dosage=DS --freq (hidden when the minor allele dosage sum is below %d or fewer than %d persons carry any minor allele dosage); their counts, genotype classes, HWE and call rates are from the hard calls (DS within 0.1 of a genotype, as plink2)", groupDigits(nd), minN, minN))
	}
	if a.Kind == "hardy" {
		t.notes = append(t.notes, "HWE p: exact test (autosomes; chrX over females and males, as plink2 --hardy); hidden when a genotype class is hidden")
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

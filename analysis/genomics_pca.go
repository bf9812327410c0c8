package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/genomics/pca"
	"enclave/datasets/genomics/plink"
	"enclave/release"
)

// PCA variant filters: autosomal variants with a minor allele frequency of
// at least pcaMinMAF and a call rate of at least pcaMinCall among the
// dataset's genotyped persons (not the cohort's),
// evenly thinned to at most pcaMaxVariants.
const (
	pcaMinMAF      = 0.01
	pcaMinCall     = 0.9
	pcaMaxVariants = 50_000
	pcaMaxPCs      = 50
	pcaExactMax    = 1000 // persons up to which the exact GRM is formed
	// pcaMinVariants: over a few variants the eigenvalues are those
	// variants' sums of squares, functions of their genotype class counts
	// (three pair PCAs and one triple gave three hidden homozygote counts
	// exactly, review 47). An ancestry PCA takes thousands.
	pcaMinVariants = 500
)

// subsetSamples repacks rows of fs (the variants idx) to the samples keep
// (ascending sample indices), in the .bed encoding.
func subsetSamples(fs *plink.Fileset, idx []int, keep []int) (*plink.Fileset, error) {
	n := len(keep)
	rb := (n + 3) / 4
	rows := make([]byte, len(idx)*rb)
	err := plink.Parallel(len(idx), threads(), func(lo, hi int) error {
		for k := lo; k < hi; k++ {
			src := fs.Row(idx[k])
			dst := rows[k*rb : (k+1)*rb]
			for j, i := range keep {
				code := (src[i>>2] >> (2 * (i & 3))) & 3
				dst[j>>2] |= code << (2 * (j & 3))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	vs := make([]plink.Variant, len(idx))
	for k, v := range idx {
		vs[k] = fs.Variants[v]
	}
	samples := make([]plink.Sample, n)
	for j, i := range keep {
		samples[j] = fs.Samples[i]
	}
	return plink.NewInMemory(vs, samples, rows)
}

// genoPCA serves genomics.PCA.
func (s *Server) genoPCA(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.GenoPCAArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	if a.PCs < 1 || a.PCs > pcaMaxPCs {
		return nil, datasets.Errorf("genomics.PCA: between 1 and %d components", pcaMaxPCs)
	}
	c, cdesc, err := s.cohortHandle(a.Cohort, "genomics.PCA")
	if err != nil {
		return nil, err
	}
	var ds *genoDataset
	var fs *plink.Fileset
	vdesc := ""
	if a.Variants != "" {
		vh, err := s.genoHandle(a.Variants, spec.KindVariants, "genomics.PCA Using")
		if err != nil {
			return nil, err
		}
		ds, fs, vdesc = vh.ds, vh.fs, vh.desc
	} else {
		if ds, err = s.dataset(ctx, ""); err != nil {
			return nil, err
		}
		if fs, err = s.selectVariants(ds, true, nil, nil); err != nil {
			return nil, err
		}
		vdesc = "autosomal variants of " + ds.name
	}
	set, err := s.cohortSet(ctx, ds, c)
	if err != nil {
		return nil, err
	}
	mask := ds.mask(set)
	n := mask.Count()
	pol := s.sess.Policy
	var keep []int
	for i := range ds.samples {
		if mask.Has(i) {
			keep = append(keep, i)
		}
	}
	t := &built{title: fmt.Sprintf("PCA: %d components of %s; persons: %s", a.PCs, vdesc, cdesc), columns: []string{"PC", "variance explained %"}}
	anchor := t.add(anchorCell(ds.name, c, nil, n, "persons genotyped in "+cdesc+" (PCA)"))
	if n < pol.MinCount || n <= 2*a.PCs+pol.MinDOF {
		return nil, datasets.Errorf("genomics.PCA: the cohort has too few genotyped persons for %d components", a.PCs)
	}
	// Variants: common, well called and autosomal among all the dataset's
	// genotyped persons, and scaled by their frequencies there (plink2
	// --read-freq), never the cohort's: how many variants a cohort leaves
	// usable (printed, or an error when too few) said whether a person
	// added to it carries an allele no one else in it has (review 36).
	everyone := ds.mask(ds.persons)
	everyN := everyone.Count()
	var idx []int
	var freqs []float64
	for v := range fs.Variants {
		if code := fs.Variants[v].ChromCode; code < 1 || code > 22 {
			continue
		}
		cn := plink.CountRowMasked(fs.Row(v), everyone)
		nm := cn.NonMissing()
		if nm == 0 || float64(nm) < pcaMinCall*float64(everyN) {
			continue
		}
		f := float64(cn.A1Count()) / float64(2*nm)
		if math.Min(f, 1-f) < pcaMinMAF {
			continue
		}
		idx = append(idx, v)
		freqs = append(freqs, f)
	}
	if len(idx) > pcaMaxVariants {
		thin := make([]int, pcaMaxVariants)
		thinF := make([]float64, pcaMaxVariants)
		for k := range thin {
			thin[k], thinF[k] = idx[k*len(idx)/pcaMaxVariants], freqs[k*len(idx)/pcaMaxVariants]
		}
		idx, freqs = thin, thinF
	}
	if len(idx) < pcaMinVariants {
		return nil, datasets.Errorf("genomics.PCA: %d usable variants (minor allele frequency ≥ 1%%, call rate ≥ 90%%, autosomal, among the dataset's genotyped persons); a PCA needs at least %d: over a few, its eigenvalues would be those variants' genotype counts", len(idx), pcaMinVariants)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sub, err := subsetSamples(fs, idx, keep)
	if err != nil {
		return nil, err
	}
	// One person holding much of the cohort's spread around its centre
	// is what the components would describe: among 25 persons known to
	// carry no copy of two rare variants (a Freq of 0), the eigenvalue of
	// the 26th told their genotypes, het from hom (review 47). Refused
	// like a model with one person holding more than 1/MinCount of an
	// outcome's spread.
	dev, err := pca.Deviations(sub, freqs, threads())
	if err != nil {
		return nil, &datasets.Error{Safe: "genomics.PCA: the decomposition failed (details in the audit log)", Err: err}
	}
	if spreadHeldByOne(dev, pol.MinCount) {
		return nil, datasets.Errorf("genomics.PCA: one person holds more than 1/%d of the cohort's genotype spread on these variants; the components would describe them (use a larger cohort)", pol.MinCount)
	}
	// The randomized method (plink2 --pca approx's role) unless the cohort
	// is small: the exact GRM costs N²·M/2 and takes minutes from 2,000
	// persons on.
	method := pca.Randomized
	if n <= pcaExactMax {
		method = pca.Exact
	}
	res, err := pca.Run(sub, pca.Options{PCs: a.PCs, Threads: threads(), Seed: 1, Method: method, Freqs: freqs})
	if err != nil {
		return nil, &datasets.Error{Safe: "genomics.PCA: the decomposition failed (details in the audit log)", Err: err}
	}
	scores := make([][]float64, len(res.Vectors))
	for k, vec := range res.Vectors {
		sc := make([]float64, len(ds.samples))
		for i := range sc {
			sc[i] = math.NaN()
		}
		for j, i := range keep {
			sc[i] = vec[j]
		}
		scores[k] = sc
	}
	// Each component's share of the GRM's trace, to 0.1 percentage point:
	// what a scree plot reads. Four-decimal eigenvalues moved with one
	// person's genotype at one rare variant (review 47); a tenth of a
	// percent of the trace of 500 or more variants is more than any one
	// genotype changes.
	trace := res.Trace()
	for k, ev := range res.Eigenvalues {
		c := t.add(&release.Cell{Stat: release.Coef, Value: 100 * ev / trace, Persons: int64(n), Of: anchor, Digits: 1, Desc: fmt.Sprintf("PCA variance explained by component %d (%%)", k+1)})
		t.rows = append(t.rows, []*slot{{text: fmt.Sprintf("PC%d", k+1)}, {cell: c}})
	}
	how := "exact GRM decomposition (plink2 --pca)"
	if res.Method == pca.Randomized {
		how = "randomized decomposition of the mean-imputed GRM (plink2 --pca approx)"
	}
	t.notes = append(t.notes, fmt.Sprintf("%s variants used (minor allele frequency ≥ 1%%, call rate ≥ 90%%, autosomal, among the dataset's genotyped persons, thinned to at most %s; scaled by their frequencies there, as plink2 --read-freq); %s",
		groupDigits(len(idx)), groupDigits(pcaMaxVariants), how),
		"the scores of each person stay in the kernel: use the PCs as covariates of genomics.GLM")
	full, _, err := s.genoFinish(ctx, cell, fmt.Sprintf("genomics.PCA(%d of %s)", a.PCs, cdesc), t, 0, func() []string {
		return []string{"persons genotyped in the cohort: " + s.cellText(anchor)}
	})
	if err != nil {
		return nil, err
	}
	h := s.newGenoHandle(&genoHandle{kind: spec.KindPCs, ds: ds, scores: scores, cohort: c,
		desc:   fmt.Sprintf("%d PCs of the genotypes of %s (%s)", a.PCs, cdesc, ds.name),
		source: pcSource(ds.name, c, fs, a.PCs)})
	return spec.GenoPCs{Handle: h, Table: *full}, nil
}

// spreadHeldByOne reports whether one person's squared distance from the
// cohort's centre is more than 1/minCount of all of them, or there is no
// spread at all.
func spreadHeldByOne(dev []float64, minCount int) bool {
	total, most := 0.0, 0.0
	for _, d := range dev {
		total += d
		most = max(most, d)
	}
	return !(total > 0) || most*float64(minCount) > total
}

// pcSource is the release.Cell.Source of the PC scores of the PCA of the
// cohort c on the variants fs: what the scores are computed from. A
// person's scores move when the PCA's population or variants do, so a
// scan of the same persons with PCs of another PCA has other covariate
// values (one person added to the PCA moves every score by their
// genotypes).
func pcSource(ds string, c *cohortPlan, fs *plink.Fileset, k int) []byte {
	b, err := json.Marshal(map[string]any{"pca": ds, "c": c, "v": variantSpans(fs), "k": k})
	if err != nil {
		return nil
	}
	return b
}

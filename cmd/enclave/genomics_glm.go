package main

import (
	"flag"
	"fmt"
	"strings"

	"enclave/datasets/genomics/assoc"
	"enclave/datasets/genomics/pca"
	"enclave/datasets/genomics/plink"
)

// glm and pca analyses of `enclave genomics` (see genomics.go for the
// shared flags and the analysis table).

func init() {
	registerGenomics(&genomicsCommand{
		Name:  "glm",
		Usage: "[--pheno FILE] [--pheno-name NAME[,NAME...]] [--covar FILE] [--covar-name NAME[,NAME...]] [--hide-covar] [--vif X] [--max-corr X]",
		Flags: flagsGLM,
	})
	registerGenomics(&genomicsCommand{
		Name:  "pca",
		Usage: "[--pcs 10] [--method auto|exact|randomized] [--meanimpute] [--seed S] [--iter N]",
		Flags: flagsPCA,
	})
}

// founders is the mask of founder samples (plink2 computes allele
// frequencies on founders).
func founders(fs *plink.Fileset) *plink.Mask {
	return plink.NewMask(fs.NumSamples(), func(i int) bool { return fs.Samples[i].Founder() })
}

// selectColumns keeps the named columns (comma-separated, in that order),
// or all of them when names is empty.
func selectColumns(cols []assoc.Column, names, what, path string) ([]assoc.Column, error) {
	if names == "" {
		return cols, nil
	}
	var out []assoc.Column
	for _, name := range strings.Split(names, ",") {
		found := false
		for _, c := range cols {
			if c.Name == name {
				out = append(out, c)
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: no %s column %q", path, what, name)
		}
	}
	return out, nil
}

func flagsGLM(fs *flag.FlagSet) func(*genomicsInput) error {
	phenoPath := fs.String("pheno", "", "phenotype file (FID IID NAME...; default: the .fam phenotype as PHENO1)")
	phenoName := fs.String("pheno-name", "", "phenotype column(s) to test, comma-separated (default: all)")
	covarPath := fs.String("covar", "", "covariate file (FID IID NAME...)")
	covarName := fs.String("covar-name", "", "covariate column(s) to use, comma-separated (default: all)")
	hideCovar := fs.Bool("hide-covar", false, "report only the ADD rows (plink2 --glm hide-covar)")
	vif := fs.Float64("vif", 50, "maximum variance inflation factor (plink2 --vif)")
	maxCorr := fs.Float64("max-corr", 0.999, "maximum predictor correlation (plink2 --max-corr)")
	return func(in *genomicsInput) error {
		var phenos []assoc.Column
		if *phenoPath == "" {
			phenos = []assoc.Column{assoc.FamPhenotype(in.FS.Samples, in.FS.PhenoBinary)}
		} else {
			cols, err := assoc.ReadTable(*phenoPath, in.FS.Samples, "PHENO", true)
			if err != nil {
				return err
			}
			if phenos, err = selectColumns(cols, *phenoName, "phenotype", *phenoPath); err != nil {
				return err
			}
		}
		var covars []assoc.Column
		if *covarPath != "" {
			cols, err := assoc.ReadTable(*covarPath, in.FS.Samples, "COVAR", false)
			if err != nil {
				return err
			}
			if covars, err = selectColumns(cols, *covarName, "covariate", *covarPath); err != nil {
				return err
			}
		}
		opt := assoc.Options{Threads: in.Threads, HideCovar: *hideCovar, VIF: *vif, MaxCorr: *maxCorr, Founders: founders(in.FS)}.WithFileset(in.FS)
		for _, ph := range phenos {
			res, err := assoc.Run(in.FS, ph, covars, opt)
			if err != nil {
				return err
			}
			path, err := assoc.WriteFile(in.Out, in.FS.Variants, res)
			if err != nil {
				return err
			}
			firth := 0
			for _, f := range res.Firth {
				if f {
					firth++
				}
			}
			kind := "linear"
			if res.Logistic {
				kind = fmt.Sprintf("logistic-Firth hybrid, %d cases, %d Firth fallbacks", res.Cases, firth)
			}
			fmt.Fprintf(in.Stdout, "wrote %s (%s; %d variants, %d samples, %d covariates; lambda_gc=%.4f)\n",
				path, kind, in.FS.NumVariants(), res.Samples, len(covars), res.Lambda())
		}
		return nil
	}
}

func flagsPCA(fs *flag.FlagSet) func(*genomicsInput) error {
	pcs := fs.Int("pcs", 10, "number of principal components")
	method := fs.String("method", "auto", "auto (exact when the GRM is small), exact (full GRM, plink2 --pca) or randomized (block Krylov, plink2 --pca approx)")
	meanImpute := fs.Bool("meanimpute", false, "divide the GRM by the variant count (plink2 --pca meanimpute)")
	seed := fs.Uint64("seed", 1, "random start of the randomized method")
	iter := fs.Int("iter", 0, "block Krylov steps of the randomized method (default 14)")
	return func(in *genomicsInput) error {
		opt := pca.Options{PCs: *pcs, Threads: in.Threads, Founders: founders(in.FS), MeanImpute: *meanImpute, Seed: *seed, Iter: *iter}
		switch *method {
		case "auto":
		case "exact":
			opt.Method = pca.Exact
		case "randomized":
			opt.Method = pca.Randomized
		default:
			return fmt.Errorf("--method %q: want auto, exact or randomized", *method)
		}
		res, err := pca.Run(in.FS, opt)
		if err != nil {
			return err
		}
		if err := pca.WriteFiles(in.Out, in.FS.Samples, res); err != nil {
			return err
		}
		m := "exact"
		if res.Method == pca.Randomized {
			m = "randomized"
		}
		fmt.Fprintf(in.Stdout, "wrote %s.eigenval, %s.eigenvec (%d PCs, %s, %d variants, %d samples)\n",
			in.Out, in.Out, len(res.Eigenvalues), m, res.Variants, in.FS.NumSamples())
		return nil
	}
}

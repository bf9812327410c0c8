package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"enclave/datasets/genomics/gensim"
	"enclave/datasets/genomics/plink"
	"enclave/datasets/genomics/qc"
	"enclave/datasets/genomics/vcf"
)

// `enclave genomics ANALYSIS` is the steward's QC and benchmark tool over
// PLINK 1.9 filesets and tabix-indexed VCFs. Each analysis is an entry of
// genomicsCommands; the shared flags (--bfile | --vcf, --threads, --out)
// are parsed here and the opened genotypes handed to the analysis.
//
// Adding an analysis (this is how glm and pca plug in, from their own
// files such as cmd/enclave/genomics_glm.go):
//
//	func init() {
//		registerGenomics(&genomicsCommand{
//			Name:  "glm",
//			Usage: "--pheno FILE [--pheno-name NAME] [--covar FILE]",
//			Flags: func(fs *flag.FlagSet) func(in *genomicsInput) error {
//				pheno := fs.String("pheno", "", "phenotype file")
//				return func(in *genomicsInput) error {
//					// in.FS is the open fileset, in.Out the --out prefix,
//					// in.Threads the --threads value; write in.Out+".…".
//					return nil
//				}
//			},
//		})
//	}
//
// Analyses with NoInput set (convert, simulate) get no opened fileset and
// handle their inputs themselves.

// genomicsInput is what every analysis receives.
type genomicsInput struct {
	FS      *plink.Fileset // genotypes; a temporary conversion when --vcf was given
	Source  string         // --bfile prefix or --vcf path, for messages
	VCF     string         // --vcf path ("" for --bfile)
	Out     string         // --out prefix
	Threads int            // --threads (0 = all CPUs)
	Stdout  io.Writer      // where to print the one-line summary
	// Region and VariantID restrict a --vcf input (already applied to FS).
	Region, VariantID string
}

// genomicsCommand is one analysis of `enclave genomics`.
type genomicsCommand struct {
	Name  string
	Usage string // analysis-specific flags, appended to the shared synopsis
	// Flags declares the analysis's own flags and returns its runner.
	Flags func(fs *flag.FlagSet) func(in *genomicsInput) error
	// NoInput: the shared --bfile/--vcf are not opened for this analysis.
	NoInput bool
}

var genomicsCommands = map[string]*genomicsCommand{}

// registerGenomics adds an analysis; call it from init.
func registerGenomics(c *genomicsCommand) {
	if _, dup := genomicsCommands[c.Name]; dup {
		panic("enclave genomics: duplicate analysis " + c.Name)
	}
	genomicsCommands[c.Name] = c
}

func init() {
	register(&command{
		Name:  "genomics",
		Usage: "genomics ANALYSIS --bfile PREFIX | --vcf FILE [--region CHR:FROM-TO | --variant ID] [--threads N] --out PREFIX  (enclave genomics help lists analyses)",
		Run:   runGenomics,
	})
	registerGenomics(&genomicsCommand{Name: "freq", Usage: "[--nonfounders]", Flags: flagsFreq})
	registerGenomics(&genomicsCommand{Name: "hardy", Usage: "[--midp] [--nonfounders]", Flags: flagsHardy})
	registerGenomics(&genomicsCommand{Name: "missing", Usage: "", Flags: flagsMissing})
	registerGenomics(&genomicsCommand{Name: "convert", Usage: "(--vcf FILE only) [--split-multiallelic] [--dosage-ds]", Flags: flagsConvert, NoInput: true})
	registerGenomics(&genomicsCommand{Name: "simulate", Usage: "--persons N --variants M [--seed S] [--no-vcf] (writes --out DIR)", Flags: flagsSimulate, NoInput: true})
}

func genomicsHelp(w io.Writer) {
	names := make([]string, 0, len(genomicsCommands))
	for n := range genomicsCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "enclave genomics analyses (shared flags: --bfile PREFIX | --vcf FILE, --threads N, --out PREFIX):")
	for _, n := range names {
		fmt.Fprintf(w, "  enclave genomics %s %s\n", n, genomicsCommands[n].Usage)
	}
}

func runGenomics(args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		genomicsHelp(os.Stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	gc, ok := genomicsCommands[args[0]]
	if !ok {
		genomicsHelp(os.Stderr)
		return fmt.Errorf("unknown analysis %q", args[0])
	}
	fs := flag.NewFlagSet("genomics "+gc.Name, flag.ContinueOnError)
	in := &genomicsInput{Stdout: os.Stdout}
	bfile := fs.String("bfile", "", "PLINK 1.9 fileset prefix (PREFIX.bed/.bim/.fam)")
	fs.StringVar(&in.VCF, "vcf", "", "bgzipped VCF with a tabix index (FILE.tbi)")
	fs.StringVar(&in.Out, "out", "", "output prefix")
	fs.IntVar(&in.Threads, "threads", 0, "worker threads (default: all CPUs)")
	fs.StringVar(&in.Region, "region", "", "with --vcf: only variants in chr:start-end (tabix index)")
	fs.StringVar(&in.VariantID, "variant", "", "with --vcf: only the variant with this id")
	run := gc.Flags(fs)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 || in.Out == "" {
		fmt.Fprintf(os.Stderr, "usage: enclave genomics %s --bfile PREFIX | --vcf FILE [--threads N] --out PREFIX %s\n", gc.Name, gc.Usage)
		return errUsage
	}
	if gc.NoInput {
		in.Source = *bfile
		if in.VCF != "" {
			in.Source = in.VCF
		}
		return run(in)
	}
	if (*bfile == "") == (in.VCF == "") {
		return errors.New("give exactly one of --bfile PREFIX and --vcf FILE")
	}
	if *bfile != "" && (in.Region != "" || in.VariantID != "") {
		return errors.New("--region and --variant select from a --vcf input")
	}
	if *bfile != "" {
		f, err := plink.Open(*bfile)
		if err != nil {
			return err
		}
		defer f.Close()
		in.FS, in.Source = f, *bfile
		return run(in)
	}
	// VCF: convert to a temporary fileset next to the output, map it, and
	// remove it afterwards (memory stays bounded by the mapping).
	tmp, err := os.MkdirTemp(filepath.Dir(in.Out), ".enclave-vcf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	st, err := vcf.Convert(in.VCF, filepath.Join(tmp, "g"), vcf.Options{Region: in.Region, ID: in.VariantID})
	if err != nil {
		return err
	}
	if st.Multiallelic > 0 {
		fmt.Fprintf(os.Stderr, "%s: skipped %d multi-allelic records (convert with --split-multiallelic to keep them)\n", in.VCF, st.Multiallelic)
	}
	f, err := plink.Open(filepath.Join(tmp, "g"))
	if err != nil {
		return err
	}
	defer f.Close()
	in.FS, in.Source = f, in.VCF
	return run(in)
}

func flagsFreq(fs *flag.FlagSet) func(*genomicsInput) error {
	nonfounders := fs.Bool("nonfounders", false, "count non-founders too (plink2 --nonfounders)")
	return func(in *genomicsInput) error {
		st, err := qc.Compute(in.FS, qc.Options{Threads: in.Threads, Nonfounders: *nonfounders})
		if err != nil {
			return err
		}
		path := in.Out + ".afreq"
		if err := qc.WriteFile(path, func(w io.Writer) error { return qc.WriteAfreq(w, in.FS, st) }); err != nil {
			return err
		}
		fmt.Fprintf(in.Stdout, "wrote %s (%d variants, %d samples)\n", path, in.FS.NumVariants(), in.FS.NumSamples())
		return nil
	}
}

func flagsHardy(fs *flag.FlagSet) func(*genomicsInput) error {
	midp := fs.Bool("midp", false, "mid-p exact test (plink2 --hardy midp)")
	nonfounders := fs.Bool("nonfounders", false, "count non-founders too (plink2 --nonfounders)")
	return func(in *genomicsInput) error {
		st, err := qc.Compute(in.FS, qc.Options{Threads: in.Threads, Nonfounders: *nonfounders, MidP: *midp, Hardy: true})
		if err != nil {
			return err
		}
		var auto, x int
		for v := range st {
			switch st[v].HardyTable() {
			case "autosomal":
				auto++
			case "x":
				x++
			}
		}
		var written []string
		if auto > 0 {
			path := in.Out + ".hardy"
			if err := qc.WriteFile(path, func(w io.Writer) error { return qc.WriteHardy(w, in.FS, st, *midp) }); err != nil {
				return err
			}
			written = append(written, path)
		}
		if x > 0 {
			path := in.Out + ".hardy.x"
			if err := qc.WriteFile(path, func(w io.Writer) error { return qc.WriteHardyX(w, in.FS, st, *midp) }); err != nil {
				return err
			}
			written = append(written, path)
		}
		skipped := in.FS.NumVariants() - auto - x
		fmt.Fprintf(in.Stdout, "wrote %s (%d variants; %d haploid variants skipped)\n", strings.Join(written, ", "), auto+x, skipped)
		return nil
	}
}

func flagsMissing(fs *flag.FlagSet) func(*genomicsInput) error {
	return func(in *genomicsInput) error {
		ms, err := qc.ComputeMissing(in.FS, in.Threads)
		if err != nil {
			return err
		}
		if err := qc.WriteFile(in.Out+".vmiss", func(w io.Writer) error { return qc.WriteVmiss(w, in.FS, ms) }); err != nil {
			return err
		}
		if err := qc.WriteFile(in.Out+".smiss", func(w io.Writer) error { return qc.WriteSmiss(w, in.FS, ms) }); err != nil {
			return err
		}
		fmt.Fprintf(in.Stdout, "wrote %s.vmiss, %s.smiss\n", in.Out, in.Out)
		return nil
	}
}

func flagsConvert(fs *flag.FlagSet) func(*genomicsInput) error {
	split := fs.Bool("split-multiallelic", false, "split multi-allelic records into biallelic variants instead of skipping them")
	ds := fs.Bool("dosage-ds", false, "hard-call FORMAT/DS as plink2 --vcf FILE dosage=DS --make-bed does (a DS within 0.1 of 0, 1 or 2, else missing; GT where there is no DS)")
	return func(in *genomicsInput) error {
		if in.VCF == "" {
			return errors.New("convert reads --vcf FILE (VCF → PLINK 1.9)")
		}
		st, err := vcf.Convert(in.VCF, in.Out, vcf.Options{Split: *split, Dosage: *ds, Region: in.Region, ID: in.VariantID})
		if err != nil {
			return err
		}
		what := "skipped"
		if *split {
			what = "split"
		}
		fmt.Fprintf(in.Stdout, "wrote %s.bed/.bim/.fam: %d records, %d variants, %d multi-allelic %s, %d half-calls set missing\n",
			in.Out, st.Records, st.Variants, st.Multiallelic, what, st.HalfCalls)
		return nil
	}
}

func flagsSimulate(fs *flag.FlagSet) func(*genomicsInput) error {
	persons := fs.Int("persons", 0, "persons (person_id 1..N, ancestries cycling through AFR AMR EAS EUR SAS)")
	variants := fs.Int("variants", 0, "variants, the planted causal ones included")
	seed := fs.Int64("seed", 1, "random seed")
	noVCF := fs.Bool("no-vcf", false, "write only the PLINK fileset and linkage.csv")
	return func(in *genomicsInput) error {
		if *persons <= 0 || *variants <= 0 {
			return errUsage
		}
		ps := make([]gensim.Person, *persons)
		for i := range ps {
			ps[i] = gensim.Person{PersonID: int64(i + 1), Ancestry: gensim.Ancestries[i%len(gensim.Ancestries)]}
		}
		if err := gensim.Write(in.Out, ps, gensim.Options{Seed: *seed, Variants: *variants, Threads: in.Threads, NoVCF: *noVCF}); err != nil {
			return err
		}
		files := "cohort.{bed,bim,fam,vcf.gz,vcf.gz.tbi}"
		if *noVCF {
			files = "cohort.{bed,bim,fam}"
		}
		fmt.Fprintf(in.Stdout, "wrote %s/%s and linkage.csv: %d variants × %d persons\n", in.Out, files, *variants, *persons)
		return nil
	}
}

package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// GenomicsDir is the sub-folder of an OMOP folder, and of a controlled tier
// workspace's data, holding genotypes (cohort.bed/.bim/.fam,
// cohort.vcf.gz(.tbi), linkage.csv).
const GenomicsDir = "genomics"

// ImportOptions tune Import. The zero value is the normal setting.
type ImportOptions struct {
	// Now is the time of the import (recorded, and the reference day for the
	// registered tier's 89-and-over exclusion); default time.Now().
	Now time.Time
	// Strict refuses the import when any data-quality check fails
	// (omop.Options.Strict); by default every row is kept in the base
	// database and the checks are reported.
	Strict bool
	// DropInvalidRows is no longer used: the base keeps every source row,
	// the tiers leave out what cannot be curated, and the quality report
	// counts it.
	//
	// Deprecated: has no effect.
	DropInvalidRows bool
	// Progress receives the import's report (file problems, the
	// data-quality summary, what the tier left out); default discarded.
	Progress io.Writer
}

// Import loads the OMOP folder (CDM v5.3 or v5.4 CSV or Parquet files,
// Fitbit tables, vocabulary, an optional genomics/ sub-folder) into the
// workspace in dir, checks its quality and materialises the workspace's
// tier. Every source row is kept in the base database; the data-quality
// report (Quality) lists each check and what the tier left out. It is
// atomic: a folder that cannot be read (a malformed file, a value that does
// not parse, an unknown table; or, with Strict, a failed check) fails with
// the problems (file:line:column) written to progress and leaves the
// workspace as it was; kernels that have the old data open keep reading it.
// Only the workspace's own tier is materialised. The genomics sub-folder is
// copied only into a controlled tier workspace granted genomics.
func Import(ctx context.Context, dir, folder string, opts ImportOptions) (*Workspace, error) {
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if st, err := os.Stat(folder); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("OMOP folder %s: not a directory", folder)
	}
	abs, err := canonicalSource(folder)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(dir, "."+ConfigFile+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	w, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(w.DataPath(), 0o755); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	fail := func(err error) (*Workspace, error) {
		return nil, fmt.Errorf("import of %s failed, workspace unchanged: %w", folder, err)
	}

	// Genomics first, into a staging folder: it can fail without side effects.
	var genomics string
	src := filepath.Join(abs, GenomicsDir)
	if st, err := os.Stat(src); err == nil && st.IsDir() {
		if w.Tier == Controlled && w.Granted(DatasetGenomics) {
			if genomics, err = os.MkdirTemp(w.DataPath(), ".genomics-"); err != nil {
				return fail(err)
			}
			defer os.RemoveAll(genomics)
			if err := copyDir(src, genomics); err != nil {
				return fail(err)
			}
		} else {
			fmt.Fprintf(opts.Progress, "%s: not copied: a %s tier workspace without genomics granted holds no genotypes\n", src, w.Tier)
		}
	}

	rec, err := importOMOP(ctx, w, abs, opts)
	if err != nil {
		return fail(err)
	}
	if genomics != "" {
		if err := replaceDir(genomics, filepath.Join(w.DataPath(), GenomicsDir)); err != nil {
			return nil, fmt.Errorf("import: OMOP data imported but genomics not installed: %w", err)
		}
		rec.Genomics = true
	}
	if w.BigQuery != nil {
		// The tier is curated by the DuckDB import above, then copied
		// table by table: after a failed load the dataset may hold some
		// new tables and some old ones until the import is rerun.
		if err := loadBigQuery(ctx, w, opts.Progress); err != nil {
			return nil, fmt.Errorf("import: tier built locally but not loaded into BigQuery %s.%s (rerun the import): %w",
				w.BigQuery.Project, w.BigQuery.Dataset, err)
		}
	}
	rec.Source = abs
	rec.At = opts.Now.UTC().Truncate(time.Second)
	w.Import = rec
	if err := w.Save(); err != nil {
		return nil, fmt.Errorf("import: data imported but %s not updated: %w", ConfigFile, err)
	}
	return w, nil
}

// copyDir copies the regular files of src (one level, plus sub-folders) to
// the existing directory dst.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// replaceDir puts directory staged at dst, moving any previous dst aside
// first and removing it after.
func replaceDir(staged, dst string) error {
	old := dst + ".old"
	os.RemoveAll(old)
	if err := os.Rename(dst, old); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Rename(staged, dst); err != nil {
		os.Rename(old, dst)
		return err
	}
	return os.RemoveAll(old)
}

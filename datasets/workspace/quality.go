package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"enclave/datasets"
	"enclave/datasets/omop"
)

// QualityPath returns the path of the data-quality report of the last
// import (omop.QualityPath). It is the steward's; a kernel reads from it
// only its tier's exclusion counts, rounded (Info.LeftOut).
func (w *Workspace) QualityPath() string { return omop.QualityPath(w.BasePath()) }

// Quality loads the workspace in dir and returns the data-quality report of
// its last successful import: every check with its outcome and what the
// workspace's tier left out of each table and why.
func Quality(dir string) (*Workspace, *omop.Quality, error) {
	w, err := Load(dir)
	if err != nil {
		return nil, nil, err
	}
	if w.Import == nil {
		return w, nil, fmt.Errorf("workspace %q has no data yet (enclave workspace import %s OMOP_FOLDER)", w.Name, dir)
	}
	q, err := omop.ReadQuality(w.QualityPath())
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil, fmt.Errorf("workspace %q was imported before data-quality reports existed: import it again to get one", w.Name)
	}
	if err != nil {
		return w, nil, fmt.Errorf("data-quality report: %w", err)
	}
	return w, q, nil
}

// importOMOP imports the OMOP folder into w's base database and builds the
// database of w's tier (omop.Import, atomic), writing the import's report
// to opts.Progress.
func importOMOP(ctx context.Context, w *Workspace, folder string, opts ImportOptions) (*ImportRecord, error) {
	rep, err := omop.Import(ctx, w.BasePath(), folder, omop.Options{
		AgeAsOf: opts.Now,
		Tiers:   []datasets.Tier{w.Tier},
		Strict:  opts.Strict,
	})
	if rep != nil {
		io.WriteString(opts.Progress, rep.String())
	}
	switch {
	case err == nil:
	case errors.Is(err, omop.ErrInvalid) && rep != nil:
		return nil, fmt.Errorf("%d errors in %s (listed above)", rep.Errors, folder)
	case errors.Is(err, omop.ErrFailedChecks) && rep != nil:
		return nil, fmt.Errorf("strict import refused: %d data-quality checks failed (listed above)", rep.Quality.Failed())
	default:
		return nil, err
	}
	return &ImportRecord{Rows: rep.Rows, Warnings: rep.Warnings}, nil
}

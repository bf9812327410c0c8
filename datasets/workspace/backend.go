package workspace

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"enclave/datasets"
	"enclave/datasets/bigquery"
	"enclave/datasets/omop"
)

// The calls into the OMOP/DuckDB layer (datasets/omop).

// BaseFile is the workspace's base database under data/: every imported
// table, unshifted, and the date-shift secret. Only the steward's tools open
// it; kernels open only their tier's file (omop.TierPath).
const BaseFile = "cdm.duckdb"

// BasePath returns the path of the workspace's base database.
func (w *Workspace) BasePath() string { return filepath.Join(w.DataPath(), BaseFile) }

// TierPath returns the path of the database of the workspace's tier, the
// only file a kernel opens.
func (w *Workspace) TierPath() string { return omop.TierPath(w.BasePath(), w.Tier) }

// loadFolder imports the OMOP folder into w's base database and builds the
// database of w's tier (omop.Import, atomic), writing the validation report
// to progress.
func loadFolder(ctx context.Context, w *Workspace, folder string, opts ImportOptions) (*ImportRecord, error) {
	rep, err := omop.Import(ctx, w.BasePath(), folder, omop.Options{
		AgeAsOf:         opts.Now,
		Tiers:           []datasets.Tier{w.Tier},
		DropInvalidRows: opts.DropInvalidRows,
	})
	if rep != nil {
		io.WriteString(opts.Progress, rep.String())
	}
	if err != nil {
		if errors.Is(err, omop.ErrInvalid) && rep != nil {
			return nil, fmt.Errorf("%d errors in %s (listed above)", rep.Errors, folder)
		}
		return nil, err
	}
	rec := &ImportRecord{Rows: rep.Rows, Warnings: rep.Warnings}
	return rec, nil
}

// openCatalog opens the catalog of w's tier over w's data, read-only, makes
// sure the file really is that tier, and hides datasets w is not granted.
func openCatalog(w *Workspace) (datasets.Catalog, error) {
	if w.BigQuery != nil {
		return openBigQuery(w)
	}
	cat, err := omop.OpenCatalog(w.TierPath())
	if err != nil {
		return nil, err
	}
	if cat.Tier() != w.Tier {
		cat.Close()
		return nil, fmt.Errorf("%s holds the %s tier, the workspace is %s", w.TierPath(), cat.Tier(), w.Tier)
	}
	return grantCatalog(cat, w), nil
}

// tableCounts counts the rows of every table of w's base database and of
// its tier's database (the steward's view).
func tableCounts(ctx context.Context, w *Workspace) (base, tier map[string]int64, err error) {
	if base, err = countRows(ctx, w.BasePath()); err != nil {
		return nil, nil, err
	}
	if tier, err = countRows(ctx, w.TierPath()); err != nil {
		return nil, nil, err
	}
	// enclave_* tables are the data layer's own bookkeeping, not data.
	for _, m := range []map[string]int64{base, tier} {
		for name := range m {
			if strings.HasPrefix(name, "enclave_") {
				delete(m, name)
			}
		}
	}
	return base, tier, nil
}

// openBigQuery opens the catalog of w's tier in the BigQuery dataset its
// workspace.yaml names, with the data service's own credentials.
func openBigQuery(w *Workspace) (datasets.Catalog, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cat, err := bigquery.Open(ctx, *w.BigQuery)
	if err != nil {
		return nil, err
	}
	if cat.Tier() != w.Tier {
		cat.Close()
		return nil, fmt.Errorf("BigQuery dataset %s.%s holds the %s tier, the workspace is %s", w.BigQuery.Project, w.BigQuery.Dataset, cat.Tier(), w.Tier)
	}
	return grantCatalog(cat, w), nil
}

// loadBigQuery copies w's freshly built tier database into its BigQuery
// dataset, so the tier is curated once by the DuckDB import.
func loadBigQuery(ctx context.Context, w *Workspace, progress io.Writer) error {
	db, err := sql.Open("duckdb", w.TierPath()+"?access_mode=READ_ONLY")
	if err != nil {
		return fmt.Errorf("open %s: %w", w.TierPath(), err)
	}
	defer db.Close()
	_, err = bigquery.Load(ctx, *w.BigQuery, db, progress)
	return err
}

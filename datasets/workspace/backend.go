package workspace

import (
	"context"
	"errors"
	"io"

	"enclave/datasets"
)

// The calls into the OMOP/DuckDB layer (datasets/omop). Until it lands they
// report that it is missing.

var errNoBackend = errors.New("the OMOP data layer (datasets/omop) is not built yet")

// loadFolder imports the OMOP folder into the empty directory dataDir: the
// base tables and the materialised tiers. It returns the tables loaded.
func loadFolder(ctx context.Context, folder, dataDir string, progress io.Writer) ([]string, error) {
	return nil, errNoBackend
}

// openCatalog opens the catalog of w's tier over w's data, read-only.
func openCatalog(w *Workspace) (datasets.Catalog, error) { return nil, errNoBackend }

// tableCounts counts the rows of every table in w's data (the steward's view).
func tableCounts(ctx context.Context, w *Workspace) (map[string]int64, error) {
	return nil, errNoBackend
}

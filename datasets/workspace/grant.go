package workspace

import (
	"context"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/datasets"
	"enclave/datasets/omop"
)

// datasetOf names the dataset a tier table belongs to.
func datasetOf(table string) string {
	if omop.IsFitbit(table) {
		return DatasetFitbit
	}
	return DatasetOMOP
}

// grantCatalog returns cat restricted to the datasets w is granted: the
// tables of other datasets are absent from Tables and refused by Aggregate
// and PersonSet.
func grantCatalog(cat datasets.Catalog, w *Workspace) datasets.Catalog {
	if w.Granted(DatasetOMOP) && w.Granted(DatasetFitbit) {
		return cat
	}
	return &grantedCatalog{Catalog: cat, w: w}
}

// grantedCatalog hides the tables of datasets the workspace is not granted.
type grantedCatalog struct {
	datasets.Catalog
	w *Workspace
}

func (g *grantedCatalog) check(table string) error {
	if d := datasetOf(table); !g.w.Granted(d) {
		return datasets.Errorf("table %s belongs to the %s dataset, which workspace %q is not granted", table, d, g.w.Name)
	}
	return nil
}

// Tables lists the tier's tables of the granted datasets.
func (g *grantedCatalog) Tables(ctx context.Context) ([]datasets.TableInfo, error) {
	all, err := g.Catalog.Tables(ctx)
	if err != nil {
		return nil, err
	}
	out := all[:0:0]
	for _, t := range all {
		if g.check(t.Name) == nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// Aggregate refuses tables of datasets not granted.
func (g *grantedCatalog) Aggregate(ctx context.Context, q datasets.Query) (*datasets.Result, error) {
	if err := g.check(q.Table); err != nil {
		return nil, err
	}
	return g.Catalog.Aggregate(ctx, q)
}

// PersonSet refuses tables of datasets not granted.
func (g *grantedCatalog) PersonSet(ctx context.Context, q datasets.Query, key []any) (*roaring.Bitmap, error) {
	if err := g.check(q.Table); err != nil {
		return nil, err
	}
	return g.Catalog.PersonSet(ctx, q, key)
}

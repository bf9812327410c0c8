package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"enclave/analysis/render"
	"enclave/api/spec"
	"enclave/datasets"
)

// scanByRef finds a scan this session released.
func (s *Server) scanByRef(ref, what string) (*genoScan, error) {
	if err := s.genoAvailable(); err != nil {
		return nil, err
	}
	s.geno.mu.Lock()
	sc := s.geno.scans[ref]
	s.geno.mu.Unlock()
	if sc == nil {
		return nil, datasets.Errorf("%s takes an association scan (genomics.GLM) this session released", what)
	}
	return sc, nil
}

// genoRows serves Scan.Top and Scan.Find: released rows only.
func (s *Server) genoRows(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.GenoRowsArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	sc, err := s.scanByRef(a.Ref, "Scan.Top")
	if err != nil {
		return nil, err
	}
	if len(a.IDs) > 10000 {
		return nil, datasets.Errorf("Scan.Find: at most 10,000 ids")
	}
	var t *spec.Table
	if len(a.IDs) > 0 {
		t = sc.topTable(s, 0, a.IDs)
	} else {
		n := a.Top
		if n <= 0 {
			n = 20
		}
		t = sc.topTable(s, min(n, 1000), nil)
	}
	t.Ref = s.register(cell, render.TableBundle(t), t)
	return t, nil
}

// minusLog10P is -log10 p of a released row; for p that underflows to 0
// it is taken from the released estimate and SE (normal tail).
func minusLog10P(r *scanRow) float64 {
	p := r.p.Value
	if p > 0 && !math.IsInf(-math.Log10(p), 0) {
		return -math.Log10(p)
	}
	z := math.Abs(r.beta.Value / r.se.Value)
	if math.IsNaN(z) || math.IsInf(z, 0) || z == 0 {
		return math.NaN()
	}
	// ln(2·Q(z)) ≈ ln 2 − z²/2 − ln(z·√(2π)) for large z.
	lnp := math.Ln2 - z*z/2 - math.Log(z*math.Sqrt(2*math.Pi))
	return -lnp / math.Ln10
}

// plotRows are the rows a scan's plots draw: released p-values only.
func (sc *genoScan) plotRows() []*scanRow {
	var out []*scanRow
	for _, r := range sc.rows {
		if r.released() && !math.IsNaN(minusLog10P(r)) {
			out = append(out, r)
		}
	}
	return out
}

func (s *Server) lambdaTitle(sc *genoScan) string {
	return "λ_GC = " + s.cellText(sc.lambda)
}

// plotTable is the table a genomics plot carries: the scan's summary.
func (s *Server) plotTable(sc *genoScan) *spec.Table {
	t := sc.topTable(s, 20, nil)
	t.Ref = sc.ref
	return t
}

// manhattan serves plot.Manhattan.
func (s *Server) manhattan(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.GenoPlotArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	sc, err := s.scanByRef(a.Ref, "plot.Manhattan")
	if err != nil {
		return nil, err
	}
	rows := sc.plotRows()
	// Chromosomes laid end to end, each as long as its last released
	// position (positions are not data about persons), with a gap.
	maxPos := map[int]int64{}
	for _, r := range rows {
		maxPos[r.chrom] = max(maxPos[r.chrom], r.pos)
	}
	chroms := make([]int, 0, len(maxPos))
	for c := range maxPos {
		chroms = append(chroms, c)
	}
	sort.Ints(chroms)
	offset := map[int]float64{}
	colour := map[int]int{}
	total := 0.0
	for i, c := range chroms {
		offset[c] = total
		colour[c] = i % 2
		total += float64(maxPos[c])/1e6 + 10
	}
	pts := render.Points{XLabel: "chromosome " + chromList(chroms) + " (Mb, end to end)", YLabel: "-log10 p"}
	pts.Title = fmt.Sprintf("Manhattan: %s (%s; %s rows)", sc.pheno, s.lambdaTitle(sc), groupDigits(len(rows)))
	// Draw every point above p = 0.01 and one per pixel cell below, so that
	// 100,000 rows make a figure of a reasonable size.
	type cellKey struct{ x, y int }
	seen := map[cellKey]bool{}
	for _, r := range rows {
		x := offset[r.chrom] + float64(r.pos)/1e6
		y := minusLog10P(r)
		if y < 2 {
			k := cellKey{int(x / total * 1500), int(y * 50)}
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		pts.X = append(pts.X, x)
		pts.Y = append(pts.Y, y)
		pts.Groups = append(pts.Groups, colour[r.chrom])
	}
	line := -math.Log10(5e-8)
	pts.HLine = &line
	bundle, err := render.PointsBundle(pts)
	if err != nil {
		return nil, err
	}
	tab := s.plotTable(sc)
	return &spec.Plot{Ref: s.register(cell, bundle, tab), Title: pts.Title, Table: tab}, nil
}

func chromList(cs []int) string {
	if len(cs) == 0 {
		return ""
	}
	names := ""
	if len(cs) > 0 {
		names = chromName(cs[0])
		if len(cs) > 1 {
			names += "–" + chromName(cs[len(cs)-1])
		}
	}
	return names
}

func chromName(c int) string {
	switch c {
	case 23:
		return "X"
	case 24:
		return "Y"
	case 25:
		return "XY"
	case 26:
		return "MT"
	}
	return fmt.Sprint(c)
}

// qq serves plot.QQ.
func (s *Server) qq(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.GenoPlotArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	sc, err := s.scanByRef(a.Ref, "plot.QQ")
	if err != nil {
		return nil, err
	}
	rows := sc.plotRows()
	obs := make([]float64, len(rows))
	for i, r := range rows {
		obs[i] = minusLog10P(r)
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(obs)))
	n := float64(len(obs))
	pts := render.Points{XLabel: "expected -log10 p", YLabel: "observed -log10 p"}
	pts.Title = fmt.Sprintf("QQ: %s (%s; %s rows)", sc.pheno, s.lambdaTitle(sc), groupDigits(len(rows)))
	top := 0.0
	lastX, lastY := math.Inf(1), math.Inf(1)
	for i, y := range obs {
		x := -math.Log10((float64(i) + 0.5) / n)
		// The tail exactly; the bulk thinned to visible steps.
		if i >= 2000 && lastX-x < 0.005 && math.Abs(lastY-y) < 0.005 {
			continue
		}
		lastX, lastY = x, y
		pts.X = append(pts.X, x)
		pts.Y = append(pts.Y, y)
		top = math.Max(top, math.Max(x, y))
	}
	if len(obs) > 0 {
		pts.Line = &[2][2]float64{{0, 0}, {top, top}}
	}
	bundle, err := render.PointsBundle(pts)
	if err != nil {
		return nil, err
	}
	tab := s.plotTable(sc)
	return &spec.Plot{Ref: s.register(cell, bundle, tab), Title: pts.Title, Table: tab}, nil
}

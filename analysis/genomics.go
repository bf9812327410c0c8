package analysis

// Genomics in cells: the kernel side of enclave/genomics. The workspace's
// genotype datasets (PLINK 1.9 filesets and bgzipped, tabix-indexed VCFs
// in its data/genomics folder, linked to person_id by linkage.csv) are
// read here; variant selections and PCs are handles; summaries, PCA
// eigenvalues and association scans come back as tables judged by the
// release rules (genomics_release.go says how).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/genomics/linkage"
	"enclave/datasets/genomics/plink"
	"enclave/datasets/genomics/vcf"
	"enclave/internal/opaqueid"
)

// genomicsDataset is the name of the genomics dataset in a workspace's grants.
const genomicsDataset = "genomics"

// vcfAllLimit bounds the packed genotypes of a whole VCF read into memory
// (a VCF-only dataset selected without a region).
const vcfAllLimit = 4 << 30

// genoState is a Server's genomics: the datasets found, the genomics
// handles and the released scans.
type genoState struct {
	dir     string // the genotype folder; "" = data/genomics beside the tier database
	granted bool

	once  sync.Once
	err   error
	sets  map[string]*genoDataset
	names []string // names[0] is the default dataset

	mu      sync.Mutex
	handles map[string]*genoHandle
	scans   map[string]*genoScan // released scans by table ref
	// priorSets caches the person sets of genomics populations in the
	// release history, by plan (the tier's data does not change).
	priorSets map[string]*roaring.Bitmap
	// lastGLM keeps the inputs of the last scan, for tests that rerun it
	// with `enclave genomics glm`.
	lastGLM *glmInputs
}

func newGenoState(o Options) *genoState {
	return &genoState{dir: o.Genomics, granted: slices.Contains(o.Datasets, genomicsDataset),
		handles: map[string]*genoHandle{}, scans: map[string]*genoScan{}, priorSets: map[string]*roaring.Bitmap{}}
}

// genoDataset is one genotype dataset of the workspace.
type genoDataset struct {
	name   string
	prefix string // PLINK fileset prefix, or "" for a VCF
	vcf    string // VCF path
	link   string // linkage table

	mu      sync.Mutex
	loaded  bool
	err     error
	fs      *plink.Fileset // PLINK: the mapped fileset; VCF: the whole file once read
	reader  *vcf.Reader
	samples []plink.Sample
	// person[i] is the person_id of sample i in the tier, or -1 (not
	// linked, not in the tier, or a second sample of the same person).
	person   []int64
	persons  *roaring.Bitmap // the genotyped persons of the tier
	founders *plink.Mask
}

// genoHandle is a genomics handle: a variant selection or PCs.
type genoHandle struct {
	kind string // spec.KindVariants or spec.KindPCs
	ds   *genoDataset
	desc string
	// Variants: the selected variants as a fileset with the dataset's
	// samples (the dataset's own fileset when everything is selected).
	fs *plink.Fileset
	// PCs: scores[k][i] for dataset sample i (NaN outside the cohort),
	// and the cohort they were computed over.
	scores [][]float64
	cohort *cohortPlan
	source []byte // see pcSource
}

// genoAvailable refuses genomics in a workspace without genotypes, naming
// why (the tier, or the grant), and finds the datasets once.
func (s *Server) genoAvailable() error {
	if s.tier != datasets.Controlled {
		return datasets.Errorf("genomics is not available in this workspace: it is a %s tier workspace, and genotypes are only in controlled tier workspaces granted the genomics dataset", s.tier)
	}
	if !s.geno.granted {
		return datasets.Errorf("genomics is not available in this workspace: this controlled tier workspace is not granted the genomics dataset (the data steward grants it)")
	}
	g := s.geno
	g.once.Do(func() { g.err = s.discoverGeno() })
	return g.err
}

// discoverGeno finds the genotype datasets: every PREFIX.bed with its
// .bim and .fam, and every FILE.vcf.gz with FILE.vcf.gz.tbi, in the
// genotype folder, linked by PREFIX.linkage.csv or linkage.csv.
func (s *Server) discoverGeno() error {
	g := s.geno
	dir := g.dir
	if dir == "" {
		rows, err := s.db.QueryContext(context.Background(), "SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
		if err != nil {
			return err
		}
		var path string
		if rows.Next() {
			rows.Scan(&path)
		}
		rows.Close()
		if path == "" {
			return datasets.Errorf("genomics: the workspace's genotype folder cannot be found")
		}
		dir = filepath.Join(filepath.Dir(path), "genomics")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return &datasets.Error{Safe: "genomics: this workspace holds no genotypes (the data steward imports them with the OMOP folder's genomics/ sub-folder)", Err: err}
	}
	g.sets = map[string]*genoDataset{}
	has := func(p string) bool { st, err := os.Stat(p); return err == nil && !st.IsDir() }
	linkFor := func(stem string) string {
		if p := filepath.Join(dir, stem+".linkage.csv"); has(p) {
			return p
		}
		return filepath.Join(dir, "linkage.csv")
	}
	var plinks, vcfs []string
	for _, e := range ents {
		n := e.Name()
		switch {
		case strings.HasSuffix(n, ".bed"):
			stem := strings.TrimSuffix(n, ".bed")
			if has(filepath.Join(dir, stem+".bim")) && has(filepath.Join(dir, stem+".fam")) {
				plinks = append(plinks, stem)
			}
		case strings.HasSuffix(n, ".vcf.gz"):
			if has(filepath.Join(dir, n+".tbi")) {
				vcfs = append(vcfs, strings.TrimSuffix(n, ".gz"))
			}
		}
	}
	sort.Strings(plinks)
	sort.Strings(vcfs)
	for _, stem := range plinks {
		g.sets[stem] = &genoDataset{name: stem, prefix: filepath.Join(dir, stem), link: linkFor(stem)}
		g.names = append(g.names, stem)
	}
	for _, name := range vcfs {
		stem := strings.TrimSuffix(name, ".vcf")
		g.sets[name] = &genoDataset{name: name, vcf: filepath.Join(dir, name+".gz"), link: linkFor(stem)}
		g.names = append(g.names, name)
	}
	if len(g.names) == 0 {
		return datasets.Errorf("genomics: this workspace holds no genotypes (no PLINK fileset or indexed VCF)")
	}
	return nil
}

// dataset opens (once) the named dataset, "" for the default one.
func (s *Server) dataset(ctx context.Context, name string) (*genoDataset, error) {
	if err := s.genoAvailable(); err != nil {
		return nil, err
	}
	if name == "" {
		name = s.geno.names[0]
	}
	d := s.geno.sets[name]
	if d == nil {
		return nil, datasets.Errorf("no genotype dataset %q in this workspace (datasets: %s)", clip(name, 60), strings.Join(s.geno.names, ", "))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.loaded {
		d.err = s.loadDataset(ctx, d)
		d.loaded = d.err == nil
	}
	return d, d.err
}

func (s *Server) loadDataset(ctx context.Context, d *genoDataset) error {
	if d.prefix != "" {
		fs, err := plink.Open(d.prefix)
		if err != nil {
			return &datasets.Error{Safe: "genomics: dataset " + d.name + " cannot be read (details in the audit log)", Err: err}
		}
		d.fs, d.samples = fs, fs.Samples
	} else {
		// Dosage: FORMAT/DS is read as plink2 --vcf dosage=DS reads it
		// (scans and frequencies use the dosages; hard calls follow DS).
		r, err := vcf.Open(d.vcf, vcf.Options{Dosage: true})
		if err != nil {
			return &datasets.Error{Safe: "genomics: dataset " + d.name + " cannot be read (details in the audit log)", Err: err}
		}
		d.reader, d.samples = r, r.Samples
	}
	lt, err := linkage.Read(d.link)
	if err != nil {
		return &datasets.Error{Safe: "genomics: the linkage table of dataset " + d.name + " cannot be read (details in the audit log)", Err: err}
	}
	link, err := lt.Link(d.samples, false)
	if err != nil {
		return err
	}
	// Persons of the tier: a person the tier does not hold (a registered
	// tier excludes some) is invisible, even with genotypes.
	tier := roaring.New()
	rows, err := s.db.QueryContext(ctx, "SELECT person_id FROM person")
	if err != nil {
		return err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		if id >= 0 && id <= 1<<32-1 {
			tier.Add(uint32(id))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	d.person = make([]int64, len(d.samples))
	d.persons = roaring.New()
	for i, p := range link.Person {
		d.person[i] = -1
		if p < 0 || !tier.Contains(uint32(p)) || d.persons.Contains(uint32(p)) {
			continue
		}
		d.person[i] = p
		d.persons.Add(uint32(p))
	}
	d.founders = plink.NewMask(len(d.samples), func(i int) bool { return d.samples[i].Founder() })
	return nil
}

// mask is the samples of d whose persons are in set.
func (d *genoDataset) mask(set *roaring.Bitmap) *plink.Mask {
	return plink.NewMask(len(d.samples), func(i int) bool { return d.person[i] >= 0 && set.Contains(uint32(d.person[i])) })
}

// cohortSet is the persons of cohort c who have genotypes in d.
func (s *Server) cohortSet(ctx context.Context, d *genoDataset, c *cohortPlan) (*roaring.Bitmap, error) {
	bm, err := s.PersonSet(ctx, cellPlan{C: c}.bytes())
	if err != nil {
		return nil, err
	}
	bm.And(d.persons)
	return bm, nil
}

// genoPlan rebuilds the person set of a genomics cell: the persons of a
// cohort who have genotypes in a dataset. It names no handle, so any kernel
// of the workspace can rebuild it from the release history.
type genoPlan struct {
	G genoSetPlan `json:"g"`
}

type genoSetPlan struct {
	DS string      `json:"ds"`
	C  *cohortPlan `json:"c"`
	// V are the variants the result released counts of, as spans
	// [chrom, first pos, last pos] per chromosome (a superset); NoV marks
	// a result without variant counts (PCA). A plan with neither (an
	// older history) counts for every variant.
	V   [][3]int64 `json:"v,omitempty"`
	NoV bool       `json:"nov,omitempty"`
}

// genoPlanBytes is the plan of the persons of c genotyped in ds, for a
// result about the variants of sel (nil: no variant counts).
func genoPlanBytes(ds string, c *cohortPlan, sel *plink.Fileset) []byte {
	p := genoSetPlan{DS: ds, C: c, NoV: sel == nil}
	if sel != nil {
		p.V = variantSpans(sel)
	}
	b, err := json.Marshal(genoPlan{G: p})
	if err != nil {
		return nil
	}
	return b
}

// variantSpans are the chromosome spans of the variants of fs.
func variantSpans(fs *plink.Fileset) [][3]int64 {
	var out [][3]int64
	at := map[int64]int{}
	for v := range fs.Variants {
		vr := &fs.Variants[v]
		c := int64(vr.ChromCode)
		i, ok := at[c]
		if !ok {
			at[c] = len(out)
			out = append(out, [3]int64{c, vr.Pos, vr.Pos})
			continue
		}
		out[i][1] = min(out[i][1], vr.Pos)
		out[i][2] = max(out[i][2], vr.Pos)
	}
	if out == nil {
		out = [][3]int64{} // no variant: still not "every variant"
	}
	return out
}

// setSource rebuilds person sets for the release history: genomics plans
// here, every other plan by Server.PersonSet.
type setSource struct{ s *Server }

// PersonSet implements release.SetSource.
func (w setSource) PersonSet(ctx context.Context, raw []byte) (*roaring.Bitmap, error) {
	if !bytes.HasPrefix(raw, []byte(`{"g":`)) {
		return w.s.PersonSet(ctx, raw)
	}
	var p genoPlan
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&p); err != nil || p.G.C == nil {
		return nil, fmt.Errorf("analysis: unreadable genomics plan: %v", err)
	}
	ds, err := w.s.dataset(ctx, p.G.DS)
	if err != nil {
		return nil, err
	}
	return w.s.cohortSet(ctx, ds, p.G.C)
}

// newGenoHandle stores h and returns its reference.
func (s *Server) newGenoHandle(h *genoHandle) spec.Handle {
	g := s.geno
	g.mu.Lock()
	defer g.mu.Unlock()
	prefix := "v"
	if h.kind == spec.KindPCs {
		prefix = "pcs"
	}
	id := opaqueid.Unused(prefix, func(id string) bool { return g.handles[id] != nil })
	g.handles[id] = h
	return spec.Handle{ID: id, Kind: h.kind, Desc: h.desc}
}

func (s *Server) genoHandle(id, kind, what string) (*genoHandle, error) {
	if err := s.genoAvailable(); err != nil {
		return nil, err
	}
	s.geno.mu.Lock()
	h := s.geno.handles[id]
	s.geno.mu.Unlock()
	if h == nil {
		s.mu.Lock()
		omopHandle := s.handles[id] != nil
		s.mu.Unlock()
		if omopHandle {
			return nil, datasets.Errorf("%s needs %s from enclave/genomics; %s is an omop handle", what, kindWords[kind], id)
		}
		return nil, datasets.Errorf("no genomics handle %q in this session (handles do not survive a kernel restart)", clip(id, 40))
	}
	if h.kind != kind {
		return nil, datasets.Errorf("%s needs %s; %s holds %s", what, kindWords[kind], id, kindWords[h.kind])
	}
	return h, nil
}

var kindWords = map[string]string{spec.KindVariants: "variants (genomics.Variants)", spec.KindPCs: "PCs (genomics.PCA)"}

// isGenoHandle reports whether id names a genomics handle, so that the
// omop methods can say what it is instead of "no handle".
func (s *Server) isGenoHandle(id string) bool {
	if s.geno == nil {
		return false
	}
	s.geno.mu.Lock()
	defer s.geno.mu.Unlock()
	return s.geno.handles[id] != nil
}

// genoVariants serves genomics.Variants.
func (s *Server) genoVariants(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.GenoVariantsArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	d, err := s.dataset(ctx, strings.TrimSpace(a.Dataset))
	if err != nil {
		return nil, err
	}
	if len(a.Select) > 10000 {
		return nil, datasets.Errorf("at most 10,000 regions or variant ids in one selection")
	}
	var regions []region
	var ids []string
	for _, sel := range a.Select {
		sel = strings.TrimSpace(sel)
		if sel == "" {
			continue
		}
		if r, ok := parseRegion(sel); ok {
			regions = append(regions, r)
		} else {
			ids = append(ids, sel)
		}
	}
	all := len(regions) == 0 && len(ids) == 0
	fs, err := s.selectVariants(d, all, regions, ids)
	if err != nil {
		return nil, err
	}
	desc := fmt.Sprintf("%s variants of %s", groupDigits(len(fs.Variants)), d.name)
	if !all {
		what := strings.Join(a.Select, ", ")
		desc = fmt.Sprintf("%s variants of %s in %s", groupDigits(len(fs.Variants)), d.name, clip(what, 120))
	}
	return s.newGenoHandle(&genoHandle{kind: spec.KindVariants, ds: d, fs: fs, desc: desc}), nil
}

func groupDigits(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// region is a chromosome range, 1-based inclusive.
type region struct {
	chrom      int
	start, end int64
	text       string
}

// parseRegion reads "chr19:1-2", "19:5", "chr19" or "X"; anything else is
// a variant id.
func parseRegion(s string) (region, bool) {
	chrom, start, end, err := vcf.ParseRegion(s)
	if err != nil {
		return region{}, false
	}
	code, _ := plink.ParseChrom(chrom)
	return region{chrom: code, start: int64(start), end: int64(end), text: s}, true
}

func (r region) has(v *plink.Variant) bool {
	return v.ChromCode == r.chrom && v.Pos >= r.start && v.Pos <= r.end
}

// selectVariants returns the selected variants as a fileset over the
// dataset's samples, in the dataset's order.
func (s *Server) selectVariants(d *genoDataset, all bool, regions []region, ids []string) (*plink.Fileset, error) {
	if d.prefix != "" {
		if all {
			return d.fs, nil
		}
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		var idx []int
		for v := range d.fs.Variants {
			vr := &d.fs.Variants[v]
			ok := want[vr.ID]
			for _, r := range regions {
				if ok {
					break
				}
				ok = r.has(vr)
			}
			if ok {
				idx = append(idx, v)
			}
		}
		rb := d.fs.RowBytes()
		rows := make([]byte, 0, len(idx)*rb)
		vs := make([]plink.Variant, 0, len(idx))
		for _, v := range idx {
			rows = append(rows, d.fs.Row(v)...)
			vs = append(vs, d.fs.Variants[v])
		}
		return plink.NewInMemory(vs, d.samples, rows)
	}
	// VCF.
	d.mu.Lock()
	defer d.mu.Unlock()
	if all {
		if d.fs == nil {
			fs, err := readVCF(d.reader, func(r *vcf.Reader, fn vcf.DosageFunc) error { return r.ScanDosage(fn) })
			if err != nil {
				return nil, err
			}
			d.fs = fs
		}
		return d.fs, nil
	}
	seen := map[string]bool{}
	var vs []plink.Variant
	var rows []byte
	var doses [][]uint16
	size := 0
	add := func(v *plink.Variant, row []byte, dose []uint16) error {
		key := fmt.Sprintf("%d:%d:%s:%s:%s", v.ChromCode, v.Pos, v.ID, v.A1, v.A2)
		if seen[key] {
			return nil
		}
		seen[key] = true
		vs = append(vs, *v)
		rows = append(rows, row...)
		if dose != nil {
			dose = slices.Clone(dose)
		}
		doses = append(doses, dose)
		size += len(row) + 2*len(dose)
		if size > vcfAllLimit {
			return datasets.Errorf("the selection holds more genotypes than the kernel reads from a VCF at once; select smaller regions")
		}
		return nil
	}
	for _, r := range regions {
		if err := d.reader.QueryDosage(r.text, add); err != nil {
			return nil, vcfErr(d, err)
		}
	}
	for _, id := range ids {
		if err := d.reader.QueryIDDosage(id, add); err != nil {
			return nil, vcfErr(d, err)
		}
	}
	// Genome order, as a fileset would hold them.
	rb := (len(d.samples) + 3) / 4
	order := make([]int, len(vs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		va, vb := &vs[order[a]], &vs[order[b]]
		if va.ChromCode != vb.ChromCode {
			return va.ChromCode < vb.ChromCode
		}
		return va.Pos < vb.Pos
	})
	vs2 := make([]plink.Variant, len(vs))
	rows2 := make([]byte, 0, len(rows))
	doses2 := make([][]uint16, len(vs))
	for i, o := range order {
		vs2[i] = vs[o]
		rows2 = append(rows2, rows[o*rb:(o+1)*rb]...)
		doses2[i] = doses[o]
	}
	fs, err := plink.NewInMemory(vs2, d.samples, rows2)
	if err != nil {
		return nil, err
	}
	return fs, fs.SetDosages(doses2)
}

func vcfErr(d *genoDataset, err error) error {
	if _, ok := err.(*datasets.Error); ok {
		return err
	}
	return &datasets.Error{Safe: "genomics: dataset " + d.name + " cannot be read" + recordSafe(err) + " (details in the audit log)", Err: err}
}

// recordSafe names the VCF record an error is about, without any value
// of it (a bad DS is a person's dosage): ": line N, variant ID at
// CHROM:POS, has an unreadable GT or DS field", or "".
func recordSafe(err error) string {
	var re *vcf.RecordError
	if !errors.As(err, &re) {
		return ""
	}
	at := ""
	if re.Line > 0 {
		at = fmt.Sprintf(" line %d,", re.Line)
	}
	return fmt.Sprintf(":%s variant %s has an unreadable GT or DS field (DS must be a number in [0, 2], [0, 1] beside a haploid GT)", at, re.Variant)
}

// readVCF reads the variants scan gives into an in-memory fileset, with
// the dosage rows of the records that have DS.
func readVCF(r *vcf.Reader, scan func(*vcf.Reader, vcf.DosageFunc) error) (*plink.Fileset, error) {
	var vs []plink.Variant
	var rows []byte
	var doses [][]uint16
	size := 0
	err := scan(r, func(v *plink.Variant, row []byte, dose []uint16) error {
		vs = append(vs, *v)
		rows = append(rows, row...)
		if dose != nil {
			dose = slices.Clone(dose)
		}
		doses = append(doses, dose)
		size += len(row) + 2*len(dose)
		if size > vcfAllLimit {
			return datasets.Errorf("the VCF holds more genotypes than the kernel reads at once; select regions")
		}
		return nil
	})
	if err != nil {
		if _, ok := err.(*datasets.Error); ok {
			return nil, err
		}
		return nil, &datasets.Error{Safe: "genomics: the VCF cannot be read" + recordSafe(err) + " (details in the audit log)", Err: err}
	}
	fs, err := plink.NewInMemory(vs, r.Samples, rows)
	if err != nil {
		return nil, err
	}
	return fs, fs.SetDosages(doses)
}

// threads is the goroutines genomics work uses.
func threads() int { return runtime.GOMAXPROCS(0) }

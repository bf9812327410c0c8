package synth

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"enclave/datasets/genomics/gensim"
	"enclave/datasets/synth/internal/pq"
)

// Options configure Generate.
type Options struct {
	Persons   int    // cohort size, person_id 1..Persons
	Seed      int64  // random seed; same seed and size give the same bytes
	Out       string // output folder, created if missing
	Format    string // "csv" (default) or "parquet"
	Threads   int    // generator goroutines; 0 means GOMAXPROCS
	Variants  int    // genotyped variants (0: no genomics sub-folder)
	Genotyped int    // persons 1..Genotyped get genotypes
}

// Stats reports what Generate wrote.
type Stats struct {
	Rows  map[string]int64 // rows per table, vocabulary included
	Files []string         // files written, relative to Out
}

// Total is the number of rows written.
func (s *Stats) Total() int64 {
	var n int64
	for _, r := range s.Rows {
		n += r
	}
	return n
}

// chunkPersons is the number of persons generated as one unit of work. It
// is fixed (not derived from the thread count) so that the output order,
// and hence the bytes, never depend on parallelism.
const chunkPersons = 2048

// Formats.
const (
	FormatCSV     = "csv"
	FormatParquet = "parquet"
)

// Generate writes the cohort into opts.Out.
func Generate(opts Options) (*Stats, error) {
	if opts.Persons <= 0 {
		return nil, fmt.Errorf("synth: --persons must be positive, got %d", opts.Persons)
	}
	if opts.Format == "" {
		opts.Format = FormatCSV
	}
	if opts.Format != FormatCSV && opts.Format != FormatParquet {
		return nil, fmt.Errorf("synth: unknown format %q (want csv or parquet)", opts.Format)
	}
	if opts.Variants < 0 || opts.Genotyped < 0 {
		return nil, fmt.Errorf("synth: --variants and --genotyped must not be negative")
	}
	if opts.Genotyped > opts.Persons {
		return nil, fmt.Errorf("synth: --genotyped %d exceeds --persons %d", opts.Genotyped, opts.Persons)
	}
	if (opts.Variants > 0) != (opts.Genotyped > 0) {
		return nil, fmt.Errorf("synth: --variants and --genotyped go together (got %d and %d)", opts.Variants, opts.Genotyped)
	}
	if opts.Threads <= 0 {
		opts.Threads = runtime.GOMAXPROCS(0)
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	// A table left from an earlier run in the other format would be
	// imported beside the new one.
	for _, t := range allTables() {
		for _, ext := range []string{FormatCSV, FormatParquet} {
			if err := os.Remove(filepath.Join(opts.Out, t.name+"."+ext)); err != nil && !os.IsNotExist(err) {
				return nil, fmt.Errorf("synth: %w", err)
			}
		}
	}
	st := &Stats{Rows: map[string]int64{}}
	ancs, err := generatePersons(opts, st)
	if err != nil {
		return nil, err
	}
	if err := writeVocabulary(opts.Out, opts.Format, st); err != nil {
		return nil, err
	}
	for _, t := range allTables() {
		st.Files = append(st.Files, t.name+"."+opts.Format)
	}
	if opts.Variants > 0 {
		// Persons 1..Genotyped with the ancestry their phenotypes were
		// drawn with, so the genotypes carry the same planted dosages.
		ps := make([]gensim.Person, opts.Genotyped)
		for i := range ps {
			ps[i] = gensim.Person{PersonID: int64(i + 1), Ancestry: ancs[i]}
		}
		dir := filepath.Join(opts.Out, "genomics")
		gopts := gensim.Options{Seed: opts.Seed, Variants: opts.Variants, Threads: opts.Threads}
		if err := gensim.Write(dir, ps, gopts); err != nil {
			return nil, fmt.Errorf("synth: genotypes: %w", err)
		}
		for _, f := range []string{"cohort.bed", "cohort.bim", "cohort.fam", "cohort.vcf.gz", "cohort.vcf.gz.tbi", "linkage.csv"} {
			st.Files = append(st.Files, "genomics/"+f)
		}
	}
	sort.Strings(st.Files)
	return st, nil
}

func allTables() []*table {
	var ts []*table
	for i := range personTables {
		ts = append(ts, &personTables[i])
	}
	return append(ts, &tblLocation, &tblCareSite, &tblProvider, &tblCDMSource, &tblConcept, &tblConceptAncestor, &tblConceptRelationship, &tblVocabulary)
}

// chunkOut is the encoded rows of one chunk of persons.
type chunkOut struct {
	idx  int
	bufs [numPersonTables][]byte     // CSV
	enc  [numPersonTables]pq.Encoded // Parquet
	rows [numPersonTables]int64
	ancs []string
}

// tableFile is one output file being streamed.
type tableFile struct {
	f  *os.File
	w  *bufio.Writer
	pw *pq.Writer // nil for CSV
}

func createTable(dir, format string, t *table) (*tableFile, error) {
	f, err := os.Create(filepath.Join(dir, t.name+"."+format))
	if err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	tf := &tableFile{f: f, w: bufio.NewWriterSize(f, 1<<20)}
	if format == FormatParquet {
		tf.pw = pq.NewWriter(tf.w, t.pqColumns())
	} else {
		tf.w.Write(t.header())
	}
	return tf, nil
}

func (tf *tableFile) close() error {
	var err error
	if tf.pw != nil {
		err = tf.pw.Close()
	}
	if err2 := tf.w.Flush(); err == nil {
		err = err2
	}
	if err2 := tf.f.Close(); err == nil {
		err = err2
	}
	return err
}

// generatePersons runs the generator goroutines and writes their chunks in
// chunk order to one file per table. It returns the ancestry of the first
// opts.Genotyped persons.
func generatePersons(opts Options, st *Stats) ([]string, error) {
	files := make([]*tableFile, numPersonTables)
	defer func() {
		for _, f := range files {
			if f != nil {
				f.f.Close()
			}
		}
	}()
	for i := range personTables {
		tf, err := createTable(opts.Out, opts.Format, &personTables[i])
		if err != nil {
			return nil, err
		}
		files[i] = tf
	}

	nChunks := (opts.Persons + chunkPersons - 1) / chunkPersons
	jobs := make(chan int)
	results := make(chan *chunkOut, opts.Threads)
	// free recycles chunk buffers and bounds the chunks in flight, which
	// bounds memory whatever the cohort size.
	inflight := opts.Threads + 2
	free := make(chan *chunkOut, inflight)
	for i := 0; i < inflight; i++ {
		free <- &chunkOut{}
	}
	var wg sync.WaitGroup
	for w := 0; w < opts.Threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := newGen(opts.Seed, opts.Format)
			for idx := range jobs {
				out := <-free
				x.chunk(idx, opts.Persons, out)
				results <- out
			}
		}()
	}
	go func() {
		for i := 0; i < nChunks; i++ {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		close(results)
	}()

	ancs := make([]string, 0, opts.Genotyped)
	pending := map[int]*chunkOut{}
	next := 0
	var werr error
	for out := range results {
		pending[out.idx] = out
		for {
			c, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			for t, tf := range files {
				if werr != nil {
					break
				}
				if tf.pw != nil {
					werr = tf.pw.Append(&c.enc[t])
				} else {
					_, werr = tf.w.Write(c.bufs[t])
				}
				st.Rows[personTables[t].name] += c.rows[t]
			}
			for _, a := range c.ancs {
				if len(ancs) < opts.Genotyped {
					ancs = append(ancs, a)
				}
			}
			free <- c
			next++
		}
	}
	for i, tf := range files {
		if err := tf.close(); werr == nil {
			werr = err
		}
		files[i] = nil
	}
	if werr != nil {
		return nil, fmt.Errorf("synth: writing %s: %w", opts.Out, werr)
	}
	return ancs, nil
}

// chunk generates persons idx*chunkPersons+1 … into out, reusing its
// buffers.
func (x *gen) chunk(idx, persons int, out *chunkOut) {
	out.idx = idx
	for t := range x.bufs {
		x.bufs[t].b = out.bufs[t][:0]
		x.bufs[t].rows = 0
		if x.bufs[t].rg != nil {
			x.bufs[t].rg.Reset()
		}
	}
	x.ancs = out.ancs[:0]
	lo := idx*chunkPersons + 1
	hi := min(lo+chunkPersons-1, persons)
	for id := lo; id <= hi; id++ {
		x.person(int64(id))
	}
	for t := range x.bufs {
		out.bufs[t] = x.bufs[t].b
		out.rows[t] = x.bufs[t].rows
		if rg := x.bufs[t].rg; rg != nil {
			rg.Encode(&out.enc[t])
		}
	}
	out.ancs = x.ancs
}

// writeTable writes a small table through fn.
func writeTable(dir, format string, t *table, st *Stats, fn func(r *rowBuf)) error {
	tf, err := createTable(dir, format, t)
	if err != nil {
		return err
	}
	r := &rowBuf{ncol: len(t.cols)}
	if tf.pw != nil {
		r.rg = pq.NewRowGroup(t.pqColumns())
	}
	fn(r)
	if tf.pw != nil {
		var e pq.Encoded
		r.rg.Encode(&e)
		err = tf.pw.Append(&e)
	} else {
		_, err = tf.w.Write(r.b)
	}
	if err2 := tf.close(); err == nil {
		err = err2
	}
	if err != nil {
		return fmt.Errorf("synth: writing %s: %w", t.name, err)
	}
	st.Rows[t.name] += r.rows
	return nil
}

// writeVocabulary writes the vocabulary rows of every concept used, the
// hierarchy edges, the state-level locations and cdm_source.
func writeVocabulary(dir, format string, st *Stats) error {
	steps := []struct {
		t  *table
		fn func(r *rowBuf)
	}{
		{&tblConcept, func(r *rowBuf) {
			for _, c := range concepts {
				r.int(c.id).text(c.name).str(c.domain).str(c.vocab).str(c.class).str(c.std).
					text(c.code).str(c.validStart).str("2099-12-31").null().end()
			}
		}},
		{&tblConceptAncestor, func(r *rowBuf) {
			for _, c := range concepts {
				if c.std == "S" && (c.domain == "Condition" || c.domain == "Drug" || c.domain == "Measurement") {
					r.int(c.id).int(c.id).int(0).int(0).end()
				}
			}
			for _, a := range ancestors {
				r.int(a.ancestor).int(a.descendant).int(int64(a.levels)).int(int64(a.levels)).end()
			}
		}},
		{&tblConceptRelationship, func(r *rowBuf) {
			for _, a := range ancestors {
				if a.levels == 1 {
					r.int(a.descendant).int(a.ancestor).str("Is a").str("1970-01-01").str("2099-12-31").null().end()
					r.int(a.ancestor).int(a.descendant).str("Subsumes").str("1970-01-01").str("2099-12-31").null().end()
				}
			}
		}},
		{&tblVocabulary, func(r *rowBuf) {
			for _, v := range vocabularies {
				r.str(v[0]).str(v[1]).str(v[2]).str(v[3]).int(0).end()
			}
		}},
		{&tblLocation, func(r *rowBuf) {
			for i, s := range states {
				r.int(int64(i + 1)).null().null().null().str(s.code).null().null().str(s.code).end()
			}
		}},
		{&tblCareSite, func(r *rowBuf) {
			for i, s := range states {
				for k := 0; k < siteCount(i); k++ {
					id := siteID(i, k)
					name := fmt.Sprintf("Site %d (%s)", id, s.code)
					r.int(id).str(name).null().int(int64(i + 1)).str(fmt.Sprintf("SITE%d", id)).null().end()
				}
			}
		}},
		{&tblProvider, func(r *rowBuf) {
			for i := range states {
				for k := 0; k < siteCount(i); k++ {
					site := siteID(i, k)
					for j := 0; j < providersPerSite; j++ {
						id := providerID(site, j)
						h := splitmix64(uint64(id))
						gender := []int64{cFemale, cMale}[h%2]
						npi := fmt.Sprintf("1%09d", h%1_000_000_000)
						r.int(id).str(fmt.Sprintf("Provider %d", id)).str(npi).null().null().int(site).
							int(int64(1950 + (h>>8)%45)).int(gender).str(fmt.Sprintf("PRV%d", id)).null().null().
							str(conceptCode[gender]).null().end()
					}
				}
			}
		}},
		{&tblCDMSource, func(r *rowBuf) {
			r.str("enclave synthetic cohort").str("enclave-synth").str("enclave").
				str("Synthetic OMOP CDM v5.3 + Fitbit cohort generated by enclave synth").null().null().
				date(dataCut).date(dataCut).str("v5.3.1").str("enclave synth").end()
		}},
	}
	for _, s := range steps {
		if err := writeTable(dir, format, s.t, st, s.fn); err != nil {
			return err
		}
	}
	return nil
}

// quoteCSV quotes s if it holds a comma or a quote.
func quoteCSV(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' || s[i] == '"' {
			b := []byte{'"'}
			for j := 0; j < len(s); j++ {
				if s[j] == '"' {
					b = append(b, '"')
				}
				b = append(b, s[j])
			}
			return string(append(b, '"'))
		}
	}
	return s
}

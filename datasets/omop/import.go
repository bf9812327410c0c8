package omop

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"enclave/datasets"
	"enclave/datasets/vocab"
)

// Options tune Import. The zero value is the normal setting.
type Options struct {
	// AgeAsOf is the date ages are computed at for the registered tier's
	// 89-and-over exclusion, and the "in the future" bound of the date
	// plausibility checks (default: the time of import).
	AgeAsOf time.Time
	// Tiers lists the tier databases to build next to dbPath (default:
	// registered and controlled).
	Tiers []datasets.Tier
	// MaxProblems caps the line-level problems listed per file (default
	// 20); counts are always complete.
	MaxProblems int
	// SmallGroup: in the registered tier, a single race reported by fewer
	// persons than this is generalised to "another single population"
	// (default 200, as All of Us does for its smallest categories).
	SmallGroup int
	// Threads caps DuckDB's threads during the import (default: all cores).
	Threads int
	// MemoryLimit caps DuckDB's memory during the import and tier builds,
	// e.g. "2GB" (default DefaultMemoryLimit(), from the machine's memory).
	// Beyond it DuckDB spills to a temporary directory beside dbPath,
	// removed when the import ends.
	MemoryLimit string
	// Strict refuses the import when any data-quality check fails (the
	// behaviour before the quality report): nothing is installed.
	Strict bool
	// DropInvalidRows is no longer used: every source row is kept in the
	// base database and the tiers leave out what cannot be curated, with
	// the counts in the quality report.
	//
	// Deprecated: has no effect.
	DropInvalidRows bool
}

func (o *Options) defaults() {
	if o.AgeAsOf.IsZero() {
		o.AgeAsOf = time.Now()
	}
	if o.Tiers == nil {
		o.Tiers = []datasets.Tier{datasets.Registered, datasets.Controlled}
	}
	if o.MaxProblems <= 0 {
		o.MaxProblems = 20
	}
	if o.SmallGroup <= 0 {
		o.SmallGroup = 200
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = DefaultMemoryLimit()
	}
}

// Severity says whether a problem fails the import.
type Severity string

const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
	SevNote    Severity = "note" // informational: a CDM v5.4 column mapped, empty columns not loaded
)

// Problem is one finding about a file: an error stops the import (the file
// cannot be read as the table it names: malformed CSV, a value that does
// not parse, a missing required column), a warning does not (a column or
// table with no CDM v5.3 place, a merged vocabulary row). Line is the
// 1-based line of a CSV file (the header is line 1, so the first data row
// is line 2; a quoted field spanning lines shifts later numbers) or the
// 1-based row of a Parquet file; 0 when the problem concerns the whole file
// or a count of rows. Data-quality findings about rows that were loaded are
// Checks, not Problems.
type Problem struct {
	Severity Severity `json:"severity"`
	File     string   `json:"file"` // file name inside the folder
	Line     int64    `json:"line,omitempty"`
	Column   string   `json:"column,omitempty"`
	Message  string   `json:"message"`
	Count    int64    `json:"rows,omitempty"` // rows affected, for summary problems (0 for a single line)
}

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	fmt.Fprintf(&b, ": %s: ", p.Severity)
	if p.Column != "" {
		fmt.Fprintf(&b, "column %s: ", p.Column)
	}
	b.WriteString(p.Message)
	if p.Count > 0 {
		fmt.Fprintf(&b, " (%d rows)", p.Count)
	}
	return b.String()
}

// FileReport is what happened to one file of the folder.
type FileReport struct {
	File     string    `json:"file"`            // name inside the folder
	Table    string    `json:"table,omitempty"` // target table ("" if the file was not loaded)
	Rows     int64     `json:"rows"`            // data rows read
	Problems []Problem `json:"problems,omitempty"`
}

// Report is the outcome of an Import.
type Report struct {
	Folder   string
	Files    []FileReport
	Tables   map[string]int64 // row count of every table of the base database after import
	Rows     int64            // data rows read from the folder (vocabulary included)
	Errors   int              // problems of severity error: the import failed
	Warnings int              // problems of severity warning plus checks with status warn
	Duration time.Duration
	Tiers    map[datasets.Tier]string // tier database paths built
	// Quality is the data-quality report: every check with its outcome and
	// what each tier left out. Nil when the folder could not be loaded.
	Quality *Quality
	// Phases times the import's steps: "load" (every file read and
	// appended), "checks" (the data-quality checks), "base" (the report
	// stored and the base database written out), "tier <name>".
	Phases []Phase
}

// Phase is the wall time of one step of an import.
type Phase struct {
	Name     string
	Duration time.Duration
}

func (r *Report) phase(name string, since time.Time) {
	r.Phases = append(r.Phases, Phase{name, time.Since(since)})
}

// Problems returns every problem of the report, file by file.
func (r *Report) Problems() []Problem {
	var out []Problem
	for _, f := range r.Files {
		out = append(out, f.Problems...)
	}
	return out
}

// String renders the report for the steward: one line per file problem,
// the data-quality summary, then one summary line.
func (r *Report) String() string {
	var b strings.Builder
	for _, p := range r.Problems() {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	if r.Quality != nil {
		r.Quality.writeSummary(&b)
	}
	fmt.Fprintf(&b, "%s: %d files, %d rows, %d errors, %d warnings", r.Folder, len(r.Files), r.Rows, r.Errors, r.Warnings)
	if r.Quality != nil {
		fmt.Fprintf(&b, ", %d failed checks", r.Quality.Failed())
	}
	fmt.Fprintf(&b, ", %s", r.Duration.Round(time.Millisecond))
	if len(r.Phases) > 0 {
		var ps []string
		for _, p := range r.Phases {
			ps = append(ps, fmt.Sprintf("%s %s", p.Name, p.Duration.Round(time.Millisecond)))
		}
		fmt.Fprintf(&b, " (%s)", strings.Join(ps, ", "))
	}
	b.WriteByte('\n')
	return b.String()
}

// ErrInvalid is returned (wrapped) when a file of the folder could not be
// loaded: malformed, a value that does not parse, a required column
// missing, an unknown table. The Report lists the problems.
var ErrInvalid = errors.New("omop: folder failed validation")

// ErrFailedChecks is returned (wrapped) by a strict import when a
// data-quality check failed; Report.Quality lists the checks.
var ErrFailedChecks = errors.New("omop: data-quality checks failed")

// TierPath is the path of a tier's database for the base database dbPath.
func TierPath(dbPath string, tier datasets.Tier) string {
	return filepath.Join(filepath.Dir(dbPath), "tier_"+string(tier)+".duckdb")
}

// QualityPath is the path of the data-quality report (JSON, see Quality)
// of the base database dbPath. Only the steward's tools read it.
func QualityPath(dbPath string) string {
	return filepath.Join(filepath.Dir(dbPath), "quality.json")
}

// Import loads the OMOP folder into a new base database at dbPath
// (replacing the previous data, keeping the workspace's date-shift secret
// if dbPath already exists), checks the data's quality, and builds the
// tier databases of opts.Tiers (TierPath) from it; a tier database of
// another tier left from an earlier import is removed, being stale.
//
// Every source row that parses is kept in the base database, so its row
// counts equal the source's. Foreign-key, primary-key, required-field,
// concept and plausibility problems do not stop the import: they are the
// findings of the data-quality report (Report.Quality, written to
// QualityPath), in the manner of the OHDSI Data Quality Dashboard. The
// tiers hold only rows that can be curated (see BuildTier) and the report
// counts, per tier and table, the rows left out and why.
//
// The import fails (an error wrapping ErrInvalid, the problems in the
// report) when a file cannot be read as the table it names: malformed CSV,
// a value that does not parse as its field's type (file, line and column
// named), a missing required column, an unknown table, a folder with no
// rows or no persons. With opts.Strict it also fails (ErrFailedChecks) when
// a data-quality check failed. A failed import leaves dbPath, the tier
// databases and the quality report untouched: nothing is renamed into
// place until everything has been built.
func Import(ctx context.Context, dbPath, folder string, opts Options) (*Report, error) {
	opts.defaults()
	start := time.Now()
	rep := &Report{Folder: folder, Tables: map[string]int64{}, Tiers: map[datasets.Tier]string{}}
	done := func(err error) (*Report, error) {
		rep.tally()
		rep.Duration = time.Since(start)
		return rep, err
	}
	files, err := discover(folder, rep)
	if err != nil {
		return done(err)
	}
	secret, err := existingSecret(dbPath)
	if err != nil {
		return done(err)
	}
	if secret == "" {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return done(fmt.Errorf("omop: secret: %w", err))
		}
		secret = hex.EncodeToString(b[:])
	}
	work, err := os.MkdirTemp(filepath.Dir(dbPath), ".import-")
	if err != nil {
		return done(fmt.Errorf("omop: %w", err))
	}
	defer os.RemoveAll(work)
	tmpBase := filepath.Join(work, "base.duckdb")

	err = build(ctx, tmpBase, work, secret, files, rep, &opts, start)
	rep.tally()
	if err == nil && rep.Errors > 0 {
		err = fmt.Errorf("%w: %d errors in %s (first: %s)", ErrInvalid, rep.Errors, rep.Folder, firstError(rep))
	}
	if err != nil {
		return done(err)
	}
	if n := rep.Quality.Failed(); opts.Strict && n > 0 {
		return done(fmt.Errorf("%w: %d failed checks in %s (strict import: nothing installed)", ErrFailedChecks, n, rep.Folder))
	}
	tmpTiers := map[datasets.Tier]string{}
	for _, tier := range opts.Tiers {
		p := filepath.Join(work, "tier_"+string(tier)+".duckdb")
		began := time.Now()
		tr, err := BuildTier(ctx, tmpBase, tier, p, TierOptions{AgeAsOf: opts.AgeAsOf, SmallGroup: opts.SmallGroup,
			Threads: opts.Threads, MemoryLimit: opts.MemoryLimit, TempDir: filepath.Join(work, "tmp")})
		if err != nil {
			return done(err)
		}
		rep.phase("tier "+string(tier), began)
		rep.Quality.Tiers = append(rep.Quality.Tiers, *tr)
		tmpTiers[tier] = p
	}
	rep.tally()
	tmpQuality := filepath.Join(work, "quality.json")
	if err := rep.Quality.write(tmpQuality); err != nil {
		return done(err)
	}
	// Commit: tiers first, base next, report last, so a crash in between
	// leaves a base that still matches the old tiers' secret (the secret
	// never changes). A write-ahead log left beside an old file would be
	// replayed onto the new one: remove it before the rename.
	install := func(src, dst string) error {
		if err := os.Remove(dst + ".wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("omop: install %s: %w", dst, err)
		}
		if err := os.Rename(src, dst); err != nil {
			return fmt.Errorf("omop: install %s: %w", dst, err)
		}
		return nil
	}
	for _, tier := range opts.Tiers {
		dst := TierPath(dbPath, tier)
		if err := install(tmpTiers[tier], dst); err != nil {
			return done(err)
		}
		rep.Tiers[tier] = dst
	}
	if err := install(tmpBase, dbPath); err != nil {
		return done(err)
	}
	if err := os.Rename(tmpQuality, QualityPath(dbPath)); err != nil {
		return done(fmt.Errorf("omop: install %s: %w", QualityPath(dbPath), err))
	}
	// A tier not rebuilt would hold the previous data: remove it.
	for _, tier := range []datasets.Tier{datasets.Registered, datasets.Controlled} {
		if _, built := rep.Tiers[tier]; !built {
			os.Remove(TierPath(dbPath, tier))
			os.Remove(TierPath(dbPath, tier) + ".wal")
		}
	}
	return done(nil)
}

// duckConfig is the DSN suffix setting threads, memory_limit and
// temp_directory ("" for DuckDB's defaults).
func duckConfig(threads int, memory, tempDir string) string {
	v := url.Values{}
	if threads > 0 {
		v.Set("threads", fmt.Sprint(threads))
	}
	if memory != "" {
		v.Set("memory_limit", memory)
	}
	if tempDir != "" {
		v.Set("temp_directory", tempDir)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// sourceFile is one input file matched to a table.
type sourceFile struct {
	path    string
	name    string // name shown in the report
	table   *Table
	parquet bool
	vocab   bool // part of the embedded default vocabulary
}

var dataExts = []string{".csv.gz", ".tsv.gz", ".csv", ".tsv", ".txt", ".parquet"}

// notHeld are OMOP tables an export may hold that the v5.3 schema has no
// place for, with the reason the report gives. Their rows are counted and
// reported, not loaded. Any other unknown file name fails the import.
var notHeld = map[string]string{
	"episode":          "CDM v5.4 table with no CDM v5.3 equivalent",
	"episode_event":    "CDM v5.4 table with no CDM v5.3 equivalent",
	"cohort":           "cohort table (results schema), not data",
	"cohort_attribute": "cohort table (results schema), not data",
	"survey_conduct":   "CDM v6.0 table with no CDM v5.3 equivalent",
	"location_history": "CDM v6.0 table with no CDM v5.3 equivalent",
}

// discover lists the folder's files matched to tables, in load order:
// vocabulary first, then person, then the rest in schema order. A data
// file whose name is no known table is an error; a known OMOP table the
// schema does not hold is listed with a warning and its rows counted later.
func discover(folder string, rep *Report) ([]sourceFile, error) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, fmt.Errorf("omop: import folder: %w", err)
	}
	var files []sourceFile
	seen := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		name := e.Name()
		lower := strings.ToLower(name)
		ext := ""
		for _, x := range dataExts {
			if strings.HasSuffix(lower, x) {
				ext = x
				break
			}
		}
		if ext == "" {
			continue
		}
		base := strings.TrimSuffix(lower, ext)
		t := LookupTable(base)
		if t == nil {
			fr := FileReport{File: name}
			if why, ok := notHeld[base]; ok {
				fr.Problems = []Problem{{Severity: SevWarning, File: name, Message: why + "; not loaded"}}
				files = append(files, sourceFile{path: filepath.Join(folder, name), name: name, parquet: ext == ".parquet"})
			} else {
				fr.Problems = []Problem{{Severity: SevError, File: name,
					Message: fmt.Sprintf("%q is not a table of OMOP CDM v5.3 or v5.4 nor a Fitbit table: rename the file to <table>%s or move it out of the folder", base, ext)}}
			}
			rep.Files = append(rep.Files, fr)
			continue
		}
		if prev, dup := seen[t.Name]; dup {
			return nil, fmt.Errorf("omop: %s and %s both hold table %s", prev, name, t.Name)
		}
		seen[t.Name] = name
		files = append(files, sourceFile{path: filepath.Join(folder, name), name: name, table: t, parquet: ext == ".parquet"})
	}
	if len(files) == 0 && len(rep.Files) == 0 {
		return nil, fmt.Errorf("omop: %s holds no OMOP table files (<table>.csv or <table>.parquet)", folder)
	}
	sort.SliceStable(files, func(i, j int) bool { return loadRank(files[i].table) < loadRank(files[j].table) })
	return files, nil
}

func loadRank(t *Table) int {
	switch {
	case t == nil:
		return 2000
	case t.Name == "concept":
		return 0
	case IsVocabulary(t.Name):
		return 1
	case t.Name == "person":
		return 2
	}
	for i := range Tables {
		if Tables[i].Name == t.Name {
			return 3 + i
		}
	}
	return 1000
}

// existingSecret reads the date-shift secret of an existing base database.
func existingSecret(dbPath string) (string, error) {
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	db, err := sql.Open("duckdb", dbPath+"?access_mode=READ_ONLY")
	if err != nil {
		return "", fmt.Errorf("omop: open %s: %w", dbPath, err)
	}
	defer db.Close()
	var s string
	err = db.QueryRow(`SELECT value FROM enclave_meta WHERE key = 'shift_secret'`).Scan(&s)
	if err != nil {
		return "", fmt.Errorf("omop: %s has no date-shift secret (not an enclave base database?): %w", dbPath, err)
	}
	return s, nil
}

// baseDDL creates every table of the base database. Unlike DDL it declares
// no NOT NULL: the base keeps every source row, and an empty required
// value is a finding of the quality report.
func baseDDL() string {
	var b strings.Builder
	for i := range Tables {
		t := &Tables[i]
		fmt.Fprintf(&b, "CREATE TABLE %s (", quoteIdent(t.Name))
		for j, f := range t.Fields {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %s", quoteIdent(f.Name), f.DuckDBType())
		}
		b.WriteString(");\n")
	}
	return b.String()
}

func build(ctx context.Context, path, work, secret string, files []sourceFile, rep *Report, opts *Options, start time.Time) error {
	dsn := path + duckConfig(opts.Threads, opts.MemoryLimit, filepath.Join(work, "tmp"))
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		return fmt.Errorf("omop: create %s: %w", path, err)
	}
	defer db.Close()
	// One connection: reject tables of read_csv are per connection.
	db.SetMaxOpenConns(1)
	// Row order does not matter in the base: letting DuckDB append in
	// parallel without keeping it is faster and needs far less memory.
	if _, err := db.ExecContext(ctx, "SET preserve_insertion_order = false"); err != nil {
		return fmt.Errorf("omop: %w", err)
	}
	if _, err := db.ExecContext(ctx, baseDDL()); err != nil {
		return fmt.Errorf("omop: create schema: %w", err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE enclave_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)`); err != nil {
		return fmt.Errorf("omop: create meta: %w", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO enclave_meta VALUES ('shift_secret', ?), ('imported_at', ?), ('source_folder', ?), ('schema', 'OMOP CDM v5.3 + Fitbit')`,
		secret, time.Now().UTC().Format(time.RFC3339), rep.Folder); err != nil {
		return fmt.Errorf("omop: write meta: %w", err)
	}
	defaults, err := vocab.WriteDefault(work)
	if err != nil {
		return err
	}
	var all []sourceFile
	for _, t := range vocab.Tables {
		all = append(all, sourceFile{path: defaults[t], name: "default vocabulary " + t, table: LookupTable(t), vocab: true})
	}
	all = append(all, files...)
	l := &loader{db: db, opts: opts}
	notLoaded := map[string]int{} // file name → index in rep.Files of a known table not held
	for i, f := range rep.Files {
		if f.Table == "" {
			notLoaded[f.File] = i
		}
	}
	for _, f := range all {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.table == nil { // a table the schema does not hold: count its rows for the report
			i := notLoaded[f.name]
			n, err := l.countRows(ctx, f)
			p := &rep.Files[i].Problems[0]
			if err != nil {
				p.Message += " (rows not counted: " + err.Error() + ")"
			} else {
				rep.Files[i].Rows, p.Count = n, n
				rep.Rows += n
			}
			continue
		}
		fr, err := l.load(ctx, f)
		if err != nil {
			return err
		}
		if f.vocab {
			if n := countErrors(fr.Problems); n > 0 {
				return fmt.Errorf("omop: embedded vocabulary is invalid: %v", fr.Problems)
			}
			continue
		}
		rep.Rows += fr.Rows
		rep.Files = append(rep.Files, fr)
	}
	for _, f := range rep.Files {
		if countErrors(f.Problems) > 0 {
			return nil // Import reports ErrInvalid
		}
	}
	for _, t := range Tables {
		var n int64
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(t.Name)).Scan(&n); err != nil {
			return fmt.Errorf("omop: count %s: %w", t.Name, err)
		}
		rep.Tables[t.Name] = n
	}
	if p := wholeFolderProblem(rep); p != nil {
		rep.Files = append(rep.Files, FileReport{File: p.File, Problems: []Problem{*p}})
		return nil
	}
	rep.phase("load", start)
	began := time.Now()
	q, err := runChecks(ctx, db, rep, opts)
	if err != nil {
		return err
	}
	rep.Quality = q
	rep.phase("checks", began)
	began = time.Now()
	if err := q.store(ctx, db); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("omop: checkpoint: %w", err)
	}
	rep.phase("base", began)
	return nil
}

// wholeFolderProblem refuses a folder that holds nothing to curate: no data
// rows at all (every file header-only), or rows that belong to persons
// while the person table is missing or empty.
func wholeFolderProblem(rep *Report) *Problem {
	var rows, personRows int64
	var personFile string
	for _, f := range rep.Files {
		if f.Table == "" || IsVocabulary(f.Table) {
			continue
		}
		if f.Table == "person" {
			personFile = f.File
		}
		rows += f.Rows
	}
	var withPerson []string
	for i := range Tables {
		t := &Tables[i]
		if t.Name == "person" {
			personRows = rep.Tables[t.Name]
			continue
		}
		if t.HasPerson() && rep.Tables[t.Name] > 0 {
			withPerson = append(withPerson, t.Name)
		}
	}
	switch {
	case rows == 0:
		return &Problem{Severity: SevError, File: filepath.Base(rep.Folder),
			Message: "no data rows: every table file of the folder is header-only (or holds only vocabulary)"}
	case personRows == 0 && len(withPerson) > 0:
		what := "has no person table file (person.csv or person.parquet)"
		if personFile != "" {
			what = "has a header-only " + personFile
		}
		return &Problem{Severity: SevError, File: filepath.Base(rep.Folder),
			Message: fmt.Sprintf("the folder %s, so no row of %s belongs to a known person and none could be curated", what, strings.Join(withPerson, ", "))}
	}
	return nil
}

// tally counts the problems by severity and the checks with status warn.
func (r *Report) tally() {
	r.Errors, r.Warnings = 0, 0
	for _, f := range r.Files {
		for _, p := range f.Problems {
			switch p.Severity {
			case SevError:
				r.Errors++
			case SevWarning:
				r.Warnings++
			}
		}
	}
	if r.Quality != nil {
		r.Warnings += r.Quality.Warned()
	}
}

func countErrors(ps []Problem) int {
	n := 0
	for _, p := range ps {
		if p.Severity == SevError {
			n++
		}
	}
	return n
}

func firstError(rep *Report) string {
	for _, p := range rep.Problems() {
		if p.Severity == SevError {
			return p.String()
		}
	}
	return ""
}

// csvHeader reads the header line of a (possibly gzipped) delimited file and
// returns its column names and delimiter. A header that is not UTF-8, or
// that holds a single name while another separator (; or |) splits it, is
// an error naming the problem.
func csvHeader(path string) ([]string, byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, 0, err
		}
		defer gz.Close()
		r = gz
	}
	br := bufio.NewReaderSize(r, 1<<16)
	line, err := br.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return nil, 0, errors.New("empty file (no header line)")
		}
		return nil, 0, err
	}
	line = strings.TrimPrefix(line, "\ufeff")
	line = strings.TrimRight(line, "\r\n")
	if !utf8.ValidString(line) {
		return nil, 0, errors.New("the header line is not UTF-8 text (export the file as UTF-8)")
	}
	delim := byte(',')
	if strings.Count(line, "\t") > strings.Count(line, ",") {
		delim = '\t'
	}
	parts := strings.Split(line, string(delim))
	if len(parts) == 1 {
		for _, other := range []string{";", "|"} {
			if strings.Count(line, other) > 0 {
				return nil, 0, fmt.Errorf("the header is separated by %q: the import reads comma- or tab-separated files", other)
			}
		}
	}
	for i, p := range parts {
		parts[i] = strings.ToLower(strings.Trim(strings.TrimSpace(p), `"`))
	}
	return parts, delim, nil
}

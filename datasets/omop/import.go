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

	"enclave/datasets"
	"enclave/datasets/vocab"
)

// Options tune Import. The zero value is the normal setting.
type Options struct {
	// AgeAsOf is the date ages are computed at for the registered tier's
	// 89-and-over exclusion (default: the time of import).
	AgeAsOf time.Time
	// Tiers lists the tier databases to build next to dbPath (default:
	// registered and controlled).
	Tiers []datasets.Tier
	// MaxProblems caps the line-level problems listed per file and check
	// (default 20); counts are always complete.
	MaxProblems int
	// SmallGroup: in the registered tier, a single race reported by fewer
	// persons than this is generalised to "another single population"
	// (default 200, as All of Us does for its smallest categories).
	SmallGroup int
	// Threads caps DuckDB's threads during the import (default: all cores).
	Threads int
	// MemoryLimit caps DuckDB's memory during the import and tier builds,
	// e.g. "2GB" (default: DuckDB's, 80% of RAM; 1M synthetic persons peak
	// near 5 GB without a cap). Beyond it DuckDB spills to a temporary
	// directory beside dbPath.
	MemoryLimit string
	// DropInvalidRows loads a folder with bad rows anyway: rows failing a
	// row-level check (type, required value, person_id not in person) are
	// left out and duplicate primary keys keep their first row; each is
	// reported as a warning with its line. Structural damage (a truncated
	// or malformed file, a missing required column) still fails the import.
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
}

// Severity says whether a problem fails the import.
type Severity string

const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
)

// Problem is one finding of the validation. Line is the 1-based line of a
// CSV file (the header is line 1, so the first data row is line 2; a quoted
// field spanning lines shifts later numbers) or the 1-based row of a
// Parquet file; 0 when the problem concerns the whole file or a count of rows.
type Problem struct {
	Severity Severity
	File     string // file name inside the folder
	Line     int64
	Column   string
	Message  string
	Count    int64 // rows affected, for summary problems (0 for a single line)
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
	File     string // name inside the folder
	Table    string // target table ("" if the file was ignored)
	Rows     int64  // data rows read
	Problems []Problem
}

// Report is the outcome of an Import.
type Report struct {
	Folder   string
	Files    []FileReport
	Tables   map[string]int64 // row count of every table of the base database after import
	Rows     int64            // data rows read from the folder (vocabulary included)
	Errors   int              // problems of severity error
	Warnings int
	Duration time.Duration
	Tiers    map[datasets.Tier]string // tier database paths built
}

// Problems returns every problem of the report, file by file.
func (r *Report) Problems() []Problem {
	var out []Problem
	for _, f := range r.Files {
		out = append(out, f.Problems...)
	}
	return out
}

// String renders the report for the steward: one line per problem, then a summary.
func (r *Report) String() string {
	var b strings.Builder
	for _, p := range r.Problems() {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%s: %d files, %d rows, %d errors, %d warnings, %s\n",
		r.Folder, len(r.Files), r.Rows, r.Errors, r.Warnings, r.Duration.Round(time.Millisecond))
	return b.String()
}

// ErrInvalid is returned (wrapped) when the folder failed validation; the
// Report lists the problems.
var ErrInvalid = errors.New("omop: folder failed validation")

// TierPath is the path of a tier's database for the base database dbPath.
func TierPath(dbPath string, tier datasets.Tier) string {
	return filepath.Join(filepath.Dir(dbPath), "tier_"+string(tier)+".duckdb")
}

// Import loads the OMOP folder into a new base database at dbPath
// (replacing the previous data, keeping the workspace's date-shift secret
// if dbPath already exists), validates it against the schema, and builds
// the tier databases of opts.Tiers (TierPath) from it; a tier database of
// another tier left from an earlier import is removed, being stale.
//
// It checks types, required fields, primary key uniqueness and foreign
// keys to person (errors, with line numbers), varchar lengths and concept
// ids missing from the vocabulary (warnings, with counts). On any error it
// returns the report and an error wrapping ErrInvalid, and leaves dbPath
// and the tier databases untouched. Nothing is renamed into place until
// everything has been built.
func Import(ctx context.Context, dbPath, folder string, opts Options) (*Report, error) {
	opts.defaults()
	start := time.Now()
	rep := &Report{Folder: folder, Tables: map[string]int64{}, Tiers: map[datasets.Tier]string{}}
	files, err := discover(folder, rep)
	if err != nil {
		return rep, err
	}
	secret, err := existingSecret(dbPath)
	if err != nil {
		return rep, err
	}
	if secret == "" {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return rep, fmt.Errorf("omop: secret: %w", err)
		}
		secret = hex.EncodeToString(b[:])
	}
	work, err := os.MkdirTemp(filepath.Dir(dbPath), ".import-")
	if err != nil {
		return rep, fmt.Errorf("omop: %w", err)
	}
	defer os.RemoveAll(work)
	tmpBase := filepath.Join(work, "base.duckdb")

	err = build(ctx, tmpBase, work, secret, files, rep, &opts)
	rep.tally()
	if err == nil && rep.Errors > 0 {
		err = fmt.Errorf("%w: %d errors in %s (first: %s)", ErrInvalid, rep.Errors, rep.Folder, firstError(rep))
	}
	if err != nil {
		rep.Duration = time.Since(start)
		return rep, err
	}
	tmpTiers := map[datasets.Tier]string{}
	for _, tier := range opts.Tiers {
		p := filepath.Join(work, "tier_"+string(tier)+".duckdb")
		if err := BuildTier(ctx, tmpBase, tier, p, TierOptions{AgeAsOf: opts.AgeAsOf, SmallGroup: opts.SmallGroup, Threads: opts.Threads, MemoryLimit: opts.MemoryLimit}); err != nil {
			return rep, err
		}
		tmpTiers[tier] = p
	}
	// Commit: tiers first, base last, so a crash in between leaves a base
	// that still matches the old tiers' secret (the secret never changes).
	// A write-ahead log left beside an old file would be replayed onto the
	// new one: remove it before the rename.
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
			return rep, err
		}
		rep.Tiers[tier] = dst
	}
	if err := install(tmpBase, dbPath); err != nil {
		return rep, err
	}
	// A tier not rebuilt would hold the previous data: remove it.
	for _, tier := range []datasets.Tier{datasets.Registered, datasets.Controlled} {
		if _, built := rep.Tiers[tier]; !built {
			os.Remove(TierPath(dbPath, tier))
			os.Remove(TierPath(dbPath, tier) + ".wal")
		}
	}
	rep.Duration = time.Since(start)
	return rep, nil
}

// duckConfig is the DSN suffix setting threads and memory_limit ("" for defaults).
func duckConfig(threads int, memory string) string {
	var kv []string
	if threads > 0 {
		kv = append(kv, fmt.Sprintf("threads=%d", threads))
	}
	if memory != "" {
		kv = append(kv, "memory_limit="+url.QueryEscape(memory))
	}
	if len(kv) == 0 {
		return ""
	}
	return "?" + strings.Join(kv, "&")
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

// discover lists the folder's files matched to tables, in load order:
// vocabulary first, then person, then the rest in schema order.
func discover(folder string, rep *Report) ([]sourceFile, error) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, fmt.Errorf("omop: import folder: %w", err)
	}
	var files []sourceFile
	seen := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
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
		t := LookupTable(strings.TrimSuffix(lower, ext))
		if t == nil {
			rep.Files = append(rep.Files, FileReport{File: name, Problems: []Problem{{
				Severity: SevWarning, File: name, Message: "not a CDM v5.3 or Fitbit table; ignored"}}})
			continue
		}
		if prev, dup := seen[t.Name]; dup {
			return nil, fmt.Errorf("omop: %s and %s both hold table %s", prev, name, t.Name)
		}
		seen[t.Name] = name
		files = append(files, sourceFile{path: filepath.Join(folder, name), name: name, table: t, parquet: ext == ".parquet"})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("omop: %s holds no OMOP table files (<table>.csv or <table>.parquet)", folder)
	}
	sort.SliceStable(files, func(i, j int) bool { return loadRank(files[i].table) < loadRank(files[j].table) })
	return files, nil
}

func loadRank(t *Table) int {
	if t.Name == "concept" {
		return 0
	}
	if IsVocabulary(t.Name) {
		return 1
	}
	if t.Name == "person" {
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

func build(ctx context.Context, path, work, secret string, files []sourceFile, rep *Report, opts *Options) error {
	dsn := path + duckConfig(opts.Threads, opts.MemoryLimit)
	db, err := sql.Open("duckdb", dsn)
	if err != nil {
		return fmt.Errorf("omop: create %s: %w", path, err)
	}
	defer db.Close()
	// One connection: reject tables of read_csv are per connection.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, DDL()); err != nil {
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
	for _, f := range all {
		if err := ctx.Err(); err != nil {
			return err
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
	// Whole-database checks: primary keys and unknown concepts.
	loaded := map[string]int{}
	for i, f := range rep.Files {
		if f.Table != "" {
			loaded[f.Table] = i
		}
	}
	for tname, i := range loaded {
		if countErrors(rep.Files[i].Problems) > 0 {
			continue
		}
		ps, err := l.tableChecks(ctx, LookupTable(tname), rep.Files[i].File)
		if err != nil {
			return err
		}
		rep.Files[i].Problems = append(rep.Files[i].Problems, ps...)
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
	if _, err := db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("omop: checkpoint: %w", err)
	}
	return nil
}

// tally counts the problems by severity.
func (r *Report) tally() {
	r.Errors, r.Warnings = 0, 0
	for _, f := range r.Files {
		for _, p := range f.Problems {
			if p.Severity == SevError {
				r.Errors++
			} else {
				r.Warnings++
			}
		}
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
// returns its column names and delimiter.
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
	delim := byte(',')
	if strings.Count(line, "\t") > strings.Count(line, ",") {
		delim = '\t'
	}
	parts := strings.Split(line, string(delim))
	for i, p := range parts {
		parts[i] = strings.ToLower(strings.Trim(strings.TrimSpace(p), `"`))
	}
	return parts, delim, nil
}

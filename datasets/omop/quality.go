package omop

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// Check levels: what a check's failure means.
const (
	// LevelError checks test what the CDM requires of every row and what
	// curation relies on: primary keys unique, required fields present,
	// every person_id a person. Over its threshold such a check fails; a
	// strict import refuses the folder.
	LevelError = "error"
	// LevelWarning checks test plausibility and references the tiers do
	// not depend on (concepts known to the vocabulary, visits, providers,
	// dates, text lengths). Over its threshold such a check warns.
	LevelWarning = "warning"
)

// Check statuses.
const (
	StatusPass = "pass"
	StatusFail = "fail" // an error-level check over its threshold
	StatusWarn = "warn" // a warning-level check over its threshold
)

// Check is one data-quality check of an import and its outcome, in the
// manner of the OHDSI Data Quality Dashboard: the check's name (DQD's
// names: isRequired, isPrimaryKey, isForeignKey, fkDomain, cdmDatatype,
// plausibleValueLow, plausibleValueHigh, plausibleStartBeforeEnd), the
// table and field, the rows that violate it out of the table's rows, the
// percentage, the threshold (the percentage of rows allowed to violate it)
// and the status. Checks run on every non-empty CDM and Fitbit table of the
// base database, not on the vocabulary.
type Check struct {
	Check       string   `json:"check"`
	Level       string   `json:"level"`
	Table       string   `json:"table"`
	Field       string   `json:"field,omitempty"`
	Refers      string   `json:"refers,omitempty"` // table.field a foreign key points to
	Rows        int64    `json:"rows"`             // rows violating the check
	Denominator int64    `json:"denominator"`      // rows checked (the table's rows)
	Pct         float64  `json:"pct"`              // 100 × Rows / Denominator
	Threshold   float64  `json:"threshold"`        // percent of rows allowed to violate the check
	Status      string   `json:"status"`           // pass, fail or warn
	Description string   `json:"description"`
	Keys        int64    `json:"keys,omitempty"`     // isPrimaryKey: key values held by more than one row
	Examples    []string `json:"examples,omitempty"` // a few offending key or concept ids (never other values)
}

// Name is the check's identity: check table.field.
func (c Check) Name() string {
	if c.Field == "" {
		return c.Check + " " + c.Table
	}
	return c.Check + " " + c.Table + "." + c.Field
}

// Quality is the data-quality report of an import: the source's files with
// their rows and file-level problems, the base tables' rows, every check,
// and for each tier built what it left out of each table and why. It is
// written as JSON to QualityPath beside the base database.
type Quality struct {
	Source   string           `json:"source"`
	Imported time.Time        `json:"imported"`
	AgeAsOf  string           `json:"age_as_of"`
	Files    []FileReport     `json:"files"`
	Tables   map[string]int64 `json:"tables"` // rows of every table of the base database
	Checks   []Check          `json:"checks"`
	Tiers    []TierReport     `json:"tiers"`
}

// Failed is the number of checks with status fail.
func (q *Quality) Failed() int { return q.count(StatusFail) }

// Warned is the number of checks with status warn.
func (q *Quality) Warned() int { return q.count(StatusWarn) }

func (q *Quality) count(status string) int {
	if q == nil {
		return 0
	}
	n := 0
	for _, c := range q.Checks {
		if c.Status == status {
			n++
		}
	}
	return n
}

// FailedChecks returns the checks with status fail.
func (q *Quality) FailedChecks() []Check {
	var out []Check
	for _, c := range q.Checks {
		if c.Status == StatusFail {
			out = append(out, c)
		}
	}
	return out
}

// Tier returns the report of tier name, or nil if it was not built.
func (q *Quality) Tier(name string) *TierReport {
	for i := range q.Tiers {
		if string(q.Tiers[i].Tier) == name {
			return &q.Tiers[i]
		}
	}
	return nil
}

// ReadQuality reads a report written by Import (QualityPath).
func ReadQuality(path string) (*Quality, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var q Quality
	if err := json.Unmarshal(b, &q); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &q, nil
}

func (q *Quality) write(path string) error {
	b, err := json.MarshalIndent(q, "", "  ")
	if err != nil {
		return fmt.Errorf("omop: quality report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("omop: quality report: %w", err)
	}
	return nil
}

// WriteText renders the report for the steward: a summary line, every
// check that did not pass (all checks if all is set), file problems, and
// what each tier left out.
func (q *Quality) WriteText(w io.Writer, all bool) {
	var b strings.Builder
	fmt.Fprintf(&b, "data quality of %s (imported %s)\n", q.Source, q.Imported.Format(time.RFC3339))
	for _, f := range q.Files {
		for _, p := range f.Problems {
			b.WriteString(p.String())
			b.WriteByte('\n')
		}
	}
	q.writeChecks(&b, all)
	q.writeTiers(&b)
	io.WriteString(w, b.String())
}

// writeSummary is the part of the import's report about quality: the
// checks that did not pass and what the tiers left out.
func (q *Quality) writeSummary(b *strings.Builder) {
	q.writeChecks(b, false)
	q.writeTiers(b)
}

func (q *Quality) writeChecks(b *strings.Builder, all bool) {
	pass := q.count(StatusPass)
	fmt.Fprintf(b, "data-quality checks: %d run, %d passed, %d failed, %d warnings\n", len(q.Checks), pass, q.Failed(), q.Warned())
	for _, c := range sortedChecks(q.Checks) {
		if c.Status == StatusPass && !all {
			continue
		}
		name := c.Table
		if c.Field != "" {
			name += "." + c.Field
		}
		if c.Refers != "" {
			name += " → " + c.Refers
		}
		fmt.Fprintf(b, "  %-4s %-24s %s: %d of %d rows (%s%%, threshold %g%%): %s",
			strings.ToUpper(c.Status), c.Check, name, c.Rows, c.Denominator, pctText(c.Pct), c.Threshold, c.Description)
		if len(c.Examples) > 0 {
			fmt.Fprintf(b, " (e.g. %s)", strings.Join(c.Examples, ", "))
		}
		b.WriteByte('\n')
	}
}

func pctText(p float64) string {
	switch {
	case p == 0:
		return "0"
	case p < 0.01:
		return "<0.01"
	}
	return fmt.Sprintf("%.2f", p)
}

func (q *Quality) writeTiers(b *strings.Builder) {
	for _, t := range q.Tiers {
		var rows int64
		for _, e := range t.Excluded {
			if e.Reason != ReasonNotInTier {
				rows += e.Rows
			}
		}
		fmt.Fprintf(b, "%s tier: %d rows of the base left out of the tables it holds\n", t.Tier, rows)
		for _, e := range t.Excluded {
			fmt.Fprintf(b, "  %-28s %10d rows  %s\n", e.Table, e.Rows, e.Detail)
		}
	}
}

// store writes the checks into the base database (table enclave_quality),
// where BuildTier reads which tables hold duplicate keys or unknown persons.
func (q *Quality) store(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE enclave_quality (check_name VARCHAR, level VARCHAR, table_name VARCHAR,
		field VARCHAR, rows BIGINT, denominator BIGINT, threshold DOUBLE, status VARCHAR, keys BIGINT)`); err != nil {
		return fmt.Errorf("omop: store quality: %w", err)
	}
	for _, c := range q.Checks {
		if _, err := db.ExecContext(ctx, `INSERT INTO enclave_quality VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Check, c.Level, c.Table, c.Field, c.Rows, c.Denominator, c.Threshold, c.Status, c.Keys); err != nil {
			return fmt.Errorf("omop: store quality: %w", err)
		}
	}
	return nil
}

// Kinds of checkSpec: how the rows violating it are counted.
const (
	kindRow     = iota // expr, true on a violating row: all of a table's in one scan
	kindFK             // col's value not in refTable.refField: an anti join of its own
	kindConcept        // col's concept id not in concept: on the column's distinct values
	kindDomain         // col's concept of another domain than domain: likewise
)

// checkSpec is one row-level check of a table, as SQL.
type checkSpec struct {
	check, level, field, refers, desc string
	threshold                         float64
	kind                              int
	expr                              string // kindRow: true when the row violates the check
	col                               string // quoted column of the other kinds
	refTable, refField, domain        string
}

// Date bounds of the plausibility checks, as the Data Quality Dashboard
// sets them: events on or after 1950-01-01, births on or after 1850.
const (
	plausibleEventLow = "1950-01-01"
	plausibleBirthLow = "1850-01-01"
)

// specsFor lists the row-level checks of table t.
func specsFor(t *Table, asOf time.Time) []checkSpec {
	var cs []checkSpec
	hasPerson := t.HasPerson()
	future := asOf.AddDate(0, 0, 1).Format("2006-01-02")
	for _, f := range t.Fields {
		c := quoteIdent(f.Name)
		name := strings.Trim(f.Name, `"`)
		if f.Required {
			cs = append(cs, checkSpec{check: "isRequired", level: LevelError, field: name, expr: c + " IS NULL",
				desc: "required field empty"})
		}
		switch {
		case f.FKTable == "person":
			cs = append(cs, checkSpec{check: "isForeignKey", level: LevelError, field: name, refers: "person.person_id",
				kind: kindFK, col: c, refTable: "person", refField: "person_id",
				desc: "person_id not in person: the tiers leave these rows out"})
		case f.IsConcept():
			cs = append(cs, checkSpec{check: "isForeignKey", level: LevelWarning, field: name, refers: "concept.concept_id",
				kind: kindConcept, col: c, desc: "concept id not in the vocabulary"})
			if f.FKDomain != "" {
				cs = append(cs, checkSpec{check: "fkDomain", level: LevelWarning, field: name, kind: kindDomain, col: c, domain: f.FKDomain,
					desc: "concept of another domain than " + f.FKDomain})
			}
		case f.FKTable != "" && f.FKField != "" && LookupTable(f.FKTable) != nil && !IsVocabulary(f.FKTable):
			cs = append(cs, checkSpec{check: "isForeignKey", level: LevelWarning, field: name, refers: f.FKTable + "." + f.FKField,
				kind: kindFK, col: c, refTable: f.FKTable, refField: f.FKField, desc: "id not in " + f.FKTable})
		}
		if n := f.MaxLen(); n > 0 {
			cs = append(cs, checkSpec{check: "cdmDatatype", level: LevelWarning, field: name,
				expr: fmt.Sprintf("length(%s) > %d", c, n), desc: lengthWhy(t, f, n)})
		}
		switch {
		case t.Name == "person" && f.Name == "year_of_birth":
			cs = append(cs,
				checkSpec{check: "plausibleValueLow", level: LevelWarning, field: name, threshold: 1, expr: c + " < 1850", desc: "year of birth before 1850"},
				checkSpec{check: "plausibleValueHigh", level: LevelWarning, field: name, threshold: 1,
					expr: fmt.Sprintf("%s > %d", c, asOf.Year()+1), desc: "year of birth in the future"})
		case t.Name == "person" && (f.Name == "month_of_birth" || f.Name == "day_of_birth"):
			hi := 12
			if f.Name == "day_of_birth" {
				hi = 31
			}
			cs = append(cs,
				checkSpec{check: "plausibleValueLow", level: LevelWarning, field: name, threshold: 1, expr: c + " < 1", desc: "below 1"},
				checkSpec{check: "plausibleValueHigh", level: LevelWarning, field: name, threshold: 1, expr: fmt.Sprintf("%s > %d", c, hi), desc: fmt.Sprintf("above %d", hi)})
		case hasPerson && f.IsDate():
			low, what := plausibleEventLow, "before 1950"
			if f.Name == "birth_datetime" {
				low, what = plausibleBirthLow, "before 1850"
			}
			cs = append(cs,
				checkSpec{check: "plausibleValueLow", level: LevelWarning, field: name, threshold: 1,
					expr: fmt.Sprintf("%s < DATE '%s'", c, low), desc: what},
				checkSpec{check: "plausibleValueHigh", level: LevelWarning, field: name, threshold: 1,
					expr: fmt.Sprintf("%s > DATE '%s'", c, future), desc: "in the future (after the day of import)"})
			if strings.HasSuffix(f.Name, "_start_date") {
				end := strings.Replace(f.Name, "start", "end", 1)
				if _, ok := t.Field(end); ok {
					th := 1.0
					if t.Name == "observation_period" {
						th = 0
					}
					cs = append(cs, checkSpec{check: "plausibleStartBeforeEnd", level: LevelWarning, field: name, threshold: th,
						expr: fmt.Sprintf("%s > %s", c, quoteIdent(end)), desc: "starts after " + end})
				}
			}
		}
	}
	return cs
}

// runChecks runs every check on every non-empty CDM and Fitbit table of the
// base database: one scan per table for the row-level checks, one grouping
// for primary key uniqueness, and a few examples for checks that did not pass.
func runChecks(ctx context.Context, db *sql.DB, rep *Report, opts *Options) (*Quality, error) {
	q := &Quality{Source: rep.Folder, Imported: time.Now().UTC().Truncate(time.Second), AgeAsOf: opts.AgeAsOf.Format("2006-01-02"),
		Tables: rep.Tables}
	for i := range Tables {
		t := &Tables[i]
		n := rep.Tables[t.Name]
		if n == 0 || IsVocabulary(t.Name) {
			continue
		}
		tq := quoteIdent(t.Name)
		if pk := pkField(t); pk != "" {
			var keys, rows sql.NullInt64
			unique, err := keysUnique(ctx, db, tq, quoteIdent(pk))
			if err != nil {
				return nil, fmt.Errorf("omop: check %s keys: %w", t.Name, err)
			}
			qs := fmt.Sprintf(`SELECT count(*), sum(n) FROM (SELECT count(*) AS n FROM %s WHERE %s IS NOT NULL GROUP BY %[2]s HAVING count(*) > 1)`, tq, quoteIdent(pk))
			if !unique {
				if err := db.QueryRowContext(ctx, qs).Scan(&keys, &rows); err != nil {
					return nil, fmt.Errorf("omop: check %s keys: %w", t.Name, err)
				}
			}
			c := Check{Check: "isPrimaryKey", Level: LevelError, Table: t.Name, Field: pk, Rows: rows.Int64, Denominator: n, Keys: keys.Int64,
				Description: "rows sharing their primary key with another row"}
			if keys.Int64 > 0 {
				c.Description = fmt.Sprintf("%d key values held by more than one row; the tiers keep one row per key", keys.Int64)
				ex, err := examples(ctx, db, fmt.Sprintf(`SELECT CAST(%[1]s AS VARCHAR) FROM %[2]s WHERE %[1]s IS NOT NULL GROUP BY %[1]s HAVING count(*) > 1 ORDER BY %[1]s LIMIT 5`, quoteIdent(pk), tq))
				if err != nil {
					return nil, fmt.Errorf("omop: check %s keys: %w", t.Name, err)
				}
				c.Examples = ex
			}
			q.Checks = append(q.Checks, c.judge())
		}
		specs := specsFor(t, opts.AgeAsOf)
		counts, err := countViolations(ctx, db, tq, specs)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("omop: check %s: %w", t.Name, err)
		}
		for i, s := range specs {
			c := Check{Check: s.check, Level: s.level, Table: t.Name, Field: s.field, Refers: s.refers, Rows: counts[i], Denominator: n,
				Threshold: s.threshold, Description: s.desc}
			c = c.judge()
			if ex := s.examplesSQL(tq); c.Status != StatusPass && ex != "" {
				if c.Examples, err = examples(ctx, db, ex); err != nil {
					return nil, fmt.Errorf("omop: check %s.%s: %w", t.Name, s.field, err)
				}
			}
			q.Checks = append(q.Checks, c)
		}
	}
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+conceptValues); err != nil {
		return nil, fmt.Errorf("omop: checks: %w", err)
	}
	for _, f := range rep.Files {
		q.Files = append(q.Files, f)
	}
	return q, nil
}

// countViolations counts the rows of table tq violating each spec. The
// plain predicates share one scan; each reference to another table is an
// anti join of its own (chaining them into that scan would carry every
// column through every join); concept ids are checked on the columns'
// distinct values, which are few: one grouping of every concept column of
// the table (grouping sets, one scan) into the temp table conceptValues,
// which the concept and domain checks and their examples then read.
func countViolations(ctx context.Context, db *sql.DB, tq string, specs []checkSpec) ([]int64, error) {
	counts := make([]int64, len(specs))
	var sel []string
	var ptrs []any
	for i, s := range specs {
		if s.kind == kindRow {
			sel = append(sel, "count(*) FILTER (WHERE "+s.expr+")")
			ptrs = append(ptrs, &counts[i])
		}
	}
	if len(sel) > 0 {
		if err := db.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+tq).Scan(ptrs...); err != nil {
			return nil, err
		}
	}
	if err := groupConcepts(ctx, db, tq, specs); err != nil {
		return nil, err
	}
	for i, s := range specs {
		var q string
		switch s.kind {
		case kindFK:
			q = fmt.Sprintf("SELECT count(*) FROM %s x ANTI JOIN %s y ON y.%s = x.%s WHERE x.%[4]s IS NOT NULL",
				tq, quoteIdent(s.refTable), quoteIdent(s.refField), s.col)
		case kindConcept, kindDomain:
			q = "SELECT coalesce(sum(n), 0) FROM " + s.conceptGroups()
		default:
			continue
		}
		if err := db.QueryRowContext(ctx, q).Scan(&counts[i]); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

// conceptValues is the temp table of (col, v, n): per concept column of the
// table being checked, its distinct non-zero values and their rows.
const conceptValues = "temp.enclave_concept_values"

// groupConcepts fills conceptValues for the concept columns of specs, in
// one scan of table tq.
func groupConcepts(ctx context.Context, db *sql.DB, tq string, specs []checkSpec) error {
	var cols []string
	seen := map[string]bool{}
	for _, s := range specs {
		if (s.kind == kindConcept || s.kind == kindDomain) && !seen[s.col] {
			seen[s.col] = true
			cols = append(cols, s.col)
		}
	}
	if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+conceptValues); err != nil {
		return err
	}
	if len(cols) == 0 {
		return nil
	}
	// One grouping set per column; grouping(c) = 0 marks the rows of c's set.
	var sets, cases []string
	for _, c := range cols {
		sets = append(sets, "("+c+")")
		cases = append(cases, fmt.Sprintf("WHEN grouping(%s) = 0 THEN %s", c, quoteString(c)))
	}
	var vals []string
	for _, c := range cols {
		vals = append(vals, fmt.Sprintf("WHEN grouping(%s) = 0 THEN CAST(%[1]s AS BIGINT)", c))
	}
	q := fmt.Sprintf("CREATE TEMP TABLE enclave_concept_values AS SELECT * FROM (SELECT CASE %s END AS col, CASE %s END AS v, count(*) AS n FROM %s GROUP BY GROUPING SETS (%s)) WHERE v IS NOT NULL AND v <> 0",
		strings.Join(cases, " "), strings.Join(vals, " "), tq, strings.Join(sets, ", "))
	_, err := db.ExecContext(ctx, q)
	return err
}

// conceptGroups is a relation (v, n) of the distinct non-zero concept ids
// of the spec's column that violate it, with their rows (from
// conceptValues, which groupConcepts filled for the spec's table).
func (s checkSpec) conceptGroups() string {
	cond := "v NOT IN (SELECT concept_id FROM concept WHERE concept_id IS NOT NULL)"
	if s.kind == kindDomain {
		cond = fmt.Sprintf("v IN (SELECT concept_id FROM concept WHERE domain_id <> %s)", quoteString(s.domain))
	}
	return fmt.Sprintf("(SELECT v, n FROM %s WHERE col = %s) g WHERE %s", conceptValues, quoteString(s.col), cond)
}

// examplesSQL lists a few offending ids of a reference check, "" for
// other checks (their values are not shown).
func (s checkSpec) examplesSQL(tq string) string {
	switch s.kind {
	case kindFK:
		return fmt.Sprintf("SELECT CAST(v AS VARCHAR) FROM (SELECT DISTINCT x.%s AS v FROM %s x ANTI JOIN %s y ON y.%s = x.%[1]s WHERE x.%[1]s IS NOT NULL) ORDER BY v LIMIT 5",
			s.col, tq, quoteIdent(s.refTable), quoteIdent(s.refField))
	case kindConcept, kindDomain:
		return "SELECT CAST(v AS VARCHAR) FROM " + s.conceptGroups() + " ORDER BY v LIMIT 5"
	}
	return ""
}

// lengthWhy describes the cdmDatatype check of a varchar(n) field.
func lengthWhy(t *Table, f Field, n int) string {
	if t.Name == "device_exposure" && f.Name == "unique_device_id" {
		return fmt.Sprintf("text longer than varchar(%d) (CDM v5.4 widened it to varchar(255); the whole value is loaded)", n)
	}
	return fmt.Sprintf("text longer than varchar(%d)", n)
}

// maxKeyBits bounds the bitmap keysUnique sets for an integer key: one bit
// per value between the smallest and largest key, 128 MiB at most.
const maxKeyBits = 1 << 30

// denseKeys is how many bits of bitmap per key keysUnique accepts: a
// bitmap costs in proportion to its span, a sort in proportion to the keys.
// Measured on the synthetic cohort of 100k persons, whose ids span 10^8
// values: seven tables of 0.1M-3.7M keys took 5.8 s in bitmaps and 1.5 s
// sorted (3.7M keys spanning 26 bits each: 1.37 s against 0.84 s); dense
// person ids, 0.08 s against 0.11 s.
const denseKeys = 8

// keysUnique reports whether the non-empty values of integer column col of
// table tq are all distinct. Keys that span at most denseKeys bits each
// (and at most maxKeyBits in all) are counted in a bitmap (bitstring_agg),
// one pass with no hash table; sparser keys are sorted and compared with
// their neighbours. Neither builds a hash table of every key, which at 10^7
// keys and more spills and costs several times as much. When the keys are
// not unique the caller groups them to count the duplicates.
func keysUnique(ctx context.Context, db *sql.DB, tq, col string) (bool, error) {
	var lo, hi sql.NullInt64
	var n int64
	if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT min(%[1]s), max(%[1]s), count(%[1]s) FROM %s", col, tq)).Scan(&lo, &hi, &n); err != nil {
		return false, err
	}
	if n == 0 {
		return true, nil
	}
	span := uint64(hi.Int64 - lo.Int64)
	if hi.Int64 >= lo.Int64 && span < maxKeyBits && span < denseKeys*uint64(n) {
		var distinct int64
		q := fmt.Sprintf("SELECT bit_count(bitstring_agg(%s, %d, %d)) FROM %s", col, lo.Int64, hi.Int64, tq)
		if err := db.QueryRowContext(ctx, q).Scan(&distinct); err != nil {
			return false, err
		}
		return distinct == n, nil
	}
	var repeats int64
	q := fmt.Sprintf("SELECT count(*) FROM (SELECT %[1]s AS k, lag(%[1]s) OVER (ORDER BY %[1]s) AS prev FROM %s WHERE %[1]s IS NOT NULL) WHERE k = prev", col, tq)
	if err := db.QueryRowContext(ctx, q).Scan(&repeats); err != nil {
		return false, err
	}
	return repeats == 0, nil
}

// judge sets the percentage and the status from the rows and the threshold.
func (c Check) judge() Check {
	if c.Denominator > 0 {
		c.Pct = 100 * float64(c.Rows) / float64(c.Denominator)
	}
	c.Status = StatusPass
	if c.Rows > 0 && c.Pct > c.Threshold {
		c.Status = StatusWarn
		if c.Level == LevelError {
			c.Status = StatusFail
		}
	}
	return c
}

func examples(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s.String)
	}
	return out, rows.Err()
}

// tableQuality is what BuildTier needs to know of the base's quality.
type tableQuality struct {
	dupRows    int64 // rows beyond the first of each duplicated key
	orphanRows int64 // rows whose person_id is empty or not in person
}

// readQuality reads the checks stored in a base database by Import. A base
// without them (an older import, which refused such rows) has none to report.
func readQuality(ctx context.Context, exec func(string) (*sql.Rows, error)) (map[string]tableQuality, int64, error) {
	out := map[string]tableQuality{}
	var noBirthYear int64
	rows, err := exec(`SELECT check_name, table_name, field, rows, keys FROM base.enclave_quality WHERE rows > 0`)
	if err != nil {
		if strings.Contains(err.Error(), "enclave_quality") {
			return out, 0, nil
		}
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var check, table, field string
		var n, keys int64
		if err := rows.Scan(&check, &table, &field, &n, &keys); err != nil {
			return nil, 0, err
		}
		tq := out[table]
		switch {
		case check == "isPrimaryKey":
			tq.dupRows = n - keys
		case field == "person_id" && (check == "isRequired" || check == "isForeignKey"):
			tq.orphanRows += n
		case table == "person" && field == "year_of_birth" && check == "isRequired":
			noBirthYear = n
		}
		out[table] = tq
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	return out, noBirthYear, nil
}

// sortedChecks returns the checks failed first, then warnings, then
// passed, each in table order.
func sortedChecks(cs []Check) []Check {
	out := append([]Check(nil), cs...)
	rank := map[string]int{StatusFail: 0, StatusWarn: 1, StatusPass: 2}
	sort.SliceStable(out, func(i, j int) bool { return rank[out[i].Status] < rank[out[j].Status] })
	return out
}

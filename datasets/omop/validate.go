package omop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// loader loads one file at a time into the base database.
type loader struct {
	db   *sql.DB
	opts *Options
}

// column is one schema field and where its value comes from in the file.
type column struct {
	field   Field
	src     string // SQL reference to the source column, "" when the file lacks it
	srcType string // DuckDB type of a typed (Parquet) source column; "" for text
	header  string // the column's name in the file
}

// value is the normalised source value (text: empty → NULL).
func (c column) value() string {
	if c.srcType != "" {
		return c.src
	}
	if strings.HasPrefix(c.field.CDMType, "varchar") {
		return "NULLIF(" + c.src + ", '')"
	}
	return "NULLIF(trim(" + c.src + "), '')"
}

// conv is the SQL converting the source to the field's DuckDB type; NULL
// when the value does not parse.
func (c column) conv() string {
	v := c.value()
	t := c.field.DuckDBType()
	switch {
	case c.srcType == t:
		return v
	case c.srcType != "":
		return "TRY_CAST(" + v + " AS " + t + ")"
	}
	switch t {
	case "DATE":
		return fmt.Sprintf("COALESCE(TRY_CAST(%[1]s AS DATE), CAST(TRY_CAST(%[1]s AS TIMESTAMP) AS DATE), CAST(TRY_STRPTIME(%[1]s, '%%Y%%m%%d') AS DATE))", v)
	case "TIMESTAMP":
		return fmt.Sprintf("COALESCE(TRY_CAST(%[1]s AS TIMESTAMP), TRY_STRPTIME(%[1]s, '%%Y%%m%%d'))", v)
	case "VARCHAR":
		return v
	}
	return "TRY_CAST(" + v + " AS " + t + ")"
}

// bad is the SQL that is true when the source value is present but does not
// parse as the field's type ("" when every value converts).
func (c column) bad() string {
	t := c.field.DuckDBType()
	if c.src == "" || t == "VARCHAR" || c.srcType == t {
		return ""
	}
	v, conv := c.value(), c.conv()
	switch {
	case (t == "INTEGER" || t == "BIGINT") && c.srcType != "INTEGER" && c.srcType != "BIGINT" && c.srcType != "SMALLINT":
		// TRY_CAST rounds 2.5 to 3: reject fractions.
		return fmt.Sprintf("(%s IS NOT NULL AND (%s IS NULL OR TRY_CAST(%s AS DOUBLE) <> %s))", v, conv, v, conv)
	}
	return fmt.Sprintf("(%s IS NOT NULL AND %s IS NULL)", v, conv)
}

// parseMarker is the text of the error the load raises at the first value
// that does not parse; the error path then lists the lines.
const parseMarker = "enclave: value does not parse"

// loadExpr is the value inserted into the base table: the converted value,
// or an error stopping the load when the value does not parse.
func (c column) loadExpr() string {
	bad := c.bad()
	if bad == "" {
		return c.conv()
	}
	return fmt.Sprintf("CASE WHEN %s THEN error('%s') ELSE %s END", bad, parseMarker, c.conv())
}

func typeWord(f Field) string {
	switch f.DuckDBType() {
	case "INTEGER", "BIGINT":
		return "an integer"
	case "DOUBLE":
		return "a number"
	case "DATE":
		return "a date (YYYY-MM-DD)"
	case "TIMESTAMP":
		return "a datetime (YYYY-MM-DD HH:MM:SS)"
	}
	return "text"
}

// source describes how to read one file.
type source struct {
	from      string // SQL table expression for the file (CSV: rejects stored)
	fromLines string // the same with a row number column (Parquet) for the error path
	lineSQL   string // SQL for the 1-based line (CSV) or row (Parquet) of a row of fromLines
	cols      []column
	extra     []column // file columns with no field in the table (src and header set)
	aliases   map[string]string
}

// legacyNames maps column names of older CDM v5.3 exports to the
// specification's: v5.3.0's DDL misspelt cost.revenue_code_source_value.
var legacyNames = map[string]string{
	"reveue_code_source_value": "revenue_code_source_value",
}

// fieldByName finds the table's field for a file's column name: by name
// (the specification writes some names quoted, e.g. "offset"), then by the
// CDM v5.4 → v5.3 renames, then by legacy spellings. renamed is the v5.3
// name when a rename applied.
func fieldByName(t *Table, name string) (f Field, renamed bool, ok bool) {
	for _, fld := range t.Fields {
		if strings.Trim(fld.Name, `"`) == name {
			return fld, false, true
		}
	}
	for _, m := range []map[string]string{v54Renames, legacyNames} {
		if r, has := m[name]; has {
			if fld, found := t.Field(r); found {
				return fld, true, true
			}
		}
	}
	return Field{}, false, false
}

// describe reads the file's header (CSV) or schema (Parquet) and maps its
// columns to the table's fields. Header problems (a column twice, a
// required column missing) are errors added to fr.
func (l *loader) describe(ctx context.Context, f sourceFile, fr *FileReport) (*source, error) {
	var names []string // lower-case
	var refs []string  // SQL reference per column
	var types []string // "" for text
	src := &source{aliases: map[string]string{}}
	if f.parquet {
		src.from = fmt.Sprintf("read_parquet(%s)", quoteString(f.path))
		src.fromLines = fmt.Sprintf("read_parquet(%s, file_row_number=true)", quoteString(f.path))
		src.lineSQL = "s.file_row_number + 1"
		rows, err := l.db.QueryContext(ctx, "DESCRIBE SELECT * FROM "+src.from)
		if err != nil {
			return nil, fmt.Errorf("read schema: %s", firstLine(err.Error()))
		}
		defer rows.Close()
		for rows.Next() {
			var name, typ string
			var n1, n2, n3, n4 sql.NullString
			if err := rows.Scan(&name, &typ, &n1, &n2, &n3, &n4); err != nil {
				return nil, fmt.Errorf("read schema: %w", err)
			}
			names = append(names, strings.ToLower(name))
			refs = append(refs, "s."+quoteIdent(name))
			if typ == "VARCHAR" {
				typ = ""
			}
			types = append(types, typ)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
	} else {
		hdr, delim, err := csvHeader(f.path)
		if err != nil {
			return nil, fmt.Errorf("read header: %w", err)
		}
		var spec []string
		for i, h := range hdr {
			alias := fmt.Sprintf("c%d", i)
			spec = append(spec, fmt.Sprintf("'%s': 'VARCHAR'", alias))
			names = append(names, h)
			refs = append(refs, "s."+alias)
			types = append(types, "")
			src.aliases[alias] = h
		}
		csv := fmt.Sprintf("read_csv(%s, header=true, auto_detect=false, delim=%s, quote='\"', escape='\"', columns={%s}",
			quoteString(f.path), quoteString(string(delim)), strings.Join(spec, ", "))
		src.from = csv + ", store_rejects=true)"
		src.fromLines = csv + ")"
		src.lineSQL = "row_number() OVER () + 1"
	}
	byField := map[string]int{}
	var renamed []string
	for i, n := range names {
		fld, ren, ok := fieldByName(f.table, n)
		if !ok {
			src.extra = append(src.extra, column{src: refs[i], srcType: types[i], header: n, field: Field{Name: n, CDMType: "varchar(max)"}})
			continue
		}
		if _, dup := byField[fld.Name]; dup {
			fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Line: 1, Column: fld.Name, Message: "column appears twice in the header"})
			continue
		}
		if ren {
			renamed = append(renamed, n+" → "+fld.Name)
		}
		byField[fld.Name] = i
	}
	if len(renamed) > 0 {
		fr.Problems = append(fr.Problems, Problem{Severity: SevNote, File: f.name, Line: 1,
			Message: "columns loaded under their CDM v5.3 names: " + strings.Join(renamed, ", ")})
	}
	for _, fld := range f.table.Fields {
		c := column{field: fld}
		if i, ok := byField[fld.Name]; ok {
			c.src, c.srcType, c.header = refs[i], types[i], names[i]
		} else if fld.Required && (fld.PrimaryKey || fld.Name == "person_id" || !IsVocabulary(f.table.Name)) {
			fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Line: 1, Column: fld.Name, Message: "required column missing from the header"})
		}
		src.cols = append(src.cols, c)
	}
	if len(byField) == 0 {
		fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Line: 1,
			Message: fmt.Sprintf("no column of the header is a field of the %s table", f.table.Name)})
	}
	return src, nil
}

// dropRejects clears read_csv's reject tables, which are per connection
// and accumulate.
func (l *loader) dropRejects(ctx context.Context) error {
	for _, t := range []string{"reject_errors", "reject_scans"} {
		if _, err := l.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
			return fmt.Errorf("omop: %w", err)
		}
	}
	return nil
}

// load reads one file into its table in a single streamed pass. Every row
// is kept; a value that does not parse stops the load, and the file's
// failing lines are then listed (the error path scans the file again).
func (l *loader) load(ctx context.Context, f sourceFile) (FileReport, error) {
	fr := FileReport{File: f.name, Table: f.table.Name}
	fail := func(msg string) (FileReport, error) {
		fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Message: msg})
		return fr, nil
	}
	src, err := l.describe(ctx, f, &fr)
	if err != nil {
		return fail(err.Error())
	}
	if countErrors(fr.Problems) > 0 {
		return fr, nil
	}
	if !f.parquet {
		if err := l.dropRejects(ctx); err != nil {
			return fr, err
		}
	}
	var cols, exprs []string
	for _, c := range src.cols {
		if c.src == "" {
			continue
		}
		cols = append(cols, quoteIdent(c.field.Name))
		exprs = append(exprs, c.loadExpr())
	}
	t := quoteIdent(f.table.Name)
	selectSQL := "SELECT " + strings.Join(exprs, ", ") + " FROM " + src.from + " s"
	colList := strings.Join(cols, ", ")
	var n int64
	if !IsVocabulary(f.table.Name) || f.vocab {
		res, err := l.db.ExecContext(ctx, "INSERT INTO "+t+" ("+colList+") "+selectSQL)
		if err == nil {
			n, err = res.RowsAffected()
		}
		if err != nil {
			return l.loadFailed(ctx, f, src, &fr, err)
		}
	} else {
		// The folder's vocabulary rows replace the default vocabulary's on key.
		if _, err := l.db.ExecContext(ctx, "CREATE OR REPLACE TEMP TABLE incoming AS SELECT * FROM ("+selectSQL+") AS x("+colList+")"); err != nil {
			return l.loadFailed(ctx, f, src, &fr, err)
		}
		defer l.db.ExecContext(ctx, "DROP TABLE IF EXISTS incoming")
		var merged int64
		var stmts []string
		if pk := pkField(f.table); pk != "" {
			q := quoteIdent(pk)
			if err := l.db.QueryRowContext(ctx, "SELECT count(*), count(*) - count(DISTINCT "+q+") FROM incoming").Scan(&n, &merged); err != nil {
				return fr, fmt.Errorf("omop: %s: %w", f.name, err)
			}
			stmts = []string{
				"DELETE FROM " + t + " WHERE " + q + " IN (SELECT " + q + " FROM incoming)",
				"INSERT INTO " + t + " (" + colList + ") SELECT DISTINCT ON (" + q + ") * FROM incoming",
			}
		} else {
			if err := l.db.QueryRowContext(ctx, "SELECT count(*), count(*) - (SELECT count(*) FROM (SELECT DISTINCT * FROM incoming)) FROM incoming").Scan(&n, &merged); err != nil {
				return fr, fmt.Errorf("omop: %s: %w", f.name, err)
			}
			stmts = []string{"INSERT INTO " + t + " (" + colList + ") SELECT * FROM incoming EXCEPT SELECT " + colList + " FROM " + t}
		}
		for _, q := range stmts {
			if _, err := l.db.ExecContext(ctx, q); err != nil {
				return fail("merge into the vocabulary failed: " + firstLine(err.Error()))
			}
		}
		if merged > 0 {
			fr.Problems = append(fr.Problems, Problem{Severity: SevWarning, File: f.name, Count: merged,
				Message: "vocabulary rows repeating another row's key (or the whole row) were merged into one"})
		}
	}
	fr.Rows = n
	if !f.parquet {
		if rejected, err := l.rejects(ctx, f, src, &fr); err != nil || rejected > 0 {
			return fr, err
		}
	}
	if len(src.extra) > 0 && !f.vocab {
		if err := l.extraValues(ctx, f, src, &fr); err != nil {
			return fr, err
		}
	}
	return fr, nil
}

// loadFailed handles an error of the load statement: a value that does
// not parse (its lines are listed), malformed CSV (its lines are listed),
// or anything else (reported without the engine's text beyond its first
// line, which names no row value).
func (l *loader) loadFailed(ctx context.Context, f sourceFile, src *source, fr *FileReport, err error) (FileReport, error) {
	if ctx.Err() != nil {
		return *fr, ctx.Err()
	}
	if !strings.Contains(err.Error(), parseMarker) {
		if !f.parquet {
			if n, rerr := l.rejects(ctx, f, src, fr); rerr != nil || n > 0 {
				return *fr, rerr
			}
		}
		fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Message: "cannot read file: " + firstLine(err.Error())})
		return *fr, nil
	}
	return *fr, l.listParseErrors(ctx, f, src, fr)
}

// listParseErrors scans the file again (the error path only) for the
// values that do not parse, and lists them by line and column with the
// offending value, no other value of the row. Malformed lines found on
// the way are listed instead, as line numbers after them would be off.
func (l *loader) listParseErrors(ctx context.Context, f sourceFile, src *source, fr *FileReport) error {
	var bad []column
	for _, c := range src.cols {
		if c.bad() != "" {
			bad = append(bad, c)
		}
	}
	if len(bad) == 0 {
		fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Message: "a value does not parse"})
		return nil
	}
	counts := make([]int64, len(bad))
	var sel []string
	ptrs := make([]any, len(bad))
	for i, c := range bad {
		sel = append(sel, "count(*) FILTER (WHERE "+c.bad()+")")
		ptrs[i] = &counts[i]
	}
	if !f.parquet {
		if err := l.dropRejects(ctx); err != nil {
			return err
		}
	}
	if err := l.db.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+src.from+" s").Scan(ptrs...); err != nil {
		return fmt.Errorf("omop: %s: list values that do not parse: %s", f.name, firstLine(err.Error()))
	}
	if !f.parquet {
		if n, err := l.rejects(ctx, f, src, fr); err != nil || n > 0 {
			return err
		}
	}
	// Line numbers need the file's order.
	if _, err := l.db.ExecContext(ctx, "SET preserve_insertion_order = true"); err != nil {
		return fmt.Errorf("omop: %w", err)
	}
	defer l.db.ExecContext(ctx, "SET preserve_insertion_order = false")
	var flags, where []string
	for _, c := range bad {
		flags = append(flags, fmt.Sprintf("CASE WHEN %s THEN CAST(%s AS VARCHAR) END", c.bad(), c.value()))
		where = append(where, c.bad())
	}
	q := fmt.Sprintf("SELECT _line, %s FROM (SELECT %s AS _line, * FROM %s s) s WHERE %s ORDER BY _line LIMIT %d",
		strings.Join(flags, ", "), src.lineSQL, src.fromLines, strings.Join(where, " OR "), l.opts.MaxProblems)
	rows, err := l.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("omop: %s: list values that do not parse: %s", f.name, firstLine(err.Error()))
	}
	defer rows.Close()
	listed := make([]int64, len(bad))
	for rows.Next() {
		var line int64
		vals := make([]sql.NullString, len(bad))
		ptrs := []any{&line}
		for i := range vals {
			ptrs = append(ptrs, &vals[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("omop: %s: list values that do not parse: %w", f.name, err)
		}
		for i, v := range vals {
			if v.Valid {
				listed[i]++
				fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Line: line, Column: bad[i].header,
					Message: fmt.Sprintf("value %s is not %s", quoteValue(v.String), typeWord(bad[i].field))})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("omop: %s: list values that do not parse: %w", f.name, err)
	}
	for i, c := range bad {
		if more := counts[i] - listed[i]; more > 0 {
			fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Column: c.header, Count: more,
				Message: fmt.Sprintf("more values that are not %s, not listed", typeWord(c.field))})
		}
	}
	return nil
}

// quoteValue quotes a value for a message, clipped to 40 characters.
func quoteValue(s string) string {
	if r := []rune(s); len(r) > 40 {
		s = string(r[:40]) + "…"
	}
	return strconv.Quote(s)
}

// extraValues reports the file's columns that have no field in the table
// (CDM v5.4 additions, misspellings): how many non-empty values each holds
// that were not loaded.
func (l *loader) extraValues(ctx context.Context, f sourceFile, src *source, fr *FileReport) error {
	var sel []string
	for _, c := range src.extra {
		sel = append(sel, "count("+c.value()+")")
	}
	counts := make([]int64, len(src.extra))
	ptrs := make([]any, len(counts))
	for i := range counts {
		ptrs[i] = &counts[i]
	}
	if err := l.db.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+src.fromLines+" s").Scan(ptrs...); err != nil {
		return fmt.Errorf("omop: %s: count values of columns not loaded: %s", f.name, firstLine(err.Error()))
	}
	var empty []string
	for i, c := range src.extra {
		if counts[i] == 0 {
			empty = append(empty, c.header)
			continue
		}
		fr.Problems = append(fr.Problems, Problem{Severity: SevWarning, File: f.name, Line: 1, Column: c.header, Count: counts[i],
			Message: fmt.Sprintf("%s: non-empty values not loaded", extraWhy(f.table, c.header))})
	}
	if len(empty) > 0 {
		sort.Strings(empty)
		fr.Problems = append(fr.Problems, Problem{Severity: SevNote, File: f.name, Line: 1,
			Message: fmt.Sprintf("columns with no field in the CDM v5.3 %s table, all empty, not loaded: %s", f.table.Name, strings.Join(empty, ", "))})
	}
	return nil
}

// v54Added are the fields CDM v5.4 added to tables v5.3 also has, per the
// OHDSI "changes from CDM v5.3" page; v5.3 has no place for their values.
var v54Added = map[string]bool{
	"procedure_occurrence.procedure_end_date": true, "procedure_occurrence.procedure_end_datetime": true,
	"device_exposure.production_id": true, "device_exposure.unit_concept_id": true,
	"device_exposure.unit_source_value": true, "device_exposure.unit_source_concept_id": true,
	"measurement.unit_source_concept_id": true, "measurement.measurement_event_id": true, "measurement.meas_event_field_concept_id": true,
	"observation.observation_event_id": true, "observation.obs_event_field_concept_id": true,
	"note.note_event_id": true, "note.note_event_field_concept_id": true,
	"location.country_concept_id": true, "location.country_source_value": true, "location.latitude": true, "location.longitude": true,
	"metadata.metadata_id": true, "metadata.value_as_number": true,
	"cdm_source.cdm_version_concept_id": true,
}

func extraWhy(t *Table, col string) string {
	if v54Added[t.Name+"."+col] {
		return "CDM v5.4 field with no CDM v5.3 field"
	}
	return "column with no field in the " + t.Name + " table"
}

// countRows counts the data rows of a file of a table the schema does not hold.
func (l *loader) countRows(ctx context.Context, f sourceFile) (int64, error) {
	from := fmt.Sprintf("read_parquet(%s)", quoteString(f.path))
	if !f.parquet {
		hdr, delim, err := csvHeader(f.path)
		if err != nil {
			return 0, err
		}
		var spec []string
		for i := range hdr {
			spec = append(spec, fmt.Sprintf("'c%d': 'VARCHAR'", i))
		}
		from = fmt.Sprintf("read_csv(%s, header=true, auto_detect=false, delim=%s, quote='\"', escape='\"', columns={%s}, ignore_errors=true)",
			quoteString(f.path), quoteString(string(delim)), strings.Join(spec, ", "))
	}
	var n int64
	if err := l.db.QueryRowContext(ctx, "SELECT count(*) FROM "+from).Scan(&n); err != nil {
		return 0, errors.New(firstLine(err.Error()))
	}
	return n, nil
}

func pkField(t *Table) string {
	for _, f := range t.Fields {
		if f.PrimaryKey {
			return f.Name
		}
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// rejects reports structural CSV errors (wrong column count, unterminated
// quotes, bytes that are not UTF-8) recorded by read_csv's store_rejects,
// by line and column, without the line's content.
func (l *loader) rejects(ctx context.Context, f sourceFile, src *source, fr *FileReport) (int64, error) {
	var n int64
	if err := l.db.QueryRowContext(ctx, "SELECT count(DISTINCT line) FROM reject_errors").Scan(&n); err != nil {
		if strings.Contains(err.Error(), "does not exist") {
			return 0, nil
		}
		return 0, fmt.Errorf("omop: read rejects: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	// One problem per line: a short line is reported once, not per missing column.
	rows, err := l.db.QueryContext(ctx, fmt.Sprintf(`SELECT line, min(error_type), min(column_name) FROM reject_errors
		GROUP BY line ORDER BY line LIMIT %d`, l.opts.MaxProblems))
	if err != nil {
		return 0, fmt.Errorf("omop: read rejects: %w", err)
	}
	defer rows.Close()
	var listed int64
	for rows.Next() {
		var line int64
		var col sql.NullString
		var typ string
		if err := rows.Scan(&line, &typ, &col); err != nil {
			return 0, fmt.Errorf("omop: read rejects: %w", err)
		}
		listed++
		column := src.aliases[col.String]
		if typ == "MISSING COLUMNS" || typ == "TOO MANY COLUMNS" {
			column = ""
		}
		fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Line: line, Column: column,
			Message: strings.ToLower(typ) + ": " + rejectWhy(typ)})
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("omop: read rejects: %w", err)
	}
	if n > listed {
		fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Message: "more malformed lines, not listed", Count: n - listed})
	}
	return n, nil
}

func rejectWhy(typ string) string {
	switch typ {
	case "MISSING COLUMNS":
		return "fewer fields than the header (truncated or damaged file?)"
	case "TOO MANY COLUMNS":
		return "more fields than the header (another delimiter, or a separator in an unquoted value?)"
	case "UNQUOTED VALUE":
		return "a quote inside an unquoted value, or a quoted value not closed (truncated file?)"
	case "INVALID ENCODING", "INVALID UNICODE":
		return "bytes that are not UTF-8 text (export the file as UTF-8)"
	case "LINE SIZE OVER MAXIMUM":
		return "a line longer than the reader's maximum (a quote not closed?)"
	}
	return "malformed line"
}

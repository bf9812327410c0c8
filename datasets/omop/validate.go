package omop

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// loader loads and validates one file at a time into the base database.
type loader struct {
	db   *sql.DB
	opts *Options
}

// column is one schema field and where its value comes from in the file.
type column struct {
	field Field
	src   string // quoted source column, "" when the file lacks it
	typed bool   // the source is already typed (Parquet, non-VARCHAR)
}

// check is one validation predicate evaluated per row.
type check struct {
	sev    Severity
	column string
	msg    string
	expr   string // SQL boolean: true when the row fails
}

// value is the normalised source text (empty → NULL).
func (c column) value() string {
	if c.typed {
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
	if c.typed {
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
	from    string // SQL table expression for the file
	lineSQL string // SQL for the 1-based line (CSV) or row (Parquet) of a row
	cols    []column
}

// describe reads the file's header (CSV) or schema (Parquet) and maps its
// columns to the table's fields.
func (l *loader) describe(ctx context.Context, f sourceFile, fr *FileReport, rejects bool) (*source, error) {
	var names []string // lower-case, renamed to v5.3
	var refs []string  // SQL reference per column
	var typed []bool
	src := &source{}
	if f.parquet {
		src.from = fmt.Sprintf("read_parquet(%s, file_row_number=true)", quoteString(f.path))
		rows, err := l.db.QueryContext(ctx, "DESCRIBE SELECT * FROM "+src.from)
		if err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var name, typ string
			var n1, n2, n3, n4 sql.NullString
			if err := rows.Scan(&name, &typ, &n1, &n2, &n3, &n4); err != nil {
				return nil, fmt.Errorf("read schema: %w", err)
			}
			if name == "file_row_number" {
				continue
			}
			names = append(names, strings.ToLower(name))
			refs = append(refs, "s."+quoteIdent(name))
			typed = append(typed, typ != "VARCHAR")
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		src.lineSQL = "s.file_row_number + 1"
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
			typed = append(typed, false)
		}
		opt := ""
		if rejects {
			opt = ", store_rejects=true"
		}
		src.from = fmt.Sprintf("read_csv(%s, header=true, auto_detect=false, delim=%s, quote='\"', escape='\"', columns={%s}%s)",
			quoteString(f.path), quoteString(string(delim)), strings.Join(spec, ", "), opt)
		src.lineSQL = "row_number() OVER () + 1"
	}
	byField := map[string]int{}
	var extra []string
	for i, n := range names {
		if r, ok := v54Renames[n]; ok {
			if _, has := f.table.Field(n); !has {
				n = r
			}
		}
		if _, ok := f.table.Field(n); !ok {
			extra = append(extra, names[i])
			continue
		}
		if _, dup := byField[n]; dup {
			fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Line: 1, Column: n, Message: "column appears twice in the header"})
			continue
		}
		byField[n] = i
	}
	if len(extra) > 0 {
		fr.Problems = append(fr.Problems, Problem{Severity: SevWarning, File: f.name, Line: 1,
			Message: fmt.Sprintf("columns not in the %s table ignored: %s", f.table.Name, strings.Join(extra, ", "))})
	}
	for _, fld := range f.table.Fields {
		c := column{field: fld}
		if i, ok := byField[fld.Name]; ok {
			c.src, c.typed = refs[i], typed[i]
		} else if fld.Required {
			fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Line: 1, Column: fld.Name, Message: "required column missing from the header"})
		}
		src.cols = append(src.cols, c)
	}
	return src, nil
}

// checks lists the per-row validation predicates of a file.
func (l *loader) checks(f sourceFile, src *source) []check {
	var cs []check
	for _, c := range src.cols {
		if c.src == "" {
			continue
		}
		v, conv := c.value(), c.conv()
		fld := c.field
		if fld.DuckDBType() != "VARCHAR" {
			bad := fmt.Sprintf("(%s IS NOT NULL AND %s IS NULL)", v, conv)
			if t := fld.DuckDBType(); t == "INTEGER" || t == "BIGINT" { // TRY_CAST rounds 2.5 to 3: reject fractions
				bad = fmt.Sprintf("(%s IS NOT NULL AND (%s IS NULL OR TRY_CAST(%s AS DOUBLE) <> %s))", v, conv, v, conv)
			}
			cs = append(cs, check{SevError, fld.Name, "value is not " + typeWord(fld), bad})
		}
		if fld.Required {
			sev := SevError
			if IsVocabulary(f.table.Name) {
				sev = SevWarning // real vocabulary exports leave some required fields empty
			}
			cs = append(cs, check{sev, fld.Name, "required value is empty", v + " IS NULL"})
		}
		if n := fld.MaxLen(); n > 0 && !f.vocab {
			cs = append(cs, check{SevWarning, fld.Name, fmt.Sprintf("text longer than the specification's %d characters", n),
				fmt.Sprintf("length(CAST(%s AS VARCHAR)) > %d", v, n)})
		}
		if fld.Name == "person_id" && f.table.Name != "person" {
			cs = append(cs, check{SevError, fld.Name, "person_id not in the person table",
				fmt.Sprintf("(%[1]s IS NOT NULL AND %[1]s NOT IN (SELECT person_id FROM person))", conv)})
		}
	}
	return cs
}

// load validates one file and, when it has no errors, loads it.
func (l *loader) load(ctx context.Context, f sourceFile) (FileReport, error) {
	fr := FileReport{File: f.name, Table: f.table.Name}
	fail := func(msg string) (FileReport, error) {
		fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Message: msg})
		return fr, nil
	}
	src, err := l.describe(ctx, f, &fr, !f.parquet)
	if err != nil {
		return fail(err.Error())
	}
	if countErrors(fr.Problems) > 0 {
		return fr, nil
	}
	if !f.parquet {
		// Reject tables are per connection and accumulate; start clean.
		for _, t := range []string{"reject_errors", "reject_scans"} {
			if _, err := l.db.ExecContext(ctx, "DROP TABLE IF EXISTS "+t); err != nil {
				return fr, fmt.Errorf("omop: %w", err)
			}
		}
	}
	var cs []check
	if !f.vocab { // the embedded default vocabulary is trusted and large: load it unchecked
		cs = l.checks(f, src)
	}
	// Pass 1: count rows and failures of every check in one scan.
	sel := []string{"count(*)"}
	for _, c := range cs {
		sel = append(sel, "count(*) FILTER (WHERE "+c.expr+")")
	}
	counts := make([]int64, len(sel))
	ptrs := make([]any, len(sel))
	for i := range counts {
		ptrs[i] = &counts[i]
	}
	if err := l.db.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+src.from+" s").Scan(ptrs...); err != nil {
		if ctx.Err() != nil {
			return fr, ctx.Err()
		}
		return fail("cannot read file: " + firstLine(err.Error()))
	}
	fr.Rows = counts[0]
	if !f.parquet {
		n, err := l.rejects(ctx, f, &fr)
		if err != nil {
			return fr, err
		}
		if n > 0 {
			return fr, nil // structural errors: line numbers of later checks would be off
		}
	}
	var failing []int
	for i, c := range cs {
		n := counts[i+1]
		if n == 0 {
			continue
		}
		if c.sev == SevWarning {
			fr.Problems = append(fr.Problems, Problem{Severity: SevWarning, File: f.name, Column: c.column, Message: c.msg, Count: n})
			continue
		}
		failing = append(failing, i)
	}
	keep := ""
	if len(failing) > 0 {
		if !l.opts.DropInvalidRows || f.vocab {
			return fr, l.listLines(ctx, f, src, cs, failing, counts[1:], &fr, SevError)
		}
		if err := l.listLines(ctx, f, src, cs, failing, counts[1:], &fr, SevWarning); err != nil {
			return fr, err
		}
		var bad []string
		for _, i := range failing {
			bad = append(bad, cs[i].expr)
		}
		keep = " WHERE NOT coalesce(" + strings.Join(bad, " OR ") + ", false)"
	}
	// Pass 2: load.
	var cols, convs []string
	for _, c := range src.cols {
		if c.src == "" {
			continue
		}
		cols = append(cols, quoteIdent(c.field.Name))
		convs = append(convs, c.conv())
	}
	from := strings.Replace(src.from, ", store_rejects=true", "", 1)
	t := quoteIdent(f.table.Name)
	selectSQL := "SELECT " + strings.Join(convs, ", ") + " FROM " + from + " s" + keep
	var stmts []string
	switch {
	case !IsVocabulary(f.table.Name) || f.vocab:
		stmts = []string{"INSERT INTO " + t + " (" + strings.Join(cols, ", ") + ") " + selectSQL}
	case pkField(f.table) != "":
		// The folder's rows replace the default vocabulary's on key.
		pk := quoteIdent(pkField(f.table))
		stmts = []string{
			"CREATE TEMP TABLE incoming AS SELECT * FROM (" + selectSQL + ") AS x(" + strings.Join(cols, ", ") + ")",
			"DELETE FROM " + t + " WHERE " + pk + " IN (SELECT " + pk + " FROM incoming)",
			"INSERT INTO " + t + " (" + strings.Join(cols, ", ") + ") SELECT DISTINCT ON (" + pk + ") * FROM incoming",
			"DROP TABLE incoming",
		}
	default:
		stmts = []string{"INSERT INTO " + t + " (" + strings.Join(cols, ", ") + ") " + selectSQL +
			" EXCEPT SELECT " + strings.Join(cols, ", ") + " FROM " + t}
	}
	// Row order does not matter once validated; letting DuckDB insert in
	// parallel without keeping it is much faster on big tables.
	stmts = append(append([]string{"SET preserve_insertion_order = false"}, stmts...), "RESET preserve_insertion_order")
	for _, q := range stmts {
		if _, err := l.db.ExecContext(ctx, q); err != nil {
			if ctx.Err() != nil {
				return fr, ctx.Err()
			}
			return fail("load failed: " + firstLine(err.Error()))
		}
	}
	return fr, nil
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
// quotes) recorded by read_csv's store_rejects.
func (l *loader) rejects(ctx context.Context, f sourceFile, fr *FileReport) (int64, error) {
	var n int64
	if err := l.db.QueryRowContext(ctx, "SELECT count(*) FROM reject_errors").Scan(&n); err != nil {
		return 0, fmt.Errorf("omop: read rejects: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	rows, err := l.db.QueryContext(ctx, fmt.Sprintf(`SELECT line, error_type, error_message FROM reject_errors ORDER BY line LIMIT %d`, l.opts.MaxProblems))
	if err != nil {
		return 0, fmt.Errorf("omop: read rejects: %w", err)
	}
	defer rows.Close()
	var listed int64
	for rows.Next() {
		var line int64
		var typ, msg string
		if err := rows.Scan(&line, &typ, &msg); err != nil {
			return 0, fmt.Errorf("omop: read rejects: %w", err)
		}
		listed++
		fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Line: line,
			Message: strings.ToLower(typ) + ": " + firstLine(msg) + truncatedHint(typ)})
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("omop: read rejects: %w", err)
	}
	if n > listed {
		fr.Problems = append(fr.Problems, Problem{Severity: SevError, File: f.name, Message: "more malformed lines", Count: n - listed})
	}
	return n, nil
}

func truncatedHint(typ string) string {
	switch typ {
	case "MISSING COLUMNS", "UNQUOTED VALUE":
		return " (truncated or damaged file?)"
	}
	return ""
}

// listLines adds line-level problems for the failing checks (a second,
// error-path-only scan with row numbers).
func (l *loader) listLines(ctx context.Context, f sourceFile, src *source, cs []check, failing []int, counts []int64, fr *FileReport, sev Severity) error {
	suffix := ""
	if sev == SevWarning {
		suffix = " (row left out)"
	}
	var sel, where []string
	for _, i := range failing {
		sel = append(sel, cs[i].expr)
		where = append(where, cs[i].expr)
	}
	from := strings.Replace(src.from, ", store_rejects=true", "", 1)
	q := fmt.Sprintf("SELECT _line, %s FROM (SELECT %s AS _line, * FROM %s s) s WHERE %s ORDER BY _line LIMIT %d",
		strings.Join(sel, ", "), src.lineSQL, from, strings.Join(where, " OR "), l.opts.MaxProblems)
	// The checks refer to columns as s.<col>; the subquery keeps the names.
	rows, err := l.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("omop: %s: list failing lines: %w", f.name, err)
	}
	defer rows.Close()
	listed := make([]int64, len(failing))
	for rows.Next() {
		var line int64
		flags := make([]sql.NullBool, len(failing))
		ptrs := []any{&line}
		for i := range flags {
			ptrs = append(ptrs, &flags[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("omop: %s: list failing lines: %w", f.name, err)
		}
		for k, i := range failing {
			if flags[k].Valid && flags[k].Bool {
				listed[k]++
				fr.Problems = append(fr.Problems, Problem{Severity: sev, File: f.name, Line: line, Column: cs[i].column, Message: cs[i].msg + suffix})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("omop: %s: list failing lines: %w", f.name, err)
	}
	for k, i := range failing {
		if more := counts[i] - listed[k]; more > 0 {
			fr.Problems = append(fr.Problems, Problem{Severity: sev, File: f.name, Column: cs[i].column,
				Message: cs[i].msg + suffix + fmt.Sprintf(": %d more rows not listed", more), Count: more})
		}
	}
	return nil
}

// tableChecks runs the whole-table checks after every file is loaded:
// duplicate primary keys (error) and concept ids missing from the
// vocabulary (warning, per column, with counts and a few examples).
func (l *loader) tableChecks(ctx context.Context, t *Table, file string) ([]Problem, error) {
	var ps []Problem
	tq := quoteIdent(t.Name)
	if pk := pkField(t); pk != "" {
		var dups int64
		var examples sql.NullString
		q := fmt.Sprintf(`SELECT count(*), string_agg(CAST(k AS VARCHAR), ', ') FROM (
			SELECT %[1]s AS k FROM %[2]s GROUP BY 1 HAVING count(*) > 1 ORDER BY 1) d`, quoteIdent(pk), tq)
		if err := l.db.QueryRowContext(ctx, q).Scan(&dups, &examples); err != nil {
			return nil, fmt.Errorf("omop: check %s keys: %w", t.Name, err)
		}
		if dups > 0 && !l.opts.DropInvalidRows {
			ps = append(ps, Problem{Severity: SevError, File: file, Column: pk,
				Message: "duplicate primary key values: " + clip(examples.String, 5), Count: dups})
		}
		if dups > 0 && l.opts.DropInvalidRows {
			res, err := l.db.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %[2]s WHERE rowid IN (SELECT rowid FROM
				(SELECT rowid, row_number() OVER (PARTITION BY %[1]s ORDER BY rowid) AS rn FROM %[2]s) WHERE rn > 1)`, quoteIdent(pk), tq))
			if err != nil {
				return nil, fmt.Errorf("omop: drop duplicate %s keys: %w", t.Name, err)
			}
			n, _ := res.RowsAffected()
			ps = append(ps, Problem{Severity: SevWarning, File: file, Column: pk,
				Message: "duplicate primary key values, first row kept: " + clip(examples.String, 5), Count: n})
		}
	}
	if IsVocabulary(t.Name) {
		return ps, nil
	}
	// One scan counts unknown concepts in every concept column; only the
	// failing columns are scanned again for examples.
	var cols []Field
	var sel []string
	for _, f := range t.Fields {
		if f.IsConcept() {
			cols = append(cols, f)
			sel = append(sel, fmt.Sprintf("count(*) FILTER (WHERE %[1]s <> 0 AND %[1]s NOT IN (SELECT concept_id FROM concept))", quoteIdent(f.Name)))
		}
	}
	if len(cols) == 0 {
		return ps, nil
	}
	counts := make([]int64, len(cols))
	ptrs := make([]any, len(cols))
	for i := range counts {
		ptrs[i] = &counts[i]
	}
	if err := l.db.QueryRowContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+tq).Scan(ptrs...); err != nil {
		return nil, fmt.Errorf("omop: check %s concepts: %w", t.Name, err)
	}
	for i, f := range cols {
		if counts[i] == 0 {
			continue
		}
		c := quoteIdent(f.Name)
		var rows, distinct int64
		var examples sql.NullString
		q := fmt.Sprintf(`SELECT count(*), count(DISTINCT %[1]s), string_agg(DISTINCT CAST(%[1]s AS VARCHAR), ', ' ORDER BY CAST(%[1]s AS VARCHAR))
			FROM %[2]s WHERE %[1]s IS NOT NULL AND %[1]s <> 0 AND %[1]s NOT IN (SELECT concept_id FROM concept)`, c, tq)
		if err := l.db.QueryRowContext(ctx, q).Scan(&rows, &distinct, &examples); err != nil {
			return nil, fmt.Errorf("omop: check %s.%s concepts: %w", t.Name, f.Name, err)
		}
		if rows > 0 {
			ps = append(ps, Problem{Severity: SevWarning, File: file, Column: f.Name, Count: rows,
				Message: fmt.Sprintf("%d concept ids not in the vocabulary (e.g. %s)", distinct, clip(examples.String, 5))})
		}
	}
	return ps, nil
}

// clip keeps the first n items of a comma-separated list.
func clip(list string, n int) string {
	parts := strings.Split(list, ", ")
	if len(parts) <= n {
		return list
	}
	return strings.Join(parts[:n], ", ") + ", …"
}

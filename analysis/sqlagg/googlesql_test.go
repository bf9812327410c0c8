package sqlagg

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var testGoogle = &GoogleSQL{
	Table:      func(n string) string { return "`proj.cdr." + n + "`" },
	Qualifiers: [][]string{{"cdr"}, {"proj", "cdr"}},
}

func TestGoogleToDuck(t *testing.T) {
	cases := []struct{ in, want, refused string }{
		{in: "SELECT `p`.x FROM `proj.cdr.person` p", want: `SELECT "p".x FROM "proj"."cdr"."person" p`},
		{in: `SELECT "it's", 'a\'b', 'tab\there', '\u00e9' FROM t`, want: `SELECT 'it''s', 'a''b', 'tab` + "\t" + `here', 'é' FROM t`},
		{in: "SELECT 1 # a comment\nFROM t -- another\n", want: "SELECT 1  \nFROM t  \n"},
		{in: "SELECT /* x */ SAFE_CAST(a AS INT64), safe_cast(b AS FLOAT64), my_safe_cast FROM t", want: "SELECT   TRY_CAST(a AS INT64), TRY_CAST(b AS FLOAT64), my_safe_cast FROM t"},
		{in: "SELECT r'raw' FROM t", refused: "raw"},
		{in: "SELECT '''triple''' FROM t", refused: "triple-quoted"},
		{in: "SELECT 'open FROM t", refused: "not closed"},
		{in: "SELECT `open FROM t", refused: "not closed"},
		{in: "SELECT `a\"b` FROM t", refused: "double quote"},
		{in: "SELECT `a..b` FROM t", refused: "empty part"},
		{in: `SELECT '\x41' FROM t`, refused: "escape"},
		{in: "SELECT 1 /* open", refused: "comment"},
	}
	for _, c := range cases {
		got, err := googleToDuck(c.in)
		if c.refused != "" {
			if err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), c.refused) {
				t.Errorf("%q: want a refusal saying %q, got %q, %v", c.in, c.refused, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q:\n got %q, %v\nwant %q", c.in, got, err, c.want)
		}
	}
}

// renderCase is GoogleSQL in and the GoogleSQL the renderer writes for its
// tree (parsed, normalised, not checked or rewritten).
type renderCase struct{ name, in, want string }

var renderCases = []renderCase{
	{"tier tables qualified, aliases quoted, ORDER BY with DuckDB's NULLS LAST",
		"SELECT p.gender_concept_id AS g, COUNT(*) AS n FROM `cdr.person` p GROUP BY 1 ORDER BY g DESC",
		"SELECT `p`.`gender_concept_id` AS `g`, COUNT(*) AS `n` FROM `proj.cdr.person` AS `p` GROUP BY 1 ORDER BY `g` DESC NULLS LAST"},
	{"arithmetic in its total forms",
		"SELECT a + 1, a - b, a * 2, a / b, DIV(a, 2), MOD(a, 3), a % 3, -a, SAFE_DIVIDE(a, b) FROM t",
		"SELECT SAFE_ADD(`a`, 1), SAFE_SUBTRACT(`a`, `b`), SAFE_MULTIPLY(`a`, 2), SAFE_DIVIDE(`a`, `b`), SAFE.DIV(`a`, 2), SAFE.MOD(`a`, 3), SAFE.MOD(`a`, 3), SAFE_NEGATE(`a`), SAFE_DIVIDE(`a`, `b`) FROM `proj.cdr.t` AS `t`"},
	{"dates: EXTRACT, DATE_DIFF in both spellings",
		"SELECT EXTRACT(YEAR FROM d), EXTRACT(MONTH FROM d), year(d), DATE_DIFF(e, d, DAY), date_diff('month', d, e) FROM t",
		"SELECT EXTRACT(YEAR FROM `d`), EXTRACT(MONTH FROM `d`), EXTRACT(YEAR FROM `d`), DATE_DIFF(DATE(`e`), DATE(`d`), DAY), DATE_DIFF(DATE(`e`), DATE(`d`), MONTH) FROM `proj.cdr.t` AS `t`"},
	{"casts: SAFE_CAST and the GoogleSQL type names",
		"SELECT SAFE_CAST(a AS INT64), SAFE_CAST(a AS FLOAT64), SAFE_CAST(a AS STRING), SAFE_CAST(a AS BOOL), CAST('2020-01-01' AS DATE), DATE '2021-02-03' FROM t",
		"SELECT SAFE_CAST(`a` AS INT64), SAFE_CAST(`a` AS FLOAT64), SAFE_CAST(`a` AS STRING), SAFE_CAST(`a` AS BOOL), CAST('2020-01-01' AS DATE), CAST('2021-02-03' AS DATE) FROM `proj.cdr.t` AS `t`"},
	{"constants: numbers as parsed, text escaped to ASCII",
		`SELECT 0.25, -1.5, 12, 1e3, "it's", 'é\\', NULL, TRUE, false FROM t`,
		`SELECT 0.25, -1.5, 12, 1e+03, 'it\U00000027s', '\U000000e9\U0000005c', NULL, TRUE, FALSE FROM ` + "`proj.cdr.t` AS `t`"},
	{"least and greatest skip NULLs as DuckDB's do",
		"SELECT LEAST(a, b), GREATEST(a, b, c) FROM t",
		"SELECT LEAST(COALESCE(`a`, `b`), COALESCE(`b`, `a`)), GREATEST(COALESCE(`a`, `b`, `c`), COALESCE(`b`, `c`, `a`), COALESCE(`c`, `a`, `b`)) FROM `proj.cdr.t` AS `t`"},
	{"aggregates: COUNTIF as 0 where nothing counts, DISTINCT, LOGICAL_AND, stddev names",
		"SELECT COUNTIF(a > 1), COUNT(DISTINCT person_id), LOGICAL_AND(b), STDDEV(a), VARIANCE(a), AVG(a), any_value(a) FROM t",
		"SELECT COALESCE(IF(COUNT((`a` > 1)) = 0, NULL, COUNTIF((`a` > 1))), 0), COUNT(DISTINCT `person_id`), LOGICAL_AND(`b`), STDDEV_SAMP(`a`), VAR_SAMP(`a`), AVG(`a`), ANY_VALUE(`a`) FROM `proj.cdr.t` AS `t`"},
	{"FILTER as IF, list and max(x, n) as ARRAY_AGG",
		"SELECT count(*) FILTER (WHERE a > 1), count(DISTINCT p) FILTER (WHERE b IS NOT NULL), list(DISTINCT p), max(abs(a), 2) FROM t",
		"SELECT COUNTIF((`a` > 1)), COUNT(DISTINCT IF((`b` IS NOT NULL), `p`, NULL)), ARRAY_AGG(DISTINCT `p` IGNORE NULLS), ARRAY_AGG(SAFE.ABS(`a`) IGNORE NULLS ORDER BY SAFE.ABS(`a`) DESC LIMIT 2) FROM `proj.cdr.t` AS `t`"},
	{"conditions: IN, NOT IN, BETWEEN, LIKE, IS NULL, CASE, IFNULL, COALESCE, IS DISTINCT FROM",
		"SELECT CASE WHEN a IN (1, 2) THEN 'x' WHEN a NOT BETWEEN 3 AND 4 THEN 'y' ELSE 'z' END FROM t WHERE s LIKE 'a%' AND b IS NOT NULL AND IFNULL(a, 0) = COALESCE(b, 1) AND a IS DISTINCT FROM b AND NOT c",
		"SELECT CASE WHEN (`a` IN (1, 2)) THEN 'x' WHEN (NOT (`a` BETWEEN 3 AND 4)) THEN 'y' ELSE 'z' END FROM `proj.cdr.t` AS `t` WHERE ((`s` LIKE 'a%') AND (`b` IS NOT NULL) AND (COALESCE(`a`, 0) = COALESCE(`b`, 1)) AND (`a` IS DISTINCT FROM `b`) AND (NOT `c`))"},
	{"CTEs, joins, IN and EXISTS subqueries, LIMIT",
		"WITH c AS (SELECT person_id FROM `proj.cdr.condition_occurrence` WHERE condition_concept_id = 1) " +
			"SELECT COUNT(*) FROM person p JOIN c USING (person_id) LEFT JOIN measurement m ON m.person_id = p.person_id " +
			"WHERE p.person_id IN (SELECT person_id FROM observation) AND EXISTS (SELECT 1 FROM visit_occurrence v WHERE v.person_id = p.person_id) LIMIT 5",
		"WITH `c` AS (SELECT `person_id` FROM `proj.cdr.condition_occurrence` AS `condition_occurrence` WHERE (`condition_concept_id` = 1)) " +
			"SELECT COUNT(*) FROM `proj.cdr.person` AS `p` JOIN `c` AS `c` USING (`person_id`) LEFT JOIN `proj.cdr.measurement` AS `m` ON (`m`.`person_id` = `p`.`person_id`) " +
			"WHERE ((`p`.`person_id` IN (SELECT `person_id` FROM `proj.cdr.observation` AS `observation`)) AND EXISTS (SELECT 1 FROM `proj.cdr.visit_occurrence` AS `v` WHERE (`v`.`person_id` = `p`.`person_id`))) LIMIT 5"},
	{"set operations, GROUP BY ALL by position",
		"SELECT a, COUNT(*) FROM (SELECT a FROM t UNION ALL SELECT a FROM u) x GROUP BY ALL",
		"SELECT `a`, COUNT(*) FROM ((SELECT `a` FROM `proj.cdr.t` AS `t`) UNION ALL (SELECT `a` FROM `proj.cdr.u` AS `u`)) AS `x` GROUP BY 1"},
}

func TestRenderGoogle(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	cat, err := loadCatalog(ctx, db, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range renderCases {
		text, err := googleToDuck(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		root, err := parse(ctx, db, text)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := normalizeGoogle(root, testGoogle); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got, err := renderGoogle(root, testGoogle, cat)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// TestRewriteGoogleSQL holds a GoogleSQL query to the plan its DuckDB
// spelling gets: the same items, kinds, hidden columns and output names,
// and runs what is refused on a BigQuery workspace only.
func TestRewriteGoogleSQL(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	pairs := []struct{ name, duck, google string }{
		{"counts by gender", `SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1`,
			"SELECT gender_concept_id, COUNT(*) AS n FROM `cdr.person` GROUP BY 1"},
		{"mean with a join", `SELECT p.gender_concept_id, avg(m.value_as_number) AS v, count(*) FROM person p JOIN measurement m ON m.person_id = p.person_id GROUP BY 1`,
			"SELECT p.gender_concept_id, AVG(m.value_as_number) AS v, COUNT(*) FROM `proj.cdr.person` AS p JOIN `measurement` m ON m.person_id = p.person_id GROUP BY 1"},
		{"year of a date", `SELECT year(condition_start_date) AS y, count(DISTINCT person_id) AS n FROM condition_occurrence GROUP BY 1`,
			"SELECT EXTRACT(YEAR FROM condition_start_date) AS y, COUNT(DISTINCT person_id) AS n FROM condition_occurrence GROUP BY y"},
		{"a ratio of aggregates", `SELECT gender_concept_id, count(*) / count(DISTINCT person_id) AS r FROM person GROUP BY 1`,
			"SELECT gender_concept_id, SAFE_DIVIDE(COUNT(*), COUNT(DISTINCT person_id)) AS r FROM person GROUP BY 1"},
	}
	for _, p := range pairs {
		want, err := Rewrite(ctx, db, p.duck, testSchema)
		if err != nil {
			t.Fatalf("%s: DuckDB: %v", p.name, err)
		}
		got, err := RewriteGoogleSQL(ctx, db, p.google, testSchema, testGoogle)
		if err != nil {
			t.Errorf("%s: %v", p.name, err)
			continue
		}
		if got.Width != want.Width || got.PersonOf != want.PersonOf || len(got.Items) != len(want.Items) {
			t.Errorf("%s: plan %+v, DuckDB's %+v", p.name, got, want)
			continue
		}
		for i := range got.Items {
			if !reflect.DeepEqual(got.Items[i], want.Items[i]) {
				t.Errorf("%s: item %d is %+v, DuckDB's %+v", p.name, i, got.Items[i], want.Items[i])
			}
		}
		for _, q := range []string{got.SQL, got.SetsSQL} {
			if !strings.Contains(q, "`proj.cdr.") || !strings.Contains(q, "AS `"+PersonsColumn+"`") || strings.Contains(q, `"`) {
				t.Errorf("%s: not GoogleSQL over the tier's dataset: %s", p.name, q)
			}
		}
	}

	refused := []struct{ name, sql, rule, says string }{
		{"median", "SELECT gender_concept_id, median(year_of_birth) FROM person GROUP BY 1", "googlesql", "PERCENTILE_CONT"},
		{"a DuckDB function not rendered", "SELECT gender_concept_id, count(*) FROM person WHERE hash(year_of_birth) > 0 GROUP BY 1", "googlesql", "function hash"},
		{"grouping sets", "SELECT gender_concept_id, race_concept_id, count(*) FROM person GROUP BY ROLLUP (gender_concept_id, race_concept_id)", "googlesql", "ROLLUP"},
		{"another dataset", "SELECT count(*) FROM `other.person`", "table", "other than this workspace's"},
		{"another project", "SELECT count(*) FROM `elsewhere.cdr.person`", "table", "other than this workspace's"},
		{"a table not in the tier", "SELECT count(*) FROM `cdr.secret`", "table", "not part of this tier"},
		{"row-level", "SELECT year_of_birth FROM person", "row-level", "row-level"},
		{"unknown column", "SELECT nope, count(*) FROM person GROUP BY 1", "bind", "bind"},
		{"DATE_DIFF by WEEK", "SELECT count(*) FROM condition_occurrence WHERE DATE_DIFF(condition_start_date, DATE '2020-01-01', WEEK) > 1", "function", "DAY, MONTH, QUARTER or YEAR"},
	}
	for _, r := range refused {
		_, err := RewriteGoogleSQL(ctx, db, r.sql, testSchema, testGoogle)
		var re *RefusalError
		if !errors.As(err, &re) || re.Rule != r.rule || !strings.Contains(re.Msg, r.says) {
			t.Errorf("%s: want a %s refusal saying %q, got %v", r.name, r.rule, r.says, err)
		}
	}
}

func TestGoogleLiterals(t *testing.T) {
	if got, want := stringLiteral("a'b\\c\né\x7f"), `'a\U00000027b\U0000005cc\U0000000a\U000000e9\U0000007f'`; got != want {
		t.Errorf("stringLiteral: got %s, want %s", got, want)
	}
	if got, want := ident("n `x`\\"), "`n \\U00000060x\\U00000060\\U0000005c`"; got != want {
		t.Errorf("ident: got %s, want %s", got, want)
	}
}

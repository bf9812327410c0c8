package sqlagg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

type acceptCase struct {
	name     string
	sql      string
	kinds    []Kind
	personOf string
	// persons: group key (group columns joined by "|", "" for one cell) →
	// hand-computed distinct persons; sets: the same cells' person ids.
	persons map[string]int64
	sets    map[string][]int64
}

var acceptCases = []acceptCase{
	{
		name: "group by gender", personOf: "person",
		sql:     `SELECT gender_concept_id, count(*) AS n FROM person GROUP BY gender_concept_id`,
		kinds:   []Kind{KindGroup, KindCount},
		persons: map[string]int64{"8507": 4, "8532": 4},
		sets:    map[string][]int64{"8507": {1, 2, 6, 123456}, "8532": {3, 4, 5, 7}},
	},
	{
		name: "one cell, no group by", personOf: "person",
		sql:     `SELECT count(*) AS n, avg(year_of_birth) AS mean_yob FROM person`,
		kinds:   []Kind{KindCount, KindDerived},
		persons: map[string]int64{"": 8},
		sets:    map[string][]int64{"": {1, 2, 3, 4, 5, 6, 7, 123456}},
	},
	{
		name: "join, where, group by position, order, limit", personOf: "p",
		sql: `SELECT p.gender_concept_id AS g, count(*) AS n_rows, count(DISTINCT c.person_id) AS n
		      FROM person p JOIN condition_occurrence c ON c.person_id = p.person_id
		      WHERE c.condition_concept_id = 201826 GROUP BY 1 ORDER BY g LIMIT 10`,
		kinds:   []Kind{KindGroup, KindCount, KindCount},
		persons: map[string]int64{"8507": 2, "8532": 1},
		sets:    map[string][]int64{"8507": {1, 2}, "8532": {3}},
	},
	{
		name: "CTE joined USING person_id, GROUP BY ALL", personOf: "p",
		sql: `WITH dm AS (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 201826)
		      SELECT p.gender_concept_id, count(*) FROM person p JOIN dm USING (person_id) GROUP BY ALL`,
		kinds:   []Kind{KindGroup, KindCount},
		persons: map[string]int64{"8507": 2, "8532": 1},
		sets:    map[string][]int64{"8507": {1, 2}, "8532": {3}},
	},
	{
		name: "event table first, vocabulary join", personOf: "c",
		sql: `SELECT co.concept_name, count(DISTINCT c.person_id) AS n
		      FROM condition_occurrence c JOIN concept co ON co.concept_id = c.condition_concept_id
		      GROUP BY co.concept_name`,
		kinds:   []Kind{KindGroup, KindCount},
		persons: map[string]int64{"Type 2 diabetes mellitus": 3, "Essential hypertension": 3, "Myocardial infarction": 1},
		sets: map[string][]int64{"Type 2 diabetes mellitus": {1, 2, 3}, "Essential hypertension": {3, 4, 5},
			"Myocardial infarction": {123456}},
	},
	{
		name: "IN subquery cohort, derived statistics", personOf: "m",
		sql: `SELECT m.unit_concept_id, median(m.value_as_number) AS med, stddev(m.value_as_number) AS sd
		      FROM measurement m
		      WHERE m.person_id IN (SELECT person_id FROM condition_occurrence WHERE condition_concept_id IN (201826, 320128))
		      GROUP BY m.unit_concept_id`,
		kinds:   []Kind{KindGroup, KindDerived, KindDerived},
		persons: map[string]int64{"8876": 3, "9529": 2},
		sets:    map[string][]int64{"8876": {1, 2, 3}, "9529": {4, 5}},
	},
	{
		name: "expression key by alias, sum, max, round", personOf: "person",
		sql: `SELECT year_of_birth // 10 * 10 AS decade, round(avg(year_of_birth), 1) AS mean,
		             sum(year_of_birth) AS total, max(year_of_birth) AS latest
		      FROM person WHERE year_of_birth < 1980 GROUP BY decade`,
		kinds:   []Kind{KindGroup, KindDerived, KindSum, KindExtreme},
		persons: map[string]int64{"1950": 2, "1960": 2, "1970": 2},
		sets:    map[string][]int64{"1950": {1, 6}, "1960": {2, 7}, "1970": {3, 123456}},
	},
	{
		name: "anti join through LEFT JOIN … IS NULL", personOf: "p",
		sql: `SELECT p.gender_concept_id, count(*) FROM person p
		      LEFT JOIN measurement m ON m.person_id = p.person_id WHERE m.person_id IS NULL GROUP BY 1`,
		kinds:   []Kind{KindGroup, KindCount},
		persons: map[string]int64{"8507": 1, "8532": 1},
		sets:    map[string][]int64{"8507": {123456}, "8532": {7}},
	},
	{
		name: "correlated EXISTS", personOf: "p",
		sql: `SELECT p.race_concept_id, count(*) FROM person p
		      WHERE EXISTS (SELECT 1 FROM measurement m WHERE m.person_id = p.person_id AND m.value_as_number > 100)
		      GROUP BY p.race_concept_id`,
		kinds:   []Kind{KindGroup, KindCount},
		persons: map[string]int64{"8527": 2, "8516": 2},
		sets:    map[string][]int64{"8527": {1, 2}, "8516": {3, 6}},
	},
	{
		name: "per-person subquery in FROM", personOf: "p",
		sql: `SELECT p.gender_concept_id, avg(x.n) AS mean_conditions FROM person p
		      JOIN (SELECT person_id, count(*) AS n FROM condition_occurrence GROUP BY person_id) x ON x.person_id = p.person_id
		      GROUP BY 1`,
		kinds:   []Kind{KindGroup, KindDerived},
		persons: map[string]int64{"8507": 3, "8532": 3},
		sets:    map[string][]int64{"8507": {1, 2, 123456}, "8532": {3, 4, 5}},
	},
	{
		name: "ROLLUP subtotals", personOf: "person",
		sql:   `SELECT gender_concept_id, race_concept_id, count(*) FROM person GROUP BY ROLLUP (gender_concept_id, race_concept_id)`,
		kinds: []Kind{KindGroup, KindGroup, KindCount},
		persons: map[string]int64{"8507|8527": 3, "8507|8516": 1, "8532|8516": 2, "8532|8527": 2,
			"8507|<nil>": 4, "8532|<nil>": 4, "<nil>|<nil>": 8},
		sets: map[string][]int64{"8507|8527": {1, 2, 123456}, "8507|8516": {6}, "8532|8516": {3, 5},
			"8532|8527": {4, 7}, "8507|<nil>": {1, 2, 6, 123456}, "8532|<nil>": {3, 4, 5, 7},
			"<nil>|<nil>": {1, 2, 3, 4, 5, 6, 7, 123456}},
	},
	{
		name: "comma join linked in WHERE, arithmetic of aggregates", personOf: "c",
		sql: `SELECT c.condition_concept_id, count(*) * 1.0 / count(DISTINCT c.person_id) AS rows_per_person
		      FROM condition_occurrence c, person p
		      WHERE p.person_id = c.person_id AND p.year_of_birth < 1975 GROUP BY c.condition_concept_id`,
		kinds:   []Kind{KindGroup, KindDerived},
		persons: map[string]int64{"201826": 3, "320128": 1},
		sets:    map[string][]int64{"201826": {1, 2, 3}, "320128": {3}},
	},
	{
		name: "UNION inside a CTE used by IN", personOf: "p",
		sql: `WITH cohort AS (SELECT person_id FROM condition_occurrence WHERE condition_concept_id = 4329847
		                    UNION SELECT person_id FROM measurement WHERE value_as_number > 135)
		      SELECT count(*) FROM person p WHERE p.person_id IN (SELECT person_id FROM cohort)`,
		kinds:   []Kind{KindCount},
		persons: map[string]int64{"": 2},
		sets:    map[string][]int64{"": {2, 123456}},
	},
	{
		name: "NOT IN cohort", personOf: "p",
		sql:     `SELECT count(*) FROM person p WHERE p.person_id NOT IN (SELECT person_id FROM measurement)`,
		kinds:   []Kind{KindCount},
		persons: map[string]int64{"": 2},
		sets:    map[string][]int64{"": {7, 123456}},
	},
	// Found by an adversarial review (F1): aggregates skip NULLs, so a
	// cell's persons are counted only where every aggregate argument is set.
	{
		name: "outer join narrowed in ON counts only the matched persons", personOf: "p",
		sql: `SELECT count(*) AS n, count(p2.year_of_birth) AS k, avg(p2.year_of_birth) AS yob
		      FROM person p LEFT JOIN person p2 ON p.person_id = p2.person_id AND p2.race_concept_id = 8516 AND p2.year_of_birth = 1970`,
		kinds:   []Kind{KindCount, KindCount, KindDerived},
		persons: map[string]int64{"": 1},
		sets:    map[string][]int64{"": {3}},
	},
	{
		name: "per-person CASE in a subquery counts only persons it sets", personOf: "p",
		sql: `SELECT count(x.v) AS v FROM person p
		      JOIN (SELECT person_id, CASE WHEN year_of_birth = 1975 THEN year_of_birth END AS v FROM person) x USING (person_id)`,
		kinds:   []Kind{KindCount},
		persons: map[string]int64{"": 1},
		sets:    map[string][]int64{"": {123456}},
	},
	{
		name: "count of a mostly-NULL column", personOf: "p",
		sql: `SELECT p.gender_concept_id, count(m.value_as_number) AS k, max(p.year_of_birth) AS latest
		      FROM person p LEFT JOIN measurement m ON m.person_id = p.person_id GROUP BY 1`,
		kinds:   []Kind{KindGroup, KindCount, KindExtreme},
		persons: map[string]int64{"8507": 3, "8532": 3},
		sets:    map[string][]int64{"8507": {1, 2, 6}, "8532": {3, 4, 5}},
	},
	{
		name: "an aggregate over nobody does not lift the others' persons", personOf: "p",
		sql: `SELECT count(p2.year_of_birth) AS k, avg(m.value_as_number) AS v FROM person p
		      LEFT JOIN person p2 ON p2.person_id = p.person_id AND p2.year_of_birth = 1970
		      LEFT JOIN measurement m ON m.person_id = p.person_id AND m.value_as_number > 1000`,
		kinds:   []Kind{KindCount, KindDerived},
		persons: map[string]int64{"": 1},
		sets:    map[string][]int64{"": {3}},
	},
	{
		name: "count(*) beside a count over nobody keeps the cell's persons", personOf: "p",
		sql: `SELECT p.gender_concept_id, count(*) AS n, count(m.value_as_number) AS k FROM person p
		      LEFT JOIN measurement m ON m.person_id = p.person_id AND m.value_as_number > 1000 GROUP BY 1`,
		kinds:   []Kind{KindGroup, KindCount, KindCount},
		persons: map[string]int64{"8507": 4, "8532": 4},
		sets:    map[string][]int64{"8507": {1, 2, 6, 123456}, "8532": {3, 4, 5, 7}},
	},
	{
		name: "count(*) beside a quantile: p is not an argument", personOf: "m",
		sql:     `SELECT count(*) AS n, quantile_cont(m.value_as_number, 0.5) AS q FROM measurement m`,
		kinds:   []Kind{KindCount, KindDerived},
		persons: map[string]int64{"": 6},
		sets:    map[string][]int64{"": {1, 2, 3, 4, 5, 6}},
	},
	{
		name: "RIGHT JOIN counts the preserved side", personOf: "p",
		sql: `SELECT count(*), count(c.condition_occurrence_id) AS with_condition
		      FROM condition_occurrence c RIGHT JOIN person p ON c.person_id = p.person_id`,
		kinds: []Kind{KindCount, KindCount},
		// count(c.…) covers only the persons with a condition, so the
		// cell's persons are counted over them.
		persons: map[string]int64{"": 6},
		sets:    map[string][]int64{"": {1, 2, 3, 4, 5, 123456}},
	},
}

func TestRewriteAccepted(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	for _, tc := range acceptCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Rewrite(ctx, db, tc.sql, testSchema)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			if p.PersonOf != tc.personOf {
				t.Errorf("PersonOf = %q, want %q", p.PersonOf, tc.personOf)
			}
			var kinds []Kind
			for _, it := range p.Items {
				kinds = append(kinds, it.Kind)
				if it.Name == "" {
					t.Errorf("item without a name: %+v", p.Items)
				}
			}
			if !slices.Equal(kinds, tc.kinds) {
				t.Errorf("kinds = %v, want %v", kinds, tc.kinds)
			}
			if !strings.Contains(p.SQL, PersonsColumn) || !strings.Contains(p.SetsSQL, PersonsColumn) {
				t.Errorf("rewritten SQL lacks %s:\n%s\n%s", PersonsColumn, p.SQL, p.SetsSQL)
			}
			counts := runCells(t, db, p, p.SQL)
			got := map[string]int64{}
			for k, v := range counts {
				got[k] = v.(int64)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.persons) {
				t.Errorf("persons per cell = %v, want %v\nSQL: %s", got, tc.persons, p.SQL)
			}
			sets := runCells(t, db, p, p.SetsSQL)
			gotSets := map[string][]int64{}
			for k, v := range sets {
				gotSets[k] = idList(t, v)
			}
			if fmt.Sprint(gotSets) != fmt.Sprint(tc.sets) {
				t.Errorf("person sets = %v, want %v\nSetsSQL: %s", gotSets, tc.sets, p.SetsSQL)
			}
		})
	}
}

// runCells runs query and maps each row's group key (the KindGroup columns
// joined by "|") to its last column.
func runCells(t *testing.T, db *sql.DB, p *Plan, query string) map[string]any {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("running %s: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	if len(cols) != p.Width || cols[len(cols)-1] != PersonsColumn {
		t.Fatalf("columns = %v, want %d items then %s", cols, len(p.Items), PersonsColumn)
	}
	for i, it := range p.Items {
		if cols[i] != it.Name {
			t.Errorf("column %d is %q, item name %q", i, cols[i], it.Name)
		}
	}
	out := map[string]any{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var key []string
		for i, it := range p.Items {
			if it.Kind == KindGroup {
				key = append(key, fmt.Sprint(vals[i]))
			}
		}
		k := strings.Join(key, "|")
		if _, dup := out[k]; dup {
			t.Fatalf("duplicate cell %q", k)
		}
		out[k] = vals[len(vals)-1]
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func idList(t *testing.T, v any) []int64 {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("person set is %T, want a list", v)
	}
	ids := make([]int64, 0, len(list))
	for _, x := range list {
		id, ok := x.(int64)
		if !ok {
			t.Fatalf("person id is %T", x)
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

type refuseCase struct {
	name string
	sql  string
	rule string
	// extra literal fragments that must not appear in the error, beyond the
	// quoted strings and numbers of 3+ digits found in sql automatically
	literals []string
}

var refuseCases = []refuseCase{
	{"two statements", `SELECT count(*) FROM person; SELECT 424242`, "statement", nil},
	{"mean of concept ids (a disguised count of each code)", `SELECT race_concept_id, avg(gender_concept_id), stddev(gender_concept_id) FROM person GROUP BY 1`, "categorical", nil},
	{"mean of qualified concept ids", `SELECT avg(p.gender_concept_id) FROM person p JOIN measurement m USING (person_id)`, "categorical", nil},
	{"mean of a computed marker (a CASE far from the rest)", `SELECT avg(x.v) FROM person p JOIN (SELECT person_id, CASE WHEN year_of_birth = 1975 THEN 2000000000 ELSE year_of_birth END AS v FROM person) x USING (person_id)`, "derived-quantity", nil},
	{"mean of a renamed concept id in a CTE", `WITH x AS (SELECT person_id, gender_concept_id AS g FROM person) SELECT avg(x.g) FROM person p JOIN x USING (person_id)`, "derived-quantity", nil},
	{"unqualified mean with a CTE in FROM", `WITH x AS (SELECT person_id, year_of_birth AS y FROM person) SELECT avg(y) FROM person p JOIN x USING (person_id)`, "derived-quantity", nil},
	{"count of distinct values", `SELECT gender_concept_id, count(DISTINCT year_of_birth) FROM person GROUP BY 1`, "count-distinct", nil},
	{"mean of distinct values (no persons behind its terms)", `SELECT avg(DISTINCT year_of_birth) FROM person`, "distinct", nil},
	{"median of distinct values inside arithmetic", `SELECT median(DISTINCT year_of_birth) + 0 FROM person`, "distinct", nil},
	{"insert", `INSERT INTO person VALUES (999001, 1, 2, 3)`, "statement", nil},
	{"copy", `COPY person TO '/tmp/exfil_out.csv'`, "statement", nil},
	{"attach", `ATTACH '/tmp/other_db.duckdb' AS otherdb`, "statement", []string{"otherdb"}},
	{"pragma", `PRAGMA table_info('zzqtable')`, "statement", nil},
	{"set", `SET threads = 777`, "statement", nil},
	{"create", `CREATE TABLE zzq AS SELECT 424242 AS v`, "statement", []string{"zzq"}},
	{"describe", `DESCRIBE person`, "statement", nil},
	{"summarize", `SUMMARIZE person`, "statement", nil},
	{"row-level values", `SELECT year_of_birth FROM person WHERE year_of_birth > 1962`, "row-level", nil},
	{"ungrouped column beside aggregate", `SELECT gender_concept_id, year_of_birth, count(*) FROM person WHERE year_of_birth <> 1951 GROUP BY gender_concept_id`, "row-level", nil},
	{"aggregate in string concat", `SELECT 'zzq-' || count(*) FROM person`, "row-level", nil},
	{"select star", `SELECT * FROM person WHERE year_of_birth = 1975`, "star", nil},
	{"columns()", `SELECT count(COLUMNS('.*zzq_id')) FROM person`, "star", nil},
	{"group by person_id", `SELECT person_id, count(*) FROM condition_occurrence WHERE condition_concept_id = 201826 GROUP BY person_id`, "group-id", nil},
	{"group by visit id", `SELECT visit_occurrence_id, count(*) FROM condition_occurrence WHERE condition_concept_id = 4329847 GROUP BY visit_occurrence_id`, "group-id", nil},
	{"group by all over person_id", `SELECT person_id, count(*) FROM measurement GROUP BY ALL`, "group-id", nil},
	{"where person_id equals", `SELECT count(*) FROM person WHERE person_id = 123456`, "identifier", nil},
	{"where person_id differs (differencing)", `SELECT gender_concept_id, count(*) FROM person WHERE person_id <> 123456 GROUP BY 1`, "identifier", nil},
	{"person_id IN list", `SELECT count(*) FROM person WHERE person_id IN (123456, 777001)`, "identifier", nil},
	{"person_id range", `SELECT count(*) FROM person WHERE person_id BETWEEN 100000 AND 200000`, "identifier", nil},
	{"visit id literal in join", `SELECT count(*) FROM person p JOIN condition_occurrence c ON c.person_id = p.person_id AND c.visit_occurrence_id = 108108`, "identifier", nil},
	{"hash of person_id", `SELECT count(*) FROM person WHERE hash(person_id) % 1000 = 421`, "identifier", nil},
	{"rowid", `SELECT count(*) FROM person WHERE rowid = 777`, "identifier", nil},
	{"aggregate filter on person_id", `SELECT count(*) FILTER (WHERE person_id <> 123456) FROM person`, "filter", nil},
	// Found by an adversarial review: aggregates narrowed below their
	// cell's persons, oracles on hidden counts, individual values as labels.
	{"filter clause", `SELECT count(*) FILTER (WHERE year_of_birth = 1975) FROM person`, "filter", nil},
	{"case inside avg", `SELECT avg(CASE WHEN year_of_birth = 1975 THEN year_of_birth END) FROM person`, "aggregate-argument", nil},
	{"comparison inside avg", `SELECT avg(year_of_birth = 1975) FROM person`, "aggregate-argument", nil},
	{"having oracle", `SELECT gender_concept_id, count(*) FROM person GROUP BY 1 HAVING count(*) = 3`, "having", nil},
	{"order by a count", `SELECT gender_concept_id, count(*) FROM person GROUP BY 1 ORDER BY count(*) LIMIT 1`, "order", nil},
	{"group by a measured value", `SELECT value_as_number, count(*) FROM measurement GROUP BY 1`, "group-value", nil},
	{"group by a date", `SELECT condition_start_date, count(*) FROM condition_occurrence GROUP BY 1`, "group-value", nil},
	{"quantile out of range", `SELECT quantile_cont(year_of_birth, 1.5) FROM person`, "quantile", nil},
	{"max of person_id", `SELECT max(person_id) FROM person WHERE year_of_birth = 1975`, "identifier", nil},
	{"order by person_id", `SELECT gender_concept_id, count(*) FROM person GROUP BY 1 ORDER BY person_id`, "identifier", nil},
	{"IN subquery of a literal", `SELECT count(*) FROM person p WHERE p.person_id IN (SELECT 123456)`, "subquery", nil},
	{"UNION smuggles a literal id", `SELECT count(*) FROM person p WHERE p.person_id IN (SELECT person_id FROM person UNION ALL SELECT 123456)`, "identifier", nil},
	{"literal aliased as person_id", `SELECT count(*) FROM person p JOIN (SELECT 123456 AS person_id) x USING (person_id)`, "identifier", nil},
	{"person_id renamed", `SELECT count(*) FROM person p JOIN (SELECT person_id AS pid FROM person) x ON x.pid = p.person_id WHERE x.pid = 123456`, "identifier", nil},
	{"struct field named person_id", `SELECT count(*) FROM person p WHERE p.person_id IN (SELECT s.person_id FROM (SELECT {'person_id': 123456} AS s) t)`, "identifier", nil},
	{"whole-row struct access", `SELECT count(*) FROM person p WHERE p['person_id'] = 123456`, "whole-row", nil},
	{"read_csv", `SELECT count(*) FROM read_csv('/data/zzq_secret.csv')`, "table", nil},
	{"read_parquet in CTE", `WITH x AS (SELECT * FROM read_parquet('s3://zzq-bucket/p.parquet')) SELECT count(*) FROM person p JOIN x USING (person_id)`, "table", nil},
	{"glob in subquery", `SELECT count(*) FROM person WHERE gender_concept_id IN (SELECT 1 FROM glob('/etc/zzq*'))`, "table", nil},
	{"duckdb_tables()", `SELECT count(*) FROM duckdb_tables()`, "table", nil},
	{"pragma function", `SELECT count(*) FROM pragma_table_info('zzqtable')`, "table", nil},
	{"information_schema", `SELECT count(*) FROM information_schema.columns WHERE column_name = 'zzqcol'`, "table", nil},
	{"sqlite_master", `SELECT count(*) FROM person, sqlite_master`, "table", nil},
	{"CTE shadowing sqlite_master", `WITH sqlite_master AS (SELECT * FROM sqlite_master) SELECT count(*) FROM person, sqlite_master`, "table", nil},
	{"qualified table", `SELECT count(*) FROM main.person`, "table", nil},
	{"table outside the schema", `SELECT count(*) FROM person p JOIN secret s USING (person_id) WHERE s.note = 'zzq-hidden'`, "table", []string{"secret"}},
	{"window function", `SELECT gender_concept_id, count(*) OVER (PARTITION BY race_concept_id) FROM person WHERE year_of_birth > 1901`, "window", nil},
	{"qualify", `SELECT gender_concept_id, count(*) FROM person GROUP BY 1 QUALIFY row_number() OVER () = 1`, "window", nil},
	{"list()", `SELECT gender_concept_id, list(year_of_birth) FROM person GROUP BY 1`, "individual-values", nil},
	{"string_agg", `SELECT string_agg(TRY_CAST(year_of_birth AS VARCHAR), '#zzq#') FROM person`, "individual-values", nil},
	{"array_agg", `SELECT gender_concept_id, array_agg(race_concept_id) FROM person GROUP BY 1`, "individual-values", nil},
	{"histogram", `SELECT histogram(year_of_birth) FROM person`, "individual-values", nil},
	{"no person table", `SELECT count(*) FROM concept WHERE concept_name = 'Zzq secret name'`, "no-person-table", nil},
	{"person table only via CTE", `WITH x AS (SELECT * FROM person) SELECT count(*) FROM x`, "no-person-table", nil},
	{"person only on the optional side", `SELECT count(*) FROM concept co LEFT JOIN person p ON p.gender_concept_id = co.concept_id`, "no-person-table", nil},
	{"syntax error", `SELEC count(*) FROM person WHERE x = 'zzq-literal'`, "syntax", []string{"SELEC"}},
	{"syntax error near a number", `SELECT count(*) FROM person WHERE year_of_birth = 19751975 19761976`, "syntax", nil},
	{"unterminated string", `SELECT count(*) FROM person WHERE x = 'zzq-open`, "syntax", nil},
	{"infinite constant", `SELECT count(*) FROM person WHERE year_of_birth < 1e400`, "syntax", nil},
	{"cross join mixes persons", `SELECT count(*) FROM person p JOIN condition_occurrence c ON c.condition_concept_id = 4329847`, "join", nil},
	{"join on a non-person column", `SELECT sum(m.value_as_number) FROM person p JOIN measurement m ON m.value_as_number > p.year_of_birth`, "join", nil},
	{"positional join", `SELECT count(*) FROM person p POSITIONAL JOIN measurement m`, "join", nil},
	{"scalar subquery", `SELECT count(*) FROM person WHERE year_of_birth > (SELECT max(year_of_birth) - 101 FROM person)`, "subquery", nil},
	{"uncorrelated EXISTS", `SELECT count(*) FROM person p WHERE EXISTS (SELECT 1 FROM condition_occurrence WHERE condition_concept_id = 4329847)`, "subquery", nil},
	{"IN on a non-id value over persons", `SELECT count(*) FROM person p WHERE p.year_of_birth IN (SELECT year_of_birth FROM person WHERE race_concept_id = 8516)`, "subquery", nil},
	{"cross-person aggregate in subquery", `SELECT p.gender_concept_id, sum(x.n) FROM person p JOIN (SELECT count(*) AS n FROM condition_occurrence WHERE condition_concept_id = 4329847) x ON true GROUP BY 1`, "aggregation", nil},
	{"rollup over person_id in subquery", `SELECT avg(n) FROM person p JOIN (SELECT person_id, count(*) AS n FROM condition_occurrence GROUP BY ROLLUP (person_id)) x USING (person_id)`, "aggregation", nil},
	{"sampling", `SELECT count(*) FROM person USING SAMPLE 333`, "sample", nil},
	{"error()", `SELECT count(*) FROM person WHERE CASE WHEN year_of_birth = 1975 THEN error('zzq found') ELSE true END`, "function", nil},
	{"session state", `SELECT count(*) FROM person WHERE current_setting('zzq_setting') = 'x'`, "function", nil},
	{"aggregate macro", `SELECT geomean(year_of_birth) FROM person`, "function", nil},
	{"unknown function", `SELECT zzq_unknown_fn(count(*)) FROM person`, "function", []string{"zzq_unknown_fn"}},
	{"unaccepted aggregate", `SELECT corr(year_of_birth, race_concept_id) FROM person`, "aggregate", nil},
	{"set operation at top", `SELECT count(*) FROM person UNION SELECT 424242`, "set-operation", nil},
	{"parameter", `SELECT count(*) FROM person WHERE year_of_birth = $1`, "parameter", nil},
	{"VALUES list", `SELECT count(*) FROM person p JOIN (VALUES (123456)) v(x) ON p.year_of_birth = v.x`, "values", nil},
	{"column alias list", `SELECT count(*) FROM person AS p(gender_concept_id, person_id)`, "alias-list", nil},
	{"recursive CTE", `WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 999) SELECT count(*) FROM person, r`, "recursive", nil},
	{"reserved name", `SELECT count(*) AS __enclave_persons FROM person`, "reserved", nil},
	{"DISTINCT ON", `SELECT DISTINCT ON (gender_concept_id) gender_concept_id, count(*) FROM person GROUP BY 1`, "distinct-on", nil},
	{"empty", `   `, "statement", nil},
}

var (
	reLitString = regexp.MustCompile(`'([^']+)'`)
	reLitNumber = regexp.MustCompile(`[0-9]{3,}`)
)

func TestRewriteRefused(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	for _, tc := range refuseCases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Rewrite(ctx, db, tc.sql, testSchema)
			if err == nil {
				t.Fatalf("accepted, want refusal (%s); SQL: %s", tc.rule, p.SQL)
			}
			var re *RefusalError
			if !errors.As(err, &re) || !errors.Is(err, ErrRefused) {
				t.Fatalf("error %v (%T) is not a refusal", err, err)
			}
			if re.Rule != tc.rule {
				t.Errorf("rule = %q, want %q (%v)", re.Rule, tc.rule, err)
			}
			msg := err.Error()
			lits := append([]string{}, tc.literals...)
			for _, m := range reLitString.FindAllStringSubmatch(tc.sql, -1) {
				lits = append(lits, m[1])
			}
			lits = append(lits, reLitNumber.FindAllString(tc.sql, -1)...)
			for _, l := range lits {
				// person_id is named by the fixed rule text itself.
				if l != "person_id" && strings.Contains(msg, l) {
					t.Errorf("error echoes literal %q: %s", l, msg)
				}
			}
			t.Logf("%s", msg)
		})
	}
}

func TestRowLevelMessage(t *testing.T) {
	db := openTestDB(t)
	_, err := Rewrite(context.Background(), db, `SELECT year_of_birth FROM person`, testSchema)
	const want = "row-level SQL is not released: every select item must be a GROUP BY column or an aggregate (count, sum, avg, stddev, median, quantile…)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to contain %q", err, want)
	}
}

func TestItemNames(t *testing.T) {
	db := openTestDB(t)
	p, err := Rewrite(context.Background(), db,
		`SELECT gender_concept_id AS gender, count(*) AS n, sum(year_of_birth), count(*), count(year_of_birth), count(DISTINCT person_id) AS p FROM person GROUP BY gender`, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	want := []Item{{Name: "gender", Kind: KindGroup}, {Name: "n", Kind: KindCount, Quantity: "rows"}, {Name: "sum(year_of_birth)", Kind: KindSum},
		{Name: "count_star()", Kind: KindCount, Quantity: "rows"}, {Name: "count(year_of_birth)", Kind: KindCount, Quantity: "rows"},
		{Name: "p", Kind: KindCount}}
	// A count's argument says which rows it counts: none for count(*).
	args := make([]string, len(p.Items))
	for i := range p.Items {
		args[i], p.Items[i].Arg = p.Items[i].Arg, ""
	}
	if !reflect.DeepEqual(p.Items, want) {
		t.Errorf("Items = %v, want %v", p.Items, want)
	}
	if args[1] != "" || args[3] != "" || !strings.Contains(args[4], `"year_of_birth"`) || !strings.Contains(args[5], `"person_id"`) {
		t.Errorf("count arguments %q", args)
	}
}

// TestDerivedParts: every aggregate of a derived item is a part the rules
// judge as if it were shown alone, whatever arithmetic wraps it.
func TestDerivedParts(t *testing.T) {
	db := openTestDB(t)
	p, err := Rewrite(context.Background(), db, `SELECT gender_concept_id, avg(year_of_birth), round(avg(year_of_birth), 1) + 0,
		count(*) * 1.0 / count(DISTINCT person_id), quantile_cont(year_of_birth, 0.1) FROM person GROUP BY 1`, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	type part struct {
		kind     Kind
		mean     bool
		tail     float64
		quantity string
	}
	want := []struct {
		direct bool
		parts  []part
	}{
		{false, nil},
		{true, []part{{KindDerived, true, 0, "year_of_birth"}}},
		{false, []part{{KindDerived, true, 0, "year_of_birth"}}},
		{false, []part{{KindCount, false, 0, "rows"}, {KindCount, false, 0, ""}}},
		{true, []part{{KindDerived, false, 0.1, "year_of_birth"}}},
	}
	cols := map[int]bool{}
	for i, it := range p.Items {
		var got []part
		for _, pt := range it.Parts {
			got = append(got, part{pt.Kind, pt.Mean, math.Round(pt.Tail*100) / 100, pt.Quantity})
			if cols[pt.Col] || pt.Col < len(p.Items) || pt.Col >= p.Width-1 {
				t.Errorf("item %d: part column %d is not a hidden column of its own", i, pt.Col)
			}
			cols[pt.Col] = true
		}
		if it.Direct != want[i].direct || !reflect.DeepEqual(got, want[i].parts) {
			t.Errorf("item %d (%s): direct %v parts %v, want %v %v", i, it.Name, it.Direct, got, want[i].direct, want[i].parts)
		}
	}
	if p.Tops == nil || len(p.Tops.Cols) != 2 {
		t.Errorf("tops %+v, want the two means ranked", p.Tops)
	}
}

func TestSanitizeMessage(t *testing.T) {
	for in, want := range map[string]string{
		`Conversion Error: Could not convert string 'Jane Doe' to INT32`:                         `Conversion Error: Could not convert string '…' to INT…`,
		`Binder Error: Referenced column "secret_col" not found` + "\nLINE 1: SELECT secret_col": `Binder Error: Referenced column '…' not found`,
		`Out of Range Error: value 123456789 is out of range`:                                    `Out of Range Error: value … is out of range`,
		`syntax error at or near "it''s"`:                                                        `syntax error at or near '…'`,
	} {
		if got := SanitizeMessage(in); got != want {
			t.Errorf("SanitizeMessage(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRewriteContextCancelled(t *testing.T) {
	db := openTestDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Rewrite(ctx, db, `SELECT count(*) FROM person`, testSchema); err == nil {
		t.Fatal("want an error for a cancelled context")
	}
}

// TestQuantileArgument: a released quantile must be strictly inside (0, 1)
// (0 and 1 are the minimum and maximum), decimal literals are read with
// their scale, and Tail is min(p, 1−p) over the item's quantiles.
func TestQuantileArgument(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	cases := []struct {
		name string
		sql  string
		rule string  // "" when accepted
		tail float64 // of the first item, when accepted
	}{
		{"p = 0 is the minimum", `SELECT quantile_cont(year_of_birth, 0) FROM person`, "quantile", 0},
		{"p = 1 is the maximum", `SELECT quantile_cont(year_of_birth, 1) FROM person`, "quantile", 0},
		{"p = 0.0 decimal", `SELECT quantile_disc(year_of_birth, 0.0) FROM person`, "quantile", 0},
		{"p = 1.00 decimal", `SELECT quantile_disc(year_of_birth, 1.00) FROM person`, "quantile", 0},
		{"p = 1.5", `SELECT quantile_cont(year_of_birth, 1.5) FROM person`, "quantile", 0},
		{"negative p", `SELECT quantile_cont(year_of_birth, -0.5) FROM person`, "quantile", 0},
		{"p = 0e0 double", `SELECT quantile(year_of_birth, 0e0) FROM person`, "quantile", 0},
		{"p is NULL", `SELECT quantile_cont(year_of_birth, NULL) FROM person`, "quantile", 0},
		{"list of quantiles", `SELECT quantile_cont(year_of_birth, [0.25, 0.75]) FROM person`, "quantile", 0},
		{"p = 0.5", `SELECT quantile_cont(year_of_birth, 0.5) FROM person`, "", 0.5},
		{"p = 0.75", `SELECT quantile_cont(year_of_birth, 0.75) FROM person`, "", 0.25},
		{"p = 0.25 disc", `SELECT quantile_disc(year_of_birth, 0.25) FROM person`, "", 0.25},
		{"p = 0.01", `SELECT quantile(year_of_birth, 0.01) FROM person`, "", 0.01},
		{"p = 0.90 scale 2", `SELECT quantile(year_of_birth, 0.90) FROM person`, "", 0.1},
		{"two quantiles in one item (a quantile is released smoothed, alone)", `SELECT quantile_cont(year_of_birth, 0.9) - quantile_cont(year_of_birth, 0.3) FROM person`, "quantile", 0},
		{"a quantile inside arithmetic", `SELECT median(year_of_birth) + 0 FROM person`, "quantile", 0},
		{"a quantile with ROLLUP", `SELECT gender_concept_id, median(year_of_birth) FROM person GROUP BY ROLLUP (gender_concept_id)`, "quantile", 0},
		{"median", `SELECT median(year_of_birth) FROM person`, "", 0.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Rewrite(ctx, db, tc.sql, testSchema)
			if tc.rule != "" {
				var re *RefusalError
				if !errors.As(err, &re) || re.Rule != tc.rule {
					t.Fatalf("got %v, want refusal %q", err, tc.rule)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if got := p.Items[0].Tail; got < tc.tail-1e-12 || got > tc.tail+1e-12 {
				t.Errorf("Tail = %v, want %v", got, tc.tail)
			}
		})
	}
}

// TestOrderBy: the released query may be ordered only by its grouping keys;
// an alias or position of an aggregate orders by a hidden count.
func TestOrderBy(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	cases := []struct {
		name, sql string
		refused   bool
	}{
		{"alias of count", `SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1 ORDER BY n`, true},
		{"alias of arithmetic on count", `SELECT gender_concept_id, floor(count(*) / 6) AS f FROM person GROUP BY 1 ORDER BY f DESC LIMIT 1`, true},
		{"position of count", `SELECT gender_concept_id, count(*) FROM person GROUP BY 1 ORDER BY 2`, true},
		{"count itself", `SELECT gender_concept_id, count(*) FROM person GROUP BY 1 ORDER BY count(*)`, true},
		{"alias shadowing a column name", `SELECT gender_concept_id AS g, count(*) AS race_concept_id FROM person GROUP BY 1 ORDER BY race_concept_id`, true},
		{"ORDER BY a qualified count alias", `SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1 ORDER BY n NULLS FIRST, 1`, true},
		{"non-grouped column", `SELECT gender_concept_id, count(*) FROM person GROUP BY 1 ORDER BY race_concept_id`, true},
		{"GROUP BY ALL, position of avg", `SELECT gender_concept_id, avg(year_of_birth) FROM person GROUP BY ALL ORDER BY 2`, true},
		{"group column", `SELECT gender_concept_id, count(*) AS n FROM person GROUP BY 1 ORDER BY gender_concept_id`, false},
		{"group alias", `SELECT p.gender_concept_id AS g, count(*) AS n FROM person p GROUP BY 1 ORDER BY g DESC`, false},
		{"group position", `SELECT race_concept_id, gender_concept_id, count(*) FROM person GROUP BY 1, 2 ORDER BY 2, 1`, false},
		{"qualified group column", `SELECT gender_concept_id, count(*) FROM person p GROUP BY gender_concept_id ORDER BY p.gender_concept_id`, false},
		{"group expression", `SELECT year_of_birth // 10 * 10, count(*) FROM person GROUP BY year_of_birth // 10 * 10 ORDER BY year_of_birth // 10 * 10`, false},
		{"GROUP BY ALL, group column", `SELECT gender_concept_id, count(*) FROM person GROUP BY ALL ORDER BY gender_concept_id`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Rewrite(ctx, db, tc.sql, testSchema)
			var re *RefusalError
			switch {
			case tc.refused && (!errors.As(err, &re) || re.Rule != "order"):
				t.Fatalf("got %v, want refusal \"order\"", err)
			case !tc.refused && err != nil:
				t.Fatalf("refused: %v", err)
			}
		})
	}
}

// TestErrorOracles: an expression that raises on some data values makes
// "did the query fail" tell whether such a row exists, so CAST/:: on data
// and functions with a TRY_ form are refused; TRY_CAST and casts of
// constants (checked once) are accepted.
func TestErrorOracles(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	cases := []struct {
		name, sql string
		rule      string // "" when accepted
	}{
		{"CAST in a CASE branch", `SELECT count(*) FROM person p JOIN concept co ON co.concept_id = p.gender_concept_id
			WHERE CASE WHEN p.race_concept_id = 8516 AND p.year_of_birth = 1970 THEN CAST(co.concept_name AS DATE) > DATE '2000-01-01' ELSE true END`, "cast"},
		{":: on a column", `SELECT count(*) FROM person WHERE year_of_birth::TINYINT > 0`, "cast"},
		{"CAST of an aggregate", `SELECT gender_concept_id, CAST(count(*) AS TINYINT) FROM person GROUP BY 1`, "cast"},
		{"CAST inside an aggregate", `SELECT avg(CAST(year_of_birth AS SMALLINT)) FROM person`, "cast"},
		{"CAST in a subquery", `SELECT count(*) FROM person p WHERE p.person_id IN (SELECT person_id FROM measurement WHERE CAST(value_as_number AS TINYINT) > 0)`, "cast"},
		{"CAST in GROUP BY", `SELECT CAST(year_of_birth AS VARCHAR), count(*) FROM person GROUP BY 1`, "cast"},
		{"failing CAST of a constant", `SELECT count(*) FROM person WHERE CASE WHEN year_of_birth = 1970 THEN CAST('zzq' AS INTEGER) > 0 ELSE true END`, "cast"},
		{"strptime", `SELECT count(*) FROM person p JOIN concept co ON co.concept_id = p.gender_concept_id WHERE strptime(co.concept_name, '%Y') IS NULL`, "error-oracle"},
		{"TRY_CAST in a CASE branch", `SELECT count(*) FROM person p JOIN concept co ON co.concept_id = p.gender_concept_id
			WHERE CASE WHEN p.race_concept_id = 8516 AND p.year_of_birth = 1970 THEN TRY_CAST(co.concept_name AS DATE) > DATE '2000-01-01' ELSE true END`, ""},
		{"DATE literal and INTERVAL", `SELECT count(*) FROM person p JOIN condition_occurrence c USING (person_id)
			WHERE c.condition_start_date >= DATE '2020-01-01' + INTERVAL 30 DAY`, ""},
		{":: on a constant", `SELECT count(*) FROM person WHERE year_of_birth > '1960'::INTEGER`, ""},
		{"TRY_CAST of an aggregate", `SELECT gender_concept_id, TRY_CAST(count(*) AS DOUBLE) / 2 AS half FROM person GROUP BY 1`, ""},
		{"TRY_CAST inside an aggregate", `SELECT avg(TRY_CAST(year_of_birth AS DOUBLE)) FROM person`, ""},
		{"try_strptime", `SELECT count(*) FROM person p JOIN concept co ON co.concept_id = p.gender_concept_id WHERE try_strptime(co.concept_name, '%Y') IS NULL`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Rewrite(ctx, db, tc.sql, testSchema)
			if tc.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var re *RefusalError
			if !errors.As(err, &re) || re.Rule != tc.rule {
				t.Fatalf("got %v, want refusal %q", err, tc.rule)
			}
			if strings.Contains(err.Error(), "zzq") {
				t.Errorf("error echoes a literal: %v", err)
			}
		})
	}
}

// TestDataErrorsAreTotal runs queries that, as written, fail or not
// depending on the values of the rows they read (an oracle of one bit per
// query). Each is first run as written to show that it fails on this data,
// then through Rewrite, whose SQL must run and give the answer in which the
// rows that would have failed count as missing values.
func TestDataErrorsAreTotal(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	cases := []struct {
		name, sql string
		want      string // the rows of the rewritten query, user columns only
	}{
		{"ln of a value below 1", `SELECT count(*) AS n FROM measurement WHERE ln(value_as_number - 125) > 0`, "[[2]]"},
		{"sqrt in the filter of an aggregate", `SELECT avg(value_as_number) AS r FROM measurement WHERE sqrt(value_as_number - 100) > 4`, "[[128.75]]"},
		{"INTEGER overflow in WHERE", `SELECT gender_concept_id, count(*) FROM person WHERE (year_of_birth * 1100000) % 7 >= 0 GROUP BY 1`, "[[8507 1]]"},
		{"INTEGER overflow in a group key", `SELECT year_of_birth * 1100000 // 100000000 AS k, count(*) AS n FROM person GROUP BY 1 ORDER BY k NULLS LAST`, "[[21 1] [<nil> 7]]"},
		{"text column compared with a number", `SELECT count(*) FROM person p JOIN concept co ON co.concept_id = p.gender_concept_id WHERE co.concept_name = 5`, "[[0]]"},
		{"text column IN numbers", `SELECT count(*) FROM person p JOIN concept co ON co.concept_id = p.gender_concept_id WHERE co.concept_name IN (1, 2)`, "[[0]]"},
		{"regular expression built from data", `SELECT count(*) FROM person p JOIN concept co ON co.concept_id = p.gender_concept_id WHERE regexp_matches(co.concept_name, co.domain_id || '(')`, "[[0]]"},
		{"make_date from data", `SELECT count(*) FROM person WHERE make_date(2020, gender_concept_id - 8520, 1) IS NOT NULL`, "[[4]]"},
		{"chr of a negative value", `SELECT count(*) FROM person WHERE chr(year_of_birth - 1960) IS NOT NULL`, "[[6]]"},
		{"overflow of a count", `SELECT gender_concept_id, count(*) * 4611686018427387904 AS big FROM person GROUP BY 1 ORDER BY 1`, "[[8507 1.8446744073709552e+19] [8532 1.8446744073709552e+19]]"},
		{"raising expression in a subquery filter", `SELECT count(*) FROM person p WHERE p.person_id IN (SELECT person_id FROM measurement WHERE sqrt(value_as_number - 100) > 4)`, "[[3]]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := queryRows(db, tc.sql, 0); err == nil {
				t.Fatalf("as written the query does not fail on the test data, so it tests nothing")
			}
			p, err := Rewrite(ctx, db, tc.sql, testSchema)
			if err != nil {
				t.Fatalf("Rewrite: %v", err)
			}
			for _, q := range []string{p.SQL, p.SetsSQL} {
				got, err := queryRows(db, q, p.Width-len(p.Items))
				if err != nil {
					t.Fatalf("rewritten query fails: %v\n%s", err, q)
				}
				if fmt.Sprint(got) != tc.want {
					t.Fatalf("rows = %v, want %s\n%s", got, tc.want, q)
				}
			}
		})
	}

	// A query that cannot raise keeps its joins and filters as written, so
	// DuckDB plans them as before (hash join, filter pushed into the scan).
	p, err := Rewrite(ctx, db, `SELECT p.gender_concept_id, count(*) FROM person p JOIN condition_occurrence c ON c.person_id = p.person_id
		WHERE p.year_of_birth > 1950 GROUP BY 1`, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(p.SQL), "TRY") {
		t.Errorf("a query that cannot raise was rewritten with TRY:\n%s", p.SQL)
	}
	// Aliases stay on the select items.
	p, err = Rewrite(ctx, db, `SELECT round(avg(value_as_number), 1) AS mean_value, year_of_birth // 10 * 10 AS decade FROM measurement JOIN person USING (person_id) WHERE ln(value_as_number) > 0 GROUP BY decade`, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if p.Items[0].Name != "mean_value" || p.Items[1].Name != "decade" {
		t.Errorf("item names %+v, want mean_value, decade", p.Items)
	}
}

// queryRows runs q and returns its rows, leaving out the last drop columns.
func queryRows(db *sql.DB, q string, drop int) ([][]any, error) {
	rows, err := db.Query(q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, vals[:len(cols)-drop])
	}
	return out, rows.Err()
}

// TestMeanShape: a mean over few values is a table of counts, and one
// dominant person shows whether they are in the group; the plan returns
// what Shape needs to tell both, the largest per-person sums from Tops.
func TestMeanShape(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	cases := []struct {
		sql  string
		want []string // Shape per item: values, magnitude, top ("-" for items without a split)
	}{
		{`SELECT avg(year_of_birth) AS g FROM person`, []string{"8 15745 [1990 1980]"}},
		{`SELECT stddev(year_of_birth) AS g, count(*) AS n FROM person WHERE gender_concept_id = 8532`, []string{"4 7905 [1990 1980]", "-"}},
		// Person 1 has two rows (120, 130): their share is 250, more than
		// any single row.
		{`SELECT avg(m.value_as_number) AS v FROM person p JOIN measurement m USING (person_id) WHERE p.year_of_birth < 1960`, []string{"4 465 [250 215]"}},
		// A quantile is split too, for its rows count (RowsOf) only: the
		// analysis layer does not read its shape, and Tops skips it.
		{`SELECT median(year_of_birth) AS m FROM person`, []string{"8 15745 []"}},
		{`SELECT quantile_cont(year_of_birth, 0.25) AS q FROM person WHERE gender_concept_id = 8532`, []string{"4 7905 []"}},
	}
	for _, tc := range cases {
		p, err := Rewrite(ctx, db, tc.sql, testSchema)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		rows, err := queryRows(db, p.SQL, 0)
		if err != nil || len(rows) != 1 {
			t.Fatalf("%s: %v %v", tc.sql, rows, err)
		}
		tops := planTops(t, db, p)
		var got []string
		for i, it := range p.Items {
			if !it.Direct {
				got = append(got, "-")
				continue
			}
			col := it.Parts[0].Col
			hidden := append([]any{}, rows[0][col:col+SplitWidth]...)
			hidden[2] = tops[fmt.Sprint(i)]
			v, m, top := Shape(hidden)
			got = append(got, fmt.Sprint(v, m, top))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: shape %q, want %q", tc.sql, got, tc.want)
		}
	}
}

// TestTopsPerCell: the largest per-person sums are ranked within each
// cell, whatever the GROUP BY says (positions, aliases, ALL, ROLLUP), and
// the query stays one the checker's rewrite rebuilt from the checked tree.
func TestTopsPerCell(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	const from = ` FROM person p JOIN measurement m USING (person_id)`
	byGender := map[string][]any{"1 8507": {250.0, 215.0}, "1 8532": {110.0, 80.0}}
	cases := []struct {
		sql  string
		want map[string][]any // "item key..." → top
	}{
		{`SELECT p.gender_concept_id, avg(m.value_as_number)` + from + ` GROUP BY 1`, byGender},
		{`SELECT p.gender_concept_id AS g, avg(m.value_as_number)` + from + ` GROUP BY g ORDER BY g`, byGender},
		{`SELECT p.gender_concept_id, avg(m.value_as_number)` + from + ` GROUP BY ALL`, byGender},
		{`SELECT avg(m.value_as_number), p.gender_concept_id` + from + ` GROUP BY 2`, map[string][]any{"0 8507": {250.0, 215.0}, "0 8532": {110.0, 80.0}}},
		// The subtotal's key is NULL: all six persons.
		{`SELECT p.gender_concept_id, avg(m.value_as_number)` + from + ` GROUP BY ROLLUP (p.gender_concept_id)`,
			map[string][]any{"1 8507": {250.0, 215.0}, "1 8532": {110.0, 80.0}, "1 <nil>": {250.0, 215.0}}},
		// Two means of one query are ranked apart.
		{`SELECT p.gender_concept_id, avg(m.value_as_number), stddev(p.year_of_birth)` + from + ` GROUP BY 1`,
			map[string][]any{"1 8507": {250.0, 215.0}, "1 8532": {110.0, 80.0}, "2 8507": {3910.0, 3900.0}, "2 8532": {1990.0, 1980.0}}},
	}
	for _, tc := range cases {
		p, err := Rewrite(ctx, db, tc.sql, testSchema)
		if err != nil {
			t.Fatalf("%s: %v", tc.sql, err)
		}
		got := planTops(t, db, p)
		for k, v := range tc.want {
			if !slices.Equal(got[k], v) {
				t.Errorf("%s: tops[%s] = %v, want %v", tc.sql, k, got[k], v)
			}
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: tops %v, want %v", tc.sql, got, tc.want)
		}
	}
}

// planTops runs p.Tops and returns, keyed by "item key…" (the index into
// p.Items, then the group values), each cell's largest per-person sums.
func planTops(t *testing.T, db *sql.DB, p *Plan) map[string][]any {
	t.Helper()
	out := map[string][]any{}
	if p.Tops == nil {
		return out
	}
	rows, err := queryRows(db, p.Tops.SQL, 0)
	if err != nil {
		t.Fatalf("tops: %v\n%s", err, p.Tops.SQL)
	}
	type ranked struct{ v [2]any }
	acc := map[string]*ranked{}
	for _, r := range rows {
		if len(r) != p.Tops.Groups+2*len(p.Tops.Cols) {
			t.Fatalf("tops row %v: width %d", r, len(r))
		}
		key := fmt.Sprint(r[:p.Tops.Groups]...)
		for j, col := range p.Tops.Cols {
			item := -1
			for i, it := range p.Items {
				for _, part := range it.Parts {
					if part.Col == col && item < 0 {
						item = i
					}
				}
			}
			rank, _ := r[p.Tops.Groups+2*j+1].(int64)
			if rank < 1 || rank > 2 {
				continue
			}
			k := strings.TrimSpace(fmt.Sprint(item) + " " + key)
			if acc[k] == nil {
				acc[k] = &ranked{}
			}
			acc[k].v[rank-1] = r[p.Tops.Groups+2*j]
		}
	}
	for k, r := range acc {
		for _, v := range r.v {
			if v != nil {
				out[k] = append(out[k], v)
			}
		}
	}
	return out
}

// TestPersonRowsUnique: over a person table that holds each person once,
// a query of the person table alone counts persons without DISTINCT and
// gets the same counts; queries that join keep DISTINCT.
func TestPersonRowsUnique(t *testing.T) {
	db := openTestDB(t)
	ctx := context.Background()
	sc := testSchema
	sc.PersonRowsUnique = true
	plain := 0
	for _, tc := range acceptCases {
		p, err := Rewrite(ctx, db, tc.sql, sc)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := map[string]int64{}
		for k, v := range runCells(t, db, p, p.SQL) {
			got[k] = v.(int64)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.persons) {
			t.Errorf("%s: persons per cell = %v, want %v\nSQL: %s", tc.name, got, tc.persons, p.SQL)
		}
		simple := regexp.MustCompile(`(?i)^SELECT .* FROM person( AS \w+)?( WHERE .*)?( GROUP BY .*)?$`).MatchString(strings.Join(strings.Fields(tc.sql), " ")) &&
			!strings.Contains(strings.ToUpper(tc.sql), "JOIN")
		distinct := strings.Contains(p.SQL, "count(DISTINCT "+p.PersonOf+".person_id)") || strings.Contains(p.SQL, "count(DISTINCT \""+p.PersonOf+"\".person_id)")
		if simple && distinct {
			t.Errorf("%s: a query of the person table alone still counts DISTINCT:\n%s", tc.name, p.SQL)
		}
		if simple {
			plain++
		}
		if strings.Contains(strings.ToUpper(tc.sql), "JOIN") && !distinct {
			t.Errorf("%s: a join counts persons without DISTINCT:\n%s", tc.name, p.SQL)
		}
	}
	if plain == 0 {
		t.Fatal("no accepted case reads the person table alone")
	}
}

// TestMeanOfCounts: the mean of a per-person count from a CTE or a
// subquery is accepted (a count of rows cannot be made a marker).
func TestMeanOfCounts(t *testing.T) {
	db := openTestDB(t)
	for _, q := range []string{
		`WITH per AS (SELECT person_id, count(*) AS n FROM condition_occurrence GROUP BY person_id) SELECT avg(per.n) FROM person p JOIN per USING (person_id)`,
		`SELECT stddev(x.n) FROM person p JOIN (SELECT person_id, count(condition_concept_id) AS n FROM condition_occurrence GROUP BY person_id) x USING (person_id)`,
	} {
		if _, err := Rewrite(context.Background(), db, q, testSchema); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// TestQuantileSource: the rows behind a median are the query's rows
// without its grouping, with the cell key, the value and the person.
func TestQuantileSource(t *testing.T) {
	db := openTestDB(t)
	p, err := Rewrite(context.Background(), db, `SELECT p.gender_concept_id AS g, count(*), median(m.value_as_number) AS med
		FROM person p JOIN measurement m USING (person_id) WHERE p.year_of_birth < 1990 GROUP BY g ORDER BY g`, testSchema)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Quantiles) != 1 || p.Quantiles[0].Item != 2 || p.Quantiles[0].P != 0.5 || p.Quantiles[0].Groups != 1 {
		t.Fatalf("quantiles %+v", p.Quantiles)
	}
	rows, err := queryRows(db, "SELECT g0, v, pid FROM ("+p.Quantiles[0].Source+") ORDER BY g0, v, pid", 0)
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Quantiles[0].Source)
	}
	// Persons 1, 2, 3, 4, 6 (born before 1990) and their measurements.
	want := "[[8507 90 6] [8507 120 1] [8507 125 6] [8507 130 1] [8507 140 2] [8532 70.5 4] [8532 110 3]]"
	if got := fmt.Sprint(rows); got != want {
		t.Errorf("rows %s, want %s", got, want)
	}
}

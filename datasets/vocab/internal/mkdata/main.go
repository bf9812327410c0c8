// Command mkdata builds the embedded default vocabulary (datasets/vocab/data)
// from the OHDSI Eunomia vocabulary shards in ../shared/omop/vocab (GiBleed
// and Synthea27Nj, Apache-2.0) plus the hand-written local concepts in
// datasets/vocab/local (PPI survey questions/answers the tier rules use and
// the All of Us generalised categories). Run by `go generate ./datasets/vocab`.
//
// Shards are merged by key; Synthea27Nj's concept_relationship (14 MB) is
// cut to the rows whose both ends are known concepts plus the "Maps to" rows
// that land on a known concept, which is what source→standard mapping needs.
package main

import (
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	shards := flag.String("shards", "", "folder with gibleed/ and synthea27nj/ vocabulary shards")
	local := flag.String("local", "local", "folder with hand-written local vocabulary CSVs")
	out := flag.String("out", "data", "output folder")
	flag.Parse()
	if err := run(*shards, *local, *out); err != nil {
		log.Fatalf("mkdata: %v", err)
	}
}

func run(shards, local, out string) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	src := func(dir, table string) string {
		return fmt.Sprintf("read_csv('%s', header=true, all_varchar=true, normalize_names=true)", filepath.Join(dir, table+".csv"))
	}
	g := filepath.Join(shards, "gibleed")
	s := filepath.Join(shards, "synthea27nj")
	stmts := []string{
		// Later sources win on key: local > synthea > gibleed.
		`CREATE TABLE concept AS SELECT * FROM (
			SELECT *, 1 AS prio FROM ` + src(g, "concept") + `
			UNION ALL BY NAME SELECT *, 2 AS prio FROM ` + src(s, "concept") + `
			UNION ALL BY NAME SELECT *, 3 AS prio FROM ` + src(local, "concept") + `)
		 QUALIFY row_number() OVER (PARTITION BY concept_id ORDER BY prio DESC) = 1`,
		`CREATE TABLE concept_relationship AS SELECT DISTINCT concept_id_1, concept_id_2, relationship_id, valid_start_date, valid_end_date, invalid_reason FROM (
			SELECT * FROM ` + src(g, "concept_relationship") + `
			UNION ALL BY NAME SELECT * FROM ` + src(s, "concept_relationship") + ` r
			WHERE (concept_id_1 IN (SELECT concept_id FROM concept) AND concept_id_2 IN (SELECT concept_id FROM concept))
			   OR (relationship_id = 'Maps to' AND concept_id_2 IN (SELECT concept_id FROM concept)))`,
		`CREATE TABLE concept_ancestor AS SELECT * FROM ` + src(g, "concept_ancestor"),
		`CREATE TABLE concept_synonym AS SELECT * FROM ` + src(g, "concept_synonym"),
		`CREATE TABLE domain AS SELECT * FROM ` + src(g, "domain"),
		`CREATE TABLE relationship AS SELECT * FROM ` + src(g, "relationship"),
		`CREATE TABLE vocabulary AS SELECT * FROM ` + src(g, "vocabulary") + `
			UNION ALL SELECT 'PPI', 'AllOfUs_PPI (Columbia)', 'http://terminology.pmi-ops.org/CodeSystem/ppi', 'enclave subset', '581404'
			UNION ALL SELECT 'AoU_General', 'All of Us generalised survey categories', 'enclave', 'enclave subset', '0'`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%w\n%s", err, q)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, t := range []string{"concept", "concept_relationship", "concept_ancestor", "concept_synonym", "domain", "relationship", "vocabulary"} {
		// ORDER BY ALL gives a total order, so a rebuild is byte-identical
		// to the committed files whatever DuckDB's parallel scan did.
		q := fmt.Sprintf("COPY (SELECT * FROM %s ORDER BY ALL) TO '%s' (HEADER, DELIMITER ',', COMPRESSION gzip)",
			t, filepath.Join(out, t+".csv.gz"))
		if t == "concept" {
			q = fmt.Sprintf("COPY (SELECT * EXCLUDE (prio) FROM %s ORDER BY ALL) TO '%s' (HEADER, DELIMITER ',', COMPRESSION gzip)",
				t, filepath.Join(out, t+".csv.gz"))
		}
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	return nil
}

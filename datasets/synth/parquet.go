package synth

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver
)

// toParquet converts every table's CSV in csvDir into <table>.parquet in
// out with an in-memory DuckDB, typing each column explicitly (no
// sniffing), and removes the CSV.
func toParquet(csvDir, out string, threads int) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return fmt.Errorf("synth: open duckdb: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		fmt.Sprintf("SET threads=%d", threads),
		"SET memory_limit='2GB'",
		"SET preserve_insertion_order=true",
	} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("synth: duckdb %q: %w", q, err)
		}
	}
	for _, t := range allTables() {
		src := filepath.Join(csvDir, t.name+".csv")
		dst := filepath.Join(out, t.name+".parquet")
		var colSpec []string
		for _, c := range t.cols {
			colSpec = append(colSpec, fmt.Sprintf("'%s': '%s'", c.name, c.typ))
		}
		q := fmt.Sprintf(`COPY (SELECT * FROM read_csv(%s, header=true, delim=',', quote='"', escape='"',
			auto_detect=false, dateformat='%%Y-%%m-%%d', timestampformat='%%Y-%%m-%%d %%H:%%M:%%S',
			columns={%s})) TO %s (FORMAT parquet, COMPRESSION zstd)`,
			sqlString(src), strings.Join(colSpec, ", "), sqlString(dst))
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("synth: converting %s to Parquet: %w", t.name, err)
		}
		if err := os.Remove(src); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
	}
	return nil
}

func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

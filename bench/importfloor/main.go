// Command importfloor is the baseline of bench/import.sh: the plain DuckDB
// load of an OMOP folder's Parquet and CSV files, one CREATE TABLE AS per
// file (types as the reader infers them), into a new database file with the
// settings the import uses (memory_limit from the machine's memory, a
// temp_directory, insertion order not kept), then a CHECKPOINT. No schema,
// no type checks, no data-quality checks, no tiers: the floor any import of
// the folder pays on this machine. It prints one JSON object: the seconds
// of the load and of the checkpoint, and the rows loaded.
//
// Usage: importfloor -folder DIR -db FILE
package main

import (
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"enclave/datasets/omop"
)

func main() {
	folder := flag.String("folder", "", "folder of OMOP Parquet or CSV files")
	dbPath := flag.String("db", "", "database file to create (must not exist)")
	flag.Parse()
	if *folder == "" || *dbPath == "" {
		fmt.Fprintln(os.Stderr, "usage: importfloor -folder DIR -db FILE")
		os.Exit(2)
	}
	if err := run(*folder, *dbPath); err != nil {
		fmt.Fprintln(os.Stderr, "importfloor:", err)
		os.Exit(1)
	}
}

func run(folder, dbPath string) error {
	if _, err := os.Stat(dbPath); err == nil {
		return fmt.Errorf("%s already exists", dbPath)
	}
	tmp := dbPath + ".tmp"
	defer os.RemoveAll(tmp)
	v := url.Values{}
	v.Set("memory_limit", omop.DefaultMemoryLimit())
	v.Set("temp_directory", tmp)
	db, err := sql.Open("duckdb", dbPath+"?"+v.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec("SET preserve_insertion_order = false"); err != nil {
		return err
	}
	entries, err := os.ReadDir(folder)
	if err != nil {
		return err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() && (strings.HasSuffix(n, ".parquet") || strings.HasSuffix(n, ".csv")) {
			files = append(files, n)
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return fmt.Errorf("no .parquet or .csv files in %s", folder)
	}
	start := time.Now()
	var rows int64
	for _, n := range files {
		path := strings.ReplaceAll(filepath.Join(folder, n), "'", "''")
		table := strings.TrimSuffix(strings.TrimSuffix(n, ".parquet"), ".csv")
		from := "read_parquet('" + path + "')"
		if strings.HasSuffix(n, ".csv") {
			from = "read_csv('" + path + "', header=true)"
		}
		t := `"` + strings.ReplaceAll(table, `"`, `""`) + `"`
		if _, err := db.Exec("CREATE TABLE " + t + " AS SELECT * FROM " + from); err != nil {
			return fmt.Errorf("%s: %w", n, err)
		}
		var k int64 // CREATE TABLE AS reports no rows affected
		if err := db.QueryRow("SELECT count(*) FROM " + t).Scan(&k); err != nil {
			return err
		}
		rows += k
	}
	load := time.Since(start)
	began := time.Now()
	if _, err := db.Exec("CHECKPOINT"); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"files": len(files), "rows": rows,
		"load_s":       round(load.Seconds()),
		"checkpoint_s": round(time.Since(began).Seconds()),
	})
}

func round(s float64) float64 { return float64(int64(s*100+0.5)) / 100 }

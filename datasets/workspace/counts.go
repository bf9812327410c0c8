package workspace

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver
)

// countRows opens the DuckDB database at path read-only and counts the rows
// of every table and view in its main schema.
func countRows(ctx context.Context, path string) (map[string]int64, error) {
	db, err := sql.Open("duckdb", path+"?"+url.Values{"access_mode": {"read_only"}}.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'main' AND table_catalog = current_database() ORDER BY table_name`)
	if err != nil {
		return nil, fmt.Errorf("%s: list tables: %w", path, err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	counts := make(map[string]int64, len(names))
	for _, n := range names {
		var c int64
		q := `SELECT count(*) FROM "` + strings.ReplaceAll(n, `"`, `""`) + `"`
		if err := db.QueryRowContext(ctx, q).Scan(&c); err != nil {
			return nil, fmt.Errorf("%s: count %s: %w", path, n, err)
		}
		counts[n] = c
	}
	return counts, nil
}

package pq

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// TestDuckDBReadsIt writes every type, with nulls, dictionary and plain
// columns, over several row groups, and reads it back with DuckDB.
func TestDuckDBReadsIt(t *testing.T) {
	cols := []Column{
		{"id", Int64, true}, {"concept", Int64, false}, {"value", Double, false}, {"name", String, false},
		{"flag", Bool, false}, {"day", Date, false}, {"ts", Timestamp, true}, {"unique_s", String, false},
	}
	var buf bytes.Buffer
	w := NewWriter(&buf, cols)
	g := NewRowGroup(cols)
	var e Encoded
	want := 0
	for rg := 0; rg < 3; rg++ {
		g.Reset()
		for i := 0; i < 1000+rg*7; i++ {
			id := int64(want)
			g.Col(0).Int(id)
			if i%5 == 0 {
				g.Col(1).Null()
			} else {
				g.Col(1).Int(3000000 + int64(i%7))
			}
			g.Col(2).Float(float64(i%13) / 2)
			if i%3 == 0 {
				g.Col(3).Null()
			} else {
				g.Col(3).Str([]string{"a", "bb", "ccc"}[i%3])
			}
			g.Col(4).Int(int64(i % 2))
			g.Col(5).Int(19000 + int64(i%30))
			g.Col(6).Int(id * 60_000_000)
			g.Col(7).Str(fmt.Sprint("s", id))
			g.EndRow()
			want++
		}
		g.Encode(&e)
		if err := w.Append(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "x.parquet")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, nullConcept, nullName, sumFlag int
	var sumConcept, sumID int64
	var sumValue float64
	var minDay, maxTS, typeTS, lastS string
	q := `SELECT count(*), count(*) - count(concept), count(*) - count(name), sum(flag::INT), sum(concept), sum(id),
		sum(value), min(day)::VARCHAR, max(ts)::VARCHAR, typeof(any_value(ts)), max(unique_s) FROM read_parquet(?)`
	if err := db.QueryRow(q, path).Scan(&n, &nullConcept, &nullName, &sumFlag, &sumConcept, &sumID, &sumValue, &minDay, &maxTS, &typeTS, &lastS); err != nil {
		t.Fatal(err)
	}
	var wConcept, wID int64
	var wValue float64
	var wNullC, wNullN, wFlag int
	id := 0
	for rg := 0; rg < 3; rg++ {
		for i := 0; i < 1000+rg*7; i++ {
			if i%5 == 0 {
				wNullC++
			} else {
				wConcept += 3000000 + int64(i%7)
			}
			if i%3 == 0 {
				wNullN++
			}
			wFlag += i % 2
			wValue += float64(i%13) / 2
			wID += int64(id)
			id++
		}
	}
	if n != want || nullConcept != wNullC || nullName != wNullN || sumFlag != wFlag || sumConcept != wConcept || sumID != wID || sumValue != wValue {
		t.Errorf("got n=%d nulls=%d,%d flag=%d concept=%d id=%d value=%v; want %d %d,%d %d %d %d %v",
			n, nullConcept, nullName, sumFlag, sumConcept, sumID, sumValue, want, wNullC, wNullN, wFlag, wConcept, wID, wValue)
	}
	if minDay != "2022-01-08" || typeTS != "TIMESTAMP" || lastS != "s999" {
		t.Errorf("min(day)=%s typeof(ts)=%s max(unique_s)=%s", minDay, typeTS, lastS)
	}
	t.Logf("max ts %s, %d bytes", maxTS, buf.Len())
}

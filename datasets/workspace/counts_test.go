package workspace

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
)

func TestCountRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.duckdb")
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`CREATE TABLE person (person_id BIGINT)`,
		`INSERT INTO person SELECT range FROM range(7)`,
		`CREATE TABLE death (person_id BIGINT)`,
		`CREATE VIEW adults AS SELECT * FROM person WHERE person_id > 2`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	got, err := countRows(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"person": 7, "death": 0, "adults": 4}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d rows, want %d", k, got[k], v)
		}
	}
}

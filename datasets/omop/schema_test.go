package omop

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// specFile is the CDM v5.3 field-level specification in ../shared/omop/cdm53.
const specFile = "OMOP_CDMv5.3_Field_Level.csv"

// TestSchemaMatchesSpec checks CDM53 against the official field-level CSV:
// every table and field in order, with its type, required, key flags.
func TestSchemaMatchesSpec(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(sharedFolder(t, "cdm53"), specFile))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	type key struct{ table, field string }
	want := map[key][]string{}
	var tables []string
	for _, r := range recs[1:] {
		tn := strings.ToLower(r[col["cdmTableName"]])
		if len(tables) == 0 || tables[len(tables)-1] != tn {
			tables = append(tables, tn)
		}
		want[key{tn, strings.ToLower(r[col["cdmFieldName"]])}] = []string{
			strings.ToLower(r[col["cdmDatatype"]]), r[col["isRequired"]], r[col["isPrimaryKey"]], r[col["isForeignKey"]],
		}
	}
	if len(tables) != 37 || len(CDM53) != 37 {
		t.Fatalf("spec has %d tables, CDM53 %d; want 37", len(tables), len(CDM53))
	}
	yes := func(b bool) string {
		if b {
			return "Yes"
		}
		return "No"
	}
	n := 0
	for i, tab := range CDM53 {
		if tab.Name != tables[i] {
			t.Errorf("table %d = %s, spec %s", i, tab.Name, tables[i])
		}
		for _, f := range tab.Fields {
			w, ok := want[key{tab.Name, f.Name}]
			if !ok {
				t.Errorf("%s.%s not in the specification", tab.Name, f.Name)
				continue
			}
			got := []string{f.CDMType, yes(f.Required), yes(f.PrimaryKey), yes(f.ForeignKey)}
			if strings.Join(got, ",") != strings.Join(w, ",") {
				t.Errorf("%s.%s = %v, spec %v", tab.Name, f.Name, got, w)
			}
			n++
		}
	}
	if n != len(want) || n != 396 {
		t.Errorf("CDM53 has %d fields, spec %d (want 396)", n, len(want))
	}
}

// TestSchemaGenerated re-runs the generator and compares with the committed file.
func TestSchemaGenerated(t *testing.T) {
	spec := filepath.Join(sharedFolder(t, "cdm53"), specFile)
	if _, err := os.Stat(spec); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "schema_gen.go")
	cmd := exec.Command("go", "run", "./internal/genschema", "-spec", spec, "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("genschema: %v\n%s", err, b)
	}
	got, _ := os.ReadFile(out)
	committed, _ := os.ReadFile("schema_gen.go")
	if !bytes.Equal(got, committed) {
		t.Errorf("schema_gen.go is stale: run go generate ./datasets/omop")
	}
}

// TestDDLCreatesEveryTable creates the schema in DuckDB and lists it back.
func TestDDLCreatesEveryTable(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(DDL()); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT table_name, column_count FROM duckdb_tables() WHERE database_name = current_database() AND NOT internal`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var tn string
		var n int
		rows.Scan(&tn, &n)
		got[tn] = n
	}
	if len(got) != 37+7 {
		t.Errorf("DDL created %d tables, want 37 CDM + 7 Fitbit", len(got))
	}
	for _, tab := range Tables {
		if got[tab.Name] != len(tab.Fields) {
			t.Errorf("%s: %d columns, want %d", tab.Name, got[tab.Name], len(tab.Fields))
		}
	}
}

// TestTableNamesCaseInsensitive: the helpers a grant check relies on resolve
// names exactly as the catalog does.
func TestTableNamesCaseInsensitive(t *testing.T) {
	for _, n := range []string{"steps_intraday", "STEPS_INTRADAY", " Steps_Intraday "} {
		if !IsFitbit(n) || LookupTable(n) == nil || LookupTable(n).Name != "steps_intraday" {
			t.Errorf("%q not recognised as the Fitbit table steps_intraday", n)
		}
	}
	if !IsVocabulary("CONCEPT") || IsVocabulary("person") || IsFitbit("person") {
		t.Errorf("IsVocabulary/IsFitbit misclassify")
	}
}

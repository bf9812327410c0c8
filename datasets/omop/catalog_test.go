package omop

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"enclave/datasets"
)

func openTier(t *testing.T, db string, tier datasets.Tier) datasets.Catalog {
	t.Helper()
	c, err := OpenCatalog(TierPath(db, tier))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// cells renders a result as "key|key:persons/rows=value" lines for comparison.
func cells(r *datasets.Result) string {
	var out []string
	for _, c := range r.Cells {
		var k []string
		for _, v := range c.Key {
			k = append(k, fmt.Sprint(v))
		}
		out = append(out, fmt.Sprintf("%s:%d/%d=%g", strings.Join(k, "|"), c.Persons, c.Rows, c.Value))
	}
	return strings.Join(out, " ")
}

func TestCatalogAggregate(t *testing.T) {
	db, _ := importGood(t, Options{})
	ctl := openTier(t, db, datasets.Controlled)
	reg := openTier(t, db, datasets.Registered)
	ctx := context.Background()
	tests := []struct {
		name string
		cat  datasets.Catalog
		q    datasets.Query
		want string
	}{
		{"gender x condition, controlled", ctl,
			datasets.Query{Table: "condition_occurrence", GroupBy: []string{"person.gender_concept_id", "condition_concept_id"}},
			"8507|201826:1/1=1 8507|317009:1/1=1 8507|320128:2/2=2 8532|201826:2/2=2 8532|320128:1/1=1 8532|4051466:1/1=1 8551|201826:1/1=1"},
		{"gender x condition, registered: 96-year-old gone, odd sex generalised", reg,
			datasets.Query{Table: "condition_occurrence", GroupBy: []string{"person.gender_concept_id", "condition_concept_id"}},
			"8507|201826:1/1=1 8507|317009:1/1=1 8507|320128:2/2=2 8532|201826:1/1=1 8532|320128:1/1=1 8532|4051466:1/1=1 2000000009|201826:1/1=1"},
		{"no group: one cell", ctl, datasets.Query{Table: "condition_occurrence"}, ":6/9=6"},
		{"rows", ctl, datasets.Query{Table: "condition_occurrence", Agg: datasets.CountRows}, ":6/9=9"},
		{"descendants of asthma", ctl,
			datasets.Query{Table: "condition_occurrence", Where: []datasets.Filter{{Column: "condition_concept_id", Op: "descendant of", Values: []any{317009}}}},
			":2/2=2"},
		{"mean HbA1c by sex", ctl,
			datasets.Query{Table: "measurement", GroupBy: []string{"person.gender_concept_id"}, Agg: datasets.Mean, Of: "value_as_number",
				Where: []datasets.Filter{{Column: "measurement_concept_id", Op: "=", Values: []any{3004410}}}},
			"8507:2/2=6.45 8532:2/2=6.85"},
		{"year of diagnosis, filter on birth year", ctl,
			datasets.Query{Table: "condition_occurrence", GroupBy: []string{"year(condition_start_date)"},
				Where: []datasets.Filter{{Column: "person.year_of_birth", Op: "between", Values: []any{1950, 1980}}, {Column: "condition_concept_id", Op: "in", Values: []any{201826, 320128}}}},
			"2012:1/1=1 2015:1/1=1 2018:1/1=1 2021:1/1=1"},
		{"person table itself", ctl,
			datasets.Query{Table: "person", GroupBy: []string{"race_concept_id"}},
			"8515:1/1=1 8516:1/1=1 8527:4/4=4"},
		{"fitbit, registered: only person 1", reg,
			datasets.Query{Table: "steps_intraday", Agg: datasets.Sum, Of: "steps"}, ":1/2=200"},
		{"empty result", ctl,
			datasets.Query{Table: "condition_occurrence", Where: []datasets.Filter{{Column: "condition_concept_id", Op: "=", Values: []any{1}}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.cat.Aggregate(ctx, tt.q)
			if err != nil {
				t.Fatalf("Aggregate: %v (%s)", err, datasets.AuditText(err))
			}
			if got := strings.ReplaceAll(cells(r), "6.449999999999999", "6.45"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCatalogPersonSet(t *testing.T) {
	db, _ := importGood(t, Options{})
	c := openTier(t, db, datasets.Controlled)
	q := datasets.Query{Table: "condition_occurrence", GroupBy: []string{"person.gender_concept_id", "condition_concept_id"}}
	res, err := c.Aggregate(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	for _, cell := range res.Cells {
		bm, err := c.PersonSet(context.Background(), q, cell.Key)
		if err != nil {
			t.Fatal(err)
		}
		if int64(bm.GetCardinality()) != cell.Persons {
			t.Errorf("cell %v: set of %d persons, count %d", cell.Key, bm.GetCardinality(), cell.Persons)
		}
	}
	bm, err := c.PersonSet(context.Background(), q, []any{int64(8532), int64(201826)})
	if err != nil {
		t.Fatal(err)
	}
	if got := bm.ToArray(); !slices.Equal(got, []uint32{2, 3}) {
		t.Errorf("women with type 2 diabetes = %v, want [2 3]", got)
	}
}

func TestCatalogVocabulary(t *testing.T) {
	db, _ := importGood(t, Options{})
	c := openTier(t, db, datasets.Registered)
	ctx := context.Background()
	search := func(q datasets.ConceptQuery) []int64 {
		t.Helper()
		cs, err := c.SearchConcepts(ctx, q)
		if err != nil {
			t.Fatal(datasets.AuditText(err))
		}
		var ids []int64
		for _, x := range cs {
			ids = append(ids, x.ID)
		}
		return ids
	}
	if ids := search(datasets.ConceptQuery{Text: "type 2 diabetes", Domain: "condition", StandardOnly: true}); len(ids) == 0 || ids[0] != 201826 {
		t.Errorf("search 'type 2 diabetes' = %v, want 201826 first", ids)
	}
	if ids := search(datasets.ConceptQuery{Code: "44054006"}); !slices.Equal(ids, []int64{201826}) {
		t.Errorf("search code 44054006 = %v", ids)
	}
	if ids := search(datasets.ConceptQuery{Text: "race", Vocabulary: "PPI"}); !slices.Contains(ids, QuestionRace) {
		t.Errorf("PPI race question missing: %v", ids)
	}
	if ids := search(datasets.ConceptQuery{Text: "Test local condition"}); !slices.Equal(ids, []int64{2100000001}) {
		t.Errorf("folder concept not merged: %v", ids)
	}
	if ids := search(datasets.ConceptQuery{Text: "100%_"}); len(ids) != 0 {
		t.Errorf("LIKE wildcards not escaped: %v", ids)
	}
	if _, err := c.SearchConcepts(ctx, datasets.ConceptQuery{}); err == nil {
		t.Errorf("empty search succeeded")
	}
	d, err := c.Descendants(ctx, 4132546)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []int64{4132546, 4001336, 375671, 378001} {
		if !slices.Contains(d, want) {
			t.Errorf("descendants of traumatic brain injury lack %d: %v", want, d)
		}
	}
	m, err := c.MapToStandard(ctx, 35208414, 2100000002, 201826)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(m) != "map[201826:[201826] 35208414:[192671] 2100000002:[201826]]" { // a standard concept maps to itself
		t.Errorf("MapToStandard = %v", m)
	}
}

func TestCatalogTables(t *testing.T) {
	db, _ := importGood(t, Options{})
	c := openTier(t, db, datasets.Registered)
	if c.Tier() != datasets.Registered {
		t.Errorf("tier = %s", c.Tier())
	}
	ts, err := c.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]datasets.TableInfo{}
	for _, x := range ts {
		byName[x.Name] = x
	}
	if ts[0].Name != "person" {
		t.Errorf("first table %s, want person (schema order)", ts[0].Name)
	}
	co, ok := byName["condition_occurrence"]
	if !ok || !co.HasPerson {
		t.Fatalf("condition_occurrence missing or without person: %+v", co)
	}
	for _, col := range co.Columns {
		if col.Name == "condition_concept_id" && !col.Concept {
			t.Errorf("condition_concept_id not flagged as concept")
		}
		if col.Name == "condition_source_value" {
			t.Errorf("registered tier lists condition_source_value")
		}
	}
	for _, gone := range []string{"note", "provider", "enclave_tier", "enclave_meta"} {
		if _, ok := byName[gone]; ok {
			t.Errorf("registered catalog lists %s", gone)
		}
	}
}

// TestCatalogErrors: bad queries fail with a safe text that holds no data
// value; the audit text keeps the engine's full message.
func TestCatalogErrors(t *testing.T) {
	db, _ := importGood(t, Options{})
	c := openTier(t, db, datasets.Controlled)
	tests := []struct {
		name string
		q    datasets.Query
		safe string // substring of the safe text
		leak string // must not be in the safe text, must be in the audit text
	}{
		{"unknown table", datasets.Query{Table: "secrets"}, `no table "secrets"`, ""},
		{"vocabulary table", datasets.Query{Table: "concept"}, "has no person_id", ""},
		{"unknown column", datasets.Query{Table: "person", GroupBy: []string{"ssn"}}, `no column "ssn"`, ""},
		{"bad operator", datasets.Query{Table: "person", Where: []datasets.Filter{{Column: "year_of_birth", Op: "; DROP", Values: []any{1}}}}, "unknown filter operator", ""},
		{"group by person", datasets.Query{Table: "condition_occurrence", GroupBy: []string{"person_id"}}, "identifies rows or persons", ""},
		{"group by visit", datasets.Query{Table: "condition_occurrence", GroupBy: []string{"visit_occurrence_id"}}, "identifies rows or persons", ""},
		{"filter on one person", datasets.Query{Table: "measurement", Where: []datasets.Filter{{Column: "person.person_id", Op: "=", Values: []any{1}}}}, "identifies rows or persons", ""},
		{"mean of text", datasets.Query{Table: "measurement", Agg: datasets.Mean, Of: "measurement_date"}, "not a numeric column", ""},
		{"engine conversion error echoes the value", datasets.Query{Table: "person",
			Where: []datasets.Filter{{Column: "year_of_birth", Op: "=", Values: []any{"Smith-1960"}}}}, "query failed", "Smith-1960"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Aggregate(context.Background(), tt.q)
			if err == nil {
				t.Fatal("no error")
			}
			var de *datasets.Error
			if !errorsAs(err, &de) {
				t.Fatalf("error %T is not a *datasets.Error", err)
			}
			if !strings.Contains(err.Error(), tt.safe) {
				t.Errorf("safe text %q lacks %q", err.Error(), tt.safe)
			}
			if tt.leak != "" {
				if strings.Contains(err.Error(), tt.leak) || strings.Contains(datasets.SafeText(err), tt.leak) {
					t.Errorf("safe text %q leaks %q", err.Error(), tt.leak)
				}
				if !strings.Contains(datasets.AuditText(err), tt.leak) {
					t.Errorf("audit text %q lacks the engine message", datasets.AuditText(err))
				}
			}
		})
	}
}

// TestCatalogSharedReadOnly: two kernels (here a second process) hold the
// same tier database open at once.
func TestCatalogSharedReadOnly(t *testing.T) {
	if p := os.Getenv("ENCLAVE_OMOP_HOLD_TIER"); p != "" {
		c, err := OpenCatalog(p)
		if err != nil {
			fmt.Println("open failed:", err)
			os.Exit(1)
		}
		fmt.Println("opened")
		io.Copy(io.Discard, os.Stdin) // hold it open until the test is done
		c.Close()
		os.Exit(0)
	}
	db, _ := importGood(t, Options{})
	path := TierPath(db, datasets.Registered)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCatalogSharedReadOnly$")
	cmd.Env = append(os.Environ(), "ENCLAVE_OMOP_HOLD_TIER="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	hold, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "opened") {
		t.Fatalf("holder process: %q", buf[:n])
	}
	c1 := openTier(t, db, datasets.Registered)
	c2 := openTier(t, db, datasets.Registered)
	for _, c := range []datasets.Catalog{c1, c2} {
		if _, err := c.Aggregate(context.Background(), datasets.Query{Table: "person"}); err != nil {
			t.Errorf("Aggregate while shared: %v", err)
		}
	}
	hold.Close() // the holder closes its catalog and exits
	if err := cmd.Wait(); err != nil {
		t.Errorf("holder process: %v", err)
	}
}

func errorsAs(err error, target **datasets.Error) bool { return errors.As(err, target) }

func TestCountRowsBesideCatalog(t *testing.T) {
	db, _ := importGood(t, Options{})
	c := openTier(t, db, datasets.Registered)
	_ = c
	reg, err := CountRows(context.Background(), TierPath(db, datasets.Registered))
	if err != nil {
		t.Fatal(err)
	}
	base, err := CountRows(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if reg["person"] != 5 || base["person"] != 6 || base["note"] != 1 {
		t.Errorf("counts: registered person %d, base person %d note %d", reg["person"], base["person"], base["note"])
	}
	if _, ok := reg["note"]; ok {
		t.Errorf("registered counts list note")
	}
	if _, ok := base["enclave_meta"]; ok {
		t.Errorf("counts list enclave_meta")
	}
}

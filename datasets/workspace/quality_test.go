package workspace

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"enclave/datasets/omop"
	"enclave/internal/sharedtest"
)

// eunomiaGiBleed copies the real Eunomia GiBleed export and its vocabulary
// into one folder. Outside CI a missing ../shared skips the test; in CI
// (CI=true) it fails it.
func eunomiaGiBleed(t *testing.T) string {
	t.Helper()
	folder := t.TempDir()
	for _, sub := range []string{"eunomia/gibleed_5.3_partial", "vocab/gibleed"} {
		src := sharedtest.Path(t, "omop/"+sub)
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(folder, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return folder
}

// TestImportGiBleedWorkspace: the steward imports the real GiBleed export
// into a controlled workspace as it is. The base holds every source row,
// the quality report names the two failed checks, the tier holds the base
// minus what the report says it left out; a strict import refuses and
// leaves the workspace as it was.
func TestImportGiBleedWorkspace(t *testing.T) {
	dir := setupHome(t)
	folder := eunomiaGiBleed(t)
	var progress bytes.Buffer
	w, err := Import(context.Background(), dir, folder, ImportOptions{Now: nov26, Progress: &progress})
	if err != nil {
		t.Fatalf("import: %v\n%s", err, &progress)
	}
	for _, s := range []string{"data-quality checks:", "2 failed", "FAIL isForeignKey", "FAIL isPrimaryKey", "controlled tier: 2655 rows of the base left out"} {
		if !strings.Contains(progress.String(), s) {
			t.Errorf("import report lacks %q:\n%s", s, &progress)
		}
	}
	st, err := Stat(context.Background(), dir, nov26)
	if err != nil {
		t.Fatal(err)
	}
	for tab, n := range map[string]int64{"person": 2694, "observation_period": 5343, "visit_occurrence": 1037, "procedure_occurrence": 37409, "observation": 1477} {
		if st.Tables[tab] != n {
			t.Errorf("base %s: %d rows, want %d", tab, st.Tables[tab], n)
		}
	}
	_, q, err := Quality(dir)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, c := range q.FailedChecks() {
		failed = append(failed, c.Name())
	}
	slices.Sort(failed)
	if want := []string{"isForeignKey observation_period.person_id", "isPrimaryKey observation.observation_id"}; !slices.Equal(failed, want) {
		t.Errorf("failed checks %q, want %q", failed, want)
	}
	tr := q.Tier(string(w.Tier))
	if tr == nil || len(q.Tiers) != 1 {
		t.Fatalf("tiers in the report: %+v", q.Tiers)
	}
	for tab, base := range st.Tables {
		if got, want := st.TierTables[tab], base-tr.ExcludedRows(tab, ""); got != want {
			t.Errorf("tier %s: %d rows, base %d minus reported %d", tab, got, base, base-want)
		}
	}
	if st.TierTables["observation_period"] != 2694 || st.TierTables["observation"] != 1471 {
		t.Errorf("tier: observation_period %d, observation %d", st.TierTables["observation_period"], st.TierTables["observation"])
	}

	// The researcher's kernel says what the tier left out, counts rounded
	// up to a multiple of 20 (the six duplicated observation rows as ≤20),
	// and nothing else of the steward's report.
	s, err := Open(dir, "alice", nov26)
	if err != nil {
		t.Fatal(err)
	}
	wantLeft := []LeftOut{
		{Table: "observation_period", Reason: omop.ReasonPersonUnknown, Rows: "2660",
			Detail: "person_id empty or not in person: cannot be date-shifted or age-checked"},
		{Table: "observation", Reason: omop.ReasonDuplicateKey, Rows: "≤20",
			Detail: "rows repeating another row's observation_id (one row kept per key)"},
	}
	if !slices.Equal(s.Info.LeftOut, wantLeft) {
		t.Errorf("researcher's notes %+v, want %+v", s.Info.LeftOut, wantLeft)
	}
	txt, md := s.Info.Text(), s.Info.Markdown()
	s.Close()
	for _, want := range []string{"left out of the controlled tier", "observation_period           2660 rows  person_id empty or not in person"} {
		if !strings.Contains(txt, want) {
			t.Errorf("Text lacks %q:\n%s", want, txt)
		}
	}
	if !strings.Contains(md, "| observation | ≤20 | rows repeating another row's observation\\_id (one row kept per key) |") {
		t.Errorf("Markdown lacks the observation row:\n%s", md)
	}
	for _, never := range []string{"2649", "isForeignKey", "72"} {
		if strings.Contains(txt+md, never) {
			t.Errorf("the researcher's view shows %q:\n%s\n%s", never, txt, md)
		}
	}

	yaml, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	report, _ := os.ReadFile(w.QualityPath())
	progress.Reset()
	_, err = Import(context.Background(), dir, folder, ImportOptions{Now: nov26, Strict: true, Progress: &progress})
	if err == nil || !strings.Contains(err.Error(), "strict import refused: 2 data-quality checks failed") || !strings.Contains(err.Error(), "workspace unchanged") {
		t.Errorf("strict import: %v", err)
	}
	yaml2, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	report2, _ := os.ReadFile(w.QualityPath())
	if !bytes.Equal(yaml, yaml2) || !bytes.Equal(report, report2) {
		t.Errorf("refused strict import changed workspace.yaml or the quality report")
	}
}

func TestQualityBeforeImport(t *testing.T) {
	dir := setupHome(t)
	if _, _, err := Quality(dir); err == nil || !strings.Contains(err.Error(), "has no data yet") {
		t.Errorf("quality before import: %v", err)
	}
	if _, err := Import(context.Background(), dir, writeFolder(t, false), ImportOptions{Now: nov26}); err != nil {
		t.Fatal(err)
	}
	w, q, err := Quality(dir)
	if err != nil {
		t.Fatal(err)
	}
	if q.Failed() != 0 || q.Tables["person"] != 3 || q.Tier(string(w.Tier)) == nil {
		t.Errorf("report %+v", q)
	}
	os.Remove(w.QualityPath())
	if _, _, err := Quality(dir); err == nil || !strings.Contains(err.Error(), "import it again") {
		t.Errorf("quality without a report: %v", err)
	}
	if _, err := omop.ReadQuality(w.QualityPath()); err == nil {
		t.Error("read a removed report")
	}
}

func TestRoundedRows(t *testing.T) {
	for n, want := range map[int64]string{1: "≤20", 6: "≤20", 20: "≤20", 21: "40", 40: "40", 2649: "2660", 2660: "2660"} {
		if got := roundedRows(n); got != want {
			t.Errorf("roundedRows(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestLeftOutFewPersons: rows left out for a reason about persons (aged
// 89 or over) are those persons' rows; when they are 1–20 persons, the
// rows are not counted (3 persons' 4,245 minutes of heart rate showed as
// 4260 rows, review 50), and the person count itself shows as ≤20.
func TestLeftOutFewPersons(t *testing.T) {
	dir := t.TempDir()
	w := &Workspace{Dir: dir, Tier: "registered"}
	if err := os.MkdirAll(w.DataPath(), 0o755); err != nil {
		t.Fatal(err)
	}
	q := omop.Quality{Tiers: []omop.TierReport{{Tier: "registered", Excluded: []omop.Exclusion{
		{Table: "person", Reason: omop.ReasonAged89, Rows: 3, Detail: "person aged 89 or over"},
		{Table: "heart_rate_minute_level", Reason: omop.ReasonAged89, Rows: 4245, Detail: "person aged 89 or over"},
		{Table: "observation_period", Reason: omop.ReasonPersonUnknown, Rows: 2649, Detail: "person_id not in person"},
	}}}}
	b, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.QualityPath(), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := leftOut(w)
	if err != nil {
		t.Fatal(err)
	}
	want := []LeftOut{
		{Table: "person", Reason: omop.ReasonAged89, Rows: "≤20", Detail: "person aged 89 or over"},
		{Table: "heart_rate_minute_level", Reason: omop.ReasonAged89, Rows: "*", Detail: "person aged 89 or over (rows of 1–20 persons: not counted)"},
		{Table: "observation_period", Reason: omop.ReasonPersonUnknown, Rows: "2660", Detail: "person_id not in person"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("left out %+v, want %+v", got, want)
	}
}

package workspace

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"enclave/datasets"
)

// writeFolder writes a small OMOP folder: three persons (one born 1930, so
// 89+ and absent from the registered tier), Fitbit activity for two (more
// than a year before the data cut, so within the registered tier's end
// whatever the offset) and a genomics/ sub-folder. bad puts a non-integer
// person_id on person.csv line 3.
func writeFolder(t *testing.T, bad bool) string {
	t.Helper()
	dir := t.TempDir()
	p2 := "2"
	if bad {
		p2 = "two"
	}
	files := map[string]string{
		"person.csv": "person_id,gender_concept_id,year_of_birth,race_concept_id,ethnicity_concept_id\n" +
			"1,8532,1960,8527,38003564\n" + p2 + ",8507,1971,8516,38003564\n3,8532,1930,8515,38003563\n",
		"observation_period.csv": "observation_period_id,person_id,observation_period_start_date,observation_period_end_date,period_type_concept_id\n" +
			"1,1,2010-01-01,2020-01-01,44814724\n2,2,2011-01-01,2020-01-01,44814724\n3,3,2012-01-01,2020-01-01,44814724\n",
		"activity_summary.csv": "person_id,date,steps\n1,2018-05-01,8000\n2,2018-05-01,12000\n2,2018-05-02,9000\n",
		"genomics/linkage.csv": "sample_id,person_id\nS1,1\nS2,2\n",
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func countPersons(t *testing.T, cat datasets.Catalog, table string) (int64, error) {
	t.Helper()
	res, err := cat.Aggregate(context.Background(), datasets.Query{Table: table})
	if err != nil {
		return 0, err
	}
	if len(res.Cells) != 1 {
		t.Fatalf("%s: %d cells", table, len(res.Cells))
	}
	return res.Cells[0].Persons, nil
}

func TestImportOpen(t *testing.T) {
	dir := setupHome(t) // controlled tier, alice a member
	if _, err := Update(dir, func(w *Workspace) error {
		w.Datasets = []string{DatasetOMOP, DatasetGenomics} // no Fitbit
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	w, err := Import(context.Background(), dir, writeFolder(t, false), ImportOptions{Now: nov26, Progress: &progress})
	if err != nil {
		t.Fatalf("import: %v\n%s", err, &progress)
	}
	if w.Import == nil || w.Import.Rows != 9 || !w.Import.Genomics {
		t.Errorf("import record %+v", w.Import)
	}
	if _, err := os.Stat(filepath.Join(dir, DataDir, GenomicsDir, "linkage.csv")); err != nil {
		t.Errorf("genomics not copied into a controlled workspace granted it: %v", err)
	}
	if _, err := os.Stat(omopTierPath(w, Registered)); err == nil {
		t.Errorf("a controlled workspace holds a registered tier file")
	}
	st, err := Stat(context.Background(), dir, nov26)
	if err != nil {
		t.Fatal(err)
	}
	if st.Tables["person"] != 3 || st.Tables["activity_summary"] != 3 || st.TierTables["person"] != 3 || st.Access["alice"] != "ok" {
		t.Errorf("steward's view: tables %v tier %v access %v", st.Tables, st.TierTables, st.Access)
	}
	if _, ok := st.Tables["enclave_meta"]; ok {
		t.Errorf("bookkeeping table listed")
	}

	s, err := Open(dir, "alice", nov26)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Info.Name != "T2D" || s.Info.Tier != Controlled || !slices.Equal(s.Info.Datasets, []string{"omop", "genomics"}) || s.Info.Researcher != "alice" {
		t.Errorf("info %+v", s.Info)
	}
	if s.Catalog.Tier() != Controlled {
		t.Errorf("catalog tier %s", s.Catalog.Tier())
	}
	if n, err := countPersons(t, s.Catalog, "person"); err != nil || n != 3 {
		t.Errorf("persons in the controlled tier: %d, %v", n, err)
	}
	tables, err := s.Catalog.Tables(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == "activity_summary" {
			t.Errorf("Fitbit table listed in a workspace not granted Fitbit")
		}
	}
	_, err = countPersons(t, s.Catalog, "activity_summary")
	if want := `table activity_summary belongs to the fitbit dataset, which workspace "T2D" is not granted`; err == nil || datasets.SafeText(err) != want {
		t.Errorf("Fitbit query: %v, want %q", err, want)
	}
	// A second kernel of the same workspace opens it at the same time.
	s2, err := Open(dir, "alice", nov26)
	if err != nil {
		t.Fatalf("second session: %v", err)
	}
	s2.Close()
}

func TestImportRegisteredTier(t *testing.T) {
	dir := setupHome(t)
	g, _ := LoadRegistry(RegistryPath(os.Getenv("ENCLAVE_HOME")))
	rdir := filepath.Join(filepath.Dir(dir), "reg")
	if _, err := Create(rdir, Workspace{Name: "R", Purpose: "p", Tier: Registered, Researchers: []string{"reggie"}}, g, nov26); err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	w, err := Import(context.Background(), rdir, writeFolder(t, false), ImportOptions{Now: nov26, Progress: &progress})
	if err != nil {
		t.Fatalf("import: %v\n%s", err, &progress)
	}
	if w.Import.Genomics || !strings.Contains(progress.String(), "not copied: a registered tier workspace") {
		t.Errorf("genomics: record %v, progress:\n%s", w.Import.Genomics, &progress)
	}
	if _, err := os.Stat(filepath.Join(rdir, DataDir, GenomicsDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("registered workspace holds genomics/: %v", err)
	}
	s, err := Open(rdir, "reggie", nov26)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Catalog.Tier() != Registered {
		t.Errorf("catalog tier %s", s.Catalog.Tier())
	}
	// The person born in 1930 is 89+ and absent; Fitbit is granted.
	if n, err := countPersons(t, s.Catalog, "person"); err != nil || n != 2 {
		t.Errorf("persons in the registered tier: %d, %v", n, err)
	}
	if n, err := countPersons(t, s.Catalog, "activity_summary"); err != nil || n != 2 {
		t.Errorf("Fitbit persons: %d, %v", n, err)
	}
}

func TestImportBadFolderLeavesWorkspace(t *testing.T) {
	dir := setupHome(t)
	if _, err := Import(context.Background(), dir, writeFolder(t, false), ImportOptions{Now: nov26}); err != nil {
		t.Fatal(err)
	}
	yamlBefore, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	before, _ := Stat(context.Background(), dir, nov26)
	var progress bytes.Buffer
	_, err := Import(context.Background(), dir, writeFolder(t, true), ImportOptions{Now: nov26, Progress: &progress})
	if err == nil || !strings.Contains(err.Error(), "failed, workspace unchanged") {
		t.Fatalf("bad import: %v", err)
	}
	if !strings.Contains(progress.String(), "person.csv:3: error: column person_id") {
		t.Errorf("report lacks the bad line:\n%s", &progress)
	}
	yamlAfter, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	if !bytes.Equal(yamlBefore, yamlAfter) {
		t.Errorf("workspace.yaml changed:\n%s", yamlAfter)
	}
	after, err := Stat(context.Background(), dir, nov26)
	if err != nil {
		t.Fatal(err)
	}
	if after.Tables["person"] != before.Tables["person"] || after.TierTables["person"] != 3 {
		t.Errorf("data changed: %v -> %v", before.Tables, after.Tables)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, DataDir))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("failed import left %s", e.Name())
		}
	}
	if s, err := Open(dir, "alice", nov26); err != nil {
		t.Errorf("workspace unusable after a failed import: %v", err)
	} else {
		s.Close()
	}
}

func omopTierPath(w *Workspace, t Tier) string {
	c := *w
	c.Tier = t
	return c.TierPath()
}

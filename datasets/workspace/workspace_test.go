package workspace

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"enclave/datasets/bigquery"
)

var nov26 = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

// testRegistry holds alice (both tiers), reggie (registered only) and
// expired (controlled tier training expired).
func testRegistry(t *testing.T) *Registry {
	t.Helper()
	g := &Registry{Path: filepath.Join(t.TempDir(), "researchers.yaml"), Researchers: map[string]*Researcher{}}
	a := alice()
	r := alice()
	r.ID, r.Institution.DURA, r.CTTraining = "reggie", Registered, Date{}
	e := alice()
	e.ID, e.CTTraining = "expired", day("2025-03-01")
	for _, x := range []Researcher{a, r, e} {
		g.Researchers[x.ID] = &x
	}
	if err := g.Save(); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestCreateLoad(t *testing.T) {
	g := testRegistry(t)
	dir := filepath.Join(t.TempDir(), "ws")
	w, err := Create(dir, Workspace{Name: "T2D", Purpose: "Type 2 diabetes risk by ancestry", Tier: Controlled, Researchers: []string{"alice"}}, g, nov26)
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{ConfigFile, DataDir, ExportsDir, AuditDir} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("workspace lacks %s: %v", sub, err)
		}
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "T2D" || got.Tier != Controlled || got.Purpose != w.Purpose ||
		!slices.Equal(got.Datasets, []string{"omop", "fitbit", "genomics"}) ||
		!slices.Equal(got.Researchers, []string{"alice"}) || got.Created != day("2026-11-26") {
		t.Errorf("loaded %+v", got)
	}
	if got.AuditLogPath() != filepath.Join(dir, "audit", "audit.jsonl") {
		t.Errorf("audit log at %s", got.AuditLogPath())
	}
	if _, err := Create(dir, *w, g, nov26); err == nil || !strings.Contains(err.Error(), "already exists and is not empty") {
		t.Errorf("second create: %v", err)
	}
}

func TestCreateRefuses(t *testing.T) {
	g := testRegistry(t)
	base := Workspace{Name: "n", Purpose: "p", Tier: Controlled}
	tests := []struct {
		name string
		edit func(*Workspace)
		want string
	}{
		{"unregistered researcher", func(w *Workspace) { w.Researchers = []string{"mallory"} },
			"researcher mallory is not in the researcher registry"},
		{"registered-only researcher, controlled tier", func(w *Workspace) { w.Researchers = []string{"reggie"} },
			"researcher reggie may not use a controlled tier workspace: institution Acme University has no controlled tier DURA; researcher reggie has no controlled tier training on record"},
		{"expired training", func(w *Workspace) { w.Researchers = []string{"expired"} },
			"controlled tier training expired on 2026-03-01"},
		{"genomics on registered tier", func(w *Workspace) {
			w.Researchers, w.Tier, w.Datasets = []string{"alice"}, Registered, []string{"omop", "genomics"}
		}, "dataset genomics needs the controlled tier"},
		{"empty purpose", func(w *Workspace) { w.Researchers, w.Purpose = []string{"alice"}, "  \n" },
			"research purpose is required"},
		{"no researcher", func(w *Workspace) {}, "at least one researcher is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := base
			tt.edit(&w)
			dir := filepath.Join(t.TempDir(), "ws")
			_, err := Create(dir, w, g, nov26)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v\nwant containing %q", err, tt.want)
			}
			if _, err := os.Stat(dir); err == nil {
				t.Errorf("refused create left %s behind", dir)
			}
		})
	}
}

func TestLoadBadConfig(t *testing.T) {
	good := "name: T2D\npurpose: Diabetes risk\ntier: registered\ndatasets: [omop]\nresearchers: [alice]\n"
	tests := []struct{ name, yaml, want string }{
		{"good", good, ""},
		{"policy overrides kept as data", good + "policy:\n  small_cell_threshold: 50\n", ""},
		{"missing purpose", "name: T2D\ntier: registered\nresearchers: [alice]\n", "workspace.yaml: research purpose is required"},
		{"blank purpose", "name: T2D\npurpose: \"  \"\ntier: registered\nresearchers: [alice]\n", "workspace.yaml:2: research purpose is required"},
		{"missing name", "purpose: p\ntier: registered\nresearchers: [alice]\n", "workspace.yaml: name is required"},
		{"bad tier", "name: T2D\npurpose: p\ntier: public\nresearchers: [alice]\n", `workspace.yaml:3: tier "public" is not registered or controlled`},
		{"missing tier", "name: T2D\npurpose: p\nresearchers: [alice]\n", "workspace.yaml: tier is required"},
		{"unknown dataset", "name: T2D\npurpose: p\ntier: registered\ndatasets: [omop, claims]\nresearchers: [alice]\n", `workspace.yaml:4: unknown dataset "claims"`},
		{"genomics registered", "name: T2D\npurpose: p\ntier: registered\ndatasets: [omop, genomics]\nresearchers: [alice]\n", "workspace.yaml:4: dataset genomics needs the controlled tier"},
		{"omop missing", "name: T2D\npurpose: p\ntier: registered\ndatasets: [fitbit]\nresearchers: [alice]\n", "workspace.yaml:4: dataset omop is required"},
		{"misspelt field", "name: T2D\npurpose: p\nteir: controlled\nresearchers: [alice]\n", "line 3: field teir not found"},
		{"bad researcher id", "name: T2D\npurpose: p\ntier: registered\nresearchers: [\"al ice\"]\n", `workspace.yaml:4: researcher id "al ice"`},
		{"twice the same researcher", "name: T2D\npurpose: p\ntier: registered\nresearchers: [a, a]\n", "researcher a listed twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, ConfigFile), []byte(tt.yaml), 0o644)
			_, err := Load(dir)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused a good file: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v\nwant containing %q", err, tt.want)
			}
		})
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is not a workspace: no workspace.yaml") {
		t.Errorf("empty dir: %v", err)
	}
}

func TestShare(t *testing.T) {
	g := testRegistry(t)
	dir := filepath.Join(t.TempDir(), "ws")
	if _, err := Create(dir, Workspace{Name: "T2D", Purpose: "p", Tier: Controlled, Researchers: []string{"alice"}}, g, nov26); err != nil {
		t.Fatal(err)
	}
	_, err := Share(dir, "expired", g, nov26)
	if want := `cannot share controlled tier workspace "T2D" with expired: controlled tier training expired on 2026-03-01`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("share with expired: %v", err)
	}
	if _, err := Share(dir, "reggie", g, nov26); err == nil || !strings.Contains(err.Error(), "no controlled tier DURA") {
		t.Errorf("share with reggie: %v", err)
	}
	if _, err := Share(dir, "nobody", g, nov26); err == nil || !strings.Contains(err.Error(), "not in the researcher registry") {
		t.Errorf("share with nobody: %v", err)
	}
	// Registered tier: reggie is fine; sharing twice is a no-op.
	rdir := filepath.Join(t.TempDir(), "rws")
	if _, err := Create(rdir, Workspace{Name: "R", Purpose: "p", Tier: Registered, Researchers: []string{"alice"}}, g, nov26); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := Share(rdir, "reggie", g, nov26); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := Load(rdir)
	if !slices.Equal(w.Researchers, []string{"alice", "reggie"}) {
		t.Errorf("members %v", w.Researchers)
	}
	w, _ = Load(dir)
	if !slices.Equal(w.Researchers, []string{"alice"}) {
		t.Errorf("refused shares changed members: %v", w.Researchers)
	}
}

func TestPolicyOverridesKeptBySteward(t *testing.T) {
	g := testRegistry(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte("name: T2D\npurpose: p\ntier: registered\ndatasets: [omop]\nresearchers: [alice]\n"+
		"policy:\n  small_cell_threshold: 50\n  dominance: {n: 2, k: 0.85}\n"), 0o644)
	if _, err := Share(dir, "reggie", g, nov26); err != nil {
		t.Fatal(err)
	}
	w, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if w.Policy["small_cell_threshold"] != 50 || w.Policy["dominance"].(map[string]any)["k"] != 0.85 {
		t.Errorf("policy after share: %#v", w.Policy)
	}
}

func TestUnshare(t *testing.T) {
	g := testRegistry(t)
	dir := filepath.Join(t.TempDir(), "ws")
	if _, err := Create(dir, Workspace{Name: "R", Purpose: "p", Tier: Registered, Researchers: []string{"alice", "reggie"}}, g, nov26); err != nil {
		t.Fatal(err)
	}
	if _, err := Unshare(dir, "mallory"); err == nil || !strings.Contains(err.Error(), `researcher mallory is not a member of workspace "R"`) {
		t.Errorf("unshare non-member: %v", err)
	}
	w, err := Unshare(dir, "alice")
	if err != nil || !slices.Equal(w.Researchers, []string{"reggie"}) {
		t.Fatalf("unshare alice: %v %v", w, err)
	}
	if _, err := Unshare(dir, "reggie"); err == nil || !strings.Contains(err.Error(), "last member") {
		t.Errorf("unshare last member: %v", err)
	}
	r, _ := g.Lookup("alice")
	if err := Check(r, *w, nov26); err == nil || !strings.Contains(err.Error(), "not a member") {
		t.Errorf("removed member still admitted: %v", err)
	}
}

// TestResearcherHistoryPath: a researcher's workspaces that see the same
// data (tier, source, grants, in any order) share one history file; any
// difference, or another researcher, gives another.
func TestResearcherHistoryPath(t *testing.T) {
	ws := func(tier Tier, src string, grants ...string) *Workspace {
		return &Workspace{Tier: tier, Datasets: grants, Import: &ImportRecord{Source: src}}
	}
	path := func(r string, w *Workspace) string { return ResearcherHistoryPath("/home", r, w.DataKey()) }
	base := path("r1", ws(Registered, "/cdr/v8", "omop", "fitbit"))
	if !strings.HasPrefix(base, "/home/history/r1/") || !strings.HasSuffix(base, ".jsonl") {
		t.Fatalf("path %s", base)
	}
	for _, c := range []struct {
		name string
		path string
		same bool
	}{
		{"grants in another order", path("r1", ws(Registered, "/cdr/v8", "fitbit", "omop")), true},
		{"another tier", path("r1", ws(Controlled, "/cdr/v8", "omop", "fitbit")), false},
		{"another source", path("r1", ws(Registered, "/cdr/v9", "omop", "fitbit")), false},
		{"other grants", path("r1", ws(Registered, "/cdr/v8", "omop")), false},
		{"another researcher", path("r2", ws(Registered, "/cdr/v8", "omop", "fitbit")), false},
		{"the same source read from BigQuery", path("r1", &Workspace{Tier: Registered, Datasets: []string{"omop", "fitbit"},
			Import: &ImportRecord{Source: "/cdr/v8"}, BigQuery: &bigquery.Config{Project: "p", Dataset: "cdr_registered"}}), false},
	} {
		if (c.path == base) != c.same {
			t.Errorf("%s: %s against %s, same = %v", c.name, c.path, base, c.same)
		}
	}
	if k := (&Workspace{Tier: Registered}).DataKey(); k != "" {
		t.Errorf("a workspace without data has key %q", k)
	}

	// One folder by three names (review 44 imported it by its path and
	// through a link, and released one half of a pair in each).
	dir := t.TempDir()
	real := filepath.Join(dir, "cdr-v8")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	byPath := path("r1", ws(Registered, real, "omop"))
	for _, name := range []string{filepath.Join(dir, "current"), dir + "/./cdr-v8", real + "/"} {
		if p := path("r1", ws(Registered, name, "omop")); p != byPath {
			t.Errorf("the folder as %s has history %s, by its path %s", name, p, byPath)
		}
	}
}

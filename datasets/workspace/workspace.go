package workspace

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"enclave/datasets"
	"enclave/datasets/bigquery"

	"gopkg.in/yaml.v3"
)

// Tier is a data access tier: a workspace has one, a researcher's record
// allows none, registered, or both.
type Tier = datasets.Tier

// The tiers a workspace can hold (DESIGN.md §5).
const (
	Registered = datasets.Registered
	Controlled = datasets.Controlled
)

// Files and folders of a workspace directory.
const (
	ConfigFile = "workspace.yaml" // the Workspace record
	DataDir    = "data"           // the imported data: DuckDB files, genomics/
	ExportsDir = "exports"        // approved exports with manifests
	AuditDir   = "audit"          // the append-only audit log
	AuditFile  = "audit.jsonl"
)

// Datasets a workspace can be granted.
const (
	DatasetOMOP     = "omop"     // OMOP CDM v5.3: EHR, surveys, measurements
	DatasetFitbit   = "fitbit"   // the 7 All of Us Fitbit tables
	DatasetGenomics = "genomics" // genotypes linked to person_id; controlled tier only
)

// KnownDatasets lists the datasets in the order they are shown.
var KnownDatasets = []string{DatasetOMOP, DatasetFitbit, DatasetGenomics}

// DefaultDatasets returns what a new workspace of tier t is granted unless
// the steward says otherwise: everything the tier may hold.
func DefaultDatasets(t Tier) []string {
	if t == Controlled {
		return []string{DatasetOMOP, DatasetFitbit, DatasetGenomics}
	}
	return []string{DatasetOMOP, DatasetFitbit}
}

// Workspace is the content of a workspace's workspace.yaml, plus where it
// lives. The steward writes it (enclave workspace create/share/import); the
// kernel only reads it.
type Workspace struct {
	Dir         string   `yaml:"-"`
	Name        string   `yaml:"name"`
	Purpose     string   `yaml:"purpose"` // research purpose, required
	Tier        Tier     `yaml:"tier"`
	Datasets    []string `yaml:"datasets"`    // granted datasets
	Researchers []string `yaml:"researchers"` // members (researcher ids)
	Created     Date     `yaml:"created,omitempty"`
	// Policy holds the workspace's overrides of the disclosure policy
	// (DESIGN.md §3). It is kept as data here; the release package reads it
	// and accepts only overrides that make the policy stricter.
	Policy map[string]any `yaml:"policy,omitempty"`
	// BigQuery, when set, names the BigQuery dataset holding the tier's
	// tables: kernels open it instead of the local DuckDB tier file, and
	// import loads the curated tier into it (datasets/bigquery).
	BigQuery *bigquery.Config `yaml:"bigquery,omitempty"`
	// Import records the last successful import, nil before the first.
	Import *ImportRecord `yaml:"import,omitempty"`
}

// ImportRecord says what was imported into a workspace and when.
type ImportRecord struct {
	Source   string    `yaml:"source" json:"source"` // the OMOP folder, absolute
	At       time.Time `yaml:"at" json:"at"`
	Rows     int64     `yaml:"rows" json:"rows"`         // data rows read, vocabulary included
	Warnings int       `yaml:"warnings" json:"warnings"` // validation warnings (listed at import)
	Genomics bool      `yaml:"genomics,omitempty" json:"genomics"`
}

// DataKey names the data a workspace's cells see: the BigQuery dataset
// (one per tier) it reads, or the OMOP source the steward imported into
// its DuckDB tier and the tier, and the datasets granted. Two workspaces with one key see the
// same tables and persons, so a cell's plan in one rebuilds the same set
// in the other and a researcher's releases in one can be differenced
// against the other's. (Tiers differ in tables and dates, and a plan
// over Fitbit tables cannot run where they are not granted.) "" when the
// workspace has no data.
func (w *Workspace) DataKey() string {
	grants := slices.Clone(w.Datasets)
	slices.Sort(grants)
	// A workspace that reads BigQuery has that key even when it was
	// imported from the same source as a DuckDB one: its plans (a %sql
	// text above all) are in GoogleSQL and run only there.
	switch {
	case w.BigQuery != nil:
		return "bigquery:" + strings.Join(grants, ",") + ":" + w.BigQuery.Project + "." + w.BigQuery.Dataset
	case w.Import != nil && w.Import.Source != "":
		src, err := canonicalSource(w.Import.Source)
		if err != nil {
			src = filepath.Clean(w.Import.Source) // gone since: as recorded
		}
		return "omop:" + string(w.Tier) + ":" + strings.Join(grants, ",") + ":" + src
	}
	return ""
}

// canonicalSource is the one name of an OMOP folder: absolute, cleaned,
// with every symbolic link resolved. A folder imported once by its path
// and once through a link (or with "./" in it) is one source: review 44
// released one half of a differencing pair in each of two workspaces
// whose sources were the same folder by two names.
func canonicalSource(folder string) (string, error) {
	abs, err := filepath.Abs(folder)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// ResearcherHistoryPath is the release history that researcher's kernels
// share across all their workspaces over the data of key (DataKey), under
// the steward's home: beside each workspace's own, so that a researcher
// cannot release one half of a differencing pair in each of two
// workspaces.
func ResearcherHistoryPath(home, researcher, key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(home, "history", researcher, hex.EncodeToString(sum[:8])+".jsonl")
}

// ConfigPath returns the path of workspace.yaml.
func (w *Workspace) ConfigPath() string { return filepath.Join(w.Dir, ConfigFile) }

// DataPath returns the directory holding the workspace's imported data.
func (w *Workspace) DataPath() string { return filepath.Join(w.Dir, DataDir) }

// ExportsPath returns the directory approved exports are written to.
func (w *Workspace) ExportsPath() string { return filepath.Join(w.Dir, ExportsDir) }

// AuditLogPath returns the workspace's append-only audit log.
func (w *Workspace) AuditLogPath() string { return filepath.Join(w.Dir, AuditDir, AuditFile) }

// Granted reports whether the workspace is granted dataset d.
func (w *Workspace) Granted(d string) bool { return slices.Contains(w.Datasets, d) }

// Load reads and validates dir/workspace.yaml. Errors name the file and,
// where there is one, the line.
func Load(dir string) (*Workspace, error) {
	path := filepath.Join(dir, ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a workspace: no %s (create one with `enclave workspace create`)", dir, ConfigFile)
	}
	if err != nil {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	var w Workspace
	if err := decodeStrict(b, &w); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	w.Dir = dir
	if err := w.validate(topLines(b)); err != nil {
		return nil, fmt.Errorf("%s%w", path, err)
	}
	return &w, nil
}

// Validate checks the record as Load does: non-empty name and research
// purpose, a known tier, known datasets allowed by the tier, at least one
// well-formed researcher id.
func (w *Workspace) Validate() error {
	if err := w.validate(nil); err != nil {
		return fmt.Errorf("workspace%w", err)
	}
	return nil
}

// validate returns an error starting with ":LINE: " or ": " so the caller can
// prefix the file name.
func (w *Workspace) validate(lines map[string]int) error {
	at := func(key string) string {
		if n := lines[key]; n > 0 {
			return fmt.Sprintf(":%d: ", n)
		}
		return ": "
	}
	switch name := strings.TrimSpace(w.Name); {
	case name == "":
		return fmt.Errorf("%sname is required", at("name"))
	case strings.ContainsAny(name, "\n\r"):
		return fmt.Errorf("%sname must be one line", at("name"))
	}
	if strings.TrimSpace(w.Purpose) == "" {
		return fmt.Errorf("%sresearch purpose is required: say what question this workspace's data will answer", at("purpose"))
	}
	switch w.Tier {
	case Registered, Controlled:
	case "":
		return fmt.Errorf("%stier is required (registered or controlled)", at("tier"))
	default:
		return fmt.Errorf("%stier %q is not registered or controlled", at("tier"), w.Tier)
	}
	seen := map[string]bool{}
	for _, d := range w.Datasets {
		switch {
		case !slices.Contains(KnownDatasets, d):
			return fmt.Errorf("%sunknown dataset %q (known: %s)", at("datasets"), d, strings.Join(KnownDatasets, ", "))
		case seen[d]:
			return fmt.Errorf("%sdataset %q granted twice", at("datasets"), d)
		case d == DatasetGenomics && w.Tier != Controlled:
			return fmt.Errorf("%sdataset genomics needs the controlled tier, this workspace is %s", at("datasets"), w.Tier)
		}
		seen[d] = true
	}
	if len(w.Datasets) > 0 && !seen[DatasetOMOP] {
		return fmt.Errorf("%sdataset omop is required: every workspace holds the OMOP CDM (person, vocabulary)", at("datasets"))
	}
	if w.BigQuery != nil {
		if err := w.BigQuery.Validate(); err != nil {
			return fmt.Errorf("%s%w", at("bigquery"), err)
		}
	}
	if len(w.Researchers) == 0 {
		return fmt.Errorf("%sat least one researcher is required", at("researchers"))
	}
	members := map[string]bool{}
	for _, id := range w.Researchers {
		if err := ValidID(id); err != nil {
			return fmt.Errorf("%s%w", at("researchers"), err)
		}
		if members[id] {
			return fmt.Errorf("%sresearcher %s listed twice", at("researchers"), id)
		}
		members[id] = true
	}
	return nil
}

// Save writes workspace.yaml atomically.
func (w *Workspace) Save() error {
	if err := w.Validate(); err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString("# enclave workspace, written by the data steward (enclave workspace create/share/import).\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(w); err != nil {
		return fmt.Errorf("workspace: %w", err)
	}
	return writeAtomic(w.ConfigPath(), buf.Bytes(), 0o644)
}

// Create makes a new workspace directory dir holding w: workspace.yaml,
// data/ (empty until Import), exports/ and audit/. dir must not exist or be empty. Every
// researcher of w must be registered in reg with a record allowing w's tier
// on day now. Datasets default to DefaultDatasets(w.Tier).
func Create(dir string, w Workspace, reg *Registry, now time.Time) (*Workspace, error) {
	w.Dir = dir
	if w.Datasets == nil {
		w.Datasets = DefaultDatasets(w.Tier)
	}
	if w.Created.IsZero() {
		w.Created = Day(now)
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	for _, id := range w.Researchers {
		r, err := reg.Lookup(id)
		if err != nil {
			return nil, err
		}
		if err := Eligible(r, w.Tier, now); err != nil {
			return nil, fmt.Errorf("researcher %s may not use a %s tier workspace: %w", id, w.Tier, err)
		}
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s already exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("workspace: %w", err)
	}
	for _, sub := range []string{DataDir, ExportsDir, AuditDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("workspace: %w", err)
		}
	}
	if err := w.Save(); err != nil {
		return nil, err
	}
	return &w, nil
}

// Update loads the workspace in dir under an exclusive lock, lets fn change
// it and saves it.
func Update(dir string, fn func(*Workspace) error) (*Workspace, error) {
	unlock, err := lockFile(filepath.Join(dir, "."+ConfigFile+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	w, err := Load(dir)
	if err != nil {
		return nil, err
	}
	if err := fn(w); err != nil {
		return nil, err
	}
	if err := w.Save(); err != nil {
		return nil, err
	}
	return w, nil
}

// Share adds researcher id to the workspace in dir, if the registry's record
// allows the workspace's tier on day now; otherwise it refuses with the
// reasons. Sharing with a member again changes nothing.
func Share(dir, id string, reg *Registry, now time.Time) (*Workspace, error) {
	r, err := reg.Lookup(id)
	if err != nil {
		return nil, err
	}
	return Update(dir, func(w *Workspace) error {
		if err := Eligible(r, w.Tier, now); err != nil {
			return fmt.Errorf("cannot share %s tier workspace %q with %s: %w", w.Tier, w.Name, id, err)
		}
		if !slices.Contains(w.Researchers, id) {
			w.Researchers = append(w.Researchers, id)
		}
		return nil
	})
}

// Unshare removes researcher id from the workspace in dir. The last member
// cannot be removed (a workspace needs one); removing a non-member is an error.
func Unshare(dir, id string) (*Workspace, error) {
	return Update(dir, func(w *Workspace) error {
		i := slices.Index(w.Researchers, id)
		switch {
		case i < 0:
			return fmt.Errorf("researcher %s is not a member of workspace %q", id, w.Name)
		case len(w.Researchers) == 1:
			return fmt.Errorf("researcher %s is the last member of workspace %q; a workspace needs one", id, w.Name)
		}
		w.Researchers = slices.Delete(w.Researchers, i, i+1)
		return nil
	})
}

// topLines maps each top-level key of a YAML document to its line.
func topLines(b []byte) map[string]int {
	m := map[string]int{}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return m
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		m[root.Content[i].Value] = root.Content[i].Line
	}
	return m
}

package workspace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"enclave/datasets"
	"enclave/datasets/omop"
)

// Info is what a researcher may know about the workspace their kernel
// opened: what %workspace prints.
type Info struct {
	Name       string   `json:"name"`
	Purpose    string   `json:"purpose"`
	Tier       Tier     `json:"tier"`
	Datasets   []string `json:"datasets"` // granted datasets
	Researcher string   `json:"researcher"`
	Dir        string   `json:"dir"`
	// LeftOut says which rows of the steward's source the workspace's tier
	// does not hold and why, so a researcher knows what every count is over
	// (empty when the tier left nothing out, or when the import predates
	// the data-quality report).
	LeftOut []LeftOut `json:"left_out,omitempty"`
}

// LeftOut is one table's rows the tier left out for one reason, as the
// researcher sees it: the row count is rounded up to a multiple of
// leftOutRounding and a count of 1 to leftOutRounding shows as
// "≤leftOutRounding", as the All of Us Data Browser shows counts, so the
// note releases no small count (of persons aged 89 or over, say).
type LeftOut struct {
	Table  string `json:"table"`
	Reason string `json:"reason"` // omop.Reason*
	Rows   string `json:"rows"`   // rounded: "≤20", "2660"
	Detail string `json:"detail"`
}

// leftOutRounding is the rounding of LeftOut.Rows.
const leftOutRounding = 20

// roundedRows renders n rows for a researcher: "≤20" for 1–20, else n
// rounded up to a multiple of leftOutRounding.
func roundedRows(n int64) string {
	if n <= leftOutRounding {
		return fmt.Sprintf("≤%d", leftOutRounding)
	}
	return fmt.Sprint((n + leftOutRounding - 1) / leftOutRounding * leftOutRounding)
}

// leftOut reads, from the last import's data-quality report, what w's tier
// left out of each table and why; tables the tier does not hold at all
// are not listed (the researcher sees which tables there are). Only the
// tier's exclusion counts are taken from the report, rounded; the
// report's checks, examples and base counts stay with the steward.
func leftOut(w *Workspace) ([]LeftOut, error) {
	q, err := omop.ReadQuality(w.QualityPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("data-quality report: %w", err)
	}
	tr := q.Tier(string(w.Tier))
	if tr == nil {
		return nil, nil
	}
	// Persons left out for a reason about them (aged 89 or over, no year
	// of birth): when they are 1–20, the rows of other tables left out
	// for it are their rows, a count over a few persons (3 persons' 4,245
	// minutes of heart rate, review 50), and are not counted.
	fewPersons := map[string]bool{}
	for _, e := range tr.Excluded {
		personal := e.Reason == omop.ReasonAged89 || e.Reason == omop.ReasonBirthYearUnknown
		if personal && e.Table == "person" && e.Rows > 0 && e.Rows <= leftOutRounding {
			fewPersons[e.Reason] = true
		}
	}
	var out []LeftOut
	for _, e := range tr.Excluded {
		if e.Reason == omop.ReasonNotInTier || e.Rows <= 0 {
			continue
		}
		l := LeftOut{Table: e.Table, Reason: e.Reason, Rows: roundedRows(e.Rows), Detail: e.Detail}
		if fewPersons[e.Reason] && e.Table != "person" {
			l.Rows = "*"
			l.Detail += fmt.Sprintf(" (rows of 1–%d persons: not counted)", leftOutRounding)
		}
		out = append(out, l)
	}
	return out, nil
}

// Session is an opened workspace: its Info, the tier's catalog (read-only)
// and the workspace record. Close releases the catalog.
type Session struct {
	Info       Info
	Catalog    datasets.Catalog
	Workspace  *Workspace
	Researcher Researcher
}

// Close closes the catalog.
func (s *Session) Close() error {
	if s == nil || s.Catalog == nil {
		return nil
	}
	return s.Catalog.Close()
}

// ErrNoData is matched (errors.Is) by Open's error when the steward has not
// imported data yet.
var ErrNoData = errors.New("workspace has no data")

// noDataError says which workspace lacks data and how the steward fixes it.
type noDataError struct{ msg string }

func (e *noDataError) Error() string        { return e.msg }
func (e *noDataError) Is(target error) bool { return target == ErrNoData }

// Open opens the workspace in dir for researcher researcherID on day now:
// it loads workspace.yaml and the registry ($ENCLAVE_HOME/researchers.yaml),
// checks access (Check) and opens the catalog of the workspace's tier
// read-only. A refusal's error text is the exact reason, fit to show the
// researcher; it wraps ErrAccess.
func Open(dir, researcherID string, now time.Time) (*Session, error) {
	w, err := Load(dir)
	if err != nil {
		return nil, err
	}
	home, err := Home()
	if err != nil {
		return nil, err
	}
	reg, err := LoadRegistry(RegistryPath(home))
	if err != nil {
		return nil, err
	}
	r, err := reg.Lookup(researcherID)
	if err != nil {
		return nil, err
	}
	if err := Check(r, *w, now); err != nil {
		return nil, err
	}
	if w.Import == nil {
		return nil, &noDataError{fmt.Sprintf("workspace %q has no data yet; the data steward imports it with `enclave workspace import %s OMOP_FOLDER`", w.Name, dir)}
	}
	left, err := leftOut(w)
	if err != nil {
		return nil, fmt.Errorf("workspace %q: %w", w.Name, err)
	}
	cat, err := openCatalog(w)
	if err != nil {
		return nil, fmt.Errorf("workspace %q: %w", w.Name, err)
	}
	return &Session{
		Info: Info{
			Name:       w.Name,
			Purpose:    w.Purpose,
			Tier:       w.Tier,
			Datasets:   append([]string(nil), w.Datasets...),
			Researcher: r.ID,
			Dir:        dir,
			LeftOut:    left,
		},
		Catalog:    cat,
		Workspace:  w,
		Researcher: r,
	}, nil
}

// Environment variables FromEnv reads.
const (
	EnvWorkspace      = "ENCLAVE_WORKSPACE"  // the workspace directory
	EnvResearcher     = "ENCLAVE_RESEARCHER" // the researcher, outside JupyterHub
	EnvJupyterHubUser = "JUPYTERHUB_USER"    // the researcher, as JupyterHub sets it
)

// ResearcherFromEnv returns the researcher the kernel runs for:
// JUPYTERHUB_USER when JupyterHub started it, else ENCLAVE_RESEARCHER. When
// both are set they must agree, so a kernelspec cannot claim another user.
func ResearcherFromEnv() (string, error) {
	hub, own := os.Getenv(EnvJupyterHubUser), os.Getenv(EnvResearcher)
	switch {
	case hub != "" && own != "" && hub != own:
		return "", fmt.Errorf("%w: %s=%s but %s=%s; the kernel runs only as the JupyterHub user", ErrAccess, EnvResearcher, own, EnvJupyterHubUser, hub)
	case hub != "":
		return hub, nil
	case own != "":
		return own, nil
	}
	return "", fmt.Errorf("%w: %s is set but no researcher is: set %s (JupyterHub does) or %s", ErrAccess, EnvWorkspace, EnvJupyterHubUser, EnvResearcher)
}

// FromEnv opens the workspace named by ENCLAVE_WORKSPACE for the researcher
// named by JUPYTERHUB_USER or ENCLAVE_RESEARCHER. It returns (nil, nil) when
// no workspace is configured (a kernel without data), and Open's refusal
// otherwise.
func FromEnv(now time.Time) (*Session, error) {
	dir := os.Getenv(EnvWorkspace)
	if dir == "" {
		return nil, nil
	}
	id, err := ResearcherFromEnv()
	if err != nil {
		return nil, err
	}
	return Open(dir, id, now)
}

// Text renders the workspace for a plain-text display.
func (i Info) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "workspace:  %s\n", i.Name)
	fmt.Fprintf(&b, "purpose:    %s\n", oneLine(i.Purpose))
	fmt.Fprintf(&b, "tier:       %s\n", i.Tier)
	fmt.Fprintf(&b, "datasets:   %s\n", listOrNone(i.Datasets))
	fmt.Fprintf(&b, "researcher: %s\n", i.Researcher)
	if len(i.LeftOut) > 0 {
		fmt.Fprintf(&b, "left out of the %s tier (rows rounded up to a multiple of %d); counts are over the rows it holds:\n", i.Tier, leftOutRounding)
		for _, l := range i.LeftOut {
			fmt.Fprintf(&b, "  %-24s %8s rows  %s\n", l.Table, l.Rows, l.Detail)
		}
	}
	return b.String()
}

// Markdown renders the workspace for %workspace: a small table.
func (i Info) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Workspace %s**\n\n", mdEscape(i.Name))
	b.WriteString("| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| research purpose | %s |\n", mdEscape(oneLine(i.Purpose)))
	fmt.Fprintf(&b, "| tier | %s |\n", i.Tier)
	fmt.Fprintf(&b, "| datasets | %s |\n", mdEscape(listOrNone(i.Datasets)))
	fmt.Fprintf(&b, "| researcher | %s |\n", mdEscape(i.Researcher))
	if len(i.LeftOut) > 0 {
		fmt.Fprintf(&b, "\nRows left out of the %s tier (rounded up to a multiple of %d); counts are over the rows it holds:\n\n", i.Tier, leftOutRounding)
		b.WriteString("| table | rows | why |\n|---|---:|---|\n")
		for _, l := range i.LeftOut {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", mdEscape(l.Table), mdEscape(l.Rows), mdEscape(l.Detail))
		}
	}
	return b.String()
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// mdEscape keeps text from breaking out of a Markdown table cell or
// becoming markup.
func mdEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "|", `\|`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "[", `\[`, "]", `\]`)
	return r.Replace(oneLine(s))
}

package workspace

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"enclave/datasets"
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

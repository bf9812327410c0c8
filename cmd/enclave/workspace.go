package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"time"

	"enclave/datasets"
	"enclave/datasets/workspace"
	"enclave/release"
)

func init() {
	register(&command{
		Name: "workspace",
		Usage: "workspace create DIR --name N --purpose TEXT --tier registered|controlled --researcher ID\n" +
			"        [--researcher ID…] [--datasets omop,fitbit,genomics]\n" +
			"  enclave workspace import DIR OMOP_FOLDER [--strict]\n" +
			"  enclave workspace quality DIR [--json] [--all]\n" +
			"  enclave workspace show DIR [--json]\n" +
			"  enclave workspace share DIR ID\n" +
			"  enclave workspace unshare DIR ID\n" +
			"  enclave workspace check DIR ID [--at DATE]",
		Run: runWorkspace,
	})
}

// runWorkspace dispatches the steward's workspace commands.
func runWorkspace(args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	now := time.Now()
	switch args[0] {
	case "create":
		return workspaceCreate(args[1:], os.Stdout, now)
	case "import":
		return workspaceImport(args[1:], os.Stdout, now)
	case "quality":
		return workspaceQuality(args[1:], os.Stdout)
	case "show":
		return workspaceShow(args[1:], os.Stdout, now)
	case "share":
		return workspaceShare(args[1:], os.Stdout, now)
	case "unshare":
		return workspaceUnshare(args[1:], os.Stdout)
	case "check":
		return workspaceCheck(args[1:], os.Stdout, now)
	}
	return errUsage
}

// workspaceCreate makes a new workspace directory.
func workspaceCreate(args []string, out io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("workspace create", flag.ContinueOnError)
	name := fs.String("name", "", "the workspace's `NAME`")
	purpose := fs.String("purpose", "", "the research purpose (required): what question the data will answer")
	tier := fs.String("tier", "", "`TIER`: registered or controlled")
	var members workspaceList
	fs.Var(&members, "researcher", "researcher `ID` to add (repeat for several; each must be registered and allowed the tier)")
	ds := fs.String("datasets", "", "granted datasets, comma-separated: omop, fitbit, genomics (default: all the tier may hold)")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: workspace create takes one DIR", errUsage)
	}
	t, err := datasets.ParseTier(*tier)
	if err != nil {
		return fmt.Errorf("--tier: %w", err)
	}
	w := workspace.Workspace{Name: *name, Purpose: *purpose, Tier: t, Researchers: members}
	if *ds != "" {
		for _, d := range strings.Split(*ds, ",") {
			w.Datasets = append(w.Datasets, strings.TrimSpace(d))
		}
	}
	reg, err := researcherRegistry()
	if err != nil {
		return err
	}
	created, err := workspace.Create(pos[0], w, reg, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "created %s tier workspace %q in %s (datasets: %s; researchers: %s)\n",
		created.Tier, created.Name, created.Dir, strings.Join(created.Datasets, ", "), strings.Join(created.Researchers, ", "))
	fmt.Fprintf(out, "next: enclave workspace import %s OMOP_FOLDER\n", created.Dir)
	return nil
}

// workspaceImport loads an OMOP folder into a workspace, atomically.
func workspaceImport(args []string, out io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("workspace import", flag.ContinueOnError)
	strict := fs.Bool("strict", false, "refuse the import if any data-quality check fails (default: keep every row and report the checks)")
	drop := fs.Bool("drop-invalid-rows", false, "no longer needed, ignored: every row is kept in the base and the tier leaves out what cannot be curated, as the quality report says")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: workspace import takes DIR and OMOP_FOLDER", errUsage)
	}
	if *drop {
		fmt.Fprintln(os.Stderr, "note: --drop-invalid-rows is no longer needed and is ignored: every source row is kept in the base database, and the tier leaves out the rows it cannot curate, counted in the data-quality report")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	w, err := workspace.Import(ctx, pos[0], pos[1], workspace.ImportOptions{Now: now, Strict: *strict, Progress: os.Stderr})
	if err != nil {
		return err
	}
	checks := ""
	if _, q, err := workspace.Quality(pos[0]); err == nil {
		checks = fmt.Sprintf("; %d of %d data-quality checks failed, %d warned: enclave workspace quality %s", q.Failed(), len(q.Checks), q.Warned(), pos[0])
	}
	fmt.Fprintf(out, "imported %s into %s tier workspace %q (%d rows, %d warnings%s; %s)\n",
		w.Import.Source, w.Tier, w.Name, w.Import.Rows, w.Import.Warnings, checks, time.Since(start).Round(time.Millisecond))
	return nil
}

// workspaceQuality prints the data-quality report of the last import.
func workspaceQuality(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("workspace quality", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the whole report as JSON (every check, passed ones included)")
	all := fs.Bool("all", false, "list the checks that passed too")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: workspace quality takes one DIR", errUsage)
	}
	_, q, err := workspace.Quality(pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(q)
	}
	q.WriteText(out, *all)
	return nil
}

// workspaceQualityJSON is the data-quality summary of `workspace show --json`.
type workspaceQualityJSON struct {
	Checks int `json:"checks"`
	Failed int `json:"failed"`
	Warned int `json:"warned"`
}

// workspaceShowJSON is what `workspace show --json` prints.
type workspaceShowJSON struct {
	Dir         string                  `json:"dir"`
	Name        string                  `json:"name"`
	Purpose     string                  `json:"purpose"`
	Tier        workspace.Tier          `json:"tier"`
	Datasets    []string                `json:"datasets"`
	Researchers []string                `json:"researchers"`
	Access      map[string]string       `json:"access"` // researcher → "ok" or the refusal
	Created     workspace.Date          `json:"created"`
	Import      *workspace.ImportRecord `json:"import"`
	Quality     *workspaceQualityJSON   `json:"quality"`     // checks of the last import (enclave workspace quality)
	Tables      map[string]int64        `json:"tables"`      // row count of every base table
	TierTables  map[string]int64        `json:"tier_tables"` // row count of every table of the tier
	AuditLog    string                  `json:"audit_log"`
	Exports     string                  `json:"exports"`
}

// workspaceShow prints the steward's view of a workspace.
func workspaceShow(args []string, out io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("workspace show", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print as JSON")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: workspace show takes one DIR", errUsage)
	}
	st, err := workspace.Stat(context.Background(), pos[0], now)
	if err != nil {
		return err
	}
	v := workspaceShowJSON{
		Dir: st.Workspace.Dir, Name: st.Workspace.Name, Purpose: st.Workspace.Purpose, Tier: st.Workspace.Tier,
		Datasets: st.Workspace.Datasets, Researchers: st.Workspace.Researchers, Access: st.Access,
		Created: st.Workspace.Created, Import: st.Workspace.Import, Tables: st.Tables, TierTables: st.TierTables,
		AuditLog: st.Workspace.AuditLogPath(), Exports: st.Workspace.ExportsPath(),
	}
	if v.Tables == nil {
		v.Tables = map[string]int64{}
	}
	if v.TierTables == nil {
		v.TierTables = map[string]int64{}
	}
	if _, q, err := workspace.Quality(pos[0]); err == nil {
		v.Quality = &workspaceQualityJSON{Checks: len(q.Checks), Failed: q.Failed(), Warned: q.Warned()}
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	fmt.Fprintf(out, "workspace   %s (%s)\n", v.Name, v.Dir)
	fmt.Fprintf(out, "purpose     %s\n", v.Purpose)
	fmt.Fprintf(out, "tier        %s\n", v.Tier)
	fmt.Fprintf(out, "datasets    %s\n", strings.Join(v.Datasets, ", "))
	fmt.Fprintf(out, "researchers\n")
	for _, id := range v.Researchers {
		fmt.Fprintf(out, "  %-20s %s\n", id, v.Access[id])
	}
	if v.Import == nil {
		fmt.Fprintf(out, "data        none yet (enclave workspace import %s OMOP_FOLDER)\n", v.Dir)
	} else {
		fmt.Fprintf(out, "data        imported %s from %s (%d rows, %d warnings)\n",
			v.Import.At.Format(time.RFC3339), v.Import.Source, v.Import.Rows, v.Import.Warnings)
		if v.Quality != nil {
			fmt.Fprintf(out, "quality     %d of %d checks failed, %d warned (enclave workspace quality %s)\n",
				v.Quality.Failed, v.Quality.Checks, v.Quality.Warned, v.Dir)
		}
	}
	fmt.Fprintf(out, "exports     %s\naudit log   %s\n", v.Exports, v.AuditLog)
	if len(v.Tables) > 0 {
		names := make([]string, 0, len(v.Tables))
		for n := range v.Tables {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(out, "tables%36s %12s %12s\n", "", "rows", v.Tier)
		for _, n := range names {
			tier := "-"
			if c, ok := v.TierTables[n]; ok {
				tier = fmt.Sprint(c)
			}
			fmt.Fprintf(out, "  %-40s %12d %12s\n", n, v.Tables[n], tier)
		}
	}
	return nil
}

// workspaceShare adds a researcher to a workspace if their record allows its tier.
func workspaceShare(args []string, out io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("workspace share", flag.ContinueOnError)
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: workspace share takes DIR and ID", errUsage)
	}
	reg, err := researcherRegistry()
	if err != nil {
		return err
	}
	w, err := workspace.Share(pos[0], pos[1], reg, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "shared %s tier workspace %q with %s (researchers: %s)\n", w.Tier, w.Name, pos[1], strings.Join(w.Researchers, ", "))
	return nil
}

// workspaceUnshare removes a researcher from a workspace.
func workspaceUnshare(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("workspace unshare", flag.ContinueOnError)
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: workspace unshare takes DIR and ID", errUsage)
	}
	w, err := workspace.Unshare(pos[0], pos[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "removed %s from workspace %q (researchers: %s); their running kernels keep their session until restarted\n",
		pos[1], w.Name, strings.Join(w.Researchers, ", "))
	return nil
}

// workspaceCheck opens the workspace as the kernel would, for researcher ID
// on a given day, and says whether access is granted or why not.
func workspaceCheck(args []string, out io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("workspace check", flag.ContinueOnError)
	at := workspaceDateFlag{fs: "at"}
	fs.Var(&at, "at", "check as of `DATE` (YYYY-MM-DD) instead of today, e.g. to see who expires next month")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: workspace check takes DIR and ID", errUsage)
	}
	if !at.d.IsZero() {
		now, _ = time.Parse("2006-01-02", at.d.String())
	}
	s, err := workspace.Open(pos[0], pos[1], now)
	if err != nil {
		return err
	}
	defer s.Close()
	// The kernel refuses a workspace whose policy loosens a rule: say so here.
	pol, err := release.LoadPolicy(s.Workspace.Dir, s.Workspace.Policy)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "access granted\n%sdisclosure policy:\n%s", s.Info.Text(), indent(pol.Text()))
	return nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

// workspaceList is a repeatable string flag.
type workspaceList []string

func (l *workspaceList) String() string { return strings.Join(*l, ",") }

func (l *workspaceList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

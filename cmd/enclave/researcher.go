package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"enclave/datasets"
	"enclave/datasets/workspace"
)

func init() {
	register(&command{
		Name: "researcher",
		Usage: "researcher add ID --identity login.gov|id.me [--identity-verified DATE] --rcr-training DATE\n" +
			"        --code-of-conduct[=DATE] [--institution NAME --dura registered|controlled] [--ct-training DATE]\n" +
			"        [--name TEXT] [--replace]         (registry: $ENCLAVE_HOME/researchers.yaml)\n" +
			"  enclave researcher show ID [--json]\n" +
			"  enclave researcher list",
		Run: runResearcher,
	})
}

// runResearcher dispatches the steward's researcher registry commands.
func runResearcher(args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "add":
		return researcherAdd(args[1:], os.Stdout, time.Now())
	case "show":
		return researcherShow(args[1:], os.Stdout, time.Now())
	case "list":
		return researcherList(args[1:], os.Stdout, time.Now())
	}
	return errUsage
}

// researcherAdd records a researcher in the registry.
func researcherAdd(args []string, out io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("researcher add", flag.ContinueOnError)
	identity := fs.String("identity", "", "`METHOD` the identity was verified with: login.gov or id.me")
	verified := workspaceDateFlag{fs: "identity-verified"}
	fs.Var(&verified, "identity-verified", "`DATE` (YYYY-MM-DD) the identity was verified (default today)")
	rcr := workspaceDateFlag{fs: "rcr-training"}
	fs.Var(&rcr, "rcr-training", "`DATE` (YYYY-MM-DD) of the Responsible Conduct of Research training (valid one year)")
	coc := workspaceDateFlag{fs: "code-of-conduct", boolean: true, now: now}
	fs.Var(&coc, "code-of-conduct", "the Data User Code of Conduct is signed (today, or =YYYY-MM-DD)")
	inst := fs.String("institution", "", "`NAME` of the researcher's institution")
	dura := fs.String("dura", "", "`TIER` the institution's Data Use and Registration Agreement covers: registered or controlled")
	ct := workspaceDateFlag{fs: "ct-training"}
	fs.Var(&ct, "ct-training", "`DATE` (YYYY-MM-DD) of the controlled tier training (valid one year)")
	name := fs.String("name", "", "the researcher's full name")
	replace := fs.Bool("replace", false, "replace an existing record (e.g. after a renewed training)")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: researcher add takes one ID", errUsage)
	}
	r := workspace.Researcher{
		ID:            pos[0],
		Name:          *name,
		Identity:      workspace.Identity{Method: strings.ToLower(*identity), Verified: verified.d},
		RCRTraining:   rcr.d,
		CodeOfConduct: coc.d,
		Institution:   workspace.Institution{Name: *inst},
		CTTraining:    ct.d,
	}
	if err := workspace.ValidID(r.ID); err != nil {
		return err
	}
	switch r.Identity.Method {
	case workspace.LoginGov, workspace.IDMe:
	default:
		return fmt.Errorf("--identity %q: want login.gov or id.me", *identity)
	}
	if r.Identity.Verified.IsZero() {
		r.Identity.Verified = workspace.Day(now)
	}
	if rcr.d.IsZero() {
		return errors.New("--rcr-training DATE is required (the Responsible Conduct of Research training)")
	}
	if *dura != "" {
		t, err := datasets.ParseTier(*dura)
		if err != nil {
			return fmt.Errorf("--dura: %w", err)
		}
		if *inst == "" {
			return errors.New("--dura needs --institution NAME")
		}
		r.Institution.DURA = t
	}
	today := workspace.Day(now)
	for _, d := range []workspaceDateFlag{verified, rcr, coc, ct} {
		if today.Before(d.d) {
			return fmt.Errorf("--%s %s is in the future", d.fs, d.d)
		}
	}
	home, err := workspace.Home()
	if err != nil {
		return err
	}
	path := workspace.RegistryPath(home)
	err = workspace.UpdateRegistry(path, func(g *workspace.Registry) error {
		if _, ok := g.Researchers[r.ID]; ok && !*replace {
			return fmt.Errorf("researcher %s is already registered in %s (use --replace to renew the record)", r.ID, path)
		}
		g.Researchers[r.ID] = &r
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "registered researcher %s in %s\n", r.ID, path)
	fmt.Fprint(out, researcherAccessText(r, now))
	return nil
}

// researcherShow prints one record and which tiers it allows today.
func researcherShow(args []string, out io.Writer, now time.Time) error {
	fs := flag.NewFlagSet("researcher show", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the record as JSON")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: researcher show takes one ID", errUsage)
	}
	g, err := researcherRegistry()
	if err != nil {
		return err
	}
	r, err := g.Lookup(pos[0])
	if err != nil {
		return err
	}
	if *asJSON {
		v := struct {
			workspace.Researcher
			Expires map[string]workspace.Date `json:"expires"`
			Access  map[string]string         `json:"access"`
		}{r, r.Expiries(), map[string]string{}}
		for _, t := range []workspace.Tier{workspace.Registered, workspace.Controlled} {
			v.Access[string(t)] = "ok"
			if err := workspace.Eligible(r, t, now); err != nil {
				v.Access[string(t)] = err.Error()
			}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	exp := r.Expiries()
	fmt.Fprintf(out, "researcher %s", r.ID)
	if r.Name != "" {
		fmt.Fprintf(out, " (%s)", r.Name)
	}
	fmt.Fprintf(out, "\n  identity:          %s, verified %s\n", orNone(r.Identity.Method), orNone(r.Identity.Verified.String()))
	fmt.Fprintf(out, "  RCR training:      %s\n", trainingText(r.RCRTraining, exp["rcr_training"]))
	fmt.Fprintf(out, "  code of conduct:   %s\n", orText(r.CodeOfConduct.String(), "signed ", "not signed"))
	fmt.Fprintf(out, "  institution:       %s, DURA %s\n", orNone(r.Institution.Name), orNone(string(r.Institution.DURA)))
	fmt.Fprintf(out, "  CT training:       %s\n", trainingText(r.CTTraining, exp["controlled_tier_training"]))
	fmt.Fprint(out, researcherAccessText(r, now))
	return nil
}

// researcherList prints every registered id and the tiers it allows today.
func researcherList(args []string, out io.Writer, now time.Time) error {
	if len(args) != 0 {
		return errUsage
	}
	g, err := researcherRegistry()
	if err != nil {
		return err
	}
	for _, id := range g.IDs() {
		r := *g.Researchers[id]
		tiers := "none"
		switch {
		case workspace.Eligible(r, workspace.Controlled, now) == nil:
			tiers = "registered, controlled"
		case workspace.Eligible(r, workspace.Registered, now) == nil:
			tiers = "registered"
		}
		fmt.Fprintf(out, "%s\t%s\n", id, tiers)
	}
	return nil
}

func researcherRegistry() (*workspace.Registry, error) {
	home, err := workspace.Home()
	if err != nil {
		return nil, err
	}
	return workspace.LoadRegistry(workspace.RegistryPath(home))
}

// researcherAccessText says, per tier, whether r may use it on day now.
func researcherAccessText(r workspace.Researcher, now time.Time) string {
	var b strings.Builder
	for _, t := range []workspace.Tier{workspace.Registered, workspace.Controlled} {
		if err := workspace.Eligible(r, t, now); err != nil {
			fmt.Fprintf(&b, "  %s tier: refused: %v\n", t, err)
		} else {
			fmt.Fprintf(&b, "  %s tier: allowed\n", t)
		}
	}
	return b.String()
}

func trainingText(taken, expires workspace.Date) string {
	if taken.IsZero() {
		return "none"
	}
	return fmt.Sprintf("%s (expires %s)", taken, expires)
}

func orNone(s string) string { return orText(s, "", "none") }

func orText(s, prefix, none string) string {
	if s == "" {
		return none
	}
	return prefix + s
}

// workspaceDateFlag is a YYYY-MM-DD flag; a boolean one may be given bare
// (--code-of-conduct, meaning today) or with a day (--code-of-conduct=2026-06-01).
type workspaceDateFlag struct {
	fs      string // flag name, for messages
	d       workspace.Date
	boolean bool
	now     time.Time
}

func (f *workspaceDateFlag) String() string {
	if f == nil {
		return ""
	}
	return f.d.String()
}

func (f *workspaceDateFlag) Set(s string) error {
	if f.boolean && s == "true" {
		f.d = workspace.Day(f.now)
		return nil
	}
	if f.boolean && s == "false" {
		f.d = workspace.Date{}
		return nil
	}
	d, err := workspace.ParseDate(s)
	if err != nil {
		return err
	}
	f.d = d
	return nil
}

func (f *workspaceDateFlag) IsBoolFlag() bool { return f.boolean }

// workspaceParse parses flags that may come before, between or after the
// positional arguments (`add ID --identity login.gov`) and returns the
// positional ones.
func workspaceParse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				workspaceFlagHelp(fs)
				return nil, err
			}
			return nil, fmt.Errorf("%v (see enclave %s -h)", err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// workspaceFlagHelp prints a flag set's flags to stderr for -h.
func workspaceFlagHelp(fs *flag.FlagSet) {
	fs.SetOutput(os.Stderr)
	fmt.Fprintf(os.Stderr, "enclave %s flags:\n", fs.Name())
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

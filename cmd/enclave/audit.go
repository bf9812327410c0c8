package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"enclave/datasets/workspace"
	"enclave/release/audit"
)

func init() {
	register(&command{
		Name: "audit",
		Usage: "audit verify DIR\n" +
			"  enclave audit show DIR [--session S] [--cell C] [--rule R] [--type T] [--json]",
		Run: runAudit,
	})
}

// runAudit dispatches the steward's audit log commands.
func runAudit(args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "verify":
		return auditVerify(args[1:], os.Stdout)
	case "show":
		return auditShow(args[1:], os.Stdout)
	}
	return errUsage
}

// auditPath is the audit log of workspace dir; an error if it does not exist.
func auditPath(dir string) (string, error) {
	path := filepath.Join(dir, workspace.AuditDir, workspace.AuditFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if _, derr := os.Stat(dir); derr != nil {
			return "", derr
		}
		return "", fmt.Errorf("no audit log at %s: nothing recorded yet, or the log was removed", path)
	} else if err != nil {
		return "", err
	}
	return path, nil
}

// auditVerify checks the hash chain of a workspace's audit log.
func auditVerify(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: audit verify takes one DIR", errUsage)
	}
	path, err := auditPath(pos[0])
	if err != nil {
		return err
	}
	n, err := audit.Verify(path)
	if err != nil {
		return fmt.Errorf("audit log %s: %w (%d entries intact before it)", path, err, n)
	}
	fmt.Fprintf(out, "audit log %s: %d entries, chain intact\n", path, n)
	return nil
}

// auditShow prints the entries of a workspace's audit log that match the flags.
func auditShow(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("audit show", flag.ContinueOnError)
	var f audit.Filter
	fs.StringVar(&f.Session, "session", "", "only entries of the session whose id starts with `S`")
	fs.StringVar(&f.Cell, "cell", "", "only entries of the cell (execute_request msg_id) that starts with `C`")
	fs.StringVar(&f.Rule, "rule", "", "only entries where disclosure rule `R` fired")
	fs.StringVar(&f.Type, "type", "", "only entries of type `T` (session_start, cell, decision, review, alert, export…)")
	asJSON := fs.Bool("json", false, "print as JSON")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: audit show takes one DIR", errUsage)
	}
	path, err := auditPath(pos[0])
	if err != nil {
		return err
	}
	es, err := audit.Read(path, f)
	if err != nil {
		return err
	}
	if *asJSON {
		if es == nil {
			es = []audit.Entry{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(es)
	}
	prefix := func(s string) string { // the first 8 characters, for --session and --cell
		if r := []rune(reviewPrintable(s, 8)); len(r) > 8 {
			s = string(r[:8])
		} else {
			s = string(r)
		}
		return orDash(s)
	}
	for _, e := range es {
		rules := strings.Join(e.Rules, ",")
		fmt.Fprintf(out, "%6d  %s  %-13s  %-8s  %-8s  %-16s  %s\n", e.Seq, e.Time.Format("2006-01-02 15:04:05"),
			reviewPrintable(e.Type, 13), prefix(e.Session), prefix(e.Cell),
			orDash(reviewPrintable(rules, 32)), reviewPrintable(string(e.Data), 100))
	}
	return nil
}

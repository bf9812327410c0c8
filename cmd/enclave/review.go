package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"enclave/datasets/workspace"
	"enclave/release/airlock"
	"enclave/release/audit"
)

func init() {
	register(&command{
		Name: "review",
		Usage: "review list DIR [--state pending|approved|rejected] [--json]\n" +
			"  enclave review show DIR ID [--files DIR]\n" +
			"  enclave review approve DIR ID --as REVIEWER [--reason TEXT]\n" +
			"  enclave review reject DIR ID --as REVIEWER --reason TEXT",
		Run: runReview,
	})
}

// reviewAirlockDir is the review queue's directory in a workspace.
const reviewAirlockDir = "airlock"

// runReview dispatches the reviewer's airlock commands.
func runReview(args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "list":
		return reviewList(args[1:], os.Stdout)
	case "show":
		return reviewShow(args[1:], os.Stdout)
	case "approve", "reject":
		return reviewDecide(args[0], args[1:], os.Stdout)
	}
	return errUsage
}

// reviewQueue opens the airlock of the existing workspace directory dir.
func reviewQueue(dir string) (*airlock.Queue, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	return airlock.Open(filepath.Join(dir, reviewAirlockDir))
}

// reviewList prints the queue's items.
func reviewList(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("review list", flag.ContinueOnError)
	state := fs.String("state", "", "show only items in `STATE`: pending, approved or rejected")
	asJSON := fs.Bool("json", false, "print as JSON")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: review list takes one DIR", errUsage)
	}
	q, err := reviewQueue(pos[0])
	if err != nil {
		return err
	}
	items, err := q.List(airlock.State(*state))
	if err != nil {
		return fmt.Errorf("--state: %w", err)
	}
	if *asJSON {
		if items == nil {
			items = []airlock.Item{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(items)
	}
	if len(items) == 0 {
		what := "review items"
		if *state != "" {
			what = *state + " items"
		}
		fmt.Fprintf(out, "no %s in %s\n", what, pos[0])
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tKIND\tAUTHOR\tCREATED\tSIZE\tREVIEWER\tSUMMARY")
	for _, it := range items {
		summary := it.Summary
		if it.Name != "" {
			summary = it.Name + ": " + summary
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", it.ID, it.State, it.Kind, reviewPrintable(it.Author, 20),
			it.Created.Format("2006-01-02 15:04"), it.Size, orDash(reviewPrintable(it.Reviewer, 20)), reviewPrintable(summary, 60))
	}
	return tw.Flush()
}

// reviewShow prints an item's record, then its content if it is text.
func reviewShow(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("review show", flag.ContinueOnError)
	files := fs.String("files", "", "write an output's images to `DIR` to look at them")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: review show takes DIR and ID", errUsage)
	}
	q, err := reviewQueue(pos[0])
	if err != nil {
		return err
	}
	it, content, err := q.Get(pos[1])
	if err != nil {
		return err
	}
	field := func(name, v string) {
		if v != "" {
			fmt.Fprintf(out, "%-9s %s\n", name, reviewPrintable(v, 200))
		}
	}
	field("id", it.ID)
	field("kind", it.Kind)
	field("state", string(it.State))
	field("author", it.Author)
	field("session", it.Session)
	field("cell", it.Cell)
	field("name", it.Name)
	field("mime", it.MIME)
	field("summary", it.Summary)
	field("size", fmt.Sprintf("%d bytes", it.Size))
	field("sha256", it.SHA256)
	field("created", it.Created.Format(time.RFC3339))
	if it.State != airlock.Pending {
		field("reviewer", it.Reviewer)
		field("reason", it.Reason)
		field("decided", it.Decided.Format(time.RFC3339))
	}
	if n := airlock.Hidden(content); n > 0 {
		fmt.Fprintf(out, "WARNING   %d characters a reader does not see are shown as \\u{…}: they may carry data past the review, and the item cannot be approved\n", n)
	}
	if it.Kind == airlock.KindOutput && it.MIME == "application/x-ndjson" {
		fmt.Fprintln(out, "--- content (the withheld messages, in order) ---")
		if err := reviewMessages(out, it.ID, content, *files); err != nil {
			return err
		}
		fmt.Fprintln(out, "--- end ---")
		return nil
	}
	if !reviewIsText(content) {
		fmt.Fprintf(out, "--- content not shown: %d bytes, not plain UTF-8 text (mime %s) ---\n", len(content), orDash(it.MIME))
		return nil
	}
	fmt.Fprintln(out, "--- content ---")
	io.WriteString(out, reviewVisible(string(content)))
	if len(content) > 0 && content[len(content)-1] != '\n' {
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "--- end ---")
	return nil
}

// reviewMessages shows an output item's withheld messages as a reader
// needs them: stream text and plain-text bundles as text, every
// invisible character escaped; images and other binary parts by size,
// written under files (when given) to be looked at, never as base64.
func reviewMessages(out io.Writer, id string, content []byte, files string) error {
	n := 0
	for line := range bytes.Lines(content) {
		n++
		var m struct {
			MsgType string          `json:"msg_type"`
			Content json.RawMessage `json:"content"`
		}
		if json.Unmarshal(line, &m) != nil {
			fmt.Fprintf(out, "[%d: not a message] %s\n", n, reviewVisible(string(bytes.TrimSpace(line))))
			continue
		}
		var c struct {
			Name      string         `json:"name"`
			Text      string         `json:"text"`
			Data      map[string]any `json:"data"`
			Ename     string         `json:"ename"`
			Evalue    string         `json:"evalue"`
			Traceback []string       `json:"traceback"`
		}
		json.Unmarshal(m.Content, &c)
		switch {
		case m.MsgType == "stream":
			fmt.Fprintf(out, "[%d: %s]\n%s", n, reviewVisible(c.Name), reviewVisible(c.Text))
			if !strings.HasSuffix(c.Text, "\n") {
				fmt.Fprintln(out)
			}
		case m.MsgType == "error":
			fmt.Fprintf(out, "[%d: error] %s: %s\n", n, reviewVisible(c.Ename), reviewVisible(c.Evalue))
			for _, l := range c.Traceback {
				fmt.Fprintf(out, "  %s\n", reviewVisible(l))
			}
		case c.Data != nil:
			keys := make([]string, 0, len(c.Data))
			for k := range c.Data {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if err := reviewPart(out, id, n, m.MsgType, k, c.Data[k], files); err != nil {
					return err
				}
			}
		default:
			fmt.Fprintf(out, "[%d: %s] %s\n", n, reviewVisible(m.MsgType), reviewVisible(string(m.Content)))
		}
	}
	return nil
}

// reviewPart shows one MIME part of a withheld display.
func reviewPart(out io.Writer, id string, n int, msgType, mime string, v any, files string) error {
	text, isText := v.(string)
	binary := strings.HasPrefix(mime, "image/") && mime != "image/svg+xml"
	if isText && !binary {
		fmt.Fprintf(out, "[%d: %s %s]\n%s\n", n, msgType, reviewVisible(mime), reviewVisible(text))
		return nil
	}
	var raw []byte
	if isText {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
		if err != nil {
			fmt.Fprintf(out, "[%d: %s %s: %d characters, not base64; not shown]\n", n, msgType, reviewVisible(mime), len(text))
			return nil
		}
		raw = b
	} else {
		raw, _ = json.Marshal(v)
	}
	if files == "" {
		fmt.Fprintf(out, "[%d: %s %s: %d bytes, not shown here; --files DIR writes it to look at]\n", n, msgType, reviewVisible(mime), len(raw))
		return nil
	}
	ext := mimeExtension(mime)
	if err := os.MkdirAll(files, 0o700); err != nil {
		return err
	}
	path := filepath.Join(files, fmt.Sprintf("%s-%d.%s", id, n, ext))
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(out, "[%d: %s %s: %d bytes, written to %s]\n", n, msgType, reviewVisible(mime), len(raw), path)
	return nil
}

// mimeExtension is the file extension of a MIME part for --files.
func mimeExtension(mime string) string {
	switch mime {
	case "image/png":
		return "png"
	case "image/jpeg":
		return "jpg"
	case "image/gif":
		return "gif"
	}
	return "bin"
}

// reviewVisible is s with every character a reader would not see
// (airlock.Invisible) written as \u{XXXX}, so that the reviewer reads
// what would be released.
func reviewVisible(s string) string {
	var b strings.Builder
	for _, r := range s {
		if airlock.Invisible(r) {
			fmt.Fprintf(&b, "\\u{%04X}", r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// reviewAuditData is the Data of a "review" audit entry.
type reviewAuditData struct {
	ID       string `json:"id"`
	Action   string `json:"action"` // approve, reject
	Reviewer string `json:"reviewer"`
	Reason   string `json:"reason,omitempty"`
	SHA256   string `json:"sha256"`
	Export   string `json:"export,omitempty"` // file written to exports/, for an approval
	Error    string `json:"error,omitempty"`  // for an "alert": why the decision was refused
}

// reviewDecide approves or rejects an item and records it in the audit log.
func reviewDecide(action string, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("review "+action, flag.ContinueOnError)
	as := fs.String("as", "", "the reviewer's researcher `ID` (must not be the item's author to approve)")
	reasonHelp := "why (optional)"
	if action == "reject" {
		reasonHelp = "why (required)"
	}
	reason := fs.String("reason", "", reasonHelp)
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("%w: review %s takes DIR and ID", errUsage, action)
	}
	if strings.TrimSpace(*as) == "" {
		return fmt.Errorf("%w: review %s needs --as REVIEWER", errUsage, action)
	}
	if action == "reject" && strings.TrimSpace(*reason) == "" {
		return fmt.Errorf("%w: review reject needs --reason TEXT", errUsage)
	}
	dir, id := pos[0], pos[1]
	q, err := reviewQueue(dir)
	if err != nil {
		return err
	}
	// Open the log first: a decision that cannot be recorded is not made.
	log, err := audit.Open(filepath.Join(dir, workspace.AuditDir, workspace.AuditFile))
	if err != nil {
		return err
	}
	defer log.Close()

	exports := filepath.Join(dir, workspace.ExportsDir)
	var it airlock.Item
	if action == "approve" {
		it, err = q.Approve(id, *as, *reason, exports)
	} else {
		it, err = q.Reject(id, *as, *reason)
	}
	if errors.Is(err, airlock.ErrTampered) {
		data, _ := json.Marshal(reviewAuditData{ID: id, Action: action, Reviewer: *as, Error: err.Error()})
		if _, aerr := log.Append(audit.Entry{Type: "alert", Researcher: *as, Data: data}); aerr != nil {
			return fmt.Errorf("%w (and the audit log was not written: %v)", err, aerr)
		}
	}
	if err != nil {
		return err
	}
	d := reviewAuditData{ID: it.ID, Action: action, Reviewer: it.Reviewer, Reason: it.Reason, SHA256: it.SHA256}
	if action == "approve" {
		d.Export = airlock.ExportName(it)
	}
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	e, err := log.Append(audit.Entry{Type: "review", Session: it.Session, Researcher: it.Reviewer, Cell: it.Cell, Data: data})
	if err != nil {
		return fmt.Errorf("%s is %s but the audit log was not written: %w", it.ID, it.State, err)
	}
	if action == "approve" {
		fmt.Fprintf(out, "approved %s (%s by %s): written to %s (sha256 %s); audit seq %d\n",
			it.ID, it.Kind, reviewPrintable(it.Author, 40), filepath.Join(exports, d.Export), it.SHA256, e.Seq)
	} else {
		fmt.Fprintf(out, "rejected %s (%s by %s): %s; audit seq %d\n",
			it.ID, it.Kind, reviewPrintable(it.Author, 40), reviewPrintable(it.Reason, 200), e.Seq)
	}
	return nil
}

// reviewIsText reports whether b is UTF-8 text safe to print on a terminal:
// no control characters but tab, newline and carriage return.
func reviewIsText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// reviewPrintable makes s safe for one terminal line: non-printing
// characters become '?', and it is cut to max runes with "…".
func reviewPrintable(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

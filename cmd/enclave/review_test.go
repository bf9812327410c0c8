package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enclave/datasets/workspace"
	"enclave/release/airlock"
	"enclave/release/audit"
)

// reviewWorkspace makes a bare workspace directory with three pending items
// by alice: text output r-0001, an export r-0002, binary output r-0003.
func reviewWorkspace(t *testing.T) string {
	t.Helper()
	ws := t.TempDir()
	q, err := airlock.Open(filepath.Join(ws, reviewAirlockDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		it      airlock.Item
		content string
	}{
		{airlock.Item{Kind: airlock.KindOutput, Author: "alice", Session: "sess-1234567890", Cell: "cell-abcdefghij", Summary: "3 lines of stdout"}, "n = 42\nmean = 3.1\nsd = 0.4\n"},
		{airlock.Item{Kind: airlock.KindExport, Author: "alice", Name: "table1.csv", MIME: "text/csv", Summary: "2 rows"}, "a,b\n30,40\n"},
		{airlock.Item{Kind: airlock.KindOutput, Author: "alice", MIME: "image/png", Summary: "plot"}, "\x89PNG\r\n\x1a\n\x00\x00\x1b[31m"},
	} {
		if _, err := q.Submit(s.it, []byte(s.content)); err != nil {
			t.Fatal(err)
		}
	}
	return ws
}

func TestReviewCommands(t *testing.T) {
	ws := reviewWorkspace(t)
	run := func(fn func([]string, *bytes.Buffer) error, args ...string) (string, error) {
		var out bytes.Buffer
		err := fn(args, &out)
		return out.String(), err
	}
	list := func(a []string, b *bytes.Buffer) error { return reviewList(a, b) }
	show := func(a []string, b *bytes.Buffer) error { return reviewShow(a, b) }
	approve := func(a []string, b *bytes.Buffer) error { return reviewDecide("approve", a, b) }
	reject := func(a []string, b *bytes.Buffer) error { return reviewDecide("reject", a, b) }

	out, err := run(list, ws)
	if err != nil || !strings.Contains(out, "r-0001") || !strings.Contains(out, "table1.csv: 2 rows") || strings.Count(out, "pending") != 3 {
		t.Fatalf("review list: %v\n%s", err, out)
	}
	out, err = run(show, ws, "r-0001")
	if err != nil || !strings.Contains(out, "author    alice") || !strings.Contains(out, "--- content ---\nn = 42\nmean = 3.1\nsd = 0.4\n--- end ---") {
		t.Fatalf("review show r-0001: %v\n%s", err, out)
	}
	out, err = run(show, ws, "r-0003")
	if err != nil || !strings.Contains(out, "content not shown: 15 bytes") || strings.Contains(out, "PNG") || strings.Contains(out, "\x1b") {
		t.Fatalf("review show r-0003 (binary): %v\n%q", err, out)
	}

	// Decisions.
	if _, err := run(approve, ws, "r-0001", "--as", "alice"); !errors.Is(err, airlock.ErrSelfReview) {
		t.Fatalf("self-approval: %v", err)
	}
	out, err = run(approve, ws, "r-0001", "--as", "bob", "--reason", "aggregates only")
	if err != nil || !strings.Contains(out, "approved r-0001") {
		t.Fatalf("approve: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(filepath.Join(ws, workspace.ExportsDir, "r-0001-output.txt")); err != nil || !strings.HasPrefix(string(b), "n = 42") {
		t.Fatalf("export: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.ExportsDir, airlock.ManifestFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := run(approve, ws, "r-0001", "--as", "carol"); !errors.Is(err, airlock.ErrNotPending) {
		t.Fatalf("second approval: %v", err)
	}
	if _, err := run(reject, "--as", "bob", ws, "r-0002"); !errors.Is(err, errUsage) {
		t.Fatalf("reject without reason: %v", err)
	}
	out, err = run(reject, ws, "r-0002", "--as", "bob", "--reason", "row-level data")
	if err != nil || !strings.Contains(out, "rejected r-0002") {
		t.Fatalf("reject: %v\n%s", err, out)
	}

	out, err = run(list, ws, "--state", "pending")
	if err != nil || strings.Contains(out, "r-0001") || !strings.Contains(out, "r-0003") {
		t.Fatalf("list --state pending: %v\n%s", err, out)
	}
	out, err = run(list, ws, "--json", "--state", "approved")
	var items []airlock.Item
	if err != nil || json.Unmarshal([]byte(out), &items) != nil || len(items) != 1 || items[0].Reviewer != "bob" {
		t.Fatalf("list --json: %v\n%s", err, out)
	}
	if _, err := run(list, ws, "--state", "done"); err == nil {
		t.Error("list --state done succeeded")
	}
	if out, err := run(list, ws, "--json", "--state", "rejected"); err != nil || !strings.HasPrefix(out, "[") {
		t.Errorf("list --json: %v, %q", err, out)
	}

	// Both decisions are in the audit log.
	log := filepath.Join(ws, workspace.AuditDir, workspace.AuditFile)
	es, err := audit.Read(log, audit.Filter{Type: "review"})
	if err != nil || len(es) != 2 {
		t.Fatalf("audit entries %+v, %v", es, err)
	}
	var d reviewAuditData
	if err := json.Unmarshal(es[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.ID != "r-0001" || d.Action != "approve" || d.Reviewer != "bob" || d.Reason != "aggregates only" || len(d.SHA256) != 64 ||
		es[0].Cell != "cell-abcdefghij" || es[0].Researcher != "bob" {
		t.Errorf("approval audit entry %+v, data %+v", es[0], d)
	}
	if err := json.Unmarshal(es[1].Data, &d); err != nil || d.Action != "reject" || d.Reason != "row-level data" {
		t.Errorf("rejection audit data %s", es[1].Data)
	}

	// Usage errors.
	for _, c := range []struct {
		fn   func([]string, *bytes.Buffer) error
		args []string
	}{
		{list, nil},
		{list, []string{ws, "extra"}},
		{show, []string{ws}},
		{approve, []string{ws, "r-0003"}},
		{approve, []string{ws, "--as", "bob"}},
		{reject, []string{ws, "r-0003", "--reason", "x"}},
	} {
		if _, err := run(c.fn, c.args...); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want usage error", c.args, err)
		}
	}
	if err := runReview([]string{"delete", ws}); !errors.Is(err, errUsage) {
		t.Errorf("review delete: %v", err)
	}
	missing := filepath.Join(ws, "nope")
	if _, err := run(list, missing); err == nil {
		t.Error("list of a missing dir succeeded")
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Error("list created a missing workspace dir")
	}
	if _, err := run(show, ws, "r-0099"); !errors.Is(err, airlock.ErrNotFound) {
		t.Errorf("show r-0099: %v", err)
	}
}

// TestReviewTamperedAlert: approving content changed after submission fails
// and leaves an alert in the audit log.
func TestReviewTamperedAlert(t *testing.T) {
	ws := reviewWorkspace(t)
	if err := os.WriteFile(filepath.Join(ws, reviewAirlockDir, "r-0002.content"), []byte("a,b\n3,4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := reviewShow([]string{ws, "r-0002"}, &out); !errors.Is(err, airlock.ErrTampered) {
		t.Fatalf("show: %v", err)
	}
	if err := reviewDecide("approve", []string{ws, "r-0002", "--as", "bob"}, &out); !errors.Is(err, airlock.ErrTampered) {
		t.Fatalf("approve: %v", err)
	}
	es, err := audit.Read(filepath.Join(ws, workspace.AuditDir, workspace.AuditFile), audit.Filter{Type: "alert"})
	if err != nil || len(es) != 1 || !strings.Contains(string(es[0].Data), "r-0002") {
		t.Fatalf("alert entries %+v, %v", es, err)
	}
	if _, err := os.Stat(filepath.Join(ws, workspace.ExportsDir, "r-0002-table1.csv")); !os.IsNotExist(err) {
		t.Errorf("tampered export written: %v", err)
	}
}

func TestAuditCommands(t *testing.T) {
	ws := t.TempDir()
	var out bytes.Buffer
	if err := auditVerify([]string{ws}, &out); err == nil || !strings.Contains(err.Error(), "no audit log") {
		t.Fatalf("verify without a log: %v", err)
	}
	path := filepath.Join(ws, workspace.AuditDir, workspace.AuditFile)
	l, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []audit.Entry{
		{Type: "session_start", Session: "sess-1234567890", Researcher: "alice"},
		{Type: "cell", Session: "sess-1234567890", Cell: "cell-aaaaaaaaaa", Data: json.RawMessage(`{"code":"count(person)\u001b[2J"}`)},
		{Type: "decision", Session: "sess-1234567890", Cell: "cell-aaaaaaaaaa", Rules: []string{"small_cells"}, Data: json.RawMessage(`{"withheld":2}`)},
		{Type: "cell", Session: "sess-9999999999", Cell: "cell-bbbbbbbbbb", Data: json.RawMessage(`{"code":"` + strings.Repeat("x", 500) + `"}`)},
	} {
		if _, err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()

	out.Reset()
	if err := auditVerify([]string{ws}, &out); err != nil || out.String() != "audit log "+path+": 4 entries, chain intact\n" {
		t.Fatalf("verify: %v, %q", err, out.String())
	}

	tests := []struct {
		args  []string
		lines int
		want  string
	}{
		{nil, 4, "session_start"},
		{[]string{"--session", "sess-9"}, 1, "sess-999  cell-bbb"},
		{[]string{"--cell", "cell-aaaaaaaaaa"}, 2, "small_cells"},
		{[]string{"--rule", "small_cells"}, 1, `{"withheld":2}`},
		{[]string{"--type", "cell", "--session", "sess-1"}, 1, `count(person)`},
		{[]string{"--type", "alert"}, 0, ""},
	}
	for _, tt := range tests {
		out.Reset()
		if err := auditShow(append([]string{ws}, tt.args...), &out); err != nil {
			t.Fatalf("show %q: %v", tt.args, err)
		}
		s := out.String()
		if n := strings.Count(s, "\n"); n != tt.lines || !strings.Contains(s, tt.want) || strings.Contains(s, "\x1b") {
			t.Errorf("show %q: %d lines, want %d containing %q:\n%s", tt.args, n, tt.lines, tt.want, s)
		}
		for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
			if len([]rune(line)) > 200 {
				t.Errorf("show %q: line not truncated: %s", tt.args, line)
			}
		}
	}
	out.Reset()
	var es []audit.Entry
	if err := auditShow([]string{ws, "--json", "--type", "decision"}, &out); err != nil || json.Unmarshal(out.Bytes(), &es) != nil ||
		len(es) != 1 || es[0].Seq != 3 || es[0].Prev == "" {
		t.Fatalf("show --json: %v\n%s", err, out.String())
	}

	// An edited log fails verify, naming the line.
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, bytes.Replace(b, []byte(`"withheld":2`), []byte(`"withheld":0`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = auditVerify([]string{ws}, &out)
	if err == nil || !strings.Contains(err.Error(), "line 4 (seq 4): prev hash does not match line 3") || out.Len() != 0 {
		t.Fatalf("verify of an edited log: %v, %q", err, out.String())
	}
	if code := run([]string{"audit", "verify", ws}, &bytes.Buffer{}); code != 1 {
		t.Errorf("enclave audit verify on an edited log exits %d, want 1", code)
	}
	for _, args := range [][]string{nil, {"verify"}, {"verify", ws, ws}, {"show"}, {"check", ws}} {
		if err := runAudit(args); !errors.Is(err, errUsage) {
			t.Errorf("audit %q: %v, want usage error", args, err)
		}
	}
}

// TestReviewShowsWhatWouldLeave: a withheld output is shown message by
// message, with the characters a reader cannot see escaped and counted,
// and its images written to files to look at, not as base64 (review 44
// hid six BMI readings as zero-width characters after one sentence, and
// readings in a PNG's pixels the reviewer could not see).
func TestReviewShowsWhatWouldLeave(t *testing.T) {
	ws := t.TempDir()
	q, err := airlock.Open(filepath.Join(ws, reviewAirlockDir))
	if err != nil {
		t.Fatal(err)
	}
	png := "\x89PNG\r\n\x1a\n-pixels-"
	content := `{"msg_type":"stream","content":{"name":"stdout","text":"Model converged.\u200b\u200c\n"}}` + "\n" +
		`{"msg_type":"display_data","content":{"data":{"image/png":"` + base64.StdEncoding.EncodeToString([]byte(png)) + `","text/plain":"<Figure>"},"metadata":{}}}` + "\n"
	it, err := q.Submit(airlock.Item{Kind: airlock.KindOutput, Author: "alice", MIME: "application/x-ndjson", Summary: "1 line of stdout, 1 display"}, []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	files := filepath.Join(t.TempDir(), "look")
	if err := reviewShow([]string{ws, it.ID, "--files", files}, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"WARNING   2 characters", "[1: stdout]\nModel converged.\\u{200B}\\u{200C}\n",
		"[2: display_data text/plain]\n<Figure>\n", "[2: display_data image/png: 16 bytes, written to "} {
		if !strings.Contains(text, want) {
			t.Errorf("review show lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\u200b") || strings.Contains(text, "iVBOR") {
		t.Errorf("review show prints an invisible character or base64:\n%q", text)
	}
	if b, err := os.ReadFile(filepath.Join(files, it.ID+"-2.png")); err != nil || string(b) != png {
		t.Errorf("image file: %q, %v", b, err)
	}
	if err := reviewDecide("approve", []string{ws, it.ID, "--as", "bob"}, &out); !errors.Is(err, airlock.ErrHidden) {
		t.Errorf("approved content with invisible characters: %v", err)
	}
}

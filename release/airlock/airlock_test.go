package airlock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func open(t *testing.T) (*Queue, string) {
	t.Helper()
	ws := t.TempDir()
	q, err := Open(filepath.Join(ws, "airlock"))
	if err != nil {
		t.Fatal(err)
	}
	return q, ws
}

func submit(t *testing.T, q *Queue, it Item, content string) Item {
	t.Helper()
	got, err := q.Submit(it, []byte(content))
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestReviewSubmitListGet(t *testing.T) {
	q, _ := open(t)
	a := submit(t, q, Item{Kind: KindOutput, Author: "alice", Session: "s1", Cell: "m1", Summary: "3 lines of stdout",
		State: Approved, Reviewer: "mallory"}, "a\nb\nc\n")
	b := submit(t, q, Item{Kind: KindExport, Author: "alice", Name: "table1.csv", MIME: "text/csv"}, "x,y\n1,2\n")
	if a.ID != "r-0001" || b.ID != "r-0002" {
		t.Fatalf("ids %s, %s", a.ID, b.ID)
	}
	if a.State != Pending || a.Reviewer != "" || a.Size != 6 || a.SHA256 != hexSum("a\nb\nc\n") || a.Created.IsZero() {
		t.Errorf("submitted item: %+v", a)
	}
	if b.Summary != "8 bytes" {
		t.Errorf("default summary %q", b.Summary)
	}
	for _, p := range []string{q.Dir(), q.itemPath(a.ID), q.contentPath(a.ID)} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: %v, %v: want no group/other access", p, fi.Mode(), err)
		}
	}
	it, content, err := q.Get("r-0002")
	if err != nil || string(content) != "x,y\n1,2\n" || it.Name != "table1.csv" || it.MIME != "text/csv" {
		t.Fatalf("Get = %+v, %q, %v", it, content, err)
	}
	for _, id := range []string{"r-0009", "../r-0001", "r-1", "x"} {
		if _, _, err := q.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := q.Reject("r-0001", "bob", "too detailed"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		state State
		want  string
	}{
		{"", "[r-0001 r-0002]"},
		{Pending, "[r-0002]"},
		{Rejected, "[r-0001]"},
		{Approved, "[]"},
	}
	for _, tt := range tests {
		items, err := q.List(tt.state)
		if err != nil {
			t.Fatal(err)
		}
		ids := []string{}
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		if got := fmt.Sprint(ids); got != tt.want {
			t.Errorf("List(%q) = %s, want %s", tt.state, got, tt.want)
		}
	}
	if _, err := q.List("done"); err == nil {
		t.Error("List(done) succeeded")
	}
}

func TestReviewSubmitRefused(t *testing.T) {
	q, _ := open(t)
	tests := []struct {
		name string
		it   Item
	}{
		{"no kind", Item{Author: "a"}},
		{"bad kind", Item{Kind: "file", Author: "a"}},
		{"no author", Item{Kind: KindOutput}},
		{"export without name", Item{Kind: KindExport, Author: "a"}},
		{"leading dot", Item{Kind: KindExport, Author: "a", Name: ".bashrc"}},
		{"slash", Item{Kind: KindExport, Author: "a", Name: "../x.csv"}},
		{"dot dot", Item{Kind: KindExport, Author: "a", Name: ".."}},
		{"space", Item{Kind: KindExport, Author: "a", Name: "my table.csv"}},
		{"non-ascii", Item{Kind: KindExport, Author: "a", Name: "tablé.csv"}},
		{"too long", Item{Kind: KindExport, Author: "a", Name: strings.Repeat("a", 101)}},
		{"bad output name", Item{Kind: KindOutput, Author: "a", Name: "a/b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if it, err := q.Submit(tt.it, []byte("x")); err == nil {
				t.Errorf("Submit(%+v) = %+v, want an error", tt.it, it)
			}
		})
	}
	if err := ValidName(strings.Repeat("a", 100)); err != nil {
		t.Error(err)
	}
	if items, _ := q.List(""); len(items) != 0 {
		t.Errorf("refused submissions left %d items", len(items))
	}
}

// TestReviewConcurrentSubmit: submitters with their own Queue each (as separate
// kernels have) get distinct, dense ids.
func TestReviewConcurrentSubmit(t *testing.T) {
	_, ws := open(t)
	const workers, per = 6, 15
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			q, err := Open(filepath.Join(ws, "airlock"))
			if err != nil {
				t.Error(err)
				return
			}
			for i := 0; i < per; i++ {
				it, err := q.Submit(Item{Kind: KindOutput, Author: fmt.Sprint("r", w)}, []byte(fmt.Sprint(w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[it.ID] {
					t.Errorf("id %s issued twice", it.ID)
				}
				seen[it.ID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for n := 1; n <= workers*per; n++ {
		if !seen[formatID(n)] {
			t.Errorf("id %s never issued", formatID(n))
		}
	}
	// Ids never repeat, even when the newest item's files are removed.
	q, _ := Open(filepath.Join(ws, "airlock"))
	last := formatID(workers * per)
	os.Remove(q.itemPath(last))
	os.Remove(q.contentPath(last))
	if it := submit(t, q, Item{Kind: KindOutput, Author: "a"}, "z"); it.ID != formatID(workers*per+1) {
		t.Errorf("after removing %s, next id %s", last, it.ID)
	}
}

func TestReviewApprove(t *testing.T) {
	q, ws := open(t)
	exports := filepath.Join(ws, "exports")
	out := submit(t, q, Item{Kind: KindOutput, Author: "alice"}, "n = 42\n")
	exp := submit(t, q, Item{Kind: KindExport, Author: "alice", Name: "t1.csv"}, "a,b\n")

	if _, err := q.Approve(out.ID, "alice", "", exports); !errors.Is(err, ErrSelfReview) ||
		!strings.Contains(err.Error(), "the author of r-0001 cannot approve it") {
		t.Fatalf("self-approval: %v", err)
	}
	if _, err := q.Approve(out.ID, "ALICE", "", exports); !errors.Is(err, ErrSelfReview) {
		t.Fatalf("self-approval in capitals: %v", err)
	}
	if _, err := q.Approve(out.ID, " ", "", exports); err == nil {
		t.Fatal("approval without a reviewer succeeded")
	}
	if _, err := os.Stat(exports); !os.IsNotExist(err) {
		t.Fatalf("refused approval touched exports: %v", err)
	}
	got, err := q.Approve(out.ID, "bob", "aggregate only", exports)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Approved || got.Reviewer != "bob" || got.Reason != "aggregate only" || got.Decided.IsZero() {
		t.Errorf("approved item %+v", got)
	}
	if _, err := q.Approve(exp.ID, "carol", "", exports); err != nil {
		t.Fatal(err)
	}

	b, err := os.ReadFile(filepath.Join(exports, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m []ManifestEntry
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, file, content, reviewer string }{
		{"r-0001", "r-0001-output.txt", "n = 42\n", "bob"},
		{"r-0002", "r-0002-t1.csv", "a,b\n", "carol"},
	}
	if len(m) != len(want) {
		t.Fatalf("manifest %s", b)
	}
	for i, w := range want {
		e := m[i]
		data, err := os.ReadFile(filepath.Join(exports, e.File))
		if err != nil {
			t.Fatal(err)
		}
		if e.ID != w.id || e.File != w.file || string(data) != w.content || e.SHA256 != hexSum(string(data)) ||
			e.Size != int64(len(data)) || e.Author != "alice" || e.Reviewer != w.reviewer || e.Approved.IsZero() {
			t.Errorf("manifest entry %d: %+v (file %q)", i, e, data)
		}
	}

	// Each item is decided once.
	if _, err := q.Approve(out.ID, "carol", "", exports); !errors.Is(err, ErrNotPending) {
		t.Errorf("second approval: %v", err)
	}
	if _, err := q.Reject(out.ID, "carol", "changed my mind"); !errors.Is(err, ErrNotPending) {
		t.Errorf("reject after approval: %v", err)
	}
	if _, err := q.Approve("r-0077", "carol", "", exports); !errors.Is(err, ErrNotFound) {
		t.Errorf("approve missing item: %v", err)
	}
}

func TestReviewReject(t *testing.T) {
	q, ws := open(t)
	it := submit(t, q, Item{Kind: KindOutput, Author: "alice"}, "row-level output")
	for _, reason := range []string{"", "  \n"} {
		if _, err := q.Reject(it.ID, "bob", reason); err == nil {
			t.Errorf("Reject with reason %q succeeded", reason)
		}
	}
	got, err := q.Reject(it.ID, "alice", "withdrawn by the author")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != Rejected || got.Reviewer != "alice" {
		t.Errorf("rejected item %+v", got)
	}
	if _, err := q.Reject(it.ID, "bob", "again"); !errors.Is(err, ErrNotPending) {
		t.Errorf("second rejection: %v", err)
	}
	if _, err := q.Approve(it.ID, "bob", "", filepath.Join(ws, "exports")); !errors.Is(err, ErrNotPending) {
		t.Errorf("approve after rejection: %v", err)
	}
	if _, err := os.Stat(filepath.Join(ws, "exports")); !os.IsNotExist(err) {
		t.Errorf("rejected item reached exports: %v", err)
	}
}

// TestReviewTampered: content changed on disk after submission is caught by Get
// and by Approve, which then exports nothing.
func TestReviewTampered(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(path string) error
	}{
		{"edited", func(p string) error { return os.WriteFile(p, []byte("count: 3"), 0o600) }},
		{"appended", func(p string) error {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("\nsecret row")
			return err
		}},
		{"emptied", func(p string) error { return os.Truncate(p, 0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, ws := open(t)
			it := submit(t, q, Item{Kind: KindOutput, Author: "alice"}, "count: 30")
			if err := tt.tamper(q.contentPath(it.ID)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := q.Get(it.ID); !errors.Is(err, ErrTampered) {
				t.Errorf("Get: %v, want ErrTampered", err)
			}
			exports := filepath.Join(ws, "exports")
			if _, err := q.Approve(it.ID, "bob", "", exports); !errors.Is(err, ErrTampered) {
				t.Errorf("Approve: %v, want ErrTampered", err)
			}
			if _, err := os.Stat(exports); !os.IsNotExist(err) {
				t.Errorf("tampered item reached exports: %v", err)
			}
			if items, _ := q.List(Pending); len(items) != 1 {
				t.Errorf("tampered item no longer pending: %+v", items)
			}
		})
	}
}

// TestReviewRefusesHeldResults: an item holding results made while the
// worker held rows cannot be approved, whoever reviews it: a table of two
// age bands whose ends spelled a BMI looked like any other (review 42).
// It can still be rejected.
func TestReviewRefusesHeldResults(t *testing.T) {
	q, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	it, err := q.Submit(Item{Kind: KindOutput, Author: "alice", Summary: "1 execute result", Results: 1}, []byte(`{"msg_type":"execute_result"}`))
	if err != nil {
		t.Fatal(err)
	}
	exports := t.TempDir()
	if _, err := q.Approve(it.ID, "bob", "looks aggregate", exports); !errors.Is(err, ErrHeldResults) {
		t.Fatalf("approve: %v", err)
	}
	if got, _, err := q.Get(it.ID); err != nil || got.State != Pending {
		t.Fatalf("after a refused approval: %v %+v", err, got)
	}
	if files, _ := os.ReadDir(exports); len(files) != 0 {
		t.Errorf("exported %d files", len(files))
	}
	if _, err := q.Reject(it.ID, "bob", "made from rows"); err != nil {
		t.Errorf("reject: %v", err)
	}
}

// TestHiddenCharactersCannotBeApproved: review 44 printed one sentence and
// six BMI readings as zero-width characters after it; the reviewer saw the
// sentence. Such content, raw or as JSON escapes, is refused.
func TestHiddenCharactersCannotBeApproved(t *testing.T) {
	q, ws := open(t)
	exports := filepath.Join(ws, "exports")
	for _, tc := range []struct {
		content string
		hidden  int
	}{
		{"Model converged.\u200b\u200c\u200b\n", 3},
		{`{"msg_type":"stream","content":{"name":"stdout","text":"ok\u200b\u202e"}}` + "\n", 2},
		{"a\u00a0b\tc\r\n", 1}, // a no-break space looks like a space
		{"mean 30.4 (sd 6.5), ≤20 — naïve café\n", 0},
	} {
		if got := Hidden([]byte(tc.content)); got != tc.hidden {
			t.Errorf("Hidden(%q) = %d, want %d", tc.content, got, tc.hidden)
		}
		it := submit(t, q, Item{Kind: KindOutput, Author: "alice"}, tc.content)
		_, err := q.Approve(it.ID, "bob", "", exports)
		if refused := errors.Is(err, ErrHidden); refused != (tc.hidden > 0) {
			t.Errorf("approve %q: %v", tc.content, err)
		}
	}
}

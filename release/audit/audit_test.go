package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestMain doubles as the child process of the cross-process tests:
// AUDIT_CHILD=append appends AUDIT_N entries to AUDIT_PATH tagged AUDIT_WHO;
// AUDIT_CHILD=hang appends one, prints its seq and waits to be killed.
func TestMain(m *testing.M) {
	switch os.Getenv("AUDIT_CHILD") {
	case "":
		os.Exit(m.Run())
	case "append":
		n, _ := strconv.Atoi(os.Getenv("AUDIT_N"))
		l, err := Open(os.Getenv("AUDIT_PATH"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for i := 0; i < n; i++ {
			if _, err := l.Append(Entry{Type: "cell", Session: os.Getenv("AUDIT_WHO")}); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		os.Exit(0)
	case "hang":
		l, err := Open(os.Getenv("AUDIT_PATH"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		appendEntry := l.Append
		if os.Getenv("AUDIT_SYNC_SOON") != "" {
			appendEntry = l.AppendSyncSoon
		}
		e, err := appendEntry(Entry{Type: "session_stop", Session: "killed"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("%d\n", e.Seq)
		select {} // no Close: SIGKILL comes next
	}
	os.Exit(2)
}

func child(t *testing.T, mode, path string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), append([]string{"AUDIT_CHILD=" + mode, "AUDIT_PATH=" + path}, env...)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// writeChain makes a log of n entries and returns its path.
func writeChain(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 1; i <= n; i++ {
		e := Entry{Type: "cell", Session: "s-abc", Cell: fmt.Sprintf("msg-%02d", i), Data: json.RawMessage(`{"code":"count(person)"}`)}
		if i%3 == 0 {
			e.Type, e.Rules = "decision", []string{"small_cells", "dominance"}
		}
		got, err := l.Append(e)
		if err != nil {
			t.Fatal(err)
		}
		if got.Seq != int64(i) || got.Time.IsZero() || (i == 1) != (got.Prev == "") {
			t.Fatalf("entry %d: got seq %d prev %q time %v", i, got.Seq, got.Prev, got.Time)
		}
	}
	return path
}

func TestAuditOpenModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ws", "audit", "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700 | os.ModeDir, path: 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v, %v; want %v", p, fi.Mode(), err, want)
		}
	}
	if _, err := l.Append(Entry{Type: "cell"}); err != ErrClosed {
		t.Errorf("Append after Close: %v", err)
	}
	if n, err := Verify(path); n != 0 || err != nil {
		t.Errorf("empty log: Verify = %d, %v", n, err)
	}
}

// TestAuditVerify: an intact chain verifies; each kind of tampering is
// reported at the first broken line.
func TestAuditVerify(t *testing.T) {
	const n = 10
	tests := []struct {
		name   string
		tamper func([][]byte) [][]byte // the lines, newline included
		want   string                  // "" = verifies
	}{
		{"intact", nil, ""},
		{"edit a byte of line 5", func(l [][]byte) [][]byte {
			l[5-1] = bytes.Replace(l[5-1], []byte("msg-05"), []byte("msg-0X"), 1)
			return l
		}, "audit: line 6 (seq 6): prev hash does not match line 5 — the log was edited or a line removed"},
		{"edit the data of line 1", func(l [][]byte) [][]byte {
			l[0] = bytes.Replace(l[0], []byte("person"), []byte("persoN"), 1)
			return l
		}, "line 2 (seq 2): prev hash does not match line 1"},
		{"break the JSON of line 4", func(l [][]byte) [][]byte {
			l[3] = l[3][1:]
			return l
		}, "audit: line 4 (after seq 3): not a valid entry"},
		{"delete line 7", func(l [][]byte) [][]byte {
			return append(l[:6], l[7:]...)
		}, "audit: line 7 (seq 8): expected seq 7"},
		{"delete line 1", func(l [][]byte) [][]byte {
			return l[1:]
		}, "line 1 (seq 2): expected seq 1"},
		{"delete line 7 and renumber", func(l [][]byte) [][]byte {
			l = append(l[:6], l[7:]...)
			for i := 6; i < len(l); i++ {
				l[i] = bytes.Replace(l[i], fmt.Appendf(nil, `"seq":%d,`, i+2), fmt.Appendf(nil, `"seq":%d,`, i+1), 1)
			}
			return l
		}, "audit: line 7 (seq 7): prev hash does not match line 6"},
		{"swap lines 3 and 4", func(l [][]byte) [][]byte {
			l[2], l[3] = l[3], l[2]
			return l
		}, "line 3 (seq 4): expected seq 3"},
		{"truncate the last line", func(l [][]byte) [][]byte {
			l[n-1] = l[n-1][:len(l[n-1])-10]
			return l
		}, "audit: line 10 (after seq 9): the last line is incomplete"},
		{"cut the last newline only", func(l [][]byte) [][]byte {
			l[n-1] = l[n-1][:len(l[n-1])-1]
			return l
		}, "line 10 (after seq 9): the last line is incomplete"},
		{"insert a blank line", func(l [][]byte) [][]byte {
			return append(l[:5], append([][]byte{[]byte("\n")}, l[5:]...)...)
		}, "line 6 (after seq 5): not a valid entry"},
		{"give line 1 a prev", func(l [][]byte) [][]byte {
			l[0] = bytes.Replace(l[0], []byte(`"prev":""`), []byte(`"prev":"00"`), 1)
			return l
		}, "line 1 (seq 1): the first entry must have an empty prev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeChain(t, n)
			if tt.tamper != nil {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				lines := bytes.SplitAfter(b, []byte("\n"))
				lines = tt.tamper(lines[:len(lines)-1])
				if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Verify(path)
			switch {
			case tt.want == "" && (err != nil || got != n):
				t.Fatalf("Verify = %d, %v; want %d, nil", got, err, n)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Verify = %d, %v; want error containing %q", got, err, tt.want)
			}
		})
	}
}

// TestAuditAppendAfterTruncation: a log cut mid-line is not appended to.
func TestAuditAppendAfterTruncation(t *testing.T) {
	path := writeChain(t, 3)
	fi, _ := os.Stat(path)
	if err := os.Truncate(path, fi.Size()-5); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := l.Append(Entry{Type: "cell"}); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Fatalf("Append to a cut log = %v, want an error", err)
	}
	if _, err := l.Append(Entry{}); err == nil {
		t.Fatal("Append of an entry without type succeeded")
	}
}

func TestAuditRead(t *testing.T) {
	path := writeChain(t, 9)
	tests := []struct {
		f    Filter
		want []int64
	}{
		{Filter{}, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{Filter{Type: "decision"}, []int64{3, 6, 9}},
		{Filter{Rule: "dominance"}, []int64{3, 6, 9}},
		{Filter{Rule: "domin"}, nil},
		{Filter{Cell: "msg-04"}, []int64{4}},
		{Filter{Cell: "msg-0", Type: "cell"}, []int64{1, 2, 4, 5, 7, 8}},
		{Filter{Session: "s-a", Rule: "small_cells"}, []int64{3, 6, 9}},
		{Filter{Session: "other"}, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v", tt.f), func(t *testing.T) {
			es, err := Read(path, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, e := range es {
				got = append(got, e.Seq)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got seqs %v, want %v", got, tt.want)
			}
		})
	}
	es, _ := Read(path, Filter{Cell: "msg-03"})
	if len(es) != 1 || string(es[0].Data) != `{"code":"count(person)"}` || es[0].Prev == "" {
		t.Errorf("entry 3 read back as %+v", es)
	}
}

// TestAuditConcurrent: two goroutines (one sharing a Log, one with its own)
// and two processes append at once; the chain stays valid, no seq repeats.
func TestAuditConcurrent(t *testing.T) {
	const per = 150
	path := filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	shared, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	var cmds []*exec.Cmd
	for _, who := range []string{"p1", "p2"} {
		c := child(t, "append", path, "AUDIT_N="+strconv.Itoa(per), "AUDIT_WHO="+who)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	var wg sync.WaitGroup
	for _, who := range []string{"g1", "g2", "g3"} {
		wg.Go(func() {
			l := shared
			if who == "g3" {
				own, err := Open(path)
				if err != nil {
					t.Error(err)
					return
				}
				defer own.Close()
				l = own
			}
			for i := 0; i < per; i++ {
				if _, err := l.Append(Entry{Type: "cell", Session: who}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
	}
	n, err := Verify(path)
	if err != nil || n != 5*per {
		t.Fatalf("Verify = %d, %v; want %d, nil", n, err, 5*per)
	}
	es, err := Read(path, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	count := map[string]int{}
	for _, e := range es {
		if seen[e.Seq] {
			t.Fatalf("seq %d twice", e.Seq)
		}
		seen[e.Seq] = true
		count[e.Session]++
	}
	for _, who := range []string{"p1", "p2", "g1", "g2", "g3"} {
		if count[who] != per {
			t.Errorf("%s: %d entries, want %d", who, count[who], per)
		}
	}
}

// TestAuditKilled: a writer killed with SIGKILL after an Append (synced or
// not: the line is in the file either way) leaves a chain that verifies
// and that the next writer continues.
func TestAuditKilled(t *testing.T) {
	for _, soon := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync_soon=%v", soon), func(t *testing.T) { auditKilled(t, soon) })
	}
}

func auditKilled(t *testing.T, soon bool) {
	path := writeChain(t, 4)
	var env []string
	if soon {
		env = append(env, "AUDIT_SYNC_SOON=1")
	}
	c := child(t, "hang", path, env...)
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	c.Process.Kill() // SIGKILL
	c.Wait()
	if strings.TrimSpace(line) != "5" {
		t.Fatalf("child appended seq %q, want 5", line)
	}
	if n, err := Verify(path); err != nil || n != 5 {
		t.Fatalf("Verify = %d, %v; want 5, nil", n, err)
	}
	es, err := Read(path, Filter{Session: "killed"})
	if err != nil || len(es) != 1 || es[0].Seq != 5 {
		t.Fatalf("Read = %+v, %v", es, err)
	}
	// The next writer carries on the chain.
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if e, err := l.Append(Entry{Type: "session_start"}); err != nil || e.Seq != 6 {
		t.Fatalf("Append after kill = %+v, %v", e, err)
	}
	if n, err := Verify(path); err != nil || n != 6 {
		t.Fatalf("Verify = %d, %v; want 6, nil", n, err)
	}
}

// TestAuditLongLine: a last line longer than the read-back chunk is found.
func TestAuditLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	big, _ := json.Marshal(map[string]string{"code": strings.Repeat("x := 1\n", 5000)})
	for i := 0; i < 3; i++ {
		if _, err := l.Append(Entry{Type: "cell", Data: big}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := Verify(path); err != nil || n != 3 {
		t.Fatalf("Verify = %d, %v", n, err)
	}
	if _, err := l.Append(Entry{Type: "cell", Data: json.RawMessage(`{bad`)}); err == nil {
		t.Error("Append with invalid Data succeeded")
	}
	huge, _ := json.Marshal(strings.Repeat("y", MaxLine))
	if _, err := l.Append(Entry{Type: "cell", Data: huge}); err == nil {
		t.Error("Append of a line over MaxLine succeeded")
	}
	if n, err := Verify(path); err != nil || n != 3 {
		t.Fatalf("Verify after refused appends = %d, %v", n, err)
	}
}

// TestAuditSyncSoonConcurrent: appends whose sync runs in the background,
// from several goroutines, with Close racing the last syncs, leave one
// chain holding every entry; appends after Close fail.
func TestAuditSyncSoonConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := l.AppendSyncSoon(Entry{Type: "output", Cell: fmt.Sprint(w, "-", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if _, err := l.AppendSyncSoon(Entry{Type: "output"}); !errors.Is(err, ErrClosed) {
		t.Errorf("append after close: %v, want ErrClosed", err)
	}
	if n, err := Verify(path); n != writers*each || err != nil {
		t.Errorf("verify: %d entries, %v; want %d", n, err, writers*each)
	}
}

// TestAuditTwoWriters: two Logs on one file, appending in turn, each see
// the other's lines (a Log's memory of its own last line must not be used
// once someone else has appended) and leave one chain.
func TestAuditTwoWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	var logs [2]*Log
	for i := range logs {
		l, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		logs[i] = l
	}
	for i, who := range []int{0, 0, 1, 0, 1, 1, 0} {
		e, err := logs[who].AppendUnsynced(Entry{Type: "code", Cell: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != int64(i+1) {
			t.Errorf("append %d by log %d got seq %d", i, who, e.Seq)
		}
	}
	if n, err := Verify(path); n != 7 || err != nil {
		t.Errorf("verify: %d entries, %v; want 7", n, err)
	}
}

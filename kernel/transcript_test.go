package kernel

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"enclave/kernel/wire"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts")

// TestTranscripts replays each testdata/transcripts/*.txt session against a
// kernel with the script executor and compares every message the kernel
// sent (channel, type, parent request, content) with the golden file.
func TestTranscripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/transcripts/*.txt")
	if len(files) == 0 {
		t.Fatal("no transcripts")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			got := replay(t, file)
			golden := strings.TrimSuffix(file, ".txt") + ".golden"
			if *update {
				os.WriteFile(golden, got, 0o644)
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("transcript differs from %s (run with -update after checking):\n%s", golden, diff(want, got))
			}
		})
	}
}

func replay(t *testing.T, file string) []byte {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type step struct {
		ch      wire.Channel
		msgType string
		content json.RawMessage
	}
	var steps []step
	var refused error
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if r, ok := strings.CutPrefix(line, "workspace-refused "); ok {
			refused = errors.New(r)
			continue
		}
		parts := strings.SplitN(line, " ", 3)
		if len(parts) != 3 || !json.Valid([]byte(parts[2])) {
			t.Fatalf("%s:%d: want <channel> <msg_type> <JSON>", file, n)
		}
		steps = append(steps, step{wire.Channel(parts[0]), parts[1], json.RawMessage(parts[2])})
	}
	tk := newTestKernel(t, func(c *Config) {
		c.WorkspaceErr = refused
		c.Ports = map[string]int{"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
		c.LanguageVersion = "1.x"
	})
	var out bytes.Buffer
	for _, s := range steps {
		id := tk.send(s.ch, s.msgType, s.content)
		var msgs []sent
		if s.msgType == "comm_open" {
			waitFor(t, func() bool { return len(tk.sentFor(id)) >= 3 })
			msgs = tk.sentFor(id)
		} else {
			tk.rec.await(t, id) // the reply and the idle status, the request's last message
			msgs = tk.sentFor(id)
		}
		fmt.Fprintf(&out, "> %s %s %s\n", s.ch, s.msgType, s.content)
		for _, m := range msgs {
			fmt.Fprintf(&out, "< %-7s %-20s %s\n", m.ch, m.msg.Header.MsgType, normalize(m.msg.Content))
		}
	}
	return out.Bytes()
}

func (tk *testKernel) sentFor(parent string) []sent {
	tk.rec.mu.Lock()
	defer tk.rec.mu.Unlock()
	var out []sent
	for _, s := range tk.rec.msgs {
		if s.msg.ParentID() == parent {
			out = append(out, s)
		}
	}
	return out
}

var volatile = regexp.MustCompile(`"(implementation_version|version)":"[^"]*"`)

// normalize prints content with sorted keys and without values that change
// from build to build.
func normalize(b []byte) string {
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	s, _ := json.Marshal(sortKeys(v))
	return volatile.ReplaceAllString(string(s), `"$1":"…"`)
}

func sortKeys(v any) any {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := make(map[string]any, len(x))
		for _, k := range keys {
			m[k] = sortKeys(x[k])
		}
		return m
	case []any:
		for i := range x {
			x[i] = sortKeys(x[i])
		}
	}
	return v
}

func diff(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d\n  want %s\n  got  %s\n", i+1, wl, gl)
		}
	}
	return b.String()
}

package vocab

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"enclave/internal/sharedtest"
)

// TestDefaultFiles: every table of the default vocabulary is embedded, with
// a lower-case header and rows, and the whole stays small.
func TestDefaultFiles(t *testing.T) {
	dir := t.TempDir()
	paths, err := WriteDefault(dir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	minRows := map[string]int{"concept": 2400, "concept_ancestor": 60000, "concept_relationship": 60000, "vocabulary": 100}
	for _, tab := range Tables {
		p := paths[tab]
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", tab, err)
		}
		total += st.Size()
		f, _ := os.Open(p)
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", tab, err)
		}
		sc := bufio.NewScanner(gz)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sc.Scan()
		if h := sc.Text(); h != strings.ToLower(h) || !strings.Contains(h, "_") {
			t.Errorf("%s header %q not lower-case column names", tab, h)
		}
		n := 0
		for sc.Scan() {
			n++
		}
		f.Close()
		if n < minRows[tab] || n == 0 {
			t.Errorf("%s: %d rows, want at least %d", tab, n, minRows[tab])
		}
		if filepath.Base(p) != tab+".csv.gz" {
			t.Errorf("path %s", p)
		}
	}
	if total > 5<<20 {
		t.Errorf("default vocabulary is %d bytes, keep it under 5 MB", total)
	}
}

// TestDefaultGenerated rebuilds the default vocabulary from the shards in
// ../shared/omop/vocab (sharedtest.Path: skipped when absent, failed in
// CI) and compares it with the embedded files.
func TestDefaultGenerated(t *testing.T) {
	shards := sharedtest.Path(t, "omop/vocab")
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./internal/mkdata", "-shards", shards, "-local", "local", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkdata: %v\n%s", err, b)
	}
	committed, err := WriteDefault(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gunzip := func(p string) []byte {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tab := range Tables {
		if !bytes.Equal(gunzip(filepath.Join(out, tab+".csv.gz")), gunzip(committed[tab])) {
			t.Errorf("%s: embedded file is stale, run go generate ./datasets/vocab", tab)
		}
	}
}

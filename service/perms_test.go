package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckTree(t *testing.T) {
	uid := os.Geteuid()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Chmod(root, 0o700))
	must(os.MkdirAll(filepath.Join(root, "ws", "data"), 0o700))
	must(os.WriteFile(filepath.Join(root, "ws", "data", "cdm.duckdb"), []byte("x"), 0o600))
	n, probs, err := CheckTree(root, uid)
	if err != nil || len(probs) != 0 || n != 4 {
		t.Fatalf("clean tree: %d entries, %v, %v", n, probs, err)
	}

	outside := filepath.Join(t.TempDir(), "geno.bed")
	must(os.WriteFile(outside, []byte("x"), 0o644))
	must(os.Symlink(outside, filepath.Join(root, "ws", "data", "geno.bed")))
	must(os.Symlink(t.TempDir(), filepath.Join(root, "ws", "elsewhere")))
	must(os.Chmod(filepath.Join(root, "ws", "data"), 0o750))
	must(os.WriteFile(filepath.Join(root, "researchers.yaml"), nil, 0o604))
	_, probs, err = CheckTree(root, uid)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range probs {
		got = append(got, strings.TrimPrefix(p.String(), root))
	}
	want := []string{
		"/researchers.yaml: is mode 0604, open to group or others (want 0600)",
		"/ws/data: is mode 0750, open to group or others (want 0700)",
		"/ws/data/geno.bed: links to a file that mode 0644, open to group or others (want 0600)",
		"/ws/elsewhere: a symbolic link to a directory (keep the service's files in real directories under its home)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, probs, _ := CheckTree(root, uid+1); len(probs) < 5 || !strings.Contains(probs[0].What, "is owned by uid") {
		t.Errorf("another owner: %v", probs)
	}

	fixed, remaining, err := FixTree(root, uid)
	if err != nil || fixed != 2 || len(remaining) != 2 {
		t.Errorf("fix: %d fixed, remaining %v, %v", fixed, remaining, err)
	}
	if err := ProblemsError(remaining, 1); err == nil || !strings.Contains(err.Error(), "… and 1 more") {
		t.Errorf("ProblemsError: %v", err)
	}
}

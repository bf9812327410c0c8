package sharedtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records Skipf and Fatalf instead of
// stopping the test.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestPath(t *testing.T) {
	// A fake repository: repo/go.mod, repo/pkg (the test's directory) and
	// shared/omop beside repo.
	top := t.TempDir()
	for _, d := range []string{"repo/pkg", "shared/omop/cdm53"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(top, "repo", "go.mod"), []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Join(top, "repo", "pkg"))

	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		p := Path(r, "omop/cdm53")
		if want := filepath.Join("..", "..", "shared", "omop", "cdm53"); p != want || r.skipped != "" || r.failed != "" {
			t.Errorf("CI=%q present: Path = %q (want %q), skipped %q, failed %q", ci, p, want, r.skipped, r.failed)
		}
		r = &recorder{TB: t}
		p = Path(r, "omop/eunomia")
		missing := ci == "" && r.skipped != "" && r.failed == "" || ci == "true" && r.failed != "" && r.skipped == ""
		if p != "" || !missing || !strings.Contains(r.skipped+r.failed, "eunomia") {
			t.Errorf("CI=%q absent: Path = %q, skipped %q, failed %q", ci, p, r.skipped, r.failed)
		}
	}
}

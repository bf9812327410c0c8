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

// TestFilesText is the files line of %sandbox in service mode: a fresh
// check of the home, the registry and the kernel's workspace, as the
// kernel (the service user) sees them.
func TestFilesText(t *testing.T) {
	uid := os.Geteuid()
	home := t.TempDir()
	ws := filepath.Join(home, WorkspacesDir, "wa")
	db := filepath.Join(ws, "data", "cdm.duckdb")
	other := filepath.Join(home, WorkspacesDir, "wb", "cdm.duckdb")
	for _, d := range []string{home, filepath.Join(home, WorkspacesDir), filepath.Dir(db), filepath.Dir(other)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{db, other, filepath.Join(home, "researchers.yaml")} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a := &Assignment{ServiceUID: uid, WorkspaceDir: ws, Workspace: "wa"}
	cases := []struct {
		name  string
		a     *Assignment
		setup func()
		want  string
	}{
		// home, registry; wa, data, cdm.duckdb
		{"protected", a, func() {}, "protected: 5 entries checked"},
		{"no workspace", &Assignment{ServiceUID: uid}, func() {}, "protected: 2 entries checked"},
		{"database open to others", a, func() { os.Chmod(db, 0o644) }, "NOT protected: 1 problem(s) among 5 entries checked"},
		{"registry open to the group", a, func() { os.Chmod(filepath.Join(home, "researchers.yaml"), 0o640) }, "NOT protected: 1 problem(s) among 5 entries checked"},
		{"owned by someone else", &Assignment{ServiceUID: uid + 1, WorkspaceDir: ws}, func() {}, "NOT protected: 5 problem(s) among 5 entries checked"},
		// Another workspace is not this kernel's business.
		{"other workspace open", a, func() { os.Chmod(other, 0o644) }, "protected: 5 entries checked"},
		{"workspace gone", a, func() { os.RemoveAll(ws) }, "NOT protected: 1 problem(s) among 2 entries checked"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.setup()
			got := c.a.FilesText(home)
			if !strings.HasPrefix(got, c.want) {
				t.Errorf("FilesText: %q, want %q…", got, c.want)
			}
			if strings.Contains(got, home) {
				t.Errorf("FilesText names the service's paths to the researcher: %q", got)
			}
			mode := c.a.ModeText(home)
			if !strings.Contains(mode, "mode         service (protected deployment)") || !strings.Contains(mode, "files        "+got) {
				t.Errorf("ModeText:\n%s", mode)
			}
			os.Chmod(db, 0o600)
			os.Chmod(filepath.Join(home, "researchers.yaml"), 0o600)
			os.Chmod(other, 0o600)
		})
	}
}

func TestModeTextsSayWhereIdentityComesFrom(t *testing.T) {
	a := &Assignment{UnixUser: "alice", UID: 1001, Researcher: "a", Workspace: "wa", ServiceUser: "enclave"}
	for name, c := range map[string]struct {
		text      string
		want, not []string
	}{
		"service %workspace":       {a.IdentityText(), []string{"Unix user alice (uid 1001)", "socket"}, []string{"ENCLAVE_", "JUPYTERHUB_USER", "single-user"}},
		"service no workspace":     {a.NoWorkspaceText(), []string{"kernelspec names no workspace", "enclave install --service"}, []string{"ENCLAVE_WORKSPACE", "ENCLAVE_RESEARCHER"}},
		"single-user %workspace":   {SingleUserIdentityText(), []string{"from the environment", "NOT a protected deployment"}, nil},
		"single-user no workspace": {SingleUserNoWorkspaceText(), []string{"ENCLAVE_WORKSPACE", "enclave install --workspace DIR"}, nil},
		"single-user %sandbox":     {SingleUserModeText(), []string{"mode         single-user: NOT a protected deployment"}, []string{"service (protected"}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.text, w) {
				t.Errorf("%s lacks %q: %s", name, w, c.text)
			}
		}
		for _, n := range c.not {
			if strings.Contains(c.text, n) {
				t.Errorf("%s says %q: %s", name, n, c.text)
			}
		}
	}
}

package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistryUnixUsers(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o700) // an enclave service's home
	path := filepath.Join(dir, "researchers.yaml")
	err := UpdateRegistry(path, func(g *Registry) error {
		a := alice()
		g.Researchers[a.ID] = &a
		g.UnixUsers["alice.s"] = "alice"
		g.UnixUsers["1042"] = "alice"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g, err := LoadRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		uid  int
		want string
		ok   bool
	}{{"alice.s", 1001, "alice", true}, {"bob", 1042, "alice", true}, {"bob", 1043, "", false}, {"", 7, "", false}} {
		if id, ok := g.ResearcherOf(tc.name, tc.uid); id != tc.want || ok != tc.ok {
			t.Errorf("ResearcherOf(%q, %d) = %q, %v", tc.name, tc.uid, id, ok)
		}
	}
	// Written into a directory closed to others, the registry is 0600, and
	// it stays so when rewritten.
	for i := 0; i < 2; i++ {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("registry mode %v, %v", fi.Mode(), err)
		}
		if fi, _ := os.Stat(path + ".lock"); fi.Mode().Perm() != 0o600 {
			t.Errorf("lock mode %v", fi.Mode())
		}
		if err := UpdateRegistry(path, func(*Registry) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "unix_users:\n  \"1042\": alice\n  alice.s: alice\n") {
		t.Errorf("registry file:\n%s", b)
	}
}

func TestRegistryBadUnixUsers(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"unix_users:\n  Alice: a\n", `researchers.yaml:2: Unix user "Alice" is not a user name`},
		{"unix_users:\n  alice: 'a b'\n", `researchers.yaml:2: Unix user alice: researcher id "a b" must be`},
	} {
		path := filepath.Join(t.TempDir(), "researchers.yaml")
		os.WriteFile(path, []byte(tc.yaml), 0o600)
		if _, err := LoadRegistry(path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

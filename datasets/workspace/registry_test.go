package workspace

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistryRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "home", "researchers.yaml")
	empty, err := LoadRegistry(path)
	if err != nil || len(empty.Researchers) != 0 {
		t.Fatalf("missing registry: %v, %d records", err, len(empty.Researchers))
	}
	err = UpdateRegistry(path, func(g *Registry) error {
		a := alice()
		g.Researchers[a.ID] = &a
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g, err := LoadRegistry(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := g.Lookup("alice")
	if err != nil {
		t.Fatal(err)
	}
	if got != alice() {
		t.Errorf("round trip\n got %+v\nwant %+v", got, alice())
	}
	if _, err := g.Lookup("mallory"); err == nil || !strings.Contains(err.Error(), "researcher mallory is not in the researcher registry") {
		t.Errorf("unknown researcher: %v", err)
	}
	b, _ := os.ReadFile(path)
	for _, want := range []string{"rcr_training: \"2026-06-01\"", "method: login.gov", "dura: controlled"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("registry file lacks %q:\n%s", want, b)
		}
	}
}

func TestRegistryBadFile(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"bad date", "researchers:\n  alice:\n    rcr_training: 2026-13-01\n", `researchers.yaml: line 3: date "2026-13-01" is not a day written as YYYY-MM-DD`},
		{"misspelt field", "researchers:\n  alice:\n    rcr_trainig: 2026-01-01\n", "researchers.yaml: yaml: unmarshal errors:\n  line 3: field rcr_trainig not found"},
		{"bad identity method", "researchers:\n  alice:\n    identity: {method: passport}\n  bob:\n    identity: {method: id.me}\n", `researchers.yaml:2: researcher alice: identity method "passport" is not login.gov or id.me`},
		{"bad DURA", "researchers:\n  alice:\n    institution: {name: Acme, dura: public}\n", `researchers.yaml:2: researcher alice: DURA "public" is not registered or controlled`},
		{"DURA without institution", "researchers:\n  bob:\n    institution: {dura: registered}\n", "researchers.yaml:2: researcher bob: a DURA needs the institution's name"},
		{"bad id", "researchers:\n  'a b':\n    name: x\n", `researchers.yaml:2: researcher id "a b" must be`},
		{"duplicate id", "researchers:\n  alice: {}\n  alice: {}\n", `mapping key "alice" already defined at line 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "researchers.yaml")
			os.WriteFile(path, []byte(tt.yaml), 0o644)
			_, err := LoadRegistry(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v\nwant containing %q", err, tt.want)
			}
		})
	}
}

func TestHome(t *testing.T) {
	t.Setenv("ENCLAVE_HOME", "/srv/steward")
	if h, _ := Home(); h != "/srv/steward" {
		t.Errorf("ENCLAVE_HOME: %s", h)
	}
	t.Setenv("ENCLAVE_HOME", "")
	t.Setenv("XDG_DATA_HOME", "/data")
	if h, _ := Home(); h != "/data/enclave" {
		t.Errorf("XDG_DATA_HOME: %s", h)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/steward")
	if h, _ := Home(); h != "/home/steward/.local/share/enclave" {
		t.Errorf("default: %s", h)
	}
}

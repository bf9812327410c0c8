package workspace

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// setupHome makes an ENCLAVE_HOME with testRegistry's researchers and a
// registered tier workspace of alice and expired, without data.
func setupHome(t *testing.T) (dir string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("ENCLAVE_HOME", home)
	g := testRegistry(t)
	g.Path = RegistryPath(home)
	if err := g.Save(); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "ws")
	if _, err := Create(dir, Workspace{Name: "T2D", Purpose: "p", Tier: Controlled, Researchers: []string{"alice"}}, g, nov26); err != nil {
		t.Fatal(err)
	}
	// expired was a member while their training was valid.
	if _, err := Update(dir, func(w *Workspace) error {
		w.Researchers = append(w.Researchers, "expired")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestOpenRefusals(t *testing.T) {
	dir := setupHome(t)
	tests := []struct {
		name, researcher, want string
		is                     error
	}{
		{"expired controlled tier training", "expired", "controlled tier training expired on 2026-03-01 (taken 2025-03-01; renew it every year)", ErrAccess},
		{"not a member", "reggie", `researcher reggie is not a member of workspace "T2D"; institution Acme University has no controlled tier DURA; researcher reggie has no controlled tier training on record`, ErrAccess},
		{"not registered", "mallory", "access refused: researcher mallory is not in the researcher registry", ErrAccess},
		{"admitted but no data yet", "alice", `workspace "T2D" has no data yet; the data steward imports it with`, ErrNoData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(dir, tt.researcher, nov26)
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !strings.HasPrefix(err.Error(), tt.want) || !errors.Is(err, tt.is) {
				t.Errorf("got %v\nwant prefix %q (is %v)", err, tt.want, tt.is)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	dir := setupHome(t)
	tests := []struct {
		name                string
		workspace, hub, own string
		want                string // "" = (nil, nil)
	}{
		{"no workspace configured", "", "", "alice", ""},
		{"no researcher", dir, "", "", "access refused: ENCLAVE_WORKSPACE is set but no researcher is"},
		{"JupyterHub user", dir, "expired", "", "controlled tier training expired on 2026-03-01"},
		{"ENCLAVE_RESEARCHER", dir, "", "expired", "controlled tier training expired on 2026-03-01"},
		{"JupyterHub user disagrees", dir, "alice", "expired", "access refused: ENCLAVE_RESEARCHER=expired but JUPYTERHUB_USER=alice"},
		{"not a workspace", t.TempDir(), "alice", "", "is not a workspace: no workspace.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvWorkspace, tt.workspace)
			t.Setenv(EnvJupyterHubUser, tt.hub)
			t.Setenv(EnvResearcher, tt.own)
			s, err := FromEnv(nov26)
			switch {
			case tt.want == "":
				if s != nil || err != nil {
					t.Fatalf("got %v, %v; want nil, nil", s, err)
				}
			case err == nil || !strings.Contains(err.Error(), tt.want):
				t.Fatalf("got %v\nwant containing %q", err, tt.want)
			}
		})
	}
}

func TestInfoRendering(t *testing.T) {
	i := Info{Name: "T2D | genetics", Purpose: "Relate *LDL* variants\nto T2D <risk>", Tier: Controlled,
		Datasets: []string{"omop", "genomics"}, Researcher: "alice_b"}
	md := i.Markdown()
	for _, want := range []string{
		"**Workspace T2D \\| genetics**",
		"| research purpose | Relate \\*LDL\\* variants to T2D &lt;risk&gt; |",
		"| tier | controlled |",
		"| datasets | omop, genomics |",
		"| researcher | alice\\_b |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
	txt := i.Text()
	for _, want := range []string{"workspace:  T2D | genetics\n", "purpose:    Relate *LDL* variants to T2D <risk>\n", "tier:       controlled\n", "datasets:   omop, genomics\n"} {
		if !strings.Contains(txt, want) {
			t.Errorf("Text lacks %q:\n%s", want, txt)
		}
	}
}

package release

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultsAreAllOfUs(t *testing.T) {
	p := Defaults()
	checks := []struct {
		rule      string
		got, want any
	}{
		{"min_count", p.MinCount, 21},
		{"marker", p.Marker, "≤20"},
		{"dominance_n", p.DominanceN, 2},
		{"dominance_k", p.DominanceK, 0.9},
		{"p_ratio", p.PRatio, 0.1},
		{"min_dof", p.MinDOF, 10},
		{"differencing", p.Differencing, true},
		{"rounding", p.Rounding, 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default %s = %v, want %v", c.rule, c.got, c.want)
		}
	}
	// LoadPolicy with nothing to apply is the defaults.
	got, err := LoadPolicy(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != p {
		t.Errorf("LoadPolicy(empty dir, nil) = %+v, want the defaults %+v", got, p)
	}
}

func TestPolicyTightening(t *testing.T) {
	def := Defaults()
	tests := []struct {
		name  string
		over  map[string]any
		check func(Policy) bool
	}{
		{"min_count 30", map[string]any{"min_count": 30}, func(p Policy) bool { return p.MinCount == 30 }},
		{"min_count 30 as float", map[string]any{"min_count": 30.0}, func(p Policy) bool { return p.MinCount == 30 }},
		{"min_count same as default", map[string]any{"min_count": 21}, func(p Policy) bool { return p.MinCount == 21 }},
		{"rounding 5", map[string]any{"rounding": 5}, func(p Policy) bool { return p.Rounding == 5 }},
		{"dominance_k 0.8", map[string]any{"dominance_k": 0.8}, func(p Policy) bool { return p.DominanceK == 0.8 }},
		{"dominance_n 3", map[string]any{"dominance_n": 3}, func(p Policy) bool { return p.DominanceN == 3 }},
		{"p_ratio 0.2", map[string]any{"p_ratio": 0.2}, func(p Policy) bool { return p.PRatio == 0.2 }},
		{"min_dof 20", map[string]any{"min_dof": 20}, func(p Policy) bool { return p.MinDOF == 20 }},
		{"collect false", map[string]any{"collect": false}, func(p Policy) bool { return !p.Collect }},
		{"collect_limit smaller", map[string]any{"collect_limit": 100}, func(p Policy) bool { return p.CollectLimit == 100 }},
		{"cell_output smaller", map[string]any{"cell_output": 1 << 20}, func(p Policy) bool { return p.CellOutput == 1<<20 }},
		{"session_egress smaller", map[string]any{"session_egress": 1 << 20}, func(p Policy) bool { return p.SessionEgress == 1<<20 }},
		{"differencing true", map[string]any{"differencing": true}, func(p Policy) bool { return p.Differencing }},
		{"marker", map[string]any{"marker": "<21"}, func(p Policy) bool { return p.Marker == "<21" }},
		{"several at once", map[string]any{"min_count": 30, "rounding": 5, "dominance_k": 0.8, "collect": false, "cell_output": 1024},
			func(p Policy) bool {
				return p.MinCount == 30 && p.Rounding == 5 && p.DominanceK == 0.8 && !p.Collect && p.CellOutput == 1024 &&
					p.PRatio == def.PRatio && p.Differencing
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadPolicy("", tt.over)
			if err != nil {
				t.Fatalf("tightening refused: %v", err)
			}
			if !tt.check(p) {
				t.Errorf("override not applied: %+v", p)
			}
		})
	}
}

// A raised min_count must not keep showing the default "≤20" marker: a
// hidden count of 25 would read as at most 20.
func TestPolicyMarkerFollowsMinCount(t *testing.T) {
	p, err := LoadPolicy("", map[string]any{"min_count": 30})
	if err != nil {
		t.Fatal(err)
	}
	if p.Marker != "≤29" {
		t.Errorf("marker with min_count 30 = %q, want ≤29", p.Marker)
	}
	p, err = LoadPolicy("", map[string]any{"min_count": 30, "marker": "suppressed"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Marker != "suppressed" {
		t.Errorf("explicit marker replaced: %q", p.Marker)
	}
}

func TestPolicyLoosening(t *testing.T) {
	tests := []struct {
		name string
		over map[string]any
		rule string // must be named in the message
	}{
		{"min_count 10", map[string]any{"min_count": 10}, "min_count"},
		{"min_count 0", map[string]any{"min_count": 0}, "min_count"},
		{"differencing false", map[string]any{"differencing": false}, "differencing"},
		{"dominance_k 0.95", map[string]any{"dominance_k": 0.95}, "dominance_k"},
		{"dominance_n 1", map[string]any{"dominance_n": 1}, "dominance_n"},
		{"p_ratio 0.05", map[string]any{"p_ratio": 0.05}, "p_ratio"},
		{"min_dof 5", map[string]any{"min_dof": 5}, "min_dof"},
		{"collect_limit bigger", map[string]any{"collect_limit": 1000000}, "collect_limit"},
		{"cell_output bigger", map[string]any{"cell_output": int64(64 << 20)}, "cell_output"},
		{"cell_output 0 (unlimited)", map[string]any{"cell_output": 0}, "cell_output"},
		{"session_egress bigger", map[string]any{"session_egress": int64(2 << 30)}, "session_egress"},
		{"workspace_egress bigger", map[string]any{"workspace_egress": int64(32 << 30)}, "workspace_egress"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadPolicy("", tt.over)
			if !errors.Is(err, ErrLooser) {
				t.Fatalf("err = %v, want ErrLooser", err)
			}
			if !strings.Contains(err.Error(), tt.rule) {
				t.Errorf("message %q does not name %s", err, tt.rule)
			}
		})
	}
}

// Overrides are judged against the policy as already tightened, so
// policy.yaml cannot undo workspace.yaml.
func TestPolicyFileCannotUndoWorkspace(t *testing.T) {
	tests := []struct {
		name string
		over map[string]any
		file string
		rule string
	}{
		{"collect true after false", map[string]any{"collect": false}, "collect: true\n", "collect"},
		{"min_count back to 25 after 30", map[string]any{"min_count": 30}, "min_count: 25\n", "min_count"},
		{"rounding back to 0 after 5", map[string]any{"rounding": 5}, "rounding: 0\n", "rounding"},
		{"dominance_k back up", map[string]any{"dominance_k": 0.7}, "dominance_k: 0.8\n", "dominance_k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, PolicyFile), []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadPolicy(dir, tt.over)
			if !errors.Is(err, ErrLooser) {
				t.Fatalf("err = %v, want ErrLooser", err)
			}
			if !strings.Contains(err.Error(), tt.rule) || !strings.Contains(err.Error(), PolicyFile) {
				t.Errorf("message %q does not name %s in %s", err, tt.rule, PolicyFile)
			}
		})
	}
}

func TestPolicyBadOverrides(t *testing.T) {
	tests := []struct {
		name string
		over map[string]any
		want string
	}{
		{"unknown key", map[string]any{"min_cnt": 30}, "unknown policy rule"},
		{"unknown key with text", map[string]any{"colour": "red"}, "unknown policy rule"},
		{"min_count text", map[string]any{"min_count": "30"}, "whole number"},
		{"min_count fractional", map[string]any{"min_count": 30.5}, "whole number"},
		{"min_count negative", map[string]any{"min_count": -30}, "whole number"},
		{"min_count infinite", map[string]any{"min_count": math.Inf(1)}, "whole number"},
		{"cell_output infinite", map[string]any{"cell_output": math.Inf(1)}, "whole number"},
		{"cell_output huge", map[string]any{"cell_output": 1e300}, "whole number"},
		{"collect text", map[string]any{"collect": "no"}, "true or false"},
		{"differencing number", map[string]any{"differencing": 1}, "true or false"},
		{"dominance_k above 1", map[string]any{"dominance_k": 1.5}, "between 0 and 1"},
		{"dominance_k NaN", map[string]any{"dominance_k": math.NaN()}, "between 0 and 1"},
		{"p_ratio NaN", map[string]any{"p_ratio": math.NaN()}, "between 0 and 1"},
		{"p_ratio text", map[string]any{"p_ratio": "0.2"}, "between 0 and 1"},
		{"marker empty", map[string]any{"marker": "  "}, "non-empty"},
		{"marker number", map[string]any{"marker": 20}, "non-empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := LoadPolicy("", tt.over)
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			if errors.Is(err, ErrLooser) {
				t.Errorf("err = %v is ErrLooser, want a type error", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to say %q", err, tt.want)
			}
			for k := range tt.over {
				if !strings.Contains(err.Error(), k) {
					t.Errorf("err = %v does not name %s", err, k)
				}
			}
		})
	}
}

func TestPolicyFile(t *testing.T) {
	t.Run("applied after workspace overrides", func(t *testing.T) {
		dir := t.TempDir()
		yaml := "min_count: 30\nrounding: 10\ndominance_k: 0.75\ncollect: false\ncell_output: 1048576\n"
		if err := os.WriteFile(filepath.Join(dir, PolicyFile), []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := LoadPolicy(dir, map[string]any{"min_count": 25, "rounding": 5, "dominance_k": 0.8})
		if err != nil {
			t.Fatal(err)
		}
		if p.MinCount != 30 || p.Rounding != 10 || p.DominanceK != 0.75 || p.Collect || p.CellOutput != 1<<20 {
			t.Errorf("policy.yaml not applied on top of workspace overrides: %+v", p)
		}
	})
	t.Run("invalid YAML", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, PolicyFile), []byte("min_count: [30\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPolicy(dir, nil)
		if err == nil || !strings.Contains(err.Error(), "not valid YAML") {
			t.Fatalf("err = %v, want a YAML error", err)
		}
	})
	t.Run("YAML that is not a mapping", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, PolicyFile), []byte("- min_count\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPolicy(dir, nil); err == nil {
			t.Fatal("a list accepted as policy.yaml")
		}
	})
	t.Run("YAML .nan and .inf refused", func(t *testing.T) {
		for _, doc := range []string{"dominance_k: .nan\n", "p_ratio: .nan\n", "cell_output: .inf\n", "min_count: .inf\n"} {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, PolicyFile), []byte(doc), 0o600); err != nil {
				t.Fatal(err)
			}
			if p, err := LoadPolicy(dir, nil); err == nil {
				t.Errorf("%q accepted: %+v", doc, p)
			}
		}
	})
	t.Run("loosening in file", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, PolicyFile), []byte("differencing: false\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := LoadPolicy(dir, nil)
		if !errors.Is(err, ErrLooser) || !strings.Contains(err.Error(), "differencing") {
			t.Fatalf("err = %v, want ErrLooser naming differencing", err)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, PolicyFile), 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadPolicy(dir, nil); err == nil {
			t.Fatal("a directory named policy.yaml accepted")
		}
	})
}

func TestPolicyText(t *testing.T) {
	p, err := LoadPolicy("", map[string]any{"rounding": 5, "collect": false})
	if err != nil {
		t.Fatal(err)
	}
	txt := p.Text()
	for _, want := range []string{"1–20 persons shown as ≤20", "(2, 90%) and p-ratio 10%", "residual dof ≥ 10",
		"multiple of 5", "not allowed", "32 MiB per cell", "1 GiB per session", "16 GiB per workspace"} {
		if !strings.Contains(txt, want) {
			t.Errorf("policy text lacks %q:\n%s", want, txt)
		}
	}
}

package release

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"enclave/kernel"
)

// Policy is the set of disclosure rules in force in a workspace. Defaults()
// is the All of Us policy; a workspace's overrides may only tighten it.
type Policy struct {
	// MinCount is the smallest person count shown: counts 1..MinCount-1
	// are replaced by Marker (0 is shown). All of Us: 21 (1–20 hidden).
	MinCount int `yaml:"min_count" json:"min_count"`
	// Marker is what a suppressed count shows.
	Marker string `yaml:"marker" json:"marker"`
	// Rounding, when > 0, rounds released counts to a multiple of it (as
	// OpenSAFELY rounds to 5).
	Rounding int `yaml:"rounding" json:"rounding"`
	// DominanceN and DominanceK: a sum is suppressed when its N largest
	// per-person contributions make up more than K of it (ACRO: 2, 0.9).
	DominanceN int     `yaml:"dominance_n" json:"dominance_n"`
	DominanceK float64 `yaml:"dominance_k" json:"dominance_k"`
	// PRatio: a sum is suppressed when what is left after its two largest
	// contributions is less than PRatio of the largest (ACRO: 0.1).
	PRatio float64 `yaml:"p_ratio" json:"p_ratio"`
	// MinDOF is the smallest residual degrees of freedom of a released model.
	MinDOF int `yaml:"min_dof" json:"min_dof"`
	// Differencing suppresses a cell nested with an earlier release that
	// differs from it by 1..MinCount-1 persons. It cannot be switched off.
	Differencing bool `yaml:"differencing" json:"differencing"`
	// Collect allows row-level access (Collect), which taints the worker.
	Collect bool `yaml:"collect" json:"collect"`
	// CollectLimit bounds the rows one Collect returns.
	CollectLimit int `yaml:"collect_limit" json:"collect_limit"`
	// CellOutput is the bytes of output one cell may send, on every channel.
	CellOutput int64 `yaml:"cell_output" json:"cell_output"`
	// SessionEgress is the bytes one session may release before further
	// free-form output is held for review and an egress alert is audited.
	SessionEgress int64 `yaml:"session_egress" json:"session_egress"`
	// WorkspaceEgress is the same for all sessions of the workspace together.
	WorkspaceEgress int64 `yaml:"workspace_egress" json:"workspace_egress"`
}

// Defaults returns the All of Us policy.
func Defaults() Policy {
	return Policy{
		MinCount:        21,
		Marker:          "≤20",
		DominanceN:      2,
		DominanceK:      0.9,
		PRatio:          0.1,
		MinDOF:          10,
		Differencing:    true,
		Collect:         true,
		CollectLimit:    10000,
		CellOutput:      32 << 20,
		SessionEgress:   1 << 30,
		WorkspaceEgress: 16 << 30,
	}
}

// PolicyFile is the optional per-workspace policy file.
const PolicyFile = "policy.yaml"

// ErrLooser is matched by the error of an override that loosens a rule.
var ErrLooser = errors.New("release: a workspace policy may only make rules stricter")

// LoadPolicy returns the policy of the workspace in dir: the defaults,
// tightened by overrides (workspace.yaml's policy section) and then by
// dir/policy.yaml if it exists. An override that loosens a rule, names an
// unknown rule or has the wrong type is an error naming it.
func LoadPolicy(dir string, overrides map[string]any) (Policy, error) {
	p := Defaults()
	if err := p.apply(overrides, "workspace.yaml policy"); err != nil {
		return Policy{}, err
	}
	if dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, PolicyFile))
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return Policy{}, fmt.Errorf("release: read %s: %w", PolicyFile, err)
		default:
			var m map[string]any
			if err := yaml.Unmarshal(b, &m); err != nil {
				return Policy{}, fmt.Errorf("release: %s is not valid YAML: %w", PolicyFile, err)
			}
			if err := p.apply(m, PolicyFile); err != nil {
				return Policy{}, err
			}
		}
	}
	return p, nil
}

// apply tightens p with the overrides in m; where names the source.
func (p *Policy) apply(m map[string]any, where string) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		bad := func(want string) error {
			return fmt.Errorf("release: %s: %s must be %s", where, k, want)
		}
		looser := func(now, def any) error {
			return fmt.Errorf("%w: %s: %s %v is looser than the default %v", ErrLooser, where, k, now, def)
		}
		if !slices.Contains(policyKeys, k) {
			return fmt.Errorf("release: %s: unknown policy rule %q (known: %s)", where, k, strings.Join(policyKeys, ", "))
		}
		switch k {
		case "marker":
			s, ok := v.(string)
			if !ok || strings.TrimSpace(s) == "" {
				return bad("a non-empty text")
			}
			p.Marker = s
		case "differencing", "collect":
			b, ok := v.(bool)
			if !ok {
				return bad("true or false")
			}
			if k == "differencing" {
				if !b {
					return looser(b, true)
				}
			} else if b && !p.Collect {
				return looser(b, false)
			} else {
				p.Collect = b
			}
		case "dominance_k", "p_ratio":
			f, ok := number(v)
			if !ok || f < 0 || f > 1 {
				return bad("a number between 0 and 1")
			}
			if k == "dominance_k" {
				if f > p.DominanceK {
					return looser(f, p.DominanceK)
				}
				p.DominanceK = f
			} else {
				if f < p.PRatio {
					return looser(f, p.PRatio)
				}
				p.PRatio = f
			}
		default:
			f, ok := number(v)
			if !ok || f < 0 || f > 1<<53 || f != math.Trunc(f) {
				return bad("a whole number ≥ 0")
			}
			n := int64(f)
			switch k {
			case "min_count":
				if int(n) < p.MinCount {
					return looser(n, p.MinCount)
				}
				if p.Marker == fmt.Sprintf("≤%d", p.MinCount-1) { // the marker states the threshold
					p.Marker = fmt.Sprintf("≤%d", n-1)
				}
				p.MinCount = int(n)
			case "rounding":
				if int(n) < p.Rounding {
					return looser(n, p.Rounding)
				}
				p.Rounding = int(n)
			case "dominance_n":
				if int(n) < p.DominanceN {
					return looser(n, p.DominanceN)
				}
				p.DominanceN = int(n)
			case "min_dof":
				if int(n) < p.MinDOF {
					return looser(n, p.MinDOF)
				}
				p.MinDOF = int(n)
			case "collect_limit":
				if int(n) > p.CollectLimit {
					return looser(n, p.CollectLimit)
				}
				p.CollectLimit = int(n)
			case "cell_output", "session_egress", "workspace_egress":
				cur := map[string]*int64{"cell_output": &p.CellOutput, "session_egress": &p.SessionEgress, "workspace_egress": &p.WorkspaceEgress}[k]
				if n == 0 || n > *cur {
					return looser(n, *cur)
				}
				*cur = n
			default:
				return fmt.Errorf("release: %s: unknown policy rule %q (known: %s)", where, k, strings.Join(policyKeys, ", "))
			}
		}
	}
	return nil
}

var policyKeys = []string{"cell_output", "collect", "collect_limit", "differencing", "dominance_k", "dominance_n",
	"marker", "min_count", "min_dof", "p_ratio", "rounding", "session_egress", "workspace_egress"}

// number converts a YAML number; NaN and infinities are not numbers here
// (a NaN threshold would compare false and switch its rule off).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, !math.IsNaN(x) && !math.IsInf(x, 0)
	}
	return 0, false
}

// Text renders the policy for %policy.
func (p Policy) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "small cells        counts of 1–%d persons shown as %s; 0 shown\n", p.MinCount-1, p.Marker)
	b.WriteString("secondary          margins may not reveal a suppressed cell: the fewest extra cells are suppressed\n")
	fmt.Fprintf(&b, "derived values     means, sd, quantiles, percentages and rates need ≥ %d persons\n", p.MinCount)
	fmt.Fprintf(&b, "                   a mean or sd over at most %d distinct values is a table of counts and is not released,\n", MaxMeanValues)
	fmt.Fprintf(&b, "                   nor over %d to %d unless each value is held by %d persons or more;\n", MaxMeanValues+1, MaxTableValues, p.MinCount)
	b.WriteString("                   the dominance rules of sums apply to means, and to an sd over each person's\n")
	b.WriteString("                   share of the squared deviations\n")
	b.WriteString("extremes           minimum, maximum and single-person values are never released\n")
	fmt.Fprintf(&b, "dominance          sums: (n,k) = (%d, %.0f%%) and p-ratio %.0f%%\n", p.DominanceN, p.DominanceK*100, p.PRatio*100)
	fmt.Fprintf(&b, "models             residual dof ≥ %d; each categorical level ≥ %d persons; no per-person values\n", p.MinDOF, p.MinCount)
	fmt.Fprintf(&b, "differencing       a cell nested with an earlier release of this workspace and differing by 1–%d persons is suppressed,\n", p.MinCount-1)
	fmt.Fprintf(&b, "                   and a count that with recent releases adds and subtracts to a group of 1–%d persons\n", p.MinCount-1)
	if p.Rounding > 0 {
		fmt.Fprintf(&b, "rounding           released counts rounded to a multiple of %d\n", p.Rounding)
	}
	if p.Collect {
		fmt.Fprintf(&b, "row-level access   Collect allowed (≤ %d rows); it taints the worker: later free-form output is held for review\n", p.CollectLimit)
	} else {
		b.WriteString("row-level access   not allowed in this workspace\n")
	}
	fmt.Fprintf(&b, "output budget      %s per cell; %s per session and %s per workspace before output is held for review\n",
		kernel.ByteSize(p.CellOutput), kernel.ByteSize(p.SessionEgress), kernel.ByteSize(p.WorkspaceEgress))
	return b.String()
}

package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Identity verification methods accepted by the access check.
const (
	LoginGov = "login.gov"
	IDMe     = "id.me"
)

// Researcher is one record of the steward's registry: what the access check
// needs to know about a person. Zero dates mean "not on record".
type Researcher struct {
	ID            string      `yaml:"-" json:"id"`
	Name          string      `yaml:"name,omitempty" json:"name,omitempty"`
	Identity      Identity    `yaml:"identity" json:"identity"`
	RCRTraining   Date        `yaml:"rcr_training" json:"rcr_training"`                     // Responsible Conduct of Research
	CodeOfConduct Date        `yaml:"code_of_conduct_signed" json:"code_of_conduct_signed"` // Data User Code of Conduct
	Institution   Institution `yaml:"institution,omitempty" json:"institution"`
	CTTraining    Date        `yaml:"controlled_tier_training,omitempty" json:"controlled_tier_training"`
}

// Identity records how and when the researcher's identity was verified.
type Identity struct {
	Method   string `yaml:"method,omitempty" json:"method,omitempty"` // login.gov or id.me
	Verified Date   `yaml:"verified,omitempty" json:"verified"`
}

// Institution is the researcher's institution and the tier its Data Use and
// Registration Agreement covers ("" when it has none; controlled covers both).
type Institution struct {
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	DURA Tier   `yaml:"dura,omitempty" json:"dura,omitempty"`
}

// TrainingValidity is how long a training counts: one year, renewed yearly.
const TrainingValidity = 1 // years

// ErrAccess is wrapped by every refusal of the access check.
var ErrAccess = errors.New("access refused")

// AccessError is the access check's refusal: every unmet requirement, each a
// sentence the researcher can act on. Error joins them with "; ".
type AccessError struct {
	Researcher string
	Workspace  string
	Tier       Tier
	Reasons    []string
}

func (e *AccessError) Error() string { return strings.Join(e.Reasons, "; ") }

// Unwrap makes errors.Is(err, ErrAccess) true.
func (e *AccessError) Unwrap() error { return ErrAccess }

// Check decides whether researcher r may open workspace w on day now. It
// returns nil or an *AccessError listing every requirement r misses:
// membership, verified identity, a Responsible Conduct of Research training
// less than a year old, the signed Data User Code of Conduct, an institution
// whose DURA covers the tier and, for the controlled tier, a controlled tier
// training less than a year old.
func Check(r Researcher, w Workspace, now time.Time) error {
	var reasons []string
	if !slices.Contains(w.Researchers, r.ID) {
		reasons = append(reasons, fmt.Sprintf("researcher %s is not a member of workspace %q", r.ID, w.Name))
	}
	reasons = append(reasons, requirements(r, w.Tier, now)...)
	if len(reasons) == 0 {
		return nil
	}
	return &AccessError{Researcher: r.ID, Workspace: w.Name, Tier: w.Tier, Reasons: reasons}
}

// Eligible decides whether researcher r's record allows tier t on day now,
// whatever the workspace: what sharing a workspace requires.
func Eligible(r Researcher, t Tier, now time.Time) error {
	reasons := requirements(r, t, now)
	if len(reasons) == 0 {
		return nil
	}
	return &AccessError{Researcher: r.ID, Tier: t, Reasons: reasons}
}

// requirements lists, as sentences, what r's record lacks for tier t.
func requirements(r Researcher, t Tier, now time.Time) []string {
	today := Day(now)
	var out []string
	switch r.Identity.Method {
	case LoginGov, IDMe:
		if r.Identity.Verified.IsZero() {
			out = append(out, fmt.Sprintf("researcher %s has no identity verification date on record", r.ID))
		}
	case "":
		out = append(out, fmt.Sprintf("researcher %s has no verified identity (login.gov or id.me)", r.ID))
	default:
		out = append(out, fmt.Sprintf("researcher %s's identity was verified by %q, not login.gov or id.me", r.ID, r.Identity.Method))
	}
	if s := training(r.ID, "Responsible Conduct of Research training", r.RCRTraining, today); s != "" {
		out = append(out, s)
	}
	if r.CodeOfConduct.IsZero() {
		out = append(out, fmt.Sprintf("researcher %s has not signed the Data User Code of Conduct", r.ID))
	}
	inst := r.Institution.Name
	if inst == "" {
		inst = "of researcher " + r.ID
	}
	switch {
	case r.Institution.DURA == "":
		out = append(out, fmt.Sprintf("institution %s has no Data Use and Registration Agreement (DURA)", inst))
	case t == Controlled && r.Institution.DURA != Controlled:
		out = append(out, fmt.Sprintf("institution %s has no controlled tier DURA", inst))
	}
	if t == Controlled {
		if s := training(r.ID, "controlled tier training", r.CTTraining, today); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// training says what is wrong with a yearly training taken on day taken, or "".
func training(id, what string, taken, today Date) string {
	switch expires := taken.AddYears(TrainingValidity); {
	case taken.IsZero():
		return fmt.Sprintf("researcher %s has no %s on record", id, what)
	case today.Before(taken):
		return fmt.Sprintf("%s date %s of researcher %s is in the future", what, taken, id)
	case !today.Before(expires):
		return fmt.Sprintf("%s expired on %s (taken %s; renew it every year)", what, expires, taken)
	}
	return ""
}

// Expiries returns, for the record's trainings, the day each one expires.
func (r Researcher) Expiries() map[string]Date {
	m := map[string]Date{}
	if !r.RCRTraining.IsZero() {
		m["rcr_training"] = r.RCRTraining.AddYears(TrainingValidity)
	}
	if !r.CTTraining.IsZero() {
		m["controlled_tier_training"] = r.CTTraining.AddYears(TrainingValidity)
	}
	return m
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)

// ValidID reports whether id can name a researcher: a JupyterHub-style user
// name of letters, digits and . _ @ + - (at most 128 characters).
func ValidID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("researcher id %q must be letters, digits and . _ @ + - (starting with a letter or digit)", id)
	}
	return nil
}

// validate checks what a record can hold, independent of the day: known
// identity method, known DURA tier, a controlled tier DURA needs an institution.
func (r Researcher) validate() error {
	if err := ValidID(r.ID); err != nil {
		return err
	}
	switch r.Identity.Method {
	case "", LoginGov, IDMe:
	default:
		return fmt.Errorf("researcher %s: identity method %q is not login.gov or id.me", r.ID, r.Identity.Method)
	}
	switch r.Institution.DURA {
	case "", Registered, Controlled:
	default:
		return fmt.Errorf("researcher %s: DURA %q is not registered or controlled", r.ID, r.Institution.DURA)
	}
	if r.Institution.DURA != "" && r.Institution.Name == "" {
		return fmt.Errorf("researcher %s: a DURA needs the institution's name", r.ID)
	}
	return nil
}

// Home returns the directory holding the steward's files: $ENCLAVE_HOME, else
// $XDG_DATA_HOME/enclave, else ~/.local/share/enclave.
func Home() (string, error) {
	if h := os.Getenv("ENCLAVE_HOME"); h != "" {
		return h, nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "enclave"), nil
	}
	u, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no ENCLAVE_HOME and no home directory: %w", err)
	}
	return filepath.Join(u, ".local", "share", "enclave"), nil
}

// RegistryPath returns where the researcher registry lives under home.
func RegistryPath(home string) string { return filepath.Join(home, "researchers.yaml") }

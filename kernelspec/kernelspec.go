package kernelspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"enclave/internal/atomicfile"
)

// Spec is the content of kernel.json.
type Spec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env,omitempty"`
	Metadata      map[string]any    `json:"metadata"`
}

// Options describe an installation.
type Options struct {
	Enclave     string // absolute path of the enclave binary
	Worker      string // enclave-worker path, if not next to enclave
	Workspace   string // workspace directory, set as ENCLAVE_WORKSPACE
	DisplayName string
	Version     string
	Env         map[string]string // more environment for the kernel (KEY=VALUE)
}

// DefaultName is the kernel name used when none is given.
const DefaultName = "enclave"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ErrNotInstalled is returned by Uninstall for a kernel that is not there.
var ErrNotInstalled = errors.New("kernelspec: not installed")

// New returns the spec for o.
func New(o Options) Spec {
	argv := []string{o.Enclave, "kernel"}
	if o.Worker != "" {
		argv = append(argv, "--worker", o.Worker)
	}
	argv = append(argv, "--connection-file", "{connection_file}")
	name := o.DisplayName
	if name == "" {
		name = "Go (enclave)"
	}
	s := Spec{
		Argv:          argv,
		DisplayName:   name,
		Language:      "go",
		InterruptMode: "message",
		Metadata: map[string]any{
			"debugger": false,
			"enclave":  map[string]any{"version": o.Version, "workspace": o.Workspace},
		},
	}
	for k, v := range o.Env {
		if s.Env == nil {
			s.Env = map[string]string{}
		}
		s.Env[k] = v
	}
	if o.Workspace != "" {
		if s.Env == nil {
			s.Env = map[string]string{}
		}
		s.Env["ENCLAVE_WORKSPACE"] = o.Workspace
	}
	return s
}

// Install writes the kernelspec named name into kernelsDir/name (kernel.json
// and the logos), replacing an older one, and returns that directory.
func Install(kernelsDir, name string, o Options) (string, error) {
	if !nameRE.MatchString(name) {
		return "", fmt.Errorf("kernel name %q: use letters, digits, '.', '_' and '-' only", name)
	}
	if !filepath.IsAbs(o.Enclave) {
		return "", fmt.Errorf("the enclave path %q must be absolute", o.Enclave)
	}
	return installSpec(kernelsDir, name, New(o))
}

// installSpec writes spec and the logos into kernelsDir/name.
func installSpec(kernelsDir, name string, spec Spec) (string, error) {
	dir := filepath.Join(kernelsDir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("kernelspec: %w", err)
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return "", err
	}
	files := map[string][]byte{"kernel.json": append(b, '\n'), "logo-svg.svg": []byte(LogoSVG())}
	for _, size := range []int{32, 64} {
		png, err := LogoPNG(size)
		if err != nil {
			return "", err
		}
		files[fmt.Sprintf("logo-%dx%d.png", size, size)] = png
	}
	for f, data := range files {
		if err := atomicfile.Write(filepath.Join(dir, f), data, 0o644); err != nil {
			return "", fmt.Errorf("kernelspec: %w", err)
		}
	}
	return dir, nil
}

// Uninstall removes kernelsDir/name.
func Uninstall(kernelsDir, name string) (string, error) {
	if !nameRE.MatchString(name) {
		return "", fmt.Errorf("kernel name %q: use letters, digits, '.', '_' and '-' only", name)
	}
	dir := filepath.Join(kernelsDir, name)
	if _, err := os.Stat(filepath.Join(dir, "kernel.json")); err != nil {
		return "", fmt.Errorf("%w: no %s", ErrNotInstalled, filepath.Join(dir, "kernel.json"))
	}
	return dir, os.RemoveAll(dir)
}

// Scope is where a kernelspec goes.
type Scope struct {
	User      bool
	SysPrefix bool
	Prefix    string
}

// KernelsDir returns the kernels directory of scope, as Jupyter finds it:
// the user data dir ($JUPYTER_DATA_DIR, else $XDG_DATA_HOME/jupyter, else
// ~/.local/share/jupyter), Python's sys.prefix/share/jupyter, or
// PREFIX/share/jupyter. The user scope is the default.
func KernelsDir(s Scope) (string, error) {
	switch {
	case s.Prefix != "":
		p, err := filepath.Abs(s.Prefix)
		if err != nil {
			return "", err
		}
		return filepath.Join(p, "share", "jupyter", "kernels"), nil
	case s.SysPrefix:
		prefix := os.Getenv("VIRTUAL_ENV")
		if prefix == "" {
			prefix = os.Getenv("CONDA_PREFIX")
		}
		if prefix == "" {
			out, err := exec.Command(python(), "-c", "import sys; print(sys.prefix)").Output()
			if err != nil {
				return "", fmt.Errorf("--sys-prefix: cannot ask Python for sys.prefix: %w", err)
			}
			prefix = strings.TrimSpace(string(out))
		}
		return filepath.Join(prefix, "share", "jupyter", "kernels"), nil
	}
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return filepath.Join(d, "kernels"), nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "jupyter", "kernels"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("--user: %w", err)
	}
	return filepath.Join(home, ".local", "share", "jupyter", "kernels"), nil
}

func python() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

package service

import (
	_ "embed"
	"fmt"
	"path/filepath"
	"strings"
	"text/template"
)

//go:embed enclave.service
var unitTemplate string

// UnitOptions fill the systemd unit.
type UnitOptions struct {
	Enclave string // absolute path of the enclave binary
	Worker  string // enclave-worker, if not next to enclave
	User    string // the service user
	Group   string // its group (default: User)
	Home    string // DefaultHome
	Socket  string // DefaultSocket
}

// Directories the unit's sandboxing hides from the service: PrivateTmp=
// gives it an empty /tmp and /var/tmp of its own, ProtectHome=yes makes the
// users' homes inaccessible.
var (
	privateTmpDirs  = []string{"/tmp", "/var/tmp"}
	protectHomeDirs = []string{"/home", "/root", "/run/user"}
)

// Unit renders the systemd unit of the service (enclave.service). Every
// path must be absolute and free of what systemd would split or expand
// (white space, quotes, backslashes, '%' specifiers, '$' variables). The
// sandboxing adapts to where the files are: a service whose binary, home
// or socket lies under /tmp or /var/tmp keeps the host's /tmp (a private
// one would hide them), and one with a path under /home, /root or
// /run/user gets ProtectHome=read-only instead of yes (its home stays
// writable through ReadWritePaths).
func Unit(o UnitOptions) (string, error) {
	if o.Group == "" {
		o.Group = o.User
	}
	if o.Home == "" {
		o.Home = DefaultHome
	}
	if o.Socket == "" {
		o.Socket = DefaultSocket
	}
	if err := validUnitName(o.User, "user"); err != nil {
		return "", err
	}
	if err := validUnitName(o.Group, "group"); err != nil {
		return "", err
	}
	paths := []struct{ what, path string }{{"enclave binary", o.Enclave}, {"home", o.Home}, {"socket", o.Socket}}
	if o.Worker != "" {
		paths = append(paths, struct{ what, path string }{"worker binary", o.Worker})
	}
	data := struct {
		UnitOptions
		RuntimeDir  string
		ReadWrite   string
		PrivateTmp  string
		ProtectHome string
		Notes       []string
	}{UnitOptions: o, PrivateTmp: "yes", ProtectHome: "yes"}
	for _, p := range paths {
		if err := validUnitPath(p.path); err != nil {
			return "", fmt.Errorf("service unit: the %s: %w", p.what, err)
		}
		if d := under(p.path, privateTmpDirs); d != "" && data.PrivateTmp == "yes" {
			data.PrivateTmp = "no"
			data.Notes = append(data.Notes, fmt.Sprintf("PrivateTmp=no: the %s is under %s, which a private /tmp would hide", p.what, d))
		}
		if d := under(p.path, protectHomeDirs); d != "" && data.ProtectHome == "yes" {
			data.ProtectHome = "read-only"
			data.Notes = append(data.Notes, fmt.Sprintf("ProtectHome=read-only: the %s is under %s, which ProtectHome=yes would hide", p.what, d))
		}
	}
	// ProtectSystem=strict leaves only these writable: the home, the
	// socket's directory unless systemd makes it (a socket in /run/NAME/),
	// and the host's /tmp when the service shares it (the kernels make
	// their workers' empty roots there).
	rw := []string{o.Home}
	if dir := filepath.Dir(o.Socket); filepath.Dir(dir) == "/run" {
		data.RuntimeDir = filepath.Base(dir)
	} else if under(dir, []string{o.Home}) == "" {
		rw = append(rw, dir)
	}
	if data.PrivateTmp == "no" {
		rw = append(rw, "/tmp")
	}
	data.ReadWrite = strings.Join(rw, " ")
	t, err := template.New("enclave.service").Parse(unitTemplate)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// validUnitPath refuses a path a unit file cannot hold as one plain word.
func validUnitPath(p string) error {
	switch {
	case !filepath.IsAbs(p):
		return fmt.Errorf("%q is not an absolute path", p)
	case filepath.Clean(p) != p:
		return fmt.Errorf("%q is not a clean path (want %s)", p, filepath.Clean(p))
	case strings.ContainsAny(p, " \t\r\n\"'\\%$;"):
		return fmt.Errorf("%q holds white space, a quote, a backslash, '%%', '$' or ';', which systemd splits or expands: install enclave under a plain path", p)
	}
	return nil
}

// validUnitName refuses a user or group name that is not one plain word.
func validUnitName(n, what string) error {
	if n == "" || strings.ContainsAny(n, " \t\r\n\"'\\%$;/:") {
		return fmt.Errorf("service unit: %s name %q is not a plain name", what, n)
	}
	return nil
}

// under returns the directory of dirs that p lies in (or is), or "".
func under(p string, dirs []string) string {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return d
		}
	}
	return ""
}

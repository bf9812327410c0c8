package service

import (
	_ "embed"
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

// Unit renders the systemd unit of the service (enclave.service).
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
	data := struct {
		UnitOptions
		RuntimeDir string
		SocketDir  string
	}{UnitOptions: o, SocketDir: filepath.Dir(o.Socket)}
	// A socket in /run/NAME/ gets its directory from systemd.
	if dir := filepath.Dir(o.Socket); filepath.Dir(dir) == "/run" {
		data.RuntimeDir = filepath.Base(dir)
	}
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

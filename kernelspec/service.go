package kernelspec

import (
	"fmt"
	"path/filepath"
	"regexp"
)

// ServiceOptions describe a kernelspec of a protected deployment: its argv
// runs `enclave launch`, which asks the enclave service for a kernel.
type ServiceOptions struct {
	Enclave     string // absolute path of the enclave binary
	Socket      string // the service's socket
	Workspace   string // the workspace's name on the service ("" for a kernel without data)
	DisplayName string
	Version     string
}

// ServiceName is the default kernel name for a workspace: enclave-NAME.
func ServiceName(workspace string) string {
	if workspace == "" {
		return DefaultName
	}
	return DefaultName + "-" + regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(workspace, "-")
}

// NewService returns the spec for o. It sets no environment: the service
// takes the researcher from the socket and ignores the launcher's
// environment, and the workspace a researcher names is checked against
// the registry, so editing the spec gains nothing.
func NewService(o ServiceOptions) Spec {
	argv := []string{o.Enclave, "launch", "--socket", o.Socket}
	if o.Workspace != "" {
		argv = append(argv, "--workspace", o.Workspace)
	}
	argv = append(argv, "--connection-file", "{connection_file}")
	name := o.DisplayName
	if name == "" {
		name = "Go (enclave)"
		if o.Workspace != "" {
			name = "Go (enclave: " + o.Workspace + ")"
		}
	}
	return Spec{
		Argv:          argv,
		DisplayName:   name,
		Language:      "go",
		InterruptMode: "message",
		Metadata: map[string]any{
			"debugger": false,
			"enclave":  map[string]any{"version": o.Version, "workspace": o.Workspace, "mode": "service", "socket": o.Socket},
		},
	}
}

// InstallService writes the service kernelspec named name into
// kernelsDir/name and returns that directory.
func InstallService(kernelsDir, name string, o ServiceOptions) (string, error) {
	if !nameRE.MatchString(name) {
		return "", fmt.Errorf("kernel name %q: use letters, digits, '.', '_' and '-' only", name)
	}
	if !filepath.IsAbs(o.Enclave) || !filepath.IsAbs(o.Socket) {
		return "", fmt.Errorf("the enclave path %q and the socket %q must be absolute", o.Enclave, o.Socket)
	}
	return installSpec(kernelsDir, name, NewService(o))
}

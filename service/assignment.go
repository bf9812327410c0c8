package service

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"enclave/datasets/workspace"
)

// ErrRefused is wrapped by the error Open returns for an assignment the
// service refused; errors.Is(err, workspace.ErrAccess) holds too.
var ErrRefused = fmt.Errorf("%w by the enclave service", workspace.ErrAccess)

// refusal is a service refusal: its text is exactly the service's reason.
type refusal struct{ reason string }

func (r *refusal) Error() string        { return r.reason }
func (r *refusal) Is(target error) bool { return target == ErrRefused || target == workspace.ErrAccess }

// Open opens what the assignment grants on day now: nothing (nil, nil) for
// a kernel without a workspace, the refusal as an error, or the workspace
// for the researcher. workspace.Open checks membership, trainings and tier
// again, from the service's registry ($ENCLAVE_HOME, set by the service).
func (a *Assignment) Open(now time.Time) (*workspace.Session, error) {
	switch {
	case a.Refusal != "":
		return nil, &refusal{a.Refusal}
	case a.WorkspaceDir == "":
		return nil, nil
	case a.Researcher == "":
		return nil, &refusal{"the enclave service named no researcher for this kernel"}
	}
	return workspace.Open(a.WorkspaceDir, a.Researcher, now)
}

// ModeText is the first lines of %sandbox in a kernel the service started.
func (a *Assignment) ModeText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mode         service (protected deployment): kernel %s started by the enclave service\n", a.Kernel)
	fmt.Fprintf(&b, "kernel user  %s (uid %d), the service user: alone can read the workspace, registry, release history and audit log\n", a.ServiceUser, a.ServiceUID)
	who := a.Researcher
	if who == "" {
		who = "(none)"
	}
	fmt.Fprintf(&b, "researcher   %s, from the socket's peer credentials (Unix user %s, uid %d), not from the environment\n", who, a.UnixUser, a.UID)
	if a.Workspace != "" {
		fmt.Fprintf(&b, "workspace    %s, named by the kernelspec and checked by the service\n", a.Workspace)
	}
	return b.String()
}

// SingleUserModeText is the first lines of %sandbox in a kernel Jupyter
// started directly (enclave kernel, as make run installs it).
func SingleUserModeText() string {
	u := strconv.Itoa(os.Geteuid())
	if pw, err := user.LookupId(u); err == nil {
		u = pw.Username + " (uid " + u + ")"
	} else {
		u = "uid " + u
	}
	var b strings.Builder
	b.WriteString("mode         single-user: NOT a protected deployment\n")
	fmt.Fprintf(&b, "kernel user  %s, the user who started Jupyter: the data files are readable by that user outside the kernel\n", u)
	fmt.Fprintf(&b, "researcher   from the environment (%s or %s), which a kernelspec can set\n", workspace.EnvJupyterHubUser, workspace.EnvResearcher)
	b.WriteString("             for real researchers run the enclave service (README: Deploying for real researchers)\n")
	return b.String()
}

// IsRefusal reports whether err is a refusal by the service.
func IsRefusal(err error) bool { return errors.Is(err, ErrRefused) }

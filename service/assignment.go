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

// ModeText is the first lines of %sandbox in a kernel the service started,
// with home the service's home (the kernel's $ENCLAVE_HOME): the mode, who
// the kernel runs as and for whom, and a fresh check of the files.
func (a *Assignment) ModeText(home string) string {
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
	b.WriteString("files        " + a.FilesText(home) + "\n")
	return b.String()
}

// FilesText checks, as the kernel runs (as the service user), that the
// files this kernel reads are the service user's alone: the service's
// home and its researcher registry, and the kernel's workspace with
// everything in it. It says how many entries it checked and, if any are
// open to other users or owned by someone else, how many, without their
// names (those are the steward's business: enclave serve --check).
func (a *Assignment) FilesText(home string) string {
	var checked int
	var problems []Problem
	entry := func(path string) {
		fi, err := os.Lstat(path)
		if err != nil {
			problems = append(problems, Problem{path, err.Error()})
			return
		}
		checked++
		if what := entryProblem(fi, a.ServiceUID); what != "" {
			problems = append(problems, Problem{path, what})
		}
	}
	if home != "" {
		entry(home)
		entry(workspace.RegistryPath(home))
	}
	if a.WorkspaceDir != "" {
		n, p, err := CheckTree(a.WorkspaceDir, a.ServiceUID)
		if err != nil {
			problems = append(problems, Problem{a.WorkspaceDir, err.Error()})
		}
		checked += n
		problems = append(problems, p...)
	}
	switch {
	case checked == 0 && len(problems) == 0:
		return "not checked: the kernel knows no service home"
	case len(problems) == 0:
		return fmt.Sprintf("protected: %d entries checked (home, registry, workspace), all the service user's, files 0600 and directories 0700", checked)
	}
	return fmt.Sprintf("NOT protected: %d problem(s) among %d entries checked (open to other users, not the service user's, or unreadable); tell the data steward (enclave serve --check lists them)",
		len(problems), checked)
}

// NoWorkspaceText is what %workspace says in a kernel the service started
// without a workspace.
func (a *Assignment) NoWorkspaceText() string {
	return "No workspace is open: this kernel's kernelspec names no workspace (enclave install --service without --workspace), so no datasets are attached.\n" +
		"The data steward installs one kernel per workspace; choose the one named after yours (Go (enclave: NAME)).\n"
}

// IdentityText is the line %workspace adds in a kernel the service
// started: where the researcher and the workspace came from.
func (a *Assignment) IdentityText() string {
	return fmt.Sprintf("identity:   Unix user %s (uid %d), from the enclave service's socket; workspace named by the kernelspec and checked by the service\n", a.UnixUser, a.UID)
}

// SingleUserNoWorkspaceText is what %workspace says in a single-user
// kernel without a workspace.
func SingleUserNoWorkspaceText() string {
	return fmt.Sprintf("No workspace is open: this kernel was started without %s (set by --workspace in its kernelspec), so no datasets are attached.\n", workspace.EnvWorkspace) +
		"Ask your data steward for a workspace, or install the kernel with `enclave install --workspace DIR`.\n"
}

// SingleUserIdentityText is the line %workspace adds in a single-user
// kernel.
func SingleUserIdentityText() string {
	return fmt.Sprintf("identity:   from the environment (%s or %s): single-user mode, NOT a protected deployment\n", workspace.EnvJupyterHubUser, workspace.EnvResearcher)
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

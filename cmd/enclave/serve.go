package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"enclave/datasets/workspace"
	"enclave/kernel/worker"
	"enclave/kernelspec"
	"enclave/service"
)

func init() {
	register(&command{
		Name: "serve",
		Usage: "serve [--home DIR] [--workspaces DIR] [--socket PATH] [--worker PATH] [--spares N] [--max-kernels N] [--grace D] [--allow-ip IP]...\n" +
			"        (the data service, run as its own system user: starts kernels for enclave launch)\n" +
			"  enclave serve --check | --fix-permissions [--home DIR] [--workspaces DIR]\n" +
			"  enclave serve --install [--user NAME] [--home DIR] [--socket PATH] [--unit-dir DIR] [--no-systemctl]\n" +
			"  enclave serve --print-unit [--user NAME] [--home DIR] [--socket PATH]",
		Run: runServe,
	})
	register(&command{
		Name: "map-user",
		Usage: "map-user UNIX_USER RESEARCHER_ID [--force] | map-user --remove UNIX_USER | map-user [--list]\n" +
			"        (which researcher a Unix user is, for the enclave service; registry: $ENCLAVE_HOME/researchers.yaml)",
		Run: runMapUser,
	})
}

// Environment a service passes on to its kernels; everything else of its
// own environment stays with it.
var kernelEnvKeys = []string{"PATH", "TMPDIR", "TZ", "LANG", envCellTimeout, envOutputCap}

// serveOptions are the flags of enclave serve.
type serveOptions struct {
	home, wsDir, socket, workerPath string
	spares, maxKernels              int
	grace                           time.Duration
	allowIPs                        listFlag
	allowRoot, check, fix           bool
	install, printUnit, noSystemctl bool
	userName, unitDir               string
}

// serveFlags is the flag set of enclave serve; the systemd unit's
// ExecStart is parsed with it in a test.
func serveFlags() (*flag.FlagSet, *serveOptions) {
	o := &serveOptions{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	defHome := os.Getenv("ENCLAVE_HOME")
	if defHome == "" {
		defHome = service.DefaultHome
	}
	fs.StringVar(&o.home, "home", defHome, "the service's home: researchers.yaml and workspaces/ ($ENCLAVE_HOME, else "+service.DefaultHome+")")
	fs.StringVar(&o.wsDir, "workspaces", "", "directory of the workspaces, one per name (default HOME/workspaces)")
	fs.StringVar(&o.socket, "socket", service.DefaultSocket, "the Unix socket enclave launch connects to")
	fs.StringVar(&o.workerPath, "worker", "", "enclave-worker binary for the kernels (default: $"+envWorker+", else next to enclave)")
	fs.IntVar(&o.spares, "spares", 1, "kernel processes started ahead, waiting for a researcher (0: start each on demand)")
	fs.IntVar(&o.maxKernels, "max-kernels", 8, "kernels one Unix user may run at once")
	fs.DurationVar(&o.grace, "grace", time.Second, "how long a kernel asked to stop has before SIGKILL")
	fs.Var(&o.allowIPs, "allow-ip", "a kernel address allowed besides loopback (repeatable)")
	fs.BoolVar(&o.allowRoot, "allow-root", false, "serve as root (kernels then run as root; only for a throwaway machine)")
	fs.BoolVar(&o.check, "check", false, "check the permissions of the service's files and exit")
	fs.BoolVar(&o.fix, "fix-permissions", false, "remove group and other permissions from the service user's files (chmod go=) and exit")
	fs.BoolVar(&o.install, "install", false, "as root: create the service user and its home, write the systemd unit, enable it")
	fs.BoolVar(&o.printUnit, "print-unit", false, "print the systemd unit and exit")
	fs.StringVar(&o.userName, "user", "enclave", "with --install/--print-unit: the service user")
	fs.StringVar(&o.unitDir, "unit-dir", "/etc/systemd/system", "with --install: where the unit goes")
	fs.BoolVar(&o.noSystemctl, "no-systemctl", false, "with --install: write the unit but do not run systemctl")
	return fs, o
}

func runServe(args []string) error {
	fs, o := serveFlags()
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	abs := func(p *string) error {
		if *p == "" {
			return nil
		}
		a, err := filepath.Abs(*p)
		*p = a
		return err
	}
	for _, p := range []*string{&o.home, &o.wsDir, &o.socket} {
		if err := abs(p); err != nil {
			return err
		}
	}
	switch {
	case o.printUnit, o.install:
		self, err := selfPath()
		if err != nil {
			return err
		}
		wp := o.workerPath
		if wp != "" {
			if wp, err = findWorker(wp); err != nil {
				return err
			}
		}
		unit, err := service.Unit(service.UnitOptions{Enclave: self, Worker: wp, User: o.userName, Home: o.home, Socket: o.socket})
		if err != nil {
			return err
		}
		if o.printUnit {
			fmt.Print(unit)
			return nil
		}
		return serveInstall(unit, self, o.userName, o.home, o.socket, o.unitDir, !o.noSystemctl)
	case o.check, o.fix:
		return serveCheck(o.home, o.wsDir, o.fix)
	}

	if os.Geteuid() == 0 && !o.allowRoot {
		return errors.New("refusing to serve as root: run the service as its own system user (enclave serve --install creates one and its systemd unit)")
	}
	syscall.Umask(0o077) // what the service and its kernels create is theirs alone
	wp, err := findWorker(o.workerPath)
	if err != nil {
		return err
	}
	self, err := selfPath()
	if err != nil {
		return err
	}
	env := []string{"ENCLAVE_HOME=" + o.home, "HOME=" + o.home}
	for _, k := range kernelEnvKeys {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	logger := log.New(os.Stderr, "enclave serve: ", log.LstdFlags|log.Lmicroseconds)
	srv, err := service.New(service.Config{
		Home: o.home, Workspaces: o.wsDir, Socket: o.socket,
		Kernel: []string{self, "kernel", "--worker", wp}, Env: env,
		Spares: o.spares, MaxPerUser: o.maxKernels, AllowIPs: o.allowIPs, Grace: o.grace, Log: logger,
	})
	if err != nil {
		return err
	}
	ln, err := service.Listen(o.socket)
	if err != nil {
		srv.Close()
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer stop()
	go func() {
		<-ctx.Done()
		logger.Printf("stopping: ending every kernel")
		srv.Close()
	}()
	u := strconv.Itoa(os.Geteuid())
	if pw, err := user.LookupId(u); err == nil {
		u = pw.Username + " (uid " + u + ")"
	}
	logger.Printf("listening on %s as %s, home %s, %d spare kernel(s)", o.socket, u, o.home, o.spares)
	return srv.Serve(ln)
}

// serveCheck checks (or fixes) the permissions of the service's files, as
// the user running it.
func serveCheck(home, wsDir string, fix bool) error {
	uid := os.Geteuid()
	roots := []string{home}
	if wsDir != "" {
		roots = append(roots, wsDir)
	}
	var all []service.Problem
	for _, root := range roots {
		var probs []service.Problem
		var err error
		if fix {
			var n int
			n, probs, err = service.FixTree(root, uid)
			if err == nil {
				fmt.Printf("%s: tightened %d entries to 0600/0700\n", root, n)
			}
		} else {
			var n int
			n, probs, err = service.CheckTree(root, uid)
			if err == nil {
				fmt.Printf("%s: checked %d entries\n", root, n)
			}
		}
		if err != nil {
			return err
		}
		all = append(all, probs...)
	}
	if err := service.ProblemsError(all, 50); err != nil {
		return fmt.Errorf("%w\n(the service user must own everything, files 0600 and directories 0700)", err)
	}
	fmt.Println("permissions ok: only the service user can read its files")
	return nil
}

// serveInstall sets the service up on this host: its user, its home
// (0700), the systemd unit, and (with systemctl) enables it.
func serveInstall(unit, self, name, home, socket, unitDir string, systemctl bool) error {
	if os.Geteuid() != 0 {
		return errors.New("--install needs root (it creates a system user and a systemd unit)")
	}
	u, err := user.Lookup(name)
	if err != nil {
		cmd := exec.Command("useradd", "--system", "--user-group", "--home-dir", home, "--no-create-home",
			"--shell", "/usr/sbin/nologin", "--comment", "enclave data service", name)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("useradd %s: %v: %s", name, err, strings.TrimSpace(string(out)))
		}
		fmt.Printf("created system user %s\n", name)
		if u, err = user.Lookup(name); err != nil {
			return err
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, d := range []string{home, filepath.Join(home, service.WorkspacesDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
		if err := os.Chmod(d, 0o700); err != nil {
			return err
		}
	}
	fmt.Printf("home %s (0700, owned by %s)\n", home, name)
	if dir := filepath.Dir(socket); filepath.Dir(dir) != "/run" {
		// Not a systemd RuntimeDirectory: made here, searchable by all.
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
		fmt.Printf("socket directory %s (0755, owned by %s)\n", dir, name)
	}
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		return err
	}
	unitPath := filepath.Join(unitDir, "enclave.service")
	if err := os.WriteFile(unitPath, []byte(unit), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", unitPath)
	for _, p := range []string{self, filepath.Join(filepath.Dir(self), "enclave-worker")} {
		if why := notRunnableByOthers(p); why != "" {
			fmt.Printf("warning: %s; the service user cannot run it: install enclave and enclave-worker in /usr/local/bin\n", why)
		}
	}
	if _, err := os.Stat("/run/systemd/system"); systemctl && err == nil {
		for _, args := range [][]string{{"daemon-reload"}, {"enable", "--now", "enclave.service"}} {
			if out, err := exec.Command("systemctl", args...).CombinedOutput(); err != nil {
				return fmt.Errorf("systemctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
			}
		}
		fmt.Println("enabled and started enclave.service")
	} else {
		fmt.Println("start it with: systemctl daemon-reload && systemctl enable --now enclave.service")
	}
	fmt.Printf(`next, as the steward (every command as the service user, so that only it can read the data):
  sudo -u %[1]s env ENCLAVE_HOME=%[2]s enclave researcher add ID …
  sudo -u %[1]s env ENCLAVE_HOME=%[2]s enclave map-user UNIX_USER ID
  sudo -u %[1]s env ENCLAVE_HOME=%[2]s enclave workspace create %[2]s/workspaces/NAME …
  sudo -u %[1]s env ENCLAVE_HOME=%[2]s enclave workspace import %[2]s/workspaces/NAME OMOP_FOLDER
  enclave install --prefix /usr/local --service --socket %[3]s --workspace NAME
`, name, home, socket)
	return nil
}

// notRunnableByOthers says why path cannot be executed by another user, or "".
func notRunnableByOthers(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	if fi.Mode().Perm()&0o001 == 0 {
		return path + " is not executable by others"
	}
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		if di, err := os.Stat(d); err != nil || di.Mode().Perm()&0o001 == 0 {
			return "directory " + d + " is not searchable by others"
		}
		if d == "/" {
			return ""
		}
	}
}

func selfPath() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(self); err == nil {
		self = r
	}
	return self, nil
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runMapUser edits the registry's Unix user → researcher mapping.
func runMapUser(args []string) error {
	fs := flag.NewFlagSet("map-user", flag.ContinueOnError)
	remove := fs.Bool("remove", false, "remove the mapping of UNIX_USER")
	list := fs.Bool("list", false, "list the mappings (the default without arguments)")
	force := fs.Bool("force", false, "map a Unix user this host does not know (yet)")
	pos, err := workspaceParse(fs, args)
	if err != nil {
		return err
	}
	home, err := workspace.Home()
	if err != nil {
		return err
	}
	path := workspace.RegistryPath(home)
	switch {
	case *list || len(pos) == 0 && !*remove:
		if len(pos) != 0 {
			return errUsage
		}
		reg, err := workspace.LoadRegistry(path)
		if err != nil {
			return err
		}
		return printMappings(os.Stdout, reg)
	case *remove:
		if len(pos) != 1 {
			return errUsage
		}
		err := workspace.UpdateRegistry(path, func(g *workspace.Registry) error {
			if _, ok := g.UnixUsers[pos[0]]; !ok {
				return fmt.Errorf("Unix user %s is not mapped in %s", pos[0], path)
			}
			delete(g.UnixUsers, pos[0])
			return nil
		})
		if err == nil {
			fmt.Printf("Unix user %s is no longer mapped to a researcher\n", pos[0])
		}
		return err
	}
	if len(pos) != 2 {
		return errUsage
	}
	name, id := pos[0], pos[1]
	if err := workspace.ValidUnixUser(name); err != nil {
		return err
	}
	known := false
	if _, err := strconv.Atoi(name); err == nil {
		known = true // a numeric uid needs no entry in the user database
	} else if _, err := user.Lookup(name); err == nil {
		known = true
	}
	if !known && !*force {
		return fmt.Errorf("there is no Unix user %s on this host (--force maps it anyway)", name)
	}
	err = workspace.UpdateRegistry(path, func(g *workspace.Registry) error {
		if _, err := g.Lookup(id); err != nil {
			return err
		}
		g.UnixUsers[name] = id
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("Unix user %s is researcher %s for the enclave service (%s)\n", name, id, path)
	return nil
}

func printMappings(w io.Writer, reg *workspace.Registry) error {
	names := make([]string, 0, len(reg.UnixUsers))
	for n := range reg.UnixUsers {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		fmt.Fprintf(w, "no Unix user is mapped to a researcher in %s\n", reg.Path)
		return nil
	}
	for _, n := range names {
		fmt.Fprintf(w, "%-20s %s\n", n, reg.UnixUsers[n])
	}
	return nil
}

// The kernel side of the service: how a kernel opens what it was assigned
// and says in %sandbox which mode it runs in.

// openAssigned opens the kernel's workspace: the service's assignment, or
// in single-user mode the one the environment names.
func openAssigned(a *service.Assignment, now time.Time) (*workspace.Session, error) {
	if a == nil {
		return workspace.FromEnv(now)
	}
	return a.Open(now)
}

// modeExecutor is the worker executor with the deployment mode at the top
// of %sandbox. Every other method (and optional capability) is the
// executor's own.
type modeExecutor struct {
	*worker.Executor
	assigned *service.Assignment
}

// Describe says which mode the kernel runs in, then where cells run.
func (m modeExecutor) Describe(ctx context.Context) (string, error) {
	text, err := m.Executor.Describe(ctx)
	if err != nil {
		return "", err
	}
	if m.assigned != nil {
		home, _ := workspace.Home() // the service sets ENCLAVE_HOME
		return m.assigned.ModeText(home) + text, nil
	}
	return service.SingleUserModeText() + text, nil
}

// noWorkspaceText is what %workspace says when the kernel opened no
// workspace, in the words of its mode.
func noWorkspaceText(a *service.Assignment) string {
	if a != nil {
		return a.NoWorkspaceText()
	}
	return service.SingleUserNoWorkspaceText()
}

// identityText is the line %workspace adds: where the researcher and the
// workspace came from.
func identityText(a *service.Assignment) string {
	if a != nil {
		return a.IdentityText()
	}
	return service.SingleUserIdentityText()
}

// noWorkspaceErr is the error of an API call or data magic in a kernel
// without a workspace.
func noWorkspaceErr(a *service.Assignment) error {
	first, _, _ := strings.Cut(noWorkspaceText(a), "\n")
	return errors.New(first)
}

// deploymentReport is the deployment part of enclave doctor: which mode
// kernels run in and, with a service, the state of its files.
type deploymentReport struct {
	// Mode is "service" when an enclave service answers on Socket,
	// "single-user" otherwise.
	Mode        string   `json:"mode"`
	Socket      string   `json:"socket"`
	ServiceUser string   `json:"service_user,omitempty"`
	Permissions string   `json:"permissions,omitempty"` // "ok" or what is wrong
	Problems    []string `json:"problems,omitempty"`    // for root and the service user
	You         string   `json:"you,omitempty"`         // what the service makes of this user
	Note        string   `json:"note"`
	// Kernelspecs are the enclave kernelspecs Jupyter finds here, each
	// with the mode its kernel runs in.
	Kernelspecs []kernelspecMode `json:"kernelspecs"`
}

type kernelspecMode struct {
	Name      string `json:"name"`
	Dir       string `json:"dir"`
	Mode      string `json:"mode"` // "service" (enclave launch) or "single-user" (enclave kernel)
	Workspace string `json:"workspace,omitempty"`
}

const singleUserNote = "single-user mode is NOT a protected deployment: the kernel runs as the user who started Jupyter, takes the researcher from the environment and reads data files that user can read"

// deployment asks the service at socket for its status.
func deployment(socket string) deploymentReport {
	d := deploymentReport{Socket: socket, Kernelspecs: findKernelspecs()}
	st, err := service.QueryStatus(socket, 5*time.Second)
	if err != nil {
		d.Mode = "single-user"
		d.Note = fmt.Sprintf("no enclave service answers on %s: kernels Jupyter starts with `enclave kernel` run in single-user mode; %s", socket, singleUserNote)
		return d
	}
	d.Mode, d.ServiceUser, d.Permissions, d.Problems, d.You = st.Mode, st.ServiceUser, st.Permissions, st.Problems, st.You
	d.Note = fmt.Sprintf("kernels of `enclave launch` kernelspecs run as %s (uid %d), started by the service; %d of yours running; files checked: %d",
		st.ServiceUser, st.ServiceUID, st.Kernels, st.Checked)
	return d
}

// text renders the report for enclave doctor.
func (d deploymentReport) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "deployment: %s\n  %s\n", d.Mode, d.Note)
	if d.Mode == "service" {
		fmt.Fprintf(&b, "  you: %s\n  permissions of the service's files: %s\n", d.You, d.Permissions)
		for _, p := range d.Problems {
			fmt.Fprintf(&b, "    %s\n", p)
		}
	}
	for _, k := range d.Kernelspecs {
		ws := ""
		if k.Workspace != "" {
			ws = ", workspace " + k.Workspace
		}
		note := ""
		if k.Mode == "single-user" {
			note = " (not a protected deployment)"
		}
		fmt.Fprintf(&b, "  kernelspec %s: %s%s%s  [%s]\n", k.Name, k.Mode, ws, note, k.Dir)
	}
	return b.String()
}

// findKernelspecs lists the enclave kernelspecs in Jupyter's data
// directories ($JUPYTER_PATH, the user's, /usr/local and /usr).
func findKernelspecs() []kernelspecMode {
	var dirs []string
	for _, p := range filepath.SplitList(os.Getenv("JUPYTER_PATH")) {
		if p != "" {
			dirs = append(dirs, filepath.Join(p, "kernels"))
		}
	}
	if d, err := kernelspec.KernelsDir(kernelspec.Scope{User: true}); err == nil {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, "/usr/local/share/jupyter/kernels", "/usr/share/jupyter/kernels")
	out := []kernelspecMode{}
	seen := map[string]bool{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			dir := filepath.Join(d, e.Name())
			b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
			var s kernelspec.Spec
			if err != nil || json.Unmarshal(b, &s) != nil || len(s.Argv) < 2 || filepath.Base(s.Argv[0]) != "enclave" || seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true // the first one found is the one Jupyter uses
			k := kernelspecMode{Name: e.Name(), Dir: dir}
			switch s.Argv[1] {
			case "launch":
				k.Mode = "service"
				for i := 2; i+1 < len(s.Argv); i++ {
					if s.Argv[i] == "--workspace" {
						k.Workspace = s.Argv[i+1]
					}
				}
			case "kernel":
				k.Mode, k.Workspace = "single-user", s.Env[workspace.EnvWorkspace]
			default:
				continue
			}
			out = append(out, k)
		}
	}
	return out
}

// problems lists what doctor --strict fails on: a service whose files are
// not protected.
func (d deploymentReport) problems() []string {
	if d.Mode != "service" || d.Permissions == "ok" {
		return nil
	}
	return []string{"enclave service files: " + d.Permissions}
}

package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"enclave/kernelspec"
	"enclave/service"
)

func init() {
	register(&command{
		Name: "install",
		Usage: "install [--user|--sys-prefix|--prefix DIR] [--name N] [--display-name TEXT] [--worker PATH] [--workspace DIR] [--researcher ID] [--env KEY=VALUE]...\n" +
			"  enclave install --service [--socket PATH] --workspace NAME [--user|--sys-prefix|--prefix DIR] [--name N] [--display-name TEXT]\n" +
			"        (a protected deployment's kernelspec: enclave launch asks the enclave service for the kernel)",
		Run: runInstall,
	})
	register(&command{
		Name:  "uninstall",
		Usage: "uninstall [--user|--sys-prefix|--prefix DIR] [--name N]",
		Run:   runUninstall,
	})
}

func scopeFlags(fs *flag.FlagSet) *kernelspec.Scope {
	s := new(kernelspec.Scope)
	fs.BoolVar(&s.User, "user", false, "install for this user (the default)")
	fs.BoolVar(&s.SysPrefix, "sys-prefix", false, "install into Python's sys.prefix (a virtualenv or conda env)")
	fs.StringVar(&s.Prefix, "prefix", "", "install into PREFIX/share/jupyter/kernels")
	return s
}

func checkScope(s *kernelspec.Scope) error {
	n := 0
	for _, set := range []bool{s.User, s.SysPrefix, s.Prefix != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("choose one of --user, --sys-prefix and --prefix")
	}
	return nil
}

func runInstall(args []string) error {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	scope := scopeFlags(fs)
	name := fs.String("name", kernelspec.DefaultName, "kernel name")
	display := fs.String("display-name", "Go (enclave)", "name shown in Jupyter's launcher")
	workerPath := fs.String("worker", "", "enclave-worker binary (default: next to enclave)")
	ws := fs.String("workspace", "", "workspace directory the kernel opens (ENCLAVE_WORKSPACE)")
	researcher := fs.String("researcher", "", "researcher the kernel runs for (ENCLAVE_RESEARCHER; JupyterHub's user wins)")
	env := envFlag{}
	fs.Var(env, "env", "KEY=VALUE put in the kernel's environment (repeatable)")
	svc := fs.Bool("service", false, "a kernelspec whose kernel the enclave service starts (enclave launch); --workspace is then the workspace's name on the service")
	socket := fs.String("socket", service.DefaultSocket, "with --service: the service's socket")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if err := checkScope(scope); err != nil {
		return err
	}
	if *svc {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		return installService(*scope, set, *name, *display, *ws, *socket)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if r, err := filepath.EvalSymlinks(self); err == nil {
		self = r
	}
	wp := *workerPath
	if wp != "" {
		if wp, err = findWorker(wp); err != nil {
			return err
		}
	} else if _, err := findWorker(""); err != nil {
		return fmt.Errorf("%w (or pass --worker PATH)", err)
	}
	wsDir := *ws
	if wsDir != "" {
		if wsDir, err = filepath.Abs(wsDir); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(wsDir, "workspace.yaml")); err != nil {
			return fmt.Errorf("--workspace %s: no workspace.yaml there (create it with `enclave workspace create`)", wsDir)
		}
	}
	if *researcher != "" {
		env["ENCLAVE_RESEARCHER"] = *researcher
	}
	kdir, err := kernelspec.KernelsDir(*scope)
	if err != nil {
		return err
	}
	dir, err := kernelspec.Install(kdir, *name, kernelspec.Options{
		Enclave: self, Worker: wp, Workspace: wsDir, DisplayName: *display, Version: version, Env: env,
	})
	if err != nil {
		return err
	}
	fmt.Printf("installed kernelspec %s in %s\n", *name, dir)
	return nil
}

func runUninstall(args []string) error {
	fs := flag.NewFlagSet("uninstall", flag.ContinueOnError)
	scope := scopeFlags(fs)
	name := fs.String("name", kernelspec.DefaultName, "kernel name")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	if err := checkScope(scope); err != nil {
		return err
	}
	kdir, err := kernelspec.KernelsDir(*scope)
	if err != nil {
		return err
	}
	dir, err := kernelspec.Uninstall(kdir, *name)
	if err != nil {
		return err
	}
	fmt.Printf("removed kernelspec %s from %s\n", *name, dir)
	return nil
}

// envFlag collects repeated --env KEY=VALUE flags.
type envFlag map[string]string

func (e envFlag) String() string { return "" }

func (e envFlag) Set(kv string) error {
	k, v, ok := strings.Cut(kv, "=")
	if !ok || k == "" || strings.ContainsAny(k, " \t\n") {
		return fmt.Errorf("--env %q: want KEY=VALUE", kv)
	}
	if k == "ENCLAVE_WORKSPACE" {
		return fmt.Errorf("--env %q: use --workspace DIR", kv)
	}
	e[k] = v
	return nil
}

// version is the enclave version shown in kernel_info and kernel.json.
const version = "0.1.0"

// installService writes a kernelspec of a protected deployment: argv
// `enclave launch --socket S --workspace NAME {connection_file}`, no
// environment. Identity, worker and registry are the service's business.
func installService(scope kernelspec.Scope, set map[string]bool, name, display, ws, socket string) error {
	for _, f := range []string{"researcher", "env", "worker"} {
		if set[f] {
			return fmt.Errorf("--%s cannot be used with --service: the service takes the researcher from the socket and chooses the kernel's environment and worker", f)
		}
	}
	if ws != "" {
		if err := service.ValidWorkspaceName(ws); err != nil {
			return fmt.Errorf("--workspace with --service: %w", err)
		}
	}
	if !set["name"] {
		name = kernelspec.ServiceName(ws)
	}
	if !set["display-name"] {
		display = ""
	}
	sock, err := filepath.Abs(socket)
	if err != nil {
		return err
	}
	self, err := selfPath()
	if err != nil {
		return err
	}
	kdir, err := kernelspec.KernelsDir(scope)
	if err != nil {
		return err
	}
	dir, err := kernelspec.InstallService(kdir, name, kernelspec.ServiceOptions{
		Enclave: self, Socket: sock, Workspace: ws, DisplayName: display, Version: version,
	})
	if err != nil {
		return err
	}
	fmt.Printf("installed kernelspec %s in %s (enclave service at %s, workspace %q)\n", name, dir, sock, ws)
	return nil
}

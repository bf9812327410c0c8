package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"enclave/service"
)

// unitKeys parses a systemd unit into section.Key → values, in order.
func unitKeys(t *testing.T, unit string) map[string][]string {
	t.Helper()
	keys := map[string][]string{}
	section := ""
	for i, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("unit line %d is neither a section, a comment nor Key=Value: %q", i+1, line)
			}
			keys[section+"."+k] = append(keys[section+"."+k], v)
		}
	}
	return keys
}

func one(t *testing.T, keys map[string][]string, k string) string {
	t.Helper()
	if len(keys[k]) != 1 {
		t.Fatalf("%s: want one value, have %q", k, keys[k])
	}
	return keys[k][0]
}

// TestUnitRunsTheServiceItDescribes checks the unit against what enclave
// serve needs: ExecStart parses with serve's own flags to the home and
// socket asked for, the service runs as its user with umask 077, the
// socket's directory exists and is open to researchers, the home is
// writable under ProtectSystem=strict, and no sandboxing option hides a
// path the service uses.
func TestUnitRunsTheServiceItDescribes(t *testing.T) {
	cases := []struct {
		name                    string
		o                       service.UnitOptions
		runtimeDir, readWrite   string
		privateTmp, protectHome string
		worker                  string
	}{
		{"defaults", service.UnitOptions{Enclave: "/usr/local/bin/enclave", User: "enclave"},
			"enclave", "/var/lib/enclave", "yes", "yes", ""},
		{"socket outside /run", service.UnitOptions{Enclave: "/usr/local/bin/enclave", Worker: "/opt/enclave/enclave-worker",
			User: "svc", Group: "data", Home: "/srv/enclave", Socket: "/srv/sock/s"},
			"", "/srv/enclave /srv/sock", "yes", "yes", "/opt/enclave/enclave-worker"},
		{"socket in the home", service.UnitOptions{Enclave: "/usr/local/bin/enclave", User: "svc", Home: "/srv/enclave", Socket: "/srv/enclave/sock"},
			"", "/srv/enclave", "yes", "yes", ""},
		{"binary under /home", service.UnitOptions{Enclave: "/home/steward/enclave/bin/enclave", User: "enclave"},
			"enclave", "/var/lib/enclave", "yes", "read-only", ""},
		{"everything under /tmp", service.UnitOptions{Enclave: "/tmp/e/bin/enclave", User: "enclave", Home: "/tmp/e/state", Socket: "/tmp/e/run/sock"},
			"", "/tmp/e/state /tmp/e/run /tmp", "no", "yes", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			unit, err := service.Unit(c.o)
			if err != nil {
				t.Fatal(err)
			}
			keys := unitKeys(t, unit)
			home, socket := c.o.Home, c.o.Socket
			if home == "" {
				home = service.DefaultHome
			}
			if socket == "" {
				socket = service.DefaultSocket
			}
			group := c.o.Group
			if group == "" {
				group = c.o.User
			}

			argv := strings.Fields(one(t, keys, "Service.ExecStart"))
			if argv[0] != c.o.Enclave || argv[1] != "serve" {
				t.Fatalf("ExecStart %q", argv)
			}
			fs, o := serveFlags()
			if err := fs.Parse(argv[2:]); err != nil || fs.NArg() != 0 {
				t.Fatalf("enclave serve does not take the unit's ExecStart %q: %v", argv, err)
			}
			if o.home != home || o.socket != socket || o.workerPath != c.worker || o.install || o.check || o.printUnit || o.allowRoot {
				t.Errorf("ExecStart %q parses to %+v", argv, o)
			}
			for k, want := range map[string]string{
				"Service.User": c.o.User, "Service.Group": group, "Service.UMask": "0077", "Service.Type": "simple",
				"Service.Environment": "ENCLAVE_HOME=" + home, "Service.KillMode": "control-group",
				"Service.ProtectSystem": "strict", "Service.ReadWritePaths": c.readWrite,
				"Service.PrivateTmp": c.privateTmp, "Service.ProtectHome": c.protectHome,
				"Service.NoNewPrivileges": "yes", "Install.WantedBy": "multi-user.target",
			} {
				if got := one(t, keys, k); got != want {
					t.Errorf("%s=%s, want %s", k, got, want)
				}
			}
			if c.runtimeDir != "" {
				if one(t, keys, "Service.RuntimeDirectory") != c.runtimeDir || one(t, keys, "Service.RuntimeDirectoryMode") != "0755" ||
					filepath.Join("/run", c.runtimeDir) != filepath.Dir(socket) {
					t.Errorf("socket %s: RuntimeDirectory %q mode %q", socket, keys["Service.RuntimeDirectory"], keys["Service.RuntimeDirectoryMode"])
				}
			} else if len(keys["Service.RuntimeDirectory"]) != 0 {
				t.Errorf("socket %s outside /run, yet RuntimeDirectory=%q", socket, keys["Service.RuntimeDirectory"])
			}
			// Every path the service writes is writable, none it reads is hidden.
			writable := strings.Fields(c.readWrite)
			for _, p := range []string{home, filepath.Dir(socket)} {
				ok := c.runtimeDir != "" && p == filepath.Dir(socket)
				for _, w := range writable {
					ok = ok || p == w || strings.HasPrefix(p, w+"/")
				}
				if !ok {
					t.Errorf("%s is not writable under ProtectSystem=strict (ReadWritePaths=%s)", p, c.readWrite)
				}
			}
			for _, p := range []string{c.o.Enclave, c.o.Worker, home, socket} {
				if p == "" {
					continue
				}
				if c.privateTmp == "yes" && (strings.HasPrefix(p, "/tmp/") || strings.HasPrefix(p, "/var/tmp/")) {
					t.Errorf("%s is hidden by PrivateTmp=yes", p)
				}
				if c.protectHome == "yes" && (strings.HasPrefix(p, "/home/") || strings.HasPrefix(p, "/root/")) {
					t.Errorf("%s is hidden by ProtectHome=yes", p)
				}
			}
		})
	}
}

func TestUnitRefusesPathsSystemdWouldSplit(t *testing.T) {
	for _, o := range []service.UnitOptions{
		{Enclave: "/opt/my enclave/enclave", User: "enclave"},
		{Enclave: "/usr/local/bin/enclave", User: "enclave", Home: "/srv/%h"},
		{Enclave: "/usr/local/bin/enclave", User: "enclave", Socket: "run/sock"},
		{Enclave: "/usr/local/bin/enclave", User: "enclave", Home: "/srv/$HOME"},
		{Enclave: "/usr/local/bin/enclave", User: "enc lave"},
		{Enclave: "/usr/local/bin/../bin/enclave", User: "enclave"},
	} {
		if u, err := service.Unit(o); err == nil {
			t.Errorf("%+v gave a unit:\n%s", o, u)
		}
	}
}

// TestUnitVerifies runs systemd's own checker on the unit --install
// writes (with this test binary standing in for enclave, as verify checks
// that ExecStart is executable).
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, o := range map[string]service.UnitOptions{
		"default": {Enclave: self, User: "enclave"},
		"tmp":     {Enclave: self, Worker: self, User: "enclave", Home: filepath.Join(dir, "state"), Socket: filepath.Join(dir, "run", "sock")},
	} {
		unit, err := service.Unit(o)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name, "enclave.service")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(analyze, "verify", p).CombinedOutput()
		// verify warns about unknown keys and bad values but still exits 0:
		// any line about the unit is a failure.
		if err != nil || strings.Contains(string(out), "enclave.service") {
			t.Errorf("systemd-analyze verify %s: %v\n%s\n%s", name, err, out, unit)
		}
	}
}

package kernelspec

import (
	"bytes"
	"encoding/json"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstallWritesWhatJupyterReads(t *testing.T) {
	kdir := t.TempDir()
	dir, err := Install(kdir, "enclave", Options{Enclave: "/opt/enclave/bin/enclave", Workspace: "/ws/t2d", Version: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	var s Spec
	b, _ := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	want := []string{"/opt/enclave/bin/enclave", "kernel", "--connection-file", "{connection_file}"}
	if strings.Join(s.Argv, " ") != strings.Join(want, " ") {
		t.Errorf("argv %q", s.Argv)
	}
	if s.Language != "go" || s.InterruptMode != "message" || s.DisplayName == "" {
		t.Errorf("spec %+v", s)
	}
	if s.Env["ENCLAVE_WORKSPACE"] != "/ws/t2d" {
		t.Errorf("env %v", s.Env)
	}
	for size, name := range map[int]string{32: "logo-32x32.png", 64: "logo-64x64.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() != size || img.Bounds().Dy() != size {
			t.Errorf("%s: %v %v", name, err, img.Bounds())
		}
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "logo-svg.svg"))
	if !bytes.HasPrefix(svg, []byte("<svg")) {
		t.Error("logo-svg.svg is not SVG")
	}
}

func TestWorkerPathGoesIntoArgv(t *testing.T) {
	s := New(Options{Enclave: "/e", Worker: "/w"})
	if strings.Join(s.Argv, " ") != "/e kernel --worker /w --connection-file {connection_file}" {
		t.Errorf("argv %q", s.Argv)
	}
	if s.Env != nil {
		t.Error("no workspace, no env")
	}
}

func TestInstallRejects(t *testing.T) {
	kdir := t.TempDir()
	for _, tc := range []struct {
		name string
		o    Options
	}{{"bad/name", Options{Enclave: "/e"}}, {"", Options{Enclave: "/e"}}, {"ok", Options{Enclave: "relative/enclave"}}} {
		if _, err := Install(kdir, tc.name, tc.o); err == nil {
			t.Errorf("Install(%q, %+v) succeeded", tc.name, tc.o)
		}
	}
}

func TestUninstall(t *testing.T) {
	kdir := t.TempDir()
	if _, err := Uninstall(kdir, "enclave"); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("got %v", err)
	}
	Install(kdir, "enclave", Options{Enclave: "/e"})
	if _, err := Uninstall(kdir, "enclave"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(kdir, "enclave")); !os.IsNotExist(err) {
		t.Error("kernelspec still there")
	}
}

func TestKernelsDir(t *testing.T) {
	t.Setenv("JUPYTER_DATA_DIR", "/data/jupyter")
	if d, _ := KernelsDir(Scope{User: true}); d != "/data/jupyter/kernels" {
		t.Errorf("user: %s", d)
	}
	if d, _ := KernelsDir(Scope{Prefix: "/opt/x"}); d != "/opt/x/share/jupyter/kernels" {
		t.Errorf("prefix: %s", d)
	}
	t.Setenv("VIRTUAL_ENV", "/venv")
	if d, _ := KernelsDir(Scope{SysPrefix: true}); d != "/venv/share/jupyter/kernels" {
		t.Errorf("sys-prefix: %s", d)
	}
}

func TestExtraEnv(t *testing.T) {
	s := New(Options{Enclave: "/e", Workspace: "/ws", Env: map[string]string{"ENCLAVE_HOME": "/h", "ENCLAVE_RESEARCHER": "demo"}})
	if s.Env["ENCLAVE_HOME"] != "/h" || s.Env["ENCLAVE_RESEARCHER"] != "demo" || s.Env["ENCLAVE_WORKSPACE"] != "/ws" {
		t.Errorf("env %v", s.Env)
	}
}

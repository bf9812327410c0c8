package kernelspec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInstallServiceWritesALauncher(t *testing.T) {
	dir, err := InstallService(t.TempDir(), ServiceName("t2d"), ServiceOptions{Enclave: "/usr/local/bin/enclave", Socket: "/run/enclave/sock", Workspace: "t2d", Version: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "enclave-t2d" {
		t.Errorf("dir %s", dir)
	}
	var s Spec
	b, _ := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	want := "/usr/local/bin/enclave launch --socket /run/enclave/sock --workspace t2d --connection-file {connection_file}"
	if strings.Join(s.Argv, " ") != want || s.Env != nil || s.DisplayName != "Go (enclave: t2d)" {
		t.Errorf("spec %+v", s)
	}
	if _, err := os.Stat(filepath.Join(dir, "logo-64x64.png")); err != nil {
		t.Error(err)
	}
	if _, err := InstallService(t.TempDir(), "x", ServiceOptions{Enclave: "/e", Socket: "relative"}); err == nil {
		t.Error("a relative socket was accepted")
	}
}

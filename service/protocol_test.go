package service

import (
	"bufio"
	"strings"
	"testing"

	"enclave/kernel/wire"
)

func TestReadLine(t *testing.T) {
	var r Request
	if err := readLine(bufio.NewReader(strings.NewReader(`{"op":"start","version":1,"workspace":"wa"}`+"\n")), &r); err != nil || r.Op != OpStart || r.Workspace != "wa" {
		t.Errorf("%+v %v", r, err)
	}
	// Who the client claims to be is not part of the protocol.
	if err := readLine(bufio.NewReader(strings.NewReader(`{"op":"start","researcher":"bob"}`+"\n")), &r); err == nil {
		t.Error("an unknown field was accepted")
	}
	long := `{"op":"` + strings.Repeat("x", maxLine) + `"}` + "\n"
	if err := readLine(bufio.NewReaderSize(strings.NewReader(long), 16), &r); err != errLineTooLong {
		t.Errorf("long line: %v", err)
	}
}

func TestCheckConnectionAllowsListedIPs(t *testing.T) {
	ci := &wire.ConnectionInfo{IP: "10.0.0.5", ShellPort: 5000, ControlPort: 5001, IOPubPort: 5002, StdinPort: 5003, HBPort: 5004, Key: "0123456789abcdef"}
	if _, err := CheckConnection(ci, nil); err == nil {
		t.Error("a non-loopback address was accepted")
	}
	c, err := CheckConnection(ci, []string{"10.0.0.5"})
	if err != nil || c.Transport != "tcp" || c.SignatureScheme != "hmac-sha256" {
		t.Errorf("%+v %v", c, err)
	}
	ci.IP = "localhost"
	if _, err := CheckConnection(ci, nil); err != nil {
		t.Errorf("localhost: %v", err)
	}
}

func TestUnit(t *testing.T) {
	u, err := Unit(UnitOptions{Enclave: "/usr/local/bin/enclave", User: "enclave"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"User=enclave\n", "Group=enclave\n", "UMask=0077\n", "RuntimeDirectory=enclave\n",
		"ExecStart=/usr/local/bin/enclave serve --home /var/lib/enclave --socket /run/enclave/sock\n",
		"ReadWritePaths=/var/lib/enclave\n", "KillMode=control-group\n"} {
		if !strings.Contains(u, want) {
			t.Errorf("unit lacks %q:\n%s", want, u)
		}
	}
	u, _ = Unit(UnitOptions{Enclave: "/e", Worker: "/w", User: "svc", Home: "/srv/enc", Socket: "/srv/sock/s"})
	if strings.Contains(u, "RuntimeDirectory") || !strings.Contains(u, "ReadWritePaths=/srv/enc /srv/sock\n") || !strings.Contains(u, "--worker /w\n") {
		t.Errorf("socket outside /run:\n%s", u)
	}
}

package service

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"

	"enclave/kernel/wire"
)

// Version is the protocol version a client sends in its start request.
const Version = 1

// DefaultSocket is where the service listens unless told otherwise (the
// systemd unit's RuntimeDirectory is /run/enclave).
const DefaultSocket = "/run/enclave/sock"

// DefaultHome is the service user's state directory: the researcher
// registry and workspaces/.
const DefaultHome = "/var/lib/enclave"

// WorkspacesDir is the directory of the home holding one workspace per
// name, unless the service is given another.
const WorkspacesDir = "workspaces"

// Operations a client sends.
const (
	OpStart     = "start"     // start a kernel (first line only)
	OpInterrupt = "interrupt" // SIGINT to the kernel (Jupyter's interrupt reached the launcher)
	OpTerminate = "terminate" // SIGTERM to the kernel, SIGKILL after a grace period
	OpStatus    = "status"    // describe the service (first line only)
)

// Events the service sends.
const (
	EvStarted = "started" // the kernel runs (with or without data: see Refusal)
	EvExited  = "exited"  // the kernel ended; the service closes the connection
	EvError   = "error"   // no kernel was started; the service closes the connection
	EvStatus  = "status"  // answer to OpStatus
)

// Request is one line a client sends.
type Request struct {
	Op         string               `json:"op"`
	Version    int                  `json:"version,omitempty"`
	Workspace  string               `json:"workspace,omitempty"`  // OpStart: the name the kernelspec gives, "" for a kernel without data
	Connection *wire.ConnectionInfo `json:"connection,omitempty"` // OpStart: the Jupyter connection file's contents
}

// Event is one line the service sends.
type Event struct {
	Event string `json:"event"`

	// EvStarted.
	Kernel     string `json:"kernel,omitempty"` // the service's id of the kernel, e.g. "k3"
	PID        int    `json:"pid,omitempty"`
	Researcher string `json:"researcher,omitempty"`
	UnixUser   string `json:"unix_user,omitempty"`
	Workspace  string `json:"workspace,omitempty"`
	// Refusal is why the kernel opens no data; the kernel answers every
	// cell with it, so the researcher reads it in the notebook.
	Refusal string `json:"refusal,omitempty"`

	// EvExited.
	Code   int    `json:"code,omitempty"`
	Signal string `json:"signal,omitempty"`

	// EvError.
	Error string `json:"error,omitempty"`

	// EvStatus.
	Status *Status `json:"status,omitempty"`
}

// Status describes the service to a client (enclave doctor).
type Status struct {
	Mode        string `json:"mode"` // "service"
	ServiceUser string `json:"service_user"`
	ServiceUID  int    `json:"service_uid"`
	Socket      string `json:"socket"`
	Kernels     int    `json:"kernels"` // the asking user's kernels; all of them for root and the service user
	Spares      int    `json:"spares"`
	// Permissions is "ok" or says how many entries are open to others or
	// owned by someone else; Problems lists them for root and the service
	// user only.
	Permissions string   `json:"permissions"`
	Checked     int      `json:"checked"` // entries checked
	Problems    []string `json:"problems,omitempty"`
	// You is what the service makes of the asking user.
	You string `json:"you"`
}

// Assignment is what the service tells a kernel process (on a pipe, read
// by enclave kernel --service-fd): whose kernel it is and what it opens.
type Assignment struct {
	Kernel     string              `json:"kernel"`
	Connection wire.ConnectionInfo `json:"connection"`
	// The researcher as the service identified them: the socket peer's uid,
	// its Unix user name, and the registry's researcher for it ("" when the
	// user is not mapped; then Refusal says so).
	UID        int    `json:"uid"`
	UnixUser   string `json:"unix_user"`
	Researcher string `json:"researcher,omitempty"`
	// Workspace is the name the kernelspec gave; WorkspaceDir the directory
	// the service resolved it to ("" for a kernel without data).
	Workspace    string `json:"workspace,omitempty"`
	WorkspaceDir string `json:"workspace_dir,omitempty"`
	Refusal      string `json:"refusal,omitempty"`
	ServiceUser  string `json:"service_user"`
	ServiceUID   int    `json:"service_uid"`
}

// maxLine bounds one protocol line; a connection file is a few hundred bytes.
const maxLine = 64 << 10

// errLineTooLong is returned for a line over maxLine.
var errLineTooLong = errors.New("service: protocol line too long")

// readLine reads one newline-terminated JSON line into v.
func readLine(r *bufio.Reader, v any) error {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) && len(line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		line = append(line, chunk...)
		if len(line) > maxLine {
			return errLineTooLong
		}
		if !isPrefix {
			break
		}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("service: bad protocol line: %w", err)
	}
	return nil
}

// writeLine writes v as one JSON line.
func writeLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

var workspaceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidWorkspaceName reports whether name can name a workspace of the
// service: one path element of letters, digits, '.', '_' and '-'.
func ValidWorkspaceName(name string) error {
	if !workspaceName.MatchString(name) {
		return fmt.Errorf("workspace name %q: use letters, digits, '.', '_' and '-' (a name the data steward gave, not a path)", name)
	}
	return nil
}

// CheckConnection decides whether the service may start a kernel on ci:
// TCP on a loopback address (or one of allowIPs), five distinct
// unprivileged ports, and HMAC signing with a key of at least 16 bytes. An
// unsigned kernel on a shared host would let any local user run cells in
// another researcher's workspace.
func CheckConnection(ci *wire.ConnectionInfo, allowIPs []string) (*wire.ConnectionInfo, error) {
	if ci == nil {
		return nil, errors.New("the request has no connection")
	}
	b, err := json.Marshal(ci)
	if err != nil {
		return nil, err
	}
	c, err := wire.ParseConnectionInfo(b) // defaults and the checks a kernel makes
	if err != nil {
		return nil, err
	}
	if c.Transport != "tcp" {
		return nil, fmt.Errorf("transport %q: the enclave service starts kernels on tcp only (its kernels cannot create ipc files where the researcher's Jupyter can reach them)", c.Transport)
	}
	ip := net.ParseIP(c.IP)
	if c.IP == "localhost" {
		ip = net.IPv4(127, 0, 0, 1)
	}
	allowed := ip != nil && ip.IsLoopback()
	for _, a := range allowIPs {
		if a == c.IP {
			allowed = true
		}
	}
	if !allowed {
		return nil, fmt.Errorf("ip %q: the enclave service starts kernels on loopback addresses only (the steward can allow others with enclave serve --allow-ip)", c.IP)
	}
	for _, p := range ports(c) {
		if p < 1024 || p > 65535 {
			return nil, fmt.Errorf("port %d is not an unprivileged TCP port", p)
		}
	}
	if len(c.Key) < 16 {
		return nil, errors.New("the connection has no signing key (or one under 16 bytes): the enclave service starts only kernels whose messages are signed")
	}
	return c, nil
}

func ports(c *wire.ConnectionInfo) []int {
	return []int{c.ShellPort, c.ControlPort, c.IOPubPort, c.StdinPort, c.HBPort}
}

// ReadAssignment reads the service's Assignment from f (the kernel's
// --service-fd) until EOF, and closes f.
func ReadAssignment(f *os.File) (*Assignment, error) {
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLine+1))
	if err != nil {
		return nil, fmt.Errorf("service assignment: %w", err)
	}
	if len(b) == 0 {
		return nil, errors.New("service assignment: the service closed the pipe without assigning this kernel")
	}
	if len(b) > maxLine {
		return nil, errLineTooLong
	}
	var a Assignment
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("service assignment: %w", err)
	}
	c, err := CheckConnection(&a.Connection, []string{a.Connection.IP}) // the service checked the address
	if err != nil {
		return nil, fmt.Errorf("service assignment: %w", err)
	}
	a.Connection = *c
	return &a, nil
}

package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
)

// ConnectionInfo is a Jupyter connection file.
type ConnectionInfo struct {
	Transport       string `json:"transport"`
	IP              string `json:"ip"`
	ShellPort       int    `json:"shell_port"`
	ControlPort     int    `json:"control_port"`
	IOPubPort       int    `json:"iopub_port"`
	StdinPort       int    `json:"stdin_port"`
	HBPort          int    `json:"hb_port"`
	SignatureScheme string `json:"signature_scheme"`
	Key             string `json:"key"`
	KernelName      string `json:"kernel_name,omitempty"`
}

// ErrConnectionFile marks a connection file that cannot be used.
var ErrConnectionFile = errors.New("bad connection file")

// ReadConnectionFile reads and checks the connection file at path.
func ReadConnectionFile(path string) (*ConnectionInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnectionFile, err)
	}
	ci, err := ParseConnectionInfo(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ci, nil
}

// ParseConnectionInfo parses and checks a connection file's contents.
// Missing transport and signature scheme default to tcp and hmac-sha256,
// as jupyter_client writes them.
func ParseConnectionInfo(b []byte) (*ConnectionInfo, error) {
	var ci ConnectionInfo
	if err := json.Unmarshal(b, &ci); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := position(b, se.Offset-1)
			return nil, fmt.Errorf("%w: line %d column %d: %v", ErrConnectionFile, line, col, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrConnectionFile, err)
	}
	if ci.Transport == "" {
		ci.Transport = "tcp"
	}
	if ci.SignatureScheme == "" {
		ci.SignatureScheme = "hmac-sha256"
	}
	switch ci.Transport {
	case "tcp", "ipc":
	default:
		return nil, fmt.Errorf("%w: transport %q is neither tcp nor ipc", ErrConnectionFile, ci.Transport)
	}
	if ci.IP == "" {
		return nil, fmt.Errorf("%w: no ip", ErrConnectionFile)
	}
	ports := []struct {
		name string
		p    int
	}{{"shell_port", ci.ShellPort}, {"control_port", ci.ControlPort}, {"iopub_port", ci.IOPubPort},
		{"stdin_port", ci.StdinPort}, {"hb_port", ci.HBPort}}
	seen := map[int]string{}
	for _, p := range ports {
		if p.p <= 0 || (ci.Transport == "tcp" && p.p > 65535) {
			return nil, fmt.Errorf("%w: %s %d is not a usable port", ErrConnectionFile, p.name, p.p)
		}
		if other, dup := seen[p.p]; dup {
			return nil, fmt.Errorf("%w: %s and %s are both %d", ErrConnectionFile, other, p.name, p.p)
		}
		seen[p.p] = p.name
	}
	if _, err := NewSigner(ci.SignatureScheme, []byte(ci.Key)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConnectionFile, err)
	}
	return &ci, nil
}

// Endpoint returns the ZeroMQ endpoint of one of the ports, such as
// "tcp://127.0.0.1:5555" or "ipc:///tmp/kernel-1-5555".
func (ci *ConnectionInfo) Endpoint(port int) string {
	if ci.Transport == "ipc" {
		return fmt.Sprintf("ipc://%s-%d", ci.IP, port)
	}
	ip := ci.IP
	if strings.Contains(ip, ":") && !strings.HasPrefix(ip, "[") {
		ip = "[" + ip + "]"
	}
	return fmt.Sprintf("tcp://%s:%d", ip, port)
}

// position turns a byte offset into a 1-based line and column.
func position(b []byte, off int64) (line, col int) {
	line, col = 1, 1
	for i := int64(0); i < off && i < int64(len(b)); i++ {
		if b[i] == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

package release

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// EgressFile holds the bytes released by all sessions of a workspace.
const EgressFile = "egress"

// WorkspaceEgress counts the bytes released by every kernel of a
// workspace: a decimal number in a file, updated under an exclusive lock.
type WorkspaceEgress struct {
	path string
}

// OpenWorkspaceEgress returns the counter at path (created as needed).
func OpenWorkspaceEgress(path string) (*WorkspaceEgress, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("release: egress: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("release: egress: %w", err)
	}
	f.Close()
	return &WorkspaceEgress{path: path}, nil
}

// Add adds n bytes and returns the workspace's new total.
func (w *WorkspaceEgress) Add(n int64) (int64, error) {
	f, err := os.OpenFile(w.path, os.O_RDWR, 0o600)
	if err != nil {
		return 0, fmt.Errorf("release: egress: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return 0, fmt.Errorf("release: egress: %w", err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	buf := make([]byte, 32)
	k, _ := f.ReadAt(buf, 0)
	total := int64(0)
	if s := strings.TrimSpace(string(buf[:k])); s != "" {
		if total, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, fmt.Errorf("release: egress counter %s is corrupt", w.path)
		}
	}
	total += n
	out := []byte(strconv.FormatInt(total, 10) + "\n")
	if _, err := f.WriteAt(out, 0); err != nil {
		return 0, fmt.Errorf("release: egress: %w", err)
	}
	if err := f.Truncate(int64(len(out))); err != nil {
		return 0, fmt.Errorf("release: egress: %w", err)
	}
	return total, nil
}

package release

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// EgressFile holds the bytes released by all sessions of a workspace.
const EgressFile = "egress"

// WorkspaceEgress counts the bytes released by every kernel of a
// workspace: a decimal number in a file, updated under an exclusive lock.
// The file stays open while the session runs.
type WorkspaceEgress struct {
	path string
	mu   sync.Mutex // flock is per open file: goroutines sharing f need this too
	f    *os.File
}

// OpenWorkspaceEgress opens the counter at path (created as needed).
func OpenWorkspaceEgress(path string) (*WorkspaceEgress, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("release: egress: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("release: egress: %w", err)
	}
	return &WorkspaceEgress{path: path, f: f}, nil
}

// Add adds n bytes and returns the workspace's new total.
func (w *WorkspaceEgress) Add(n int64) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, fmt.Errorf("release: egress: %s is closed", w.path)
	}
	fd := int(w.f.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return 0, fmt.Errorf("release: egress: %w", err)
	}
	defer syscall.Flock(fd, syscall.LOCK_UN)
	var buf [32]byte
	k, _ := w.f.ReadAt(buf[:], 0)
	total := int64(0)
	if s := strings.TrimSpace(string(buf[:k])); s != "" {
		var err error
		if total, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, fmt.Errorf("release: egress counter %s is corrupt", w.path)
		}
	}
	total += n
	// Padded to a fixed width, the number overwrites the old one in place:
	// no truncate, and a reader never sees a shortened file.
	out := fmt.Appendf(nil, "%20d\n", total)
	if _, err := w.f.WriteAt(out, 0); err != nil {
		return 0, fmt.Errorf("release: egress: %w", err)
	}
	return total, nil
}

// Close closes the counter's file.
func (w *WorkspaceEgress) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

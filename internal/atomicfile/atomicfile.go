// Package atomicfile replaces a file's contents all at once: a reader sees
// the old file or the new one, never a part, and a crash leaves one of the
// two in place.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to a temporary file next to path with mode perm, syncs
// it, renames it over path and syncs the directory. On failure the
// temporary file is removed and path is unchanged.
func Write(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

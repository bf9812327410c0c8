package workspace

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Import loads the OMOP folder (CDM v5.3 CSV or Parquet files, Fitbit tables,
// vocabulary, an optional genomics/ sub-folder) into the workspace in dir and
// materialises its tiers. It is atomic: the data is built in a staging
// directory inside the workspace and swapped in by renaming a symlink, so a
// bad folder leaves the workspace as it was, and kernels that have the old
// data open keep reading it. Progress and problems go to progress (may be nil).
func Import(ctx context.Context, dir, folder string, now time.Time, progress io.Writer) (*Workspace, error) {
	if progress == nil {
		progress = io.Discard
	}
	if st, err := os.Stat(folder); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("OMOP folder %s: not a directory", folder)
	}
	abs, err := filepath.Abs(folder)
	if err != nil {
		return nil, err
	}
	unlock, err := lockFile(filepath.Join(dir, "."+ConfigFile+".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	w, err := Load(dir)
	if err != nil {
		return nil, err
	}
	staging, err := os.MkdirTemp(dir, ".import-")
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(staging)
		}
	}()
	tables, err := loadFolder(ctx, abs, staging, progress)
	if err != nil {
		return nil, fmt.Errorf("import of %s failed, workspace unchanged: %w", folder, err)
	}
	// Swap: staging becomes data.<stamp>, then the data symlink is replaced
	// in one rename.
	version := DataDir + "." + now.UTC().Format("20060102T150405.000000000")
	if err := os.Rename(staging, filepath.Join(dir, version)); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	keep = true
	old, _ := os.Readlink(w.DataPath())
	if err := swapSymlink(dir, version); err != nil {
		os.RemoveAll(filepath.Join(dir, version))
		return nil, fmt.Errorf("import: %w", err)
	}
	w.Import = &ImportRecord{Source: abs, At: now.UTC().Truncate(time.Second), Tables: tables}
	if err := w.Save(); err != nil {
		// Put the old data back so record and data agree.
		if old != "" {
			swapSymlink(dir, old)
		}
		return nil, fmt.Errorf("import: %w", err)
	}
	if old != "" && old != version && strings.HasPrefix(old, DataDir+".") {
		os.RemoveAll(filepath.Join(dir, old))
	}
	return w, nil
}

// swapSymlink points dir/data at target (relative to dir) in one rename.
func swapSymlink(dir, target string) error {
	tmp := filepath.Join(dir, "."+DataDir+".new")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	link := filepath.Join(dir, DataDir)
	if st, err := os.Lstat(link); err == nil && st.IsDir() {
		// An empty data/ directory left by an older layout: replace it.
		if err := os.Remove(link); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("%s is a non-empty directory, not the data link", link)
		}
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(tmp, link)
}

package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Problem is one entry of the service's files that another user could read
// or that belongs to someone else.
type Problem struct {
	Path string
	What string
}

func (p Problem) String() string { return p.Path + ": " + p.What }

// CheckTree walks root and reports every entry (root included) that is not
// owned by uid or has any group or other permission bit: the service's
// files must be 0600 and its directories 0700, so that no one but the
// service user (and root) can read a workspace's database files, the
// researcher registry, the release history or the audit log. A symbolic
// link counts as what it points to; one to a directory is a problem, as
// the walk does not follow it. It returns how many entries it checked.
func CheckTree(root string, uid int) (checked int, problems []Problem, err error) {
	if _, err := os.Lstat(root); err != nil {
		return 0, nil, err
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, werr error) error {
		if werr != nil {
			problems = append(problems, Problem{path, "cannot be read by the service: " + werr.Error()})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		checked++
		fi, err := os.Lstat(path)
		if err != nil {
			problems = append(problems, Problem{path, err.Error()})
			return nil
		}
		if what := entryProblem(fi, uid); what != "" {
			problems = append(problems, Problem{path, what})
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			ti, err := os.Stat(path)
			switch {
			case err != nil:
				problems = append(problems, Problem{path, "a symbolic link the service cannot follow: " + err.Error()})
			case ti.IsDir():
				problems = append(problems, Problem{path, "a symbolic link to a directory (keep the service's files in real directories under its home)"})
			default:
				if what := entryProblem(ti, uid); what != "" {
					problems = append(problems, Problem{path, "links to a file that " + strings.TrimPrefix(what, "is ")})
				}
			}
		}
		return nil
	})
	return checked, problems, err
}

// entryProblem says what is wrong with one entry, or "".
func entryProblem(fi fs.FileInfo, uid int) string {
	var why []string
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
		why = append(why, fmt.Sprintf("is owned by uid %d, not the service user (uid %d)", st.Uid, uid))
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		if p := fi.Mode().Perm(); p&0o077 != 0 {
			want := "0600"
			if fi.IsDir() {
				want = "0700"
			}
			why = append(why, fmt.Sprintf("is mode %04o, open to group or others (want %s)", p, want))
		}
	}
	return strings.Join(why, " and ")
}

// FixTree removes every group and other permission bit below root from the
// entries uid owns (chmod go=), and returns the problems that remain
// (entries owned by others, which only root can hand over with chown).
func FixTree(root string, uid int) (fixed int, remaining []Problem, err error) {
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, werr error) error {
		if werr != nil {
			return nil // reported by the check below
		}
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink != 0 {
			return nil
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if p := fi.Mode().Perm(); ok && int(st.Uid) == uid && p&0o077 != 0 {
			if err := os.Chmod(path, p&^0o077); err != nil {
				return err
			}
			fixed++
		}
		return nil
	})
	if err != nil {
		return fixed, nil, err
	}
	_, remaining, err = CheckTree(root, uid)
	return fixed, remaining, err
}

// ProblemsError joins problems into one error, listing at most max.
func ProblemsError(problems []Problem, max int) error {
	if len(problems) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d of the service's files and directories are open to other users or not its own:", len(problems))
	for i, p := range problems {
		if i == max {
			fmt.Fprintf(&b, "\n  … and %d more", len(problems)-max)
			break
		}
		b.WriteString("\n  " + p.String())
	}
	return errors.New(b.String())
}

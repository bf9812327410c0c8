package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"syscall"

	"gopkg.in/yaml.v3"

	"enclave/internal/atomicfile"
)

// Registry is the steward's list of researchers, kept in researchers.yaml
// outside every workspace (see Home), so a researcher cannot edit their own
// record from a notebook.
type Registry struct {
	Path        string
	Researchers map[string]*Researcher
	// UnixUsers maps a Unix user (its name, or its numeric uid) to the
	// researcher it is. The enclave service (enclave serve) takes a kernel's
	// researcher from this mapping and the uid of the process that asked
	// for the kernel, never from the environment.
	UnixUsers map[string]string
}

// registryFile is the on-disk shape of researchers.yaml.
type registryFile struct {
	Researchers map[string]*Researcher `yaml:"researchers"`
	UnixUsers   map[string]string      `yaml:"unix_users,omitempty"`
}

const registryHeader = "# enclave researcher registry, kept by the data steward.\n" +
	"# Edit with `enclave researcher add`; dates are YYYY-MM-DD, trainings expire after one year.\n"

// LoadRegistry reads the registry at path. A missing file is an empty
// registry; a malformed one is an error naming the file and line.
func LoadRegistry(path string) (*Registry, error) {
	reg := &Registry{Path: path, Researchers: map[string]*Researcher{}, UnixUsers: map[string]string{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return reg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("researcher registry: %w", err)
	}
	var f registryFile
	if err := decodeStrict(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	lines := keyLines(b, "researchers")
	for id, r := range f.Researchers {
		if r == nil {
			r = &Researcher{}
		}
		r.ID = id
		if err := r.validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, lines[id], err)
		}
		reg.Researchers[id] = r
	}
	users := keyLines(b, "unix_users")
	for name, id := range f.UnixUsers {
		if err := ValidUnixUser(name); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, users[name], err)
		}
		if err := ValidID(id); err != nil {
			return nil, fmt.Errorf("%s:%d: Unix user %s: %w", path, users[name], name, err)
		}
		reg.UnixUsers[name] = id
	}
	return reg, nil
}

var unixUserPattern = regexp.MustCompile(`^([a-z_][a-z0-9_.-]{0,31}\$?|[0-9]{1,10})$`)

// ValidUnixUser reports whether name can key the Unix user mapping: a
// POSIX-style user name or a numeric uid.
func ValidUnixUser(name string) error {
	if !unixUserPattern.MatchString(name) {
		return fmt.Errorf("Unix user %q is not a user name (lower case letters, digits, _ . -) or a numeric uid", name)
	}
	return nil
}

// ResearcherOf returns the researcher the Unix user with this name and uid
// is mapped to: by name first, then by numeric uid.
func (g *Registry) ResearcherOf(name string, uid int) (string, bool) {
	if id, ok := g.UnixUsers[name]; ok && name != "" {
		return id, true
	}
	id, ok := g.UnixUsers[strconv.Itoa(uid)]
	return id, ok
}

// Lookup returns the record of researcher id, or an error telling the
// researcher to ask the steward.
func (g *Registry) Lookup(id string) (Researcher, error) {
	r, ok := g.Researchers[id]
	if !ok {
		return Researcher{}, fmt.Errorf("%w: researcher %s is not in the researcher registry %s; ask the data steward to register them", ErrAccess, id, g.Path)
	}
	return *r, nil
}

// IDs returns the registered researcher ids in order.
func (g *Registry) IDs() []string {
	ids := make([]string, 0, len(g.Researchers))
	for id := range g.Researchers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Save writes the registry atomically (a temporary file renamed over it).
func (g *Registry) Save() error {
	var buf bytes.Buffer
	buf.WriteString(registryHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(registryFile{Researchers: g.Researchers, UnixUsers: g.UnixUsers}); err != nil {
		return fmt.Errorf("researcher registry: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(g.Path), 0o755); err != nil {
		return fmt.Errorf("researcher registry: %w", err)
	}
	return writeAtomic(g.Path, buf.Bytes(), 0o644)
}

// UpdateRegistry loads the registry at path under an exclusive lock, lets fn
// change it and saves it, so two stewards' edits cannot lose one another.
func UpdateRegistry(path string, fn func(*Registry) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("researcher registry: %w", err)
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	g, err := LoadRegistry(path)
	if err != nil {
		return err
	}
	if err := fn(g); err != nil {
		return err
	}
	return g.Save()
}

// decodeStrict decodes YAML into v, rejecting unknown fields (a misspelt
// field must not silently drop a requirement).
func decodeStrict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// keyLines maps each key of the mapping under top-level key top to its line.
func keyLines(b []byte, top string) map[string]int {
	m := map[string]int{}
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 {
		return m
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != top {
			continue
		}
		sub := root.Content[i+1]
		for j := 0; j+1 < len(sub.Content); j += 2 {
			m[sub.Content[j].Value] = sub.Content[j].Line
		}
	}
	return m
}

// writeAtomic writes data to a temporary file next to path, syncs it and
// renames it over path. The file is never more open than perm, than the file
// it replaces, or than its directory: in a directory closed to group and
// others (an enclave service's home) it is written 0600.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.Write(path, data, privatePerm(path, perm))
}

// privatePerm narrows perm for a file written at path: to the bits of the
// file already there, and without group and other bits when the directory
// has none.
func privatePerm(path string, perm os.FileMode) os.FileMode {
	if fi, err := os.Stat(path); err == nil {
		perm &= fi.Mode().Perm()
	}
	if di, err := os.Stat(filepath.Dir(path)); err == nil && di.Mode().Perm()&0o077 == 0 {
		perm &^= 0o077
	}
	return perm
}

// lockFile takes an exclusive advisory lock on path, creating it.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, privatePerm(path, 0o644))
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

package workspace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"gopkg.in/yaml.v3"
)

// Registry is the steward's list of researchers, kept in researchers.yaml
// outside every workspace (see Home), so a researcher cannot edit their own
// record from a notebook.
type Registry struct {
	Path        string
	Researchers map[string]*Researcher
}

// registryFile is the on-disk shape of researchers.yaml.
type registryFile struct {
	Researchers map[string]*Researcher `yaml:"researchers"`
}

const registryHeader = "# enclave researcher registry, kept by the data steward.\n" +
	"# Edit with `enclave researcher add`; dates are YYYY-MM-DD, trainings expire after one year.\n"

// LoadRegistry reads the registry at path. A missing file is an empty
// registry; a malformed one is an error naming the file and line.
func LoadRegistry(path string) (*Registry, error) {
	reg := &Registry{Path: path, Researchers: map[string]*Researcher{}}
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
	return reg, nil
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
	if err := enc.Encode(registryFile{Researchers: g.Researchers}); err != nil {
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
// renames it over path.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// lockFile takes an exclusive advisory lock on path, creating it.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
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

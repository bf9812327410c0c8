package airlock

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"enclave/internal/atomicfile"
)

// State is where an item is in review.
type State string

// The states of an item: pending → approved | rejected.
const (
	Pending  State = "pending"
	Approved State = "approved"
	Rejected State = "rejected"
)

// The kinds of item.
const (
	KindOutput = "output" // a notebook output the disclosure checks withheld
	KindExport = "export" // an export.File request
)

// Item is one request for review.
type Item struct {
	ID       string    `json:"id"`   // "r-0001", "r-0002"… unique per workspace
	Kind     string    `json:"kind"` // KindOutput or KindExport
	State    State     `json:"state"`
	Author   string    `json:"author"` // researcher id
	Session  string    `json:"session,omitempty"`
	Cell     string    `json:"cell,omitempty"`
	Name     string    `json:"name,omitempty"` // export file name: [A-Za-z0-9._-]{1,100}, no leading dot
	MIME     string    `json:"mime,omitempty"`
	Summary  string    `json:"summary"` // e.g. "3 lines of stdout"
	SHA256   string    `json:"sha256"`  // of the content
	Size     int64     `json:"size"`
	Created  time.Time `json:"created"`
	Reviewer string    `json:"reviewer,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Decided  time.Time `json:"decided,omitzero"`
	// Results is, for an output item, how many kernel-built results the
	// cell made while the worker held rows. Each passed the release rules,
	// but which results were made, with which cohorts and parameters, may
	// have been chosen from the rows: an ordinary-looking table of two
	// age bands whose ends spelled a BMI (review 42). Approve refuses
	// such an item.
	Results int `json:"results,omitempty"`
}

// ManifestEntry is one approved file in exports/manifest.json.
type ManifestEntry struct {
	ID       string    `json:"id"`
	File     string    `json:"file"` // name within the exports directory
	SHA256   string    `json:"sha256"`
	Size     int64     `json:"size"`
	Author   string    `json:"author"`
	Reviewer string    `json:"reviewer"`
	Approved time.Time `json:"approved"`
	Reason   string    `json:"reason,omitempty"`
}

// ManifestFile is the manifest's name in the exports directory.
const ManifestFile = "manifest.json"

// Errors callers can test for with errors.Is.
var (
	ErrNotFound   = errors.New("airlock: no such item")
	ErrNotPending = errors.New("airlock: item already decided")
	ErrSelfReview = errors.New("airlock: the author cannot approve their own item")
	ErrTampered   = errors.New("airlock: content does not match its checksum")
	// ErrHeldResults: the item holds results made while the worker held
	// rows (Item.Results), which no review can clear.
	ErrHeldResults = errors.New("airlock: results made while the worker held rows cannot be approved")
	// ErrHidden: the content holds characters a reviewer cannot see
	// (Hidden), which may carry data past the review.
	ErrHidden = errors.New("airlock: content with invisible characters cannot be approved")
)

// queueError is an error with its own message that matches a sentinel.
type queueError struct {
	msg  string
	kind error
}

func (e *queueError) Error() string { return e.msg }
func (e *queueError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &queueError{msg: "airlock: " + fmt.Sprintf(format, args...), kind: kind}
}

var (
	idPattern   = regexp.MustCompile(`^r-[0-9]{4,9}$`)
	namePattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$`)
)

// Queue is the airlock directory of one workspace.
type Queue struct {
	dir string
}

// Open opens the queue in dir (<workspace>/airlock), creating it (0700) if
// missing.
func Open(dir string) (*Queue, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("airlock: %w", err)
	}
	return &Queue{dir: dir}, nil
}

// Dir returns the queue's directory.
func (q *Queue) Dir() string { return q.dir }

// ValidName reports why name cannot be an export file name, or nil.
func ValidName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("airlock: bad export name %q: use 1-100 letters, digits, '.', '_' or '-', not starting with '.'", name)
	}
	return nil
}

// Submit adds a pending item for content. It assigns ID, State, Created,
// SHA256 and Size and clears the decision fields; Kind and Author are
// required, and Name for an export.
func (q *Queue) Submit(it Item, content []byte) (Item, error) {
	switch it.Kind {
	case KindOutput:
	case KindExport:
		if it.Name == "" {
			return Item{}, errors.New("airlock: an export needs a file name")
		}
	default:
		return Item{}, fmt.Errorf("airlock: unknown item kind %q (want %s or %s)", it.Kind, KindOutput, KindExport)
	}
	if it.Name != "" {
		if err := ValidName(it.Name); err != nil {
			return Item{}, err
		}
	}
	if strings.TrimSpace(it.Author) == "" {
		return Item{}, errors.New("airlock: an item needs an author")
	}
	sum := sha256.Sum256(content)
	it.State, it.SHA256, it.Size = Pending, hex.EncodeToString(sum[:]), int64(len(content))
	it.Reviewer, it.Reason, it.Decided = "", "", time.Time{}
	if it.Summary == "" {
		it.Summary = fmt.Sprintf("%d bytes", len(content))
	}
	err := q.locked(func(lock *os.File) error {
		n, err := q.nextID(lock)
		if err != nil {
			return err
		}
		it.ID = formatID(n)
		it.Created = time.Now().UTC()
		if err := writeAtomic(q.contentPath(it.ID), content); err != nil {
			return err
		}
		if err := q.writeItem(it); err != nil {
			return err
		}
		// Remember the id only now: a failed submission may reuse it.
		return writeCounter(lock, n)
	})
	if err != nil {
		return Item{}, err
	}
	return it, nil
}

// List returns the items in state (all if state is ""), sorted by id.
func (q *Queue) List(state State) ([]Item, error) {
	switch state {
	case "", Pending, Approved, Rejected:
	default:
		return nil, fmt.Errorf("airlock: unknown state %q (want pending, approved or rejected)", state)
	}
	ids, err := q.ids()
	if err != nil {
		return nil, err
	}
	var out []Item
	for _, n := range ids {
		it, err := q.readItem(formatID(n))
		if err != nil {
			return nil, err
		}
		if state == "" || it.State == state {
			out = append(out, it)
		}
	}
	return out, nil
}

// Get returns the item id and its content, checked against the SHA-256
// recorded at submission (ErrTampered if it changed).
func (q *Queue) Get(id string) (Item, []byte, error) {
	it, err := q.readItem(id)
	if err != nil {
		return Item{}, nil, err
	}
	content, err := q.content(it)
	if err != nil {
		return Item{}, nil, err
	}
	return it, content, nil
}

// Approve approves the pending item id as reviewer, who must not be its
// author. It writes the content to exportsDir/<id>-<name> (name "output.txt"
// for an output) and records it in exportsDir/manifest.json.
func (q *Queue) Approve(id, reviewer, reason, exportsDir string) (Item, error) {
	return q.decide(id, reviewer, reason, Approved, func(it Item, content []byte) error {
		// Ids that differ only in case name one person to every reader
		// of the audit log ("DEMO" approved demo's item: review 44).
		if strings.EqualFold(it.Author, it.Reviewer) {
			return errorf(ErrSelfReview, "the author of %s cannot approve it", id)
		}
		if n := Hidden(content); n > 0 {
			return errorf(ErrHidden, "%s cannot be approved: it holds %d characters a reader does not see (zero-width, bidi or other format characters, controls, spaces other than U+0020), which may carry data past the review; reject it", id, n)
		}
		if it.Results > 0 {
			return errorf(ErrHeldResults, "%s cannot be approved: it holds %d results made while the worker held rows, and which results were made, and with what cohorts and parameters, may encode the rows, whatever the tables show; reject it, and have the author run the cells again after a restart", id, it.Results)
		}
		return export(exportsDir, it, content)
	})
}

// Reject rejects the pending item id as reviewer; reason is required. The
// author may reject (withdraw) their own item.
func (q *Queue) Reject(id, reviewer, reason string) (Item, error) {
	if strings.TrimSpace(reason) == "" {
		return Item{}, fmt.Errorf("airlock: rejecting %s needs a reason", id)
	}
	return q.decide(id, reviewer, reason, Rejected, nil)
}

// decide moves item id from pending to to, under the lock, if check (given
// the decided item; it may also carry out the decision) succeeds.
func (q *Queue) decide(id, reviewer, reason string, to State, check func(Item, []byte) error) (Item, error) {
	reviewer = strings.TrimSpace(reviewer)
	if reviewer == "" {
		return Item{}, fmt.Errorf("airlock: deciding %s needs a reviewer", id)
	}
	var it Item
	err := q.locked(func(*os.File) error {
		var err error
		if it, err = q.readItem(id); err != nil {
			return err
		}
		if it.State != Pending {
			return errorf(ErrNotPending, "%s was already %s by %s on %s", id, it.State, it.Reviewer, it.Decided.Format(time.RFC3339))
		}
		content, err := q.content(it)
		if err != nil {
			return err
		}
		it.State, it.Reviewer, it.Reason, it.Decided = to, reviewer, strings.TrimSpace(reason), time.Now().UTC()
		if check != nil {
			if err := check(it, content); err != nil {
				return err
			}
		}
		return q.writeItem(it)
	})
	if err != nil {
		return Item{}, err
	}
	return it, nil
}

// ExportName is the file an approved item is written to in exports/.
func ExportName(it Item) string {
	name := it.Name
	if name == "" {
		name = "output.txt"
	}
	return it.ID + "-" + name
}

// export writes an approved item's content and its manifest entry.
func export(dir string, it Item, content []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("airlock: %w", err)
	}
	file := ExportName(it)
	if err := writeAtomic(filepath.Join(dir, file), content); err != nil {
		return err
	}
	mpath := filepath.Join(dir, ManifestFile)
	var m []ManifestEntry
	switch b, err := os.ReadFile(mpath); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("airlock: %w", err)
	default:
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("airlock: %s: %w", mpath, err)
		}
	}
	e := ManifestEntry{ID: it.ID, File: file, SHA256: it.SHA256, Size: it.Size, Author: it.Author,
		Reviewer: it.Reviewer, Approved: it.Decided, Reason: it.Reason}
	m = slices.DeleteFunc(m, func(x ManifestEntry) bool { return x.ID == it.ID })
	m = append(m, e)
	slices.SortFunc(m, func(a, b ManifestEntry) int { return strings.Compare(a.ID, b.ID) })
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("airlock: %w", err)
	}
	return writeAtomic(mpath, append(b, '\n'))
}

// content reads it.ID's content and checks it against the recorded SHA-256.
func (q *Queue) content(it Item) ([]byte, error) {
	b, err := os.ReadFile(q.contentPath(it.ID))
	if err != nil {
		return nil, fmt.Errorf("airlock: content of %s: %w", it.ID, err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != it.SHA256 || int64(len(b)) != it.Size {
		return nil, errorf(ErrTampered, "the content of %s was changed after submission (now %d bytes, sha256 %x…; submitted %d bytes, sha256 %s…)",
			it.ID, len(b), sum[:6], it.Size, short(it.SHA256))
	}
	return b, nil
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func (q *Queue) itemPath(id string) string    { return filepath.Join(q.dir, id+".json") }
func (q *Queue) contentPath(id string) string { return filepath.Join(q.dir, id+".content") }

func (q *Queue) readItem(id string) (Item, error) {
	if !idPattern.MatchString(id) {
		return Item{}, errorf(ErrNotFound, "%q is not an item id (like r-0001)", id)
	}
	b, err := os.ReadFile(q.itemPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return Item{}, errorf(ErrNotFound, "no item %s", id)
	}
	if err != nil {
		return Item{}, fmt.Errorf("airlock: %w", err)
	}
	var it Item
	if err := json.Unmarshal(b, &it); err != nil {
		return Item{}, fmt.Errorf("airlock: %s: %w", q.itemPath(id), err)
	}
	if it.ID != id {
		return Item{}, fmt.Errorf("airlock: %s holds item %q", q.itemPath(id), it.ID)
	}
	return it, nil
}

func (q *Queue) writeItem(it Item) error {
	b, err := json.MarshalIndent(it, "", "  ")
	if err != nil {
		return fmt.Errorf("airlock: %w", err)
	}
	return writeAtomic(q.itemPath(it.ID), append(b, '\n'))
}

// ids returns the numbers of the items on disk, ascending.
func (q *Queue) ids() ([]int, error) {
	ents, err := os.ReadDir(q.dir)
	if err != nil {
		return nil, fmt.Errorf("airlock: %w", err)
	}
	var ids []int
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !idPattern.MatchString(id) {
			continue
		}
		n, _ := strconv.Atoi(id[2:])
		ids = append(ids, n)
	}
	slices.Sort(ids)
	return ids, nil
}

func formatID(n int) string { return fmt.Sprintf("r-%04d", n) }

// nextID is one more than the highest id issued (the counter in the lock
// file) or on disk.
func (q *Queue) nextID(lock *os.File) (int, error) {
	last := 0
	b := make([]byte, 32)
	k, err := lock.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return 0, fmt.Errorf("airlock: %w", err)
	}
	if s := string(bytes.TrimSpace(b[:k])); s != "" {
		if last, err = strconv.Atoi(s); err != nil {
			return 0, fmt.Errorf("airlock: %s: bad id counter %q", lock.Name(), s)
		}
	}
	ids, err := q.ids()
	if err != nil {
		return 0, err
	}
	if len(ids) > 0 {
		last = max(last, ids[len(ids)-1])
	}
	if last >= 999_999_999 {
		return 0, errors.New("airlock: out of item ids")
	}
	return last + 1, nil
}

func writeCounter(lock *os.File, n int) error {
	if err := lock.Truncate(0); err != nil {
		return fmt.Errorf("airlock: %w", err)
	}
	if _, err := lock.WriteAt([]byte(strconv.Itoa(n)+"\n"), 0); err != nil {
		return fmt.Errorf("airlock: %w", err)
	}
	return lock.Sync()
}

// locked runs fn holding an exclusive flock on the queue's lock file. Each
// call opens the file anew, so goroutines exclude each other as processes do.
func (q *Queue) locked(fn func(lock *os.File) error) error {
	f, err := os.OpenFile(filepath.Join(q.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("airlock: %w", err)
	}
	defer f.Close()
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("airlock: lock %s: %w", f.Name(), err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return fn(f)
}

// writeAtomic writes b to path (0600), all at once.
func writeAtomic(path string, b []byte) error {
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("airlock: write %s: %w", path, err)
	}
	return nil
}

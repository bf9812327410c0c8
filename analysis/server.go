package analysis

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"sync"

	"github.com/RoaringBitmap/roaring/v2"

	"enclave/analysis/sqlagg"
	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/omop"
	"enclave/internal/opaqueid"
	"enclave/release"
	"enclave/release/audit"
)

// Engine is the tier database as the analysis layer uses it: the catalog,
// plus SQL that this package builds from checked names and bound values.
type Engine interface {
	datasets.Catalog
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Options configure a Server.
type Options struct {
	// Datasets are the workspace's granted datasets (omop, fitbit,
	// genomics): tables of a dataset not granted are invisible.
	Datasets []string
	Log      *log.Logger
	// Genomics is the folder of the workspace's genotype datasets ("" =
	// data/genomics beside the tier database).
	Genomics string
}

// Server answers API calls and data magics for one kernel session.
type Server struct {
	db   Engine
	d    sqlDialect // the SQL db speaks
	sess *release.Session
	tier datasets.Tier

	// %sql group sets of the last queries (see sqlPersonSet).
	sqlSets  groupSets             // of the last %sql queries (sqlPersonSet)
	planSets groupSets             // of the last cell plans' bases (batchedSet)
	sqlPlans kept[*sqlagg.Plan]    // %sql rewrites of the last queries, by text
	baseSets kept[*roaring.Bitmap] // person sets of the last cohorts (attributeSet)
	attrSets groupSets             // persons of each value of person-level variables, by expression
	tables   map[string]*datasets.TableInfo
	order    []string
	log      *log.Logger
	// dataCut is the default date ages are taken at: the last day of
	// observation in the tier, so results do not change with the calendar.
	dataCut string

	mu      sync.Mutex
	handles map[string]*handle
	names   map[int64]string // concept names
	// held says that the call being served must have its results reviewed
	// before they are shown (see heldCall). Calls are served one at a time.
	held    bool
	tablesR map[string]*spec.Table // released tables by ref, for export

	geno *genoState // genomics handles and scans (genomics.go)

	uniqueOnce sync.Once // personsUnique
	unique     bool

	parserOnce sync.Once // sqlParser
	parser     *sql.DB
	parserErr  error
}

// New opens the analysis layer over db for session sess.
func New(ctx context.Context, db Engine, sess *release.Session, o Options) (*Server, error) {
	s := &Server{db: db, d: dialectOf(db), sess: sess, tier: db.Tier(), tables: map[string]*datasets.TableInfo{}, log: o.Log,
		handles: map[string]*handle{}, names: map[int64]string{}, tablesR: map[string]*spec.Table{}, geno: newGenoState(o),
		sqlSets: groupSets{max: groupSetsKept}, planSets: groupSets{max: groupSetsKept},
		sqlPlans: kept[*sqlagg.Plan]{max: sqlPlansKept}, baseSets: kept[*roaring.Bitmap]{max: groupSetsKept},
		attrSets: groupSets{max: attrSetsKept}}
	if s.log == nil {
		s.log = log.Default()
	}
	ts, err := db.Tables(ctx)
	if err != nil {
		return nil, err
	}
	fitbit := map[string]bool{}
	for _, t := range omop.FitbitTables {
		fitbit[t.Name] = true
	}
	granted := func(name string) bool {
		if fitbit[name] {
			return slices.Contains(o.Datasets, "fitbit")
		}
		return slices.Contains(o.Datasets, "omop")
	}
	for i := range ts {
		t := ts[i]
		if !t.HasPerson && t.Name != "concept" && !strings.HasPrefix(t.Name, "concept_") && t.Name != "vocabulary" && t.Name != "domain" {
			continue
		}
		if !granted(t.Name) {
			continue
		}
		s.tables[t.Name] = &t
		s.order = append(s.order, t.Name)
	}
	if s.tables["person"] == nil {
		return nil, datasets.Errorf("the workspace's tier has no person table")
	}
	s.dataCut = "2024-01-01"
	if s.tables["observation_period"] != nil {
		rows, err := db.QueryContext(ctx, "SELECT "+s.d.cast("max(observation_period_end_date)", "VARCHAR")+" FROM observation_period")
		if err != nil {
			return nil, err
		}
		var cut sql.NullString
		if rows.Next() && rows.Scan(&cut) == nil && cut.Valid && datePattern.MatchString(cut.String) {
			s.dataCut = cut.String
		}
		rows.Close()
	}
	sess.Sets = setSource{s} // genomics plans, then Server.PersonSet
	return s, nil
}

// DataCut is the default date at which ages are computed.
func (s *Server) DataCut() string { return s.dataCut }

func (s *Server) table(name string) *datasets.TableInfo {
	return s.tables[strings.ToLower(strings.TrimSpace(name))]
}

// column resolves a column of t, refusing identifiers (person_id, row ids
// and other *_id columns that are not concepts): filtering or grouping by
// one singles out persons.
func (s *Server) column(t *datasets.TableInfo, name string) (datasets.Column, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, c := range t.Columns {
		if c.Name != name {
			continue
		}
		if strings.HasSuffix(c.Name, "_id") && !c.Concept {
			return c, datasets.Errorf("column %s identifies persons or rows: it cannot be filtered, grouped or summarised", c.Name)
		}
		return c, nil
	}
	return datasets.Column{}, datasets.Errorf("no column %q in table %s (columns: %s)", clip(name, 60), t.Name, columnNames(t))
}

func columnNames(t *datasets.TableInfo) string {
	var n []string
	for _, c := range t.Columns {
		n = append(n, c.Name)
	}
	return strings.Join(n, ", ")
}

// method is one API method: it decodes its arguments and answers.
type method func(s *Server, ctx context.Context, cell string, args json.RawMessage) (any, error)

var methods = map[string]method{
	spec.MPersons:     (*Server).persons,
	spec.MEvents:      (*Server).eventsHandle,
	spec.MDerive:      (*Server).derive,
	spec.MDescendants: (*Server).descendants,
	spec.MMapStandard: (*Server).mapStandard,
	spec.MSearch:      (*Server).search,
	spec.MLookup:      (*Server).lookup,
	spec.MCount:       (*Server).count,
	spec.MTable1:      (*Server).table1,
	spec.MDescribe:    (*Server).describe,
	spec.MIncidence:   (*Server).incidence,
	spec.MSurvival:    (*Server).survival,
	spec.MRegress:     (*Server).regress,
	spec.MHistogram:   (*Server).histogram,
	spec.MBar:         (*Server).bar,
	spec.MCollect:     (*Server).collect,
	spec.MExport:      (*Server).export,
	// Genomics (genomics*.go).
	spec.MGenoVariants: (*Server).genoVariants,
	spec.MGenoSummary:  (*Server).genoSummary,
	spec.MGenoPCA:      (*Server).genoPCA,
	spec.MGenoGLM:      (*Server).genoGLM,
	spec.MGenoRows:     (*Server).genoRows,
	spec.MManhattan:    (*Server).manhattan,
	spec.MQQ:           (*Server).qq,
}

// Call serves one API call from the cell cell. The error's text is safe to
// show the researcher; the full error goes to the audit log.
func (s *Server) Call(ctx context.Context, cell, name string, args json.RawMessage) (json.RawMessage, error) {
	m, ok := methods[name]
	if !ok {
		return nil, fmt.Errorf("no enclave API method %q", clip(name, 60))
	}
	s.held = s.heldCall()
	stop := s.progress(ctx, cell, name)
	v, err := m(s, ctx, cell, args)
	stop()
	s.held = false
	if err != nil {
		s.sess.Record(audit.Entry{Type: "error", Cell: cell, Data: auditJSON(map[string]any{"method": name, "error": datasets.AuditText(err)})})
		var de *datasets.Error
		if errors.As(err, &de) {
			return nil, errors.New(de.Safe)
		}
		if ctx.Err() != nil {
			return nil, errors.New("cancelled")
		}
		s.log.Printf("API %s: %v", name, err)
		return nil, errors.New("internal error (details in the audit log)")
	}
	return json.Marshal(v)
}

func auditJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

// decode reads a method's arguments, refusing unknown fields.
func decode(args json.RawMessage, v any) error {
	d := json.NewDecoder(strings.NewReader(string(args)))
	d.UseNumber()
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return datasets.Errorf("bad API arguments: %s", clip(err.Error(), 200))
	}
	return nil
}

// newHandle stores h and returns its reference.
func (s *Server) newHandle(h *handle) spec.Handle {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := opaqueid.Unused("h", func(id string) bool { return s.handles[id] != nil })
	s.handles[id] = h
	out := spec.Handle{ID: id, Desc: h.desc, Kind: spec.KindCohort}
	if h.events != nil {
		out.Kind, out.Table = spec.KindEvents, h.events.Table
	}
	return out
}

func (s *Server) handle(id string) (*handle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.handles[id]
	if h == nil {
		if s.isGenoHandle(id) {
			return nil, datasets.Errorf("%s is a genomics handle: it only goes to enclave/genomics calls (genotypes and PC scores never leave the kernel)", clip(id, 40))
		}
		return nil, datasets.Errorf("no handle %q in this session (handles do not survive a kernel restart)", clip(id, 40))
	}
	return h, nil
}

func (s *Server) cohortHandle(id, what string) (*cohortPlan, string, error) {
	h, err := s.handle(id)
	if err != nil {
		return nil, "", err
	}
	if h.cohort == nil {
		return nil, "", datasets.Errorf("%s needs a cohort of persons; %s is an events handle (use .Persons())", what, id)
	}
	return h.cohort, h.desc, nil
}

func (s *Server) persons(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	return s.newHandle(&handle{cohort: &cohortPlan{Op: "all"}, desc: "all persons"}), nil
}

func (s *Server) eventsHandle(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.EventsArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	t := s.table(a.Table)
	if t != nil && t.Name == "person" {
		return nil, datasets.Errorf("person has one row per person, not events: use omop.Persons() for a cohort of them (with Female(), AgeBetween(…) and the other cohort steps)")
	}
	if t == nil || !t.HasPerson {
		return nil, datasets.Errorf("no table of events %q in this workspace: events tables have a person_id column (see %%tables)", clip(a.Table, 60))
	}
	if len(a.Concepts) > 0 && conceptColumn(t) == "" {
		return nil, datasets.Errorf("table %s has no concept column to select concepts", t.Name)
	}
	if err := s.knownConcepts(ctx, a.Concepts); err != nil {
		return nil, err
	}
	e := &eventsPlan{Table: t.Name, Concepts: a.Concepts}
	return s.newHandle(&handle{events: e, desc: t.Name + conceptDesc(a.Concepts)}), nil
}

func conceptDesc(ids []int64) string {
	if len(ids) == 0 {
		return ""
	}
	if len(ids) <= 3 {
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = fmt.Sprint(id)
		}
		return " with concept " + strings.Join(parts, ", ")
	}
	return fmt.Sprintf(" with %d concepts", len(ids))
}

// knownConcepts refuses concept ids that are not in the vocabulary.
func (s *Server) knownConcepts(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	names, err := s.conceptNames(ctx, ids)
	if err != nil {
		return err
	}
	var missing []string
	for _, id := range ids {
		if _, ok := names[id]; !ok {
			missing = append(missing, fmt.Sprint(id))
		}
	}
	if len(missing) > 0 {
		if len(missing) > 5 {
			missing = append(missing[:5], "…")
		}
		return datasets.Errorf("unknown concept id(s) %s: not in this workspace's vocabulary (search with %%concepts)", strings.Join(missing, ", "))
	}
	return nil
}

// conceptNames looks up concept names (the vocabulary is public reference
// data), caching them.
func (s *Server) conceptNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := map[int64]string{}
	var need []int64
	s.mu.Lock()
	for _, id := range ids {
		if n, ok := s.names[id]; ok {
			out[id] = n
		} else {
			need = append(need, id)
		}
	}
	s.mu.Unlock()
	slices.Sort(need)
	need = slices.Compact(need)
	for len(need) > 0 {
		chunk := need[:min(len(need), 1000)]
		need = need[len(chunk):]
		b := &sqlb{s: s}
		rows, err := s.db.QueryContext(ctx, "SELECT concept_id, concept_name FROM concept WHERE concept_id IN ("+b.list(chunk)+")", b.args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id int64
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = name
			s.mu.Lock()
			s.names[id] = name
			s.mu.Unlock()
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Server) derive(ctx context.Context, cell string, args json.RawMessage) (any, error) {
	var a spec.DeriveArgs
	if err := decode(args, &a); err != nil {
		return nil, err
	}
	base, err := s.handle(a.Base)
	if err != nil {
		return nil, err
	}
	st := a.Step
	other := func(id, what string) (*cohortPlan, string, error) { return s.cohortHandle(id, what) }
	if base.cohort != nil {
		c := base.cohort
		switch {
		case st.With != nil || st.Without != nil:
			has, op := st.With, "with"
			if has == nil {
				has, op = st.Without, "without"
			}
			ev, desc, err := s.hasEvents(ctx, has)
			if err != nil {
				return nil, err
			}
			return s.newHandle(&handle{cohort: &cohortPlan{Op: "and", A: c, B: &cohortPlan{Op: op, Events: ev}},
				desc: base.desc + ", " + op + " " + desc}), nil
		case st.Age != nil:
			at := st.Age.At
			if at == "" {
				at = s.dataCut
			}
			if err := checkDate("age at", at); err != nil {
				return nil, err
			}
			if st.Age.Min < 0 || st.Age.Max < st.Age.Min || st.Age.Max > 150 {
				return nil, datasets.Errorf("age range %d–%d is not a range of ages", st.Age.Min, st.Age.Max)
			}
			return s.newHandle(&handle{cohort: &cohortPlan{Op: "and", A: c, B: &cohortPlan{Op: "age", Min: st.Age.Min, Max: st.Age.Max, At: at}},
				desc: fmt.Sprintf("%s, aged %d–%d on %s", base.desc, st.Age.Min, st.Age.Max, at)}), nil
		case st.Sex != "":
			id, ok := map[string]int64{"female": 8532, "male": 8507}[strings.ToLower(st.Sex)]
			if !ok {
				return nil, datasets.Errorf("sex %q: use \"female\" or \"male\" (gender_concept_id 8532, 8507)", clip(st.Sex, 20))
			}
			return s.newHandle(&handle{cohort: &cohortPlan{Op: "and", A: c, B: &cohortPlan{Op: "sex", Sex: id}},
				desc: base.desc + ", " + strings.ToLower(st.Sex)}), nil
		case st.And != "" || st.Or != "" || st.Minus != "":
			id, op, word := st.And, "and", "and"
			if st.Or != "" {
				id, op, word = st.Or, "or", "or"
			} else if st.Minus != "" {
				id, op, word = st.Minus, "minus", "but not"
			}
			o, odesc, err := other(id, op)
			if err != nil {
				return nil, err
			}
			return s.newHandle(&handle{cohort: &cohortPlan{Op: op, A: c, B: o}, desc: "(" + base.desc + ") " + word + " (" + odesc + ")"}), nil
		}
		return nil, datasets.Errorf("this step does not apply to a cohort (cohorts take With, Without, AgeBetween, Female/Male, And, Or, Minus)")
	}
	e := *base.events
	switch {
	case st.Of != "":
		c, cdesc, err := other(st.Of, "Of")
		if err != nil {
			return nil, err
		}
		if e.Of != nil {
			c = &cohortPlan{Op: "and", A: e.Of, B: c}
		}
		e.Of = c
		return s.newHandle(&handle{events: &e, desc: base.desc + " of (" + cdesc + ")"}), nil
	case st.Where != nil:
		f := filterPlan{Column: st.Where.Column, Op: st.Where.Op, Values: normaliseValues(st.Where.Values)}
		b := &sqlb{s: s}
		if _, err := b.filter(s.table(e.Table), "x", f); err != nil {
			return nil, err
		}
		e.Where = append(slices.Clip(e.Where), f)
		return s.newHandle(&handle{events: &e, desc: fmt.Sprintf("%s where %s %s …", base.desc, f.Column, f.Op)}), nil
	case st.Within != nil:
		for _, d := range []string{st.Within.From, st.Within.To} {
			if d != "" {
				if err := checkDate("date range", d); err != nil {
					return nil, err
				}
			}
		}
		if dateColumn(s.table(e.Table)) == "" {
			return nil, datasets.Errorf("table %s has no date column", e.Table)
		}
		e.From, e.To = st.Within.From, st.Within.To
		return s.newHandle(&handle{events: &e, desc: fmt.Sprintf("%s between %s and %s", base.desc, orOpen(e.From), orOpen(e.To))}), nil
	case st.Persons:
		return s.newHandle(&handle{cohort: &cohortPlan{Op: "with", Events: &e}, desc: "persons with " + base.desc}), nil
	}
	return nil, datasets.Errorf("this step does not apply to an events handle (events take Of, Where, Between, Persons)")
}

func orOpen(s string) string {
	if s == "" {
		return "…"
	}
	return s
}

// normaliseValues turns json.Number into int64 or float64.
func normaliseValues(vs []any) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		if n, ok := v.(json.Number); ok {
			if iv, err := n.Int64(); err == nil {
				out[i] = iv
			} else if f, err := n.Float64(); err == nil {
				out[i] = f
			} else {
				out[i] = n.String()
			}
			continue
		}
		out[i] = v
	}
	return out
}

// hasEvents resolves a With/Without argument to an events plan.
func (s *Server) hasEvents(ctx context.Context, h *spec.Has) (*eventsPlan, string, error) {
	if h.Handle != "" {
		eh, err := s.handle(h.Handle)
		if err != nil {
			return nil, "", err
		}
		if eh.events == nil {
			return nil, "", datasets.Errorf("With/Without take events (conditions, measurements…); %s is a cohort (use And/Minus)", h.Handle)
		}
		return eh.events, eh.desc, nil
	}
	t := s.table(h.Table)
	if t == nil || !t.HasPerson || t.Name == "person" {
		return nil, "", datasets.Errorf("no person table %q in this workspace (see %%tables)", clip(h.Table, 60))
	}
	if len(h.Concepts) == 0 {
		return nil, "", datasets.Errorf("With/Without %s needs concept ids", t.Name)
	}
	if err := s.knownConcepts(ctx, h.Concepts); err != nil {
		return nil, "", err
	}
	return &eventsPlan{Table: t.Name, Concepts: h.Concepts}, t.Name + conceptDesc(h.Concepts), nil
}

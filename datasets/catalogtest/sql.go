package catalogtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"enclave/analysis"
	"enclave/api/spec"
	"enclave/kernel"
	"enclave/release"
)

// SQLCase is one %sql cell of RunSQL: the query as a researcher writes it
// on a DuckDB workspace and on a BigQuery one ("" = the same text).
type SQLCase struct {
	Name   string
	Duck   string
	Google string
}

// SQLOutput is what one %sql cell showed: the released table as text
// (its title, which quotes the query, left out), or the error.
type SQLOutput struct {
	Table string
	Err   *kernel.CellError
}

// SQLSession runs %sql cells in one kernel session over an engine.
type SQLSession struct {
	t    *testing.T
	srv  *analysis.Server
	sess *release.Session
	run  kernel.Magic
	n    int
}

// NewSQLSession opens a session over db for %sql cells.
func NewSQLSession(t *testing.T, db analysis.Engine) *SQLSession {
	t.Helper()
	srv, sess := session(t, db)
	return &SQLSession{t: t, srv: srv, sess: sess, run: analysis.Magics(func() (*analysis.Server, error) { return srv, nil })["sql"]}
}

// Server is the session's analysis server.
func (s *SQLSession) Server() *analysis.Server { return s.srv }

type displays struct{ list []*kernel.Display }

func (d *displays) Stream(string, string)     {}
func (d *displays) Display(x *kernel.Display) { d.list = append(d.list, x) }

// Run runs one %sql cell.
func (s *SQLSession) Run(ctx context.Context, query string) SQLOutput {
	s.t.Helper()
	s.n++
	out := &displays{}
	if cerr := s.run.Run(ctx, kernel.MagicCall{Cell: "sql-" + strconv.Itoa(s.n), Args: query, Out: out}); cerr != nil {
		return SQLOutput{Err: cerr}
	}
	if len(out.list) != 1 {
		s.t.Fatalf("%%sql showed %d displays, want 1", len(out.list))
	}
	ref, ok := out.list[0].Data[spec.MIMERef].(spec.Ref)
	if !ok {
		s.t.Fatalf("%%sql showed %v, not a rendered table", out.list[0].Data)
	}
	bundle, ok := s.sess.Rendered(ref.Ref)
	if !ok {
		s.t.Fatalf("%%sql rendered no bundle under %s", ref.Ref)
	}
	text := fmt.Sprint(bundle["text/plain"])
	if i := strings.IndexByte(text, '\n'); i >= 0 && strings.HasPrefix(text, "%sql:") {
		text = text[i+1:]
	}
	return SQLOutput{Table: text}
}

// RunSQL runs each case's %sql cell in a session over ref (its Duck text)
// and one over got (its Google text, or the Duck text), and holds the
// released tables to be the same, cell for cell. Cells that refuse must
// refuse on both. It returns got's session, still serving.
func RunSQL(t *testing.T, ref, got analysis.Engine, cases []SQLCase) *SQLSession {
	t.Helper()
	ctx := context.Background()
	rs, gs := NewSQLSession(t, ref), NewSQLSession(t, got)
	for _, c := range cases {
		gq := c.Google
		if gq == "" {
			gq = c.Duck
		}
		r, g := rs.Run(ctx, c.Duck), gs.Run(ctx, gq)
		switch {
		case r.Err != nil:
			t.Fatalf("%s: reference: %s: %s", c.Name, r.Err.Name, r.Err.Value)
		case g.Err != nil:
			t.Errorf("%s: %s: %s", c.Name, g.Err.Name, g.Err.Value)
		case r.Table != g.Table:
			t.Errorf("%s: released tables differ\nreference:\n%s\ngot:\n%s", c.Name, r.Table, g.Table)
		case !strings.ContainsAny(r.Table, "123456789"):
			t.Errorf("%s: the reference released no number: the comparison says nothing\n%s", c.Name, r.Table)
		default:
			t.Logf("%s: the same released table on both:\n%s", c.Name, r.Table)
		}
	}
	return gs
}

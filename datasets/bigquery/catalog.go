package bigquery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"enclave/datasets"
	"enclave/datasets/omop"
)

// TierTable is the table of a tier dataset that names its tier (one row,
// key "tier"), as the DuckDB tier databases hold it.
const TierTable = "enclave_tier"

// QueryStats is what one BigQuery query cost: the kernel writes it to the
// audit log.
type QueryStats struct {
	Kind      string        `json:"kind"`      // aggregate, person_set, concept_search, descendants, map_to_standard, tables, analysis, sql (engine.go)
	JobID     string        `json:"job_id"`    // the query job ("" when refused before running)
	Estimated int64         `json:"estimated"` // dry-run estimate of bytes processed
	Processed int64         `json:"processed"` // bytes processed
	Billed    int64         `json:"billed"`    // bytes billed
	Session   int64         `json:"session"`   // bytes processed by this session so far
	Duration  time.Duration `json:"duration_ns"`
	Refused   bool          `json:"refused,omitempty"` // over the budget: not run
	Error     string        `json:"error,omitempty"`   // audit text of a failure
}

// Catalog is the datasets.Catalog of one tier held in a BigQuery dataset.
// Open one per kernel session: its byte budget is the session's.
type Catalog struct {
	client *bq.Client
	cfg    Config
	tier   datasets.Tier
	tables map[string]*datasets.TableInfo
	order  []string

	dbOnce sync.Once
	db     *sql.DB // the analysis engine over query (engine.go)

	mu     sync.Mutex
	spent  int64            // bytes processed by this session
	onStat func(QueryStats) // where query costs go (the audit log)
}

var _ datasets.Catalog = (*Catalog)(nil)

// NewClient makes a BigQuery client for cfg: Application Default
// Credentials of the data service, or no credentials for a loopback
// emulator endpoint.
func NewClient(ctx context.Context, cfg Config) (*bq.Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var opts []option.ClientOption
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimSuffix(cfg.Endpoint, "/")), option.WithoutAuthentication())
	}
	client, err := bq.NewClient(ctx, cfg.Project, opts...)
	if err != nil {
		return nil, fmt.Errorf("bigquery: client for project %s: %w", cfg.Project, err)
	}
	if cfg.Location != "" {
		client.Location = cfg.Location
	}
	return client, nil
}

// Open opens the tier dataset cfg names: it reads the tier from
// enclave_tier and the tables and columns from INFORMATION_SCHEMA.COLUMNS.
// Errors are *datasets.Error with a safe text.
func Open(ctx context.Context, cfg Config) (*Catalog, error) {
	client, err := NewClient(ctx, cfg)
	if err != nil {
		return nil, &datasets.Error{Safe: "the workspace's BigQuery configuration is not valid", Err: err}
	}
	c := &Catalog{client: client, cfg: cfg, tables: map[string]*datasets.TableInfo{}}
	if err := c.load(ctx); err != nil {
		client.Close()
		return nil, err
	}
	return c, nil
}

// SetQueryLog sends the cost of every later query to fn (the kernel's
// audit log). fn must not block for long.
func (c *Catalog) SetQueryLog(fn func(QueryStats)) {
	c.mu.Lock()
	c.onStat = fn
	c.mu.Unlock()
}

// Spent returns the bytes processed by this catalog's queries so far.
func (c *Catalog) Spent() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.spent
}

// Budget returns the session's byte budget.
func (c *Catalog) Budget() int64 { return c.cfg.sessionBytes() }

// columnName matches the names the catalog accepts from INFORMATION_SCHEMA:
// they are spliced into SQL as quoted identifiers.
var columnName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

func (c *Catalog) load(ctx context.Context) error {
	var tier string
	err := c.query(ctx, "tables", "SELECT value FROM "+c.ref(TierTable)+" WHERE key = 'tier'", nil, func(row []bq.Value) error {
		s, ok := row[0].(string)
		if !ok {
			return fmt.Errorf("enclave_tier value is %T", row[0])
		}
		tier = s
		return nil
	})
	if err != nil {
		var de *datasets.Error
		if errors.As(err, &de) {
			de.Safe = fmt.Sprintf("BigQuery dataset %s.%s is not an enclave tier dataset or cannot be read: %s", c.cfg.Project, c.cfg.Dataset, de.Safe)
		}
		return err
	}
	if c.tier, err = datasets.ParseTier(tier); err != nil {
		return &datasets.Error{Safe: fmt.Sprintf("BigQuery dataset %s.%s names no known tier", c.cfg.Project, c.cfg.Dataset), Err: err}
	}
	// The DuckDB types Load recorded (absent in a dataset loaded by other
	// means: then the BigQuery types are mapped).
	duck := map[string]string{}
	err = c.query(ctx, "tables", "SELECT table_name, column_name, data_type FROM "+c.ref(ColumnsTable), nil, func(row []bq.Value) error {
		duck[str(row[0])+"."+str(row[1])] = str(row[2])
		return nil
	})
	if err != nil && !strings.Contains(datasets.SafeText(err), "missing") && !strings.Contains(datasets.SafeText(err), "query failed") {
		return err
	}
	q := "SELECT table_name, column_name, data_type FROM " + c.ref("INFORMATION_SCHEMA.COLUMNS") +
		" WHERE table_name NOT IN ('" + TierTable + "', '" + ColumnsTable + "') ORDER BY table_name, ordinal_position"
	err = c.query(ctx, "tables", q, nil, func(row []bq.Value) error {
		tn, _ := row[0].(string)
		cn, _ := row[1].(string)
		typ, _ := row[2].(string)
		if !columnName.MatchString(tn) || !columnName.MatchString(cn) {
			return nil // not a name the catalog can quote safely: not served
		}
		tn, cn = strings.ToLower(tn), strings.ToLower(cn)
		ti := c.tables[tn]
		if ti == nil {
			ti = &datasets.TableInfo{Name: tn}
			c.tables[tn] = ti
		}
		col := datasets.Column{Name: cn, Type: duckType(typ)}
		if t := omop.LookupTable(tn); t != nil {
			// The DuckDB schema keeps a reserved word quoted ("offset");
			// BigQuery takes it bare.
			f, ok := t.Field(cn)
			if q, okq := t.Field(`"` + cn + `"`); !ok && okq {
				f, ok, col.Name = q, true, `"`+cn+`"`
			}
			if ok {
				col.Concept = f.IsConcept()
				col.Type = f.DuckDBType()
			}
		}
		if typ, ok := duck[tn+"."+cn]; ok {
			col.Type = typ
		}
		if cn == "person_id" {
			ti.HasPerson = true
		}
		ti.Columns = append(ti.Columns, col)
		return nil
	})
	if err != nil {
		return err
	}
	for _, t := range omop.Tables {
		if c.tables[t.Name] != nil {
			c.order = append(c.order, t.Name)
		}
	}
	var rest []string
	for n := range c.tables {
		if omop.LookupTable(n) == nil {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	c.order = append(c.order, rest...)
	return nil
}

// duckType names a BigQuery column type as the DuckDB catalog does, so the
// layers above see one type vocabulary whichever backend serves them.
func duckType(t string) string {
	switch strings.ToUpper(t) {
	case "INT64", "INTEGER":
		return "BIGINT"
	case "FLOAT64", "FLOAT", "NUMERIC", "BIGNUMERIC":
		return "DOUBLE"
	case "STRING":
		return "VARCHAR"
	case "BOOL", "BOOLEAN":
		return "BOOLEAN"
	case "DATE":
		return "DATE"
	case "TIMESTAMP", "DATETIME":
		return "TIMESTAMP"
	}
	return strings.ToUpper(t)
}

// ref quotes a table of the dataset for GoogleSQL.
func (c *Catalog) ref(table string) string {
	return "`" + c.cfg.Project + "." + c.cfg.Dataset + "." + table + "`"
}

// Tier implements datasets.Catalog.
func (c *Catalog) Tier() datasets.Tier { return c.tier }

// Close implements datasets.Catalog.
func (c *Catalog) Close() error {
	c.dbOnce.Do(func() {}) // no engine after Close
	if c.db != nil {
		c.db.Close()
	}
	return c.client.Close()
}

// Tables implements datasets.Catalog.
func (c *Catalog) Tables(ctx context.Context) ([]datasets.TableInfo, error) {
	out := make([]datasets.TableInfo, 0, len(c.order))
	for _, n := range c.order {
		t := *c.tables[n]
		t.Columns = append([]datasets.Column(nil), t.Columns...)
		out = append(out, t)
	}
	return out, nil
}

// query runs sql with params under the session's budget and calls each for
// every row. kind names the query in the audit log.
func (c *Catalog) query(ctx context.Context, kind, sql string, params []bq.QueryParameter, each func([]bq.Value) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.queryTimeout())
	defer cancel()
	start := time.Now()
	st := QueryStats{Kind: kind}
	err := c.run(ctx, sql, params, &st, each)
	st.Duration = time.Since(start)
	if err != nil {
		st.Error = datasets.AuditText(c.engineErr(ctx, err))
	}
	c.mu.Lock()
	st.Session = c.spent
	log := c.onStat
	c.mu.Unlock()
	if log != nil {
		log(st)
	}
	return c.engineErr(ctx, err)
}

func (c *Catalog) run(ctx context.Context, sql string, params []bq.QueryParameter, st *QueryStats, each func([]bq.Value) error) error {
	remaining := c.cfg.sessionBytes() - c.Spent()
	// The dry run is free: it gives the estimate checked against the
	// budget and written to the audit log.
	dry := c.client.Query(sql)
	dry.DefaultProjectID, dry.DefaultDatasetID = c.cfg.Project, c.cfg.Dataset
	dry.Parameters = params
	dry.DryRun = true
	job, err := dry.Run(ctx)
	if err != nil {
		return err
	}
	if s := job.LastStatus(); s != nil {
		if err := s.Err(); err != nil {
			return err
		}
		if s.Statistics != nil {
			st.Estimated = s.Statistics.TotalBytesProcessed
		}
	}
	if limit, ok := ctx.Value(confirmKey{}).(int64); ok && st.Estimated > limit && st.Estimated <= remaining {
		st.Refused = true
		return &datasets.Error{
			Safe: fmt.Sprintf("not run: BigQuery estimates this query would process %s (%s at on-demand pricing), more than the %s a %%sql query runs without confirmation; this session has %s left of its %s budget. To run it, start the cell with %%sql --confirm (or %%%%sql --confirm)",
				Bytes(st.Estimated), Cost(st.Estimated), Bytes(limit), Bytes(remaining), Bytes(c.cfg.sessionBytes())),
			Err: fmt.Errorf("%w: estimate %d bytes, threshold %d", ErrConfirm, st.Estimated, limit),
		}
	}
	if st.Estimated > remaining {
		st.Refused = true
		return &datasets.Error{
			Safe: fmt.Sprintf("query refused: BigQuery estimates it would process %s, and this session has %s left of its %s budget (ask the data steward to raise bigquery.session_bytes, or narrow the query)",
				Bytes(st.Estimated), Bytes(max(remaining, 0)), Bytes(c.cfg.sessionBytes())),
			Err: fmt.Errorf("%w: estimate %d bytes, remaining %d", ErrBudget, st.Estimated, remaining),
		}
	}
	q := c.client.Query(sql)
	q.DefaultProjectID, q.DefaultDatasetID = c.cfg.Project, c.cfg.Dataset
	q.Parameters = params
	// BigQuery refuses, unbilled, a query that would bill more than this.
	// It bills at least 10 MB a query, so the floor keeps small queries
	// running near the end of the budget (the estimate check above has
	// already passed).
	q.MaxBytesBilled = max(remaining, 10<<20)
	job, err = q.Run(ctx)
	if err != nil {
		return err
	}
	st.JobID = job.ID()
	status, err := job.Wait(ctx)
	if status != nil && status.Statistics != nil {
		st.Processed = status.Statistics.TotalBytesProcessed
		if qs, ok := status.Statistics.Details.(*bq.QueryStatistics); ok {
			st.Billed = qs.TotalBytesBilled
		}
		c.mu.Lock()
		c.spent += st.Processed
		c.mu.Unlock()
	}
	if err != nil {
		return err
	}
	if err := status.Err(); err != nil {
		return err
	}
	it, err := job.Read(ctx)
	if err != nil {
		return err
	}
	for {
		var row []bq.Value
		err := it.Next(&row)
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := each(row); err != nil {
			return err
		}
	}
}

// confirmKey carries, in a query's context, the estimate above which the
// query is not run without the researcher's confirmation (QueryNative).
type confirmKey struct{}

// Cost renders what BigQuery bills on demand for n bytes processed.
func Cost(n int64) string {
	usd := float64(n) / (1 << 40) * PricePerTiB
	if usd < 0.01 {
		return "under $0.01"
	}
	return fmt.Sprintf("about $%.2f", usd)
}

// Bytes renders a byte count for people: 1.5 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[i])
}

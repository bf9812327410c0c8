package bigquery

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

// LoadReport says what Load copied.
type LoadReport struct {
	Tables map[string]int64 // rows per table
}

// Load copies every table of a tier database built by the DuckDB import
// (omop.TierPath) into the BigQuery dataset cfg names, creating the dataset
// if it is missing and replacing tables of the same name: one CSV load job
// per table, with the schema taken from the DuckDB columns (INTEGER and
// BIGINT as INT64, DOUBLE as FLOAT64, VARCHAR as STRING, DATE, TIMESTAMP).
// The tier is curated once, by the DuckDB import, whichever backend serves
// it. tierDB is opened read-only; a NULL is written as an empty field, so an
// empty string arrives as NULL (the OMOP tables hold none).
func Load(ctx context.Context, cfg Config, tierDB *sql.DB, progress io.Writer) (*LoadReport, error) {
	client, err := NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	ds := client.Dataset(cfg.Dataset)
	// The dataset's metadata is a small request: an endpoint that does not
	// answer it within probeTimeout is not there (the client retries a
	// refused connection until its context ends).
	probe, cancel := context.WithTimeout(ctx, min(probeTimeout, cfg.queryTimeout()))
	_, err = ds.Metadata(probe)
	cancel()
	if err != nil {
		var ge *googleapi.Error
		if probe.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("bigquery: dataset %s.%s: BigQuery did not answer within %s (is the endpoint right and reachable?): %w",
				cfg.Project, cfg.Dataset, min(probeTimeout, cfg.queryTimeout()), err)
		}
		if !errors.As(err, &ge) || ge.Code != 404 {
			return nil, fmt.Errorf("bigquery: dataset %s.%s: %w", cfg.Project, cfg.Dataset, err)
		}
		if err := ds.Create(ctx, &bq.DatasetMetadata{Location: cfg.Location}); err != nil {
			return nil, fmt.Errorf("bigquery: create dataset %s.%s: %w", cfg.Project, cfg.Dataset, err)
		}
	}
	rows, err := tierDB.QueryContext(ctx, `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("bigquery: list tier tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("bigquery: list tier tables: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bigquery: list tier tables: %w", err)
	}
	rep := &LoadReport{Tables: map[string]int64{}}
	// The DuckDB column types, which BigQuery's INT64/FLOAT64/STRING
	// collapse, so the catalog reports the types the DuckDB one does.
	if err := loadColumns(ctx, ds, tierDB, uploadOptions(cfg)); err != nil {
		return nil, fmt.Errorf("bigquery: load %s: %w", ColumnsTable, err)
	}
	for _, n := range names {
		start := time.Now()
		count, err := loadTable(ctx, ds, tierDB, n, uploadOptions(cfg))
		if err != nil {
			return rep, fmt.Errorf("bigquery: load %s: %w", n, err)
		}
		rep.Tables[n] = count
		if progress != nil {
			fmt.Fprintf(progress, "bigquery: %s.%s.%s: %d rows in %s\n", cfg.Project, cfg.Dataset, n, count, time.Since(start).Round(time.Millisecond))
		}
	}
	return rep, nil
}

// uploadOptions are the media options of Load's uploads. BigQuery takes
// a table's CSV as a resumable upload once it is larger than the client's
// chunk (16 MiB); the emulator an endpoint override points at (v0.8.1)
// cannot decode a resumable upload's requests, so there every table goes
// in one request.
func uploadOptions(cfg Config) []googleapi.MediaOption {
	if cfg.Endpoint == "" {
		return nil
	}
	return []googleapi.MediaOption{googleapi.ChunkSize(0)}
}

// probeTimeout bounds Load's first request, which tells whether BigQuery
// answers at all.
const probeTimeout = 30 * time.Second

func loadTable(ctx context.Context, ds *bq.Dataset, db *sql.DB, table string, upload []googleapi.MediaOption) (int64, error) {
	if !columnName.MatchString(table) {
		return 0, fmt.Errorf("table name cannot be quoted")
	}
	cols, err := db.QueryContext(ctx, `SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database()
		AND schema_name = 'main' AND table_name = ? ORDER BY column_index`, table)
	if err != nil {
		return 0, err
	}
	var schema bq.Schema
	var names []string
	for cols.Next() {
		var n, typ string
		if err := cols.Scan(&n, &typ); err != nil {
			cols.Close()
			return 0, err
		}
		ft, ok := map[string]bq.FieldType{"INTEGER": bq.IntegerFieldType, "BIGINT": bq.IntegerFieldType, "SMALLINT": bq.IntegerFieldType,
			"DOUBLE": bq.FloatFieldType, "FLOAT": bq.FloatFieldType, "VARCHAR": bq.StringFieldType, "DATE": bq.DateFieldType,
			"TIMESTAMP": bq.TimestampFieldType, "BOOLEAN": bq.BooleanFieldType}[typ]
		bare := strings.Trim(n, `"`) // "offset": quoted in DuckDB, bare in BigQuery
		if !ok || !columnName.MatchString(bare) {
			cols.Close()
			return 0, fmt.Errorf("column %s has type %s, which the loader does not carry", n, typ)
		}
		schema = append(schema, &bq.FieldSchema{Name: bare, Type: ft})
		names = append(names, `"`+strings.ReplaceAll(n, `"`, `""`)+`"`)
	}
	cols.Close()
	f, err := os.CreateTemp("", "enclave-bq-*.csv")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	count, err := writeCSV(ctx, db, f, table, names, schema)
	if err != nil {
		return 0, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	src := bq.NewReaderSource(f)
	src.SourceFormat = bq.CSV
	src.SkipLeadingRows = 1
	src.Schema = schema
	loader := ds.Table(table).LoaderFrom(src)
	loader.WriteDisposition = bq.WriteTruncate
	loader.CreateDisposition = bq.CreateIfNeeded
	loader.MediaOptions = upload
	job, err := loader.Run(ctx)
	if err != nil {
		return 0, err
	}
	status, err := job.Wait(ctx)
	if err != nil {
		return 0, err
	}
	if err := status.Err(); err != nil {
		return 0, err
	}
	return count, nil
}

// writeCSV writes table as CSV with a header: dates as YYYY-MM-DD,
// timestamps as YYYY-MM-DD HH:MM:SS[.ffffff] UTC, NULL as an empty field.
func writeCSV(ctx context.Context, db *sql.DB, w io.Writer, table string, names []string, schema bq.Schema) (int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT "+strings.Join(names, ", ")+` FROM "`+table+`"`)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	header := make([]string, len(schema))
	for i, f := range schema {
		header[i] = f.Name
	}
	if err := cw.Write(header); err != nil {
		return 0, err
	}
	vals := make([]any, len(schema))
	ptrs := make([]any, len(schema))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	rec := make([]string, len(schema))
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		for i, v := range vals {
			rec[i] = csvValue(v, schema[i].Type)
		}
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	cw.Flush()
	return n, cw.Error()
}

func csvValue(v any, t bq.FieldType) string {
	switch x := v.(type) {
	case nil:
		return ""
	case time.Time:
		if t == bq.DateFieldType {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format("2006-01-02 15:04:05.999999")
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case []byte:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// ColumnsTable holds the DuckDB type of every tier column (table_name,
// column_name, data_type).
const ColumnsTable = "enclave_columns"

func loadColumns(ctx context.Context, ds *bq.Dataset, db *sql.DB, upload []googleapi.MediaOption) error {
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main' ORDER BY table_name, column_index`)
	if err != nil {
		return err
	}
	defer rows.Close()
	f, err := os.CreateTemp("", "enclave-bq-*.csv")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cw := csv.NewWriter(f)
	cw.Write([]string{"table_name", "column_name", "data_type"})
	for rows.Next() {
		var t, c, typ string
		if err := rows.Scan(&t, &c, &typ); err != nil {
			return err
		}
		cw.Write([]string{t, strings.Trim(c, `"`), typ})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	src := bq.NewReaderSource(f)
	src.SourceFormat = bq.CSV
	src.SkipLeadingRows = 1
	src.Schema = bq.Schema{{Name: "table_name", Type: bq.StringFieldType}, {Name: "column_name", Type: bq.StringFieldType}, {Name: "data_type", Type: bq.StringFieldType}}
	loader := ds.Table(ColumnsTable).LoaderFrom(src)
	loader.WriteDisposition = bq.WriteTruncate
	loader.MediaOptions = upload
	job, err := loader.Run(ctx)
	if err != nil {
		return err
	}
	status, err := job.Wait(ctx)
	if err != nil {
		return err
	}
	return status.Err()
}

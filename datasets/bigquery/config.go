package bigquery

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"time"
)

// Config names the BigQuery dataset of one tier and bounds what a session
// may spend on it. It is the `bigquery:` block of a workspace.yaml.
type Config struct {
	Project string `yaml:"project"` // the project holding the dataset (and billed for queries)
	Dataset string `yaml:"dataset"` // the dataset holding the tier's tables
	// Location is the dataset's location, e.g. "US" ("" lets BigQuery
	// find it).
	Location string `yaml:"location,omitempty"`
	// Endpoint overrides the BigQuery API address; only a loopback
	// http(s) address (an emulator) is accepted, and it is used without
	// credentials. Empty means Google's endpoint with the service's
	// Application Default Credentials.
	Endpoint string `yaml:"endpoint,omitempty"`
	// SessionBytes is the most bytes the queries of one kernel session may
	// process (0: DefaultSessionBytes).
	SessionBytes int64 `yaml:"session_bytes,omitempty"`
	// SQLConfirmBytes is the most bytes a %sql query may process without
	// the researcher seeing the dry-run estimate first: a larger one is
	// not run, and the cell shows the estimate and how to confirm it
	// (0: DefaultSQLConfirmBytes).
	SQLConfirmBytes int64 `yaml:"sql_confirm_bytes,omitempty"`
	// QueryTimeout bounds one query, retries included (0:
	// DefaultQueryTimeout).
	QueryTimeout time.Duration `yaml:"query_timeout,omitempty"`
}

// Defaults of Config.
const (
	// DefaultSessionBytes is 1 TiB: at on-demand pricing ($6.25 per TiB
	// scanned) a session cannot cost more than about $6.25.
	DefaultSessionBytes int64 = 1 << 40
	// DefaultQueryTimeout bounds one query.
	DefaultQueryTimeout = 5 * time.Minute
	// DefaultSQLConfirmBytes is 100 GiB (about $0.61 on demand): a %sql
	// query that would process more shows its estimate first.
	DefaultSQLConfirmBytes int64 = 100 << 30
	// PricePerTiB is BigQuery's on-demand price per TiB processed (US
	// multi-region), for the estimates shown to researchers.
	PricePerTiB = 6.25
)

var (
	// Project ids are 6-30 lower-case letters, digits and hyphens; older
	// ones may carry a "domain:" prefix.
	projectPattern = regexp.MustCompile(`^([a-z][a-z0-9.-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	// Dataset ids are letters, digits and underscores, at most 1024.
	datasetPattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

// Validate checks the names and the endpoint. Names are checked because
// they are spliced into SQL as quoted identifiers.
func (c Config) Validate() error {
	if !projectPattern.MatchString(c.Project) {
		return fmt.Errorf("bigquery: project %q is not a BigQuery project id", c.Project)
	}
	if !datasetPattern.MatchString(c.Dataset) || len(c.Dataset) > 1024 {
		return fmt.Errorf("bigquery: dataset %q is not a BigQuery dataset id (letters, digits, underscores)", c.Dataset)
	}
	if c.SessionBytes < 0 {
		return fmt.Errorf("bigquery: session_bytes must not be negative")
	}
	if c.SQLConfirmBytes < 0 {
		return fmt.Errorf("bigquery: sql_confirm_bytes must not be negative")
	}
	if c.QueryTimeout < 0 {
		return fmt.Errorf("bigquery: query_timeout must not be negative")
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("bigquery: endpoint %q is not an http(s) URL", c.Endpoint)
		}
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("bigquery: endpoint %q is not a loopback address: the override is for a local emulator only", c.Endpoint)
		}
	}
	return nil
}

func (c Config) sessionBytes() int64 {
	if c.SessionBytes == 0 {
		return DefaultSessionBytes
	}
	return c.SessionBytes
}

func (c Config) sqlConfirmBytes() int64 {
	if c.SQLConfirmBytes == 0 {
		return DefaultSQLConfirmBytes
	}
	return c.SQLConfirmBytes
}

func (c Config) queryTimeout() time.Duration {
	if c.QueryTimeout == 0 {
		return DefaultQueryTimeout
	}
	return c.QueryTimeout
}

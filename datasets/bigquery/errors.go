package bigquery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"

	"google.golang.org/api/googleapi"

	"enclave/datasets"
)

// ErrBudget is matched (errors.Is) by the error of a query refused because
// it would take the session past its byte budget.
var ErrBudget = errors.New("bigquery: session byte budget exceeded")

// ErrConfirm is matched (errors.Is) by the error of a %sql query not run
// because its estimate is above the workspace's sql_confirm_bytes and the
// researcher has not confirmed it.
var ErrConfirm = errors.New("bigquery: the query's estimate needs the researcher's confirmation")

// engineErr turns an error of the BigQuery client into a *datasets.Error
// whose safe text names only the class of the failure: BigQuery messages
// can echo literals and values from the data ("Bad int64 value: ..."), so
// they go to the audit text only.
func (c *Catalog) engineErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var de *datasets.Error
	if errors.As(err, &de) {
		return err
	}
	return &datasets.Error{Safe: c.classify(ctx, err), Err: err}
}

func (c *Catalog) classify(ctx context.Context, err error) string {
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return "query cancelled"
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("BigQuery did not answer within %s (unreachable or overloaded); the query was abandoned", c.cfg.queryTimeout())
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		reason := ""
		if len(ge.Errors) > 0 {
			reason = ge.Errors[0].Reason
		}
		switch reason {
		case "bytesBilledLimitExceeded":
			return "query refused: it would process more bytes than this session's remaining BigQuery budget"
		case "quotaExceeded", "rateLimitExceeded":
			return "BigQuery quota or rate limit reached; try again later"
		case "accessDenied":
			return "the data service may not read this BigQuery dataset (permission denied)"
		case "notFound":
			return "a table or dataset the query needs is missing from the BigQuery dataset"
		case "invalidQuery", "invalid":
			return "query failed: the query is not valid for this catalog (details in the audit log)"
		case "backendError", "internalError":
			return "BigQuery failed internally; try again later"
		case "responseTooLarge", "resourcesExceeded":
			return "query failed: it needs more resources than BigQuery gives one query"
		}
		switch ge.Code {
		case 400:
			return "query failed: the query is not valid for this catalog (details in the audit log)"
		case 401, 403:
			return "the data service may not read this BigQuery dataset (permission denied)"
		case 404:
			return "a table or dataset the query needs is missing from the BigQuery dataset"
		case 429:
			return "BigQuery quota or rate limit reached; try again later"
		}
		if ge.Code >= 500 {
			return "BigQuery failed internally; try again later"
		}
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return "BigQuery is unreachable (the connection failed); the query was abandoned"
	}
	return "query failed (details in the audit log)"
}

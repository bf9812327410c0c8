package kernel

import "enclave/kernel/wire"

// AuditClass says what the audit log records about a request.
type AuditClass string

// Audit classes.
const (
	AuditCode    AuditClass = "code"    // the request carries code that runs: record it
	AuditSession AuditClass = "session" // changes the session (shutdown, interrupt): record it
	AuditQuery   AuditClass = "query"   // reads kernel state (completion, history): not recorded
	AuditNone    AuditClass = "none"    // protocol housekeeping
)

// route is one entry of the dispatch table.
type route struct {
	handle   func(*Kernel, *request) error
	channels []wire.Channel // where the request may arrive
	blocking bool           // holds the shell queue while user code runs
	audit    AuditClass
}

// routes maps every request msg_type of the messaging spec (5.3, 5.4) to
// its handler. A test checks that none is missing.
var routes = map[string]route{
	"execute_request":     {(*Kernel).execute, []wire.Channel{wire.Shell}, true, AuditCode},
	"inspect_request":     {(*Kernel).inspect, []wire.Channel{wire.Shell}, false, AuditQuery},
	"complete_request":    {(*Kernel).complete, []wire.Channel{wire.Shell}, false, AuditQuery},
	"history_request":     {(*Kernel).history, []wire.Channel{wire.Shell}, false, AuditQuery},
	"is_complete_request": {(*Kernel).isComplete, []wire.Channel{wire.Shell}, false, AuditQuery},
	"connect_request":     {(*Kernel).connect, []wire.Channel{wire.Shell, wire.Control}, false, AuditNone},
	"comm_info_request":   {(*Kernel).commInfo, []wire.Channel{wire.Shell, wire.Control}, false, AuditNone},
	"kernel_info_request": {(*Kernel).kernelInfo, []wire.Channel{wire.Shell, wire.Control}, false, AuditNone},
	"comm_open":           {(*Kernel).commOpen, []wire.Channel{wire.Shell}, false, AuditNone},
	"comm_msg":            {(*Kernel).commIgnore, []wire.Channel{wire.Shell}, false, AuditNone},
	"comm_close":          {(*Kernel).commIgnore, []wire.Channel{wire.Shell}, false, AuditNone},
	"shutdown_request":    {(*Kernel).shutdown, []wire.Channel{wire.Control, wire.Shell}, false, AuditSession},
	"interrupt_request":   {(*Kernel).interrupt, []wire.Channel{wire.Control, wire.Shell}, false, AuditSession},
	"debug_request":       {(*Kernel).debug, []wire.Channel{wire.Control}, false, AuditNone},
	"input_reply":         {(*Kernel).inputReply, []wire.Channel{wire.Stdin}, false, AuditNone},
}

func (r route) allows(ch wire.Channel) bool {
	for _, c := range r.channels {
		if c == ch {
			return true
		}
	}
	return false
}

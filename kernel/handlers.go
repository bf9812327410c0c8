package kernel

import (
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"unicode/utf8"

	"enclave/kernel/wire"
)

type codeQuery struct {
	Code        string `json:"code"`
	CursorPos   *int   `json:"cursor_pos"`
	DetailLevel int    `json:"detail_level"`
}

// cursor is the cursor position in code points, as Jupyter counts it.
func (q *codeQuery) cursor() int {
	n := utf8.RuneCountInString(q.Code)
	if q.CursorPos == nil || *q.CursorPos > n || *q.CursorPos < 0 {
		return n
	}
	return *q.CursorPos
}

func (k *Kernel) complete(req *request) error {
	var q codeQuery
	if !k.decode(req, &q, "complete_reply") {
		return nil
	}
	cur := q.cursor()
	res := Completion{Matches: []string{}, CursorStart: cur, CursorEnd: cur}
	if m, ok := k.magicCompletion(q.Code, cur); ok {
		res = m
	} else if c, ok := k.cfg.Executor.(Completer); ok && k.workspaceOK() && !k.holding() {
		ctx, cancel := context.WithTimeout(req.ctx, queryTimeout)
		r, err := c.Complete(ctx, q.Code, cur)
		cancel()
		if err != nil {
			k.log.Printf("complete: %v", err)
		} else {
			res = r
			if res.Matches == nil {
				res.Matches = []string{}
			}
		}
	}
	// Matches can name what user code made (struct fields, variables): the
	// gate sees them like any other output of the worker.
	matches := json.RawMessage("[]")
	if len(res.Matches) > 0 {
		if b := released(k.release(req.msg, "complete_reply", map[string]any{"matches": res.Matches}), "complete_reply"); b != nil {
			var shown struct {
				Matches json.RawMessage `json:"matches"`
			}
			if json.Unmarshal(b, &shown) == nil && len(shown.Matches) > 0 {
				matches = shown.Matches
			}
		}
	}
	k.reply(req, "complete_reply", map[string]any{
		"status": "ok", "matches": matches, "cursor_start": res.CursorStart,
		"cursor_end": res.CursorEnd, "metadata": map[string]any{},
	})
	return nil
}

func (k *Kernel) inspect(req *request) error {
	var q codeQuery
	if !k.decode(req, &q, "inspect_reply") {
		return nil
	}
	var data map[string]any
	if in, ok := k.cfg.Executor.(Inspector); ok && k.workspaceOK() && !k.holding() {
		ctx, cancel := context.WithTimeout(req.ctx, queryTimeout)
		d, err := in.Inspect(ctx, q.Code, q.cursor(), q.DetailLevel)
		cancel()
		if err != nil {
			k.log.Printf("inspect: %v", err)
		}
		data = d
	}
	var shown any = map[string]any{}
	if len(data) > 0 {
		if b := released(k.release(req.msg, "inspect_reply", data), "inspect_reply"); b != nil {
			shown = b
		} else {
			data = nil
		}
	}
	k.reply(req, "inspect_reply", map[string]any{
		"status": "ok", "found": len(data) > 0, "data": shown, "metadata": map[string]any{},
	})
	return nil
}

func (k *Kernel) isComplete(req *request) error {
	var q struct {
		Code string `json:"code"`
	}
	if !k.decode(req, &q, "is_complete_reply") {
		return nil
	}
	r := map[string]any{"status": "unknown"}
	if strings.HasPrefix(strings.TrimSpace(q.Code), "%") {
		r["status"] = "complete" // a magic line
	} else if k.cfg.IsComplete != nil {
		status, indent := k.cfg.IsComplete(q.Code)
		r["status"] = status
		if status == "incomplete" {
			r["indent"] = indent
		}
	}
	k.reply(req, "is_complete_reply", r)
	return nil
}

func (k *Kernel) history(req *request) error {
	var q historyQuery
	if !k.decode(req, &q, "history_reply") {
		return nil
	}
	k.reply(req, "history_reply", map[string]any{"status": "ok", "history": k.hist.query(q)})
	return nil
}

func (k *Kernel) connect(req *request) error {
	r := map[string]any{"status": "ok"}
	for name, port := range k.cfg.Ports {
		r[name] = port
	}
	k.reply(req, "connect_reply", r)
	return nil
}

func (k *Kernel) commInfo(req *request) error {
	k.reply(req, "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}})
	return nil
}

// commOpen answers a comm_open for a target this kernel does not have with
// comm_close, as ipykernel does, so the frontend does not wait on it.
func (k *Kernel) commOpen(req *request) error {
	var c struct {
		CommID     string `json:"comm_id"`
		TargetName string `json:"target_name"`
	}
	if err := decodeContent(req.msg, &c); err != nil || c.CommID == "" {
		k.log.Printf("comm_open without a comm_id ignored")
		return nil
	}
	k.log.Printf("comm_open for unknown target %q: closing comm %s", c.TargetName, c.CommID)
	k.publish(req.msg, "comm_close", map[string]any{"comm_id": c.CommID, "data": map[string]any{}})
	return nil
}

func (k *Kernel) commIgnore(req *request) error {
	k.log.Printf("ignored %s: no comms are open", req.msg.Header.MsgType)
	return nil
}

func (k *Kernel) kernelInfo(req *request) error {
	k.reply(req, "kernel_info_reply", k.info())
	return nil
}

func (k *Kernel) info() map[string]any {
	goVersion := k.cfg.LanguageVersion
	if goVersion == "" {
		goVersion = strings.TrimPrefix(runtime.Version(), "go")
	}
	impl := k.cfg.Implementation
	if impl == "" {
		impl = "0.1.0"
	}
	return map[string]any{
		"status":                 "ok",
		"protocol_version":       wire.ProtocolVersion,
		"implementation":         "enclave",
		"implementation_version": impl,
		"language_info": map[string]any{
			"name":               "go",
			"version":            goVersion,
			"mimetype":           "text/x-go",
			"file_extension":     ".go",
			"pygments_lexer":     "go",
			"codemirror_mode":    "go",
			"nbconvert_exporter": "script",
		},
		"banner": "enclave " + impl + ": Go (" + goVersion + ", interpreted by yaegi) for protected health cohorts.\n" +
			"Cells run in a separate, confined worker; all output passes the kernel's release gate.\n" +
			"Magics: " + k.magicNames(),
		"debugger": false,
		"help_links": []map[string]string{
			{"text": "Go documentation", "url": "https://go.dev/doc/"},
			{"text": "Go standard library", "url": "https://pkg.go.dev/std"},
			{"text": "yaegi", "url": "https://github.com/traefik/yaegi"},
			{"text": "OMOP CDM v5.3", "url": "https://ohdsi.github.io/CommonDataModel/cdm53.html"},
		},
	}
}

func (k *Kernel) shutdown(req *request) error {
	var c struct {
		Restart bool `json:"restart"`
	}
	decodeContent(req.msg, &c)
	r := map[string]any{"status": "ok", "restart": c.Restart}
	k.reply(req, "shutdown_reply", r)
	k.publish(req.msg, "shutdown_reply", r)
	k.Interrupt()
	k.finish(c.Restart)
	return nil
}

func (k *Kernel) interrupt(req *request) error {
	k.Interrupt()
	k.reply(req, "interrupt_reply", map[string]any{"status": "ok"})
	return nil
}

// debug answers debug_request: kernel_info says there is no debugger.
func (k *Kernel) debug(req *request) error {
	var c struct {
		Seq     int    `json:"seq"`
		Command string `json:"command"`
	}
	decodeContent(req.msg, &c)
	k.reply(req, "debug_reply", map[string]any{
		"type": "response", "request_seq": c.Seq, "success": false, "command": c.Command,
		"message": "enclave has no debugger", "body": map[string]any{},
	})
	return nil
}

func (k *Kernel) workspaceOK() bool {
	_, err := k.workspace()
	return err == nil
}

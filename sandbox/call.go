package sandbox

import (
	"context"
	"encoding/json"
	"errors"

	"enclave/rpc"
)

// ErrNoCell is returned by an API call made when no cell is running (from
// a goroutine a finished cell left behind).
var ErrNoCell = errors.New("the enclave API can only be used while a cell runs")

// call sends an API call to the kernel as rpc.Call under the running
// cell's ID and waits for its rpc.CallReply. Calls are one at a time: the
// reply is matched by the cell's ID only.
func (w *Worker) call(method string, args json.RawMessage) (json.RawMessage, error) {
	c := w.currentCell()
	if c == nil {
		return nil, ErrNoCell
	}
	w.callMu.Lock()
	defer w.callMu.Unlock()
	select { // a reply to an earlier, interrupted call
	case <-w.calls:
	default:
	}
	w.out.flush()
	if err := w.conn.Send(&rpc.Msg{Type: rpc.Call, ID: c.id, Call: &rpc.CallRequest{Method: method, Args: args}}); err != nil {
		return nil, err
	}
	select {
	case m := <-w.calls:
		if m.Reply == nil {
			return nil, errors.New("the kernel sent an empty reply to " + method)
		}
		if m.Reply.Error != "" {
			return nil, errors.New(m.Reply.Error)
		}
		return m.Reply.Result, nil
	case <-c.ctx.Done():
		return nil, context.Cause(c.ctx)
	}
}

package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
)

// Transport sends one call to the kernel and returns its JSON result, or
// the kernel's refusal as an error. The worker runtime installs it.
type Transport func(method string, args json.RawMessage) (json.RawMessage, error)

var (
	mu        sync.RWMutex
	transport Transport
)

// ErrNoKernel is returned when no transport is installed (outside a worker).
var ErrNoKernel = errors.New("remote: not connected to an enclave kernel")

// SetTransport installs the transport; the worker runtime calls it once.
func SetTransport(t Transport) {
	mu.Lock()
	transport = t
	mu.Unlock()
}

// Call asks the kernel to run method with args (encoded as JSON) and
// decodes the answer into result, if result is not nil.
func Call(method string, args, result any) error {
	mu.RLock()
	t := transport
	mu.RUnlock()
	if t == nil {
		return ErrNoKernel
	}
	raw, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("remote: %s: encode arguments: %w", method, err)
	}
	out, err := t(method, raw)
	if err != nil {
		return err
	}
	if result == nil || len(out) == 0 {
		return nil
	}
	if err := json.Unmarshal(out, result); err != nil {
		return fmt.Errorf("remote: %s: decode result: %w", method, err)
	}
	return nil
}

package remote

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestCall(t *testing.T) {
	SetTransport(nil)
	if err := Call("x", nil, nil); !errors.Is(err, ErrNoKernel) {
		t.Fatalf("without transport: %v", err)
	}
	SetTransport(func(method string, args json.RawMessage) (json.RawMessage, error) {
		if method == "refuse" {
			return nil, errors.New("cohort too small to release")
		}
		return json.RawMessage(`{"echo":` + string(args) + `}`), nil
	})
	defer SetTransport(nil)
	var out struct{ Echo []int }
	if err := Call("echo", []int{1, 2}, &out); err != nil || len(out.Echo) != 2 {
		t.Fatalf("echo: %v %+v", err, out)
	}
	if err := Call("refuse", nil, nil); err == nil || err.Error() != "cohort too small to release" {
		t.Fatalf("refusal: %v", err)
	}
}

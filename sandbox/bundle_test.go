package sandbox

import (
	"math"
	"slices"
	"testing"
)

func TestEncodeBundle(t *testing.T) {
	raw, problems := encodeBundle(map[string]any{
		"text/html":        "<b>&</b>",
		"application/json": map[string]any{"x": math.NaN()},
		"image/png":        "iVBO",
		"text/x-chan":      make(chan int),
	})
	// Sorted keys, HTML as it is (one byte per "<"), the bad entries left out.
	if want := `{"image/png":"iVBO","text/html":"<b>&</b>"}`; string(raw) != want {
		t.Errorf("bundle %s, want %s", raw, want)
	}
	want := []string{
		"display: application/json holds NaN, which JSON cannot encode",
		"display: text/x-chan holds a chan int, which JSON cannot encode",
	}
	if !slices.Equal(problems, want) {
		t.Errorf("problems %q, want %q", problems, want)
	}
	if raw, problems := encodeBundle(nil); string(raw) != "{}" || problems != nil {
		t.Errorf("empty bundle: %s %q", raw, problems)
	}
}

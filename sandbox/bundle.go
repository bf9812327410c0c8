package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
)

// encodeBundle encodes a MIME bundle as the JSON object the kernel passes
// on without decoding it (rpc.DisplayData). Each entry is encoded on its
// own, so that one JSON cannot hold (a NaN in application/json, a channel)
// is left out rather than losing the whole bundle; problems says, per entry
// left out, why. Keys are sorted, as encoding/json sorts a map's.
func encodeBundle(data map[string]any) (raw json.RawMessage, problems []string) {
	var b bytes.Buffer
	b.Grow(int(bundleSize(data)) + 2 + 8*len(data))
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // as rpc.Conn sends the rest: "<" stays one byte
	b.WriteByte('{')
	for _, k := range slices.Sorted(maps.Keys(data)) {
		mark := b.Len()
		if mark > 1 {
			b.WriteByte(',')
		}
		enc.Encode(k) // a string always encodes
		b.Truncate(b.Len() - 1)
		b.WriteByte(':')
		if err := enc.Encode(data[k]); err != nil {
			b.Truncate(mark)
			problems = append(problems, encodeProblem(k, err))
			continue
		}
		b.Truncate(b.Len() - 1) // Encode's newline
	}
	b.WriteByte('}')
	return b.Bytes(), problems
}

// encodeMetadata encodes a display's metadata; nil when there is none.
func encodeMetadata(meta map[string]any) (json.RawMessage, []string) {
	if len(meta) == 0 {
		return nil, nil
	}
	return encodeBundle(meta)
}

// encodeProblem says why the bundle entry mime could not be encoded, in
// words a researcher can act on: "display: application/json holds NaN,
// which JSON cannot encode".
func encodeProblem(mime string, err error) string {
	var uv *json.UnsupportedValueError
	var ut *json.UnsupportedTypeError
	switch {
	case errors.As(err, &uv) && (uv.Str == "NaN" || uv.Str == "+Inf" || uv.Str == "-Inf"):
		return "display: " + mime + " holds " + uv.Str + ", which JSON cannot encode"
	case errors.As(err, &ut):
		return "display: " + mime + " holds a " + ut.Type.String() + ", which JSON cannot encode"
	}
	return "display: " + mime + " could not be encoded as JSON: " + err.Error()
}

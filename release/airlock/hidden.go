package airlock

import (
	"bytes"
	"encoding/json"
	"unicode"
	"unicode/utf8"
)

// Hidden counts the characters of content that a reviewer reading it on a
// screen does not see: format characters (zero-width spaces and joiners,
// bidi controls, the BOM), controls other than tab, newline and carriage
// return, and spaces other than U+0020 (no-break and thin spaces look like
// one). For an output item (NDJSON of the messages withheld) the strings
// inside each JSON line are read too, where they may be written as \u
// escapes. Review 44 hid six BMI readings as zero-width characters after
// one innocent sentence; the reviewer saw the sentence and approved it.
func Hidden(content []byte) int {
	n := 0
	for line := range bytes.Lines(content) {
		var v any
		if json.Unmarshal(line, &v) == nil {
			n += hiddenInJSON(v)
		} else {
			n += hiddenIn(line)
		}
	}
	return n
}

func hiddenInJSON(v any) int {
	switch t := v.(type) {
	case string:
		return hiddenIn([]byte(t))
	case []any:
		n := 0
		for _, x := range t {
			n += hiddenInJSON(x)
		}
		return n
	case map[string]any:
		n := 0
		for k, x := range t {
			n += hiddenIn([]byte(k)) + hiddenInJSON(x)
		}
		return n
	}
	return 0
}

func hiddenIn(b []byte) int {
	n := 0
	for _, r := range string(b) { // invalid bytes come as utf8.RuneError
		if Invisible(r) {
			n++
		}
	}
	return n
}

// Invisible reports whether r is a character a reader does not see, or
// cannot tell from another (see Hidden).
func Invisible(r rune) bool {
	switch {
	case r == '\n' || r == '\t' || r == '\r' || r == ' ':
		return false
	case r == utf8.RuneError:
		return true
	case unicode.Is(unicode.Cf, r), unicode.IsControl(r), unicode.Is(unicode.Zs, r),
		unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return true
	}
	return !unicode.IsPrint(r) && !unicode.IsGraphic(r)
}

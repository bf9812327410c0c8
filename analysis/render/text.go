package render

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// cleanText makes s safe to place in any of the outputs: invalid UTF-8 is
// replaced, and control characters (including newlines and tabs, which
// would break the alignment of plain text) and the code points XML does not
// allow become spaces.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0, r == 0xfffe, r == 0xffff:
			return ' '
		}
		return r
	}, s)
}

// cleanLines is cleanText for text that may span several lines (a plot's
// footnote): it keeps the line breaks and cleans each line.
func cleanLines(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(cleanText(l))
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// width is the display width of s for aligning plain text: one column per
// rune ("≤" and "–" are one rune each).
func width(s string) int { return utf8.RuneCountInString(s) }

// padRight pads s with spaces on the right to w runes.
func padRight(s string, w int) string {
	if n := width(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// padLeft pads s with spaces on the left to w runes.
func padLeft(s string, w int) string {
	if n := width(s); n < w {
		return strings.Repeat(" ", w-n) + s
	}
	return s
}

// formatNum writes a released number in its shortest exact form, without
// an exponent for ordinary magnitudes.
func formatNum(v float64) string {
	if v == 0 {
		return "0" // also for -0
	}
	if a := math.Abs(v); a >= 1e-4 && a < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// finite reports whether v is neither NaN nor infinite.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

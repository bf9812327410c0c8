package kernel

import (
	"unicode/utf8"
)

// plain marks the ASCII bytes a JSON string holds as they are.
var plain = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendJSONString appends s to dst as a JSON string exactly as
// encoding/json writes it with HTML escaping off (invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped), copying runs of plain ASCII in
// bulk. Stream output is mostly such runs and the kernel's busiest path
// when a cell prints megabytes; this avoids a string copy and the
// encoder's buffer growth. s is a string or a byte slice, so that text
// received as either is escaped where it lies.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	i, start := 0, 0
	for i < len(s) {
		// Eight bytes at a time while none needs a look (SWAR: no byte
		// below 0x20, none '"' or '\\', none with the high bit set).
		for i+8 <= len(s) {
			w := le64(s, i)
			const lo, hi = 0x0101010101010101, 0x8080808080808080
			special := (w - 0x20*lo) | ((w ^ '"'*lo) - lo) | ((w ^ '\\'*lo) - lo) | w
			if special&hi != 0 {
				break
			}
			i += 8
		}
		for i < len(s) && s[i] < utf8.RuneSelf && plain[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := decodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// le64 is the little-endian word at s[i:i+8] (the compiler merges the
// loads into one).
func le64[T string | []byte](s T, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

func decodeRune[T string | []byte](s T) (rune, int) {
	if b, ok := any(s).([]byte); ok {
		return utf8.DecodeRune(b)
	}
	return utf8.DecodeRuneInString(string(s))
}

// streamJSON is the content of a stream message, built in one allocation.
func streamJSON[T string | []byte](name string, text T) []byte {
	b := make([]byte, 0, len(text)+len(text)/8+48)
	b = append(b, `{"name":"`...)
	b = append(b, name...) // "stdout" or "stderr"
	b = append(b, `","text":`...)
	b = appendJSONString(b, text)
	return append(b, '}')
}

package kernel

import (
	"encoding/binary"
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
// encoder's buffer growth.
func appendJSONString(dst []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	i, start := 0, 0
	for i < len(s) {
		// Eight bytes at a time while none needs a look (SWAR: no byte
		// below 0x20, none '"' or '\\', none with the high bit set).
		for i+8 <= len(s) {
			w := binary.LittleEndian.Uint64(s[i:])
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
		r, size := utf8.DecodeRune(s[i:])
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

// streamJSON is the content of a stream message, built in one allocation.
func streamJSON(name string, text []byte) []byte {
	b := make([]byte, 0, len(text)+len(text)/8+48)
	b = append(b, `{"name":"`...)
	b = append(b, name...) // "stdout" or "stderr"
	b = append(b, `","text":`...)
	b = appendJSONString(b, text)
	return append(b, '}')
}

package zmqsock

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
)

// FuzzZMTPScan feeds arbitrary bytes, in arbitrary read sizes, to the
// incoming frame scanner: it must never panic, must fail with
// ErrFrameTooLarge exactly when the bytes announce a multipart message
// over the limit, and must not depend on how the reads are split.
func FuzzZMTPScan(f *testing.F) {
	greeting := make([]byte, 64)
	frame := func(flags byte, body string) []byte {
		return append([]byte{flags, byte(len(body))}, body...)
	}
	var msg []byte
	msg = append(msg, greeting...)
	msg = append(msg, frame(0x04, "\x05READY")...)
	msg = append(msg, frame(0x01, "<IDS|MSG>")...)
	msg = append(msg, frame(0x00, "{}")...)
	f.Add(msg, uint8(7))
	long := append(append([]byte{}, greeting...), 0x02)
	long = binary.BigEndian.AppendUint64(long, 1<<40)
	f.Add(long, uint8(1))
	f.Add(greeting[:10], uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, chunk uint8) {
		const limit = 1 << 12
		a, peer := net.Pipe()
		defer a.Close()
		defer peer.Close()
		whole := &zmtpConn{Conn: a, greeting: 64, max: limit}
		errWhole := whole.scan(b)
		parts := &zmtpConn{Conn: a, greeting: 64, max: limit}
		var errParts error
		step := int(chunk%16) + 1
		for i := 0; i < len(b) && errParts == nil; i += step {
			errParts = parts.scan(b[i:min(i+step, len(b))])
		}
		if (errWhole == nil) != (errParts == nil) {
			t.Fatalf("whole read: %v; in %d-byte reads: %v", errWhole, step, errParts)
		}
		if errWhole != nil && !errors.Is(errWhole, ErrFrameTooLarge) {
			t.Fatalf("unexpected error %v", errWhole)
		}
		if errWhole == nil && whole.msgBytes > limit {
			t.Fatalf("%d bytes in one message passed a %d-byte limit", whole.msgBytes, limit)
		}
	})
}

package wire

import (
	"errors"
	"testing"
)

// FuzzDecode feeds arbitrary frames to Decode: it must return a message or
// one of the package's errors, never panic, and accept only frames whose
// signature verifies.
func FuzzDecode(f *testing.F) {
	s, err := NewSigner("hmac-sha256", []byte("k"))
	if err != nil {
		f.Fatal(err)
	}
	good := &Codec{Signer: s, MaxSize: 1 << 20}
	frames, err := good.Encode(&Message{
		Identities: [][]byte{[]byte("id")},
		Header:     NewHeader("execute_request", "s"),
		Content:    []byte(`{"code":"1"}`),
	})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := good.Decode(split(join(frames))); err != nil {
		f.Fatalf("the signed seed does not survive the fuzz encoding: %v", err)
	}
	f.Add(join(frames))
	f.Add(join([][]byte{[]byte("<IDS|MSG>"), []byte("sig"), []byte("{}"), []byte("{}"), []byte("{}"), []byte("{}")}))
	f.Add(join([][]byte{[]byte("<IDS|MSG>")}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		frames := split(b)
		c := &Codec{Signer: s, Guard: NewReplayGuard(4), MaxSize: 1 << 16}
		m, err := c.Decode(frames)
		if err != nil {
			if m != nil {
				t.Fatal("message and error both returned")
			}
			for _, known := range []error{ErrTooLarge, ErrNoDelimiter, ErrShort, ErrBadSignature, ErrReplay, ErrMalformed} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("unclassified error %v", err)
		}
		// Accepted: the signature must verify over the four parts.
		var d int
		for d = range frames {
			if string(frames[d]) == "<IDS|MSG>" {
				break
			}
		}
		if !s.Verify(frames[d+1], frames[d+2:d+6]) {
			t.Fatal("accepted a message whose signature does not verify")
		}
		if m.Header.MsgType == "" || m.Header.MsgID == "" {
			t.Fatal("accepted a header without msg_type or msg_id")
		}
		if _, err := c.Decode(frames); !errors.Is(err, ErrReplay) {
			t.Fatalf("replayed message: %v, want ErrReplay", err)
		}
	})
}

// join and split encode frames in one fuzz input: each frame is preceded
// by its length in one byte (longer frames are cut).
func join(frames [][]byte) []byte {
	var b []byte
	for _, f := range frames {
		if len(f) > 255 {
			f = f[:255]
		}
		b = append(b, byte(len(f)))
		b = append(b, f...)
	}
	return b
}

func split(b []byte) [][]byte {
	var frames [][]byte
	for len(b) > 0 {
		n := min(int(b[0]), len(b)-1)
		frames = append(frames, b[1:1+n])
		b = b[1+n:]
	}
	return frames
}

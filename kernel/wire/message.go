package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Channel names one of the kernel's sockets.
type Channel string

// The five channels of the messaging spec.
const (
	Shell   Channel = "shell"
	Control Channel = "control"
	Stdin   Channel = "stdin"
	IOPub   Channel = "iopub"
	HB      Channel = "hb"
)

// ProtocolVersion is the messaging spec version the kernel speaks.
const ProtocolVersion = "5.3"

// delimiter separates routing identities from the message proper.
const delimiter = "<IDS|MSG>"

// Decode errors. Every one of them means the message is dropped.
var (
	ErrNoDelimiter  = errors.New("wire: no <IDS|MSG> delimiter")
	ErrShort        = errors.New("wire: fewer than 5 frames after the delimiter")
	ErrBadSignature = errors.New("wire: bad or missing signature")
	ErrReplay       = errors.New("wire: replayed signature")
	ErrMalformed    = errors.New("wire: malformed message")
	ErrTooLarge     = errors.New("wire: message too large")
)

// Header is a message header.
type Header struct {
	MsgID    string `json:"msg_id"`
	Session  string `json:"session"`
	Username string `json:"username"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// Message is one Jupyter message. Parent, Metadata and Content are kept as
// raw JSON: the codec checks they are JSON objects, handlers decode the
// content into the shape their msg_type defines.
type Message struct {
	Identities [][]byte
	Header     Header
	RawHeader  json.RawMessage // the header as received (echoed as parent)
	Parent     json.RawMessage
	Metadata   json.RawMessage
	Content    json.RawMessage
	Buffers    [][]byte
}

// Codec signs, verifies and (de)serialises messages for one connection.
type Codec struct {
	Signer  *Signer
	Guard   *ReplayGuard // nil: no replay check
	MaxSize int          // total bytes of a message's frames; 0 = no limit
}

// NewCodec returns a codec for the connection file's scheme and key with a
// replay guard of 1<<16 digests.
func NewCodec(ci *ConnectionInfo) (*Codec, error) {
	s, err := NewSigner(ci.SignatureScheme, []byte(ci.Key))
	if err != nil {
		return nil, err
	}
	return &Codec{Signer: s, Guard: NewReplayGuard(1 << 16), MaxSize: DefaultMaxMessage}, nil
}

// DefaultMaxMessage bounds one incoming message (all frames together).
const DefaultMaxMessage = 64 << 20

// Decode checks and parses a multipart message. The signature is verified
// over the raw frames and checked against the replay guard before any JSON
// is parsed.
func (c *Codec) Decode(frames [][]byte) (*Message, error) {
	if c.MaxSize > 0 {
		n := 0
		for _, f := range frames {
			n += len(f)
		}
		if n > c.MaxSize {
			return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
		}
	}
	d := -1
	for i, f := range frames {
		if string(f) == delimiter {
			d = i
			break
		}
	}
	if d < 0 {
		return nil, ErrNoDelimiter
	}
	rest := frames[d+1:]
	if len(rest) < 5 {
		return nil, ErrShort
	}
	sig, parts := rest[0], rest[1:5]
	if c.Signer.Enabled() {
		if len(sig) == 0 || !c.Signer.Verify(sig, parts) {
			return nil, ErrBadSignature
		}
		if c.Guard != nil && c.Guard.Seen(sig) {
			return nil, ErrReplay
		}
	}
	m := &Message{Identities: frames[:d], RawHeader: parts[0], Parent: parts[1], Metadata: parts[2], Content: parts[3]}
	if len(rest) > 5 {
		m.Buffers = rest[5:]
	}
	for i, p := range parts {
		if !isObject(p) {
			return nil, fmt.Errorf("%w: %s is not a JSON object", ErrMalformed, partNames[i])
		}
	}
	if err := json.Unmarshal(parts[0], &m.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if m.Header.MsgType == "" || m.Header.MsgID == "" {
		return nil, fmt.Errorf("%w: header lacks msg_type or msg_id", ErrMalformed)
	}
	return m, nil
}

var partNames = []string{"header", "parent_header", "metadata", "content"}

func isObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) >= 2 && b[0] == '{' && json.Valid(b)
}

// Encode returns the frames of m, signed: identities, delimiter, signature,
// header, parent header, metadata, content, buffers.
func (c *Codec) Encode(m *Message) ([][]byte, error) {
	hdr, err := Marshal(m.Header)
	if err != nil {
		return nil, err
	}
	parts := [][]byte{hdr, orEmpty(m.Parent), orEmpty(m.Metadata), orEmpty(m.Content)}
	frames := make([][]byte, 0, len(m.Identities)+6+len(m.Buffers))
	frames = append(frames, m.Identities...)
	frames = append(frames, []byte(delimiter), c.Signer.Sign(parts))
	frames = append(frames, parts...)
	frames = append(frames, m.Buffers...)
	return frames, nil
}

func orEmpty(b json.RawMessage) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}

// Marshal encodes v as JSON without escaping <, > and &, which notebook
// output is full of.
func Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := b.Bytes()
	return out[:len(out)-1], nil // drop Encode's newline
}

// NewHeader returns a fresh header for a message the kernel sends.
func NewHeader(msgType, session string) Header {
	return Header{
		MsgID:    uuid.NewString(),
		Session:  session,
		Username: "kernel",
		Date:     time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"),
		MsgType:  msgType,
		Version:  ProtocolVersion,
	}
}

// Reply returns a message of msgType answering parent (nil for none), with
// content marshalled to JSON and parent's identities as routing.
func Reply(parent *Message, msgType, session string, content any) (*Message, error) {
	body, err := Marshal(content)
	if err != nil {
		return nil, fmt.Errorf("wire: encode %s: %w", msgType, err)
	}
	m := &Message{Header: NewHeader(msgType, session), Content: body, Metadata: json.RawMessage("{}")}
	if parent != nil {
		m.Parent = parent.RawHeader
		m.Identities = parent.Identities
	}
	return m, nil
}

// ParentID returns the msg_id of m's parent header, or "" if it has none.
func (m *Message) ParentID() string {
	var h struct {
		MsgID string `json:"msg_id"`
	}
	if len(m.Parent) == 0 || json.Unmarshal(m.Parent, &h) != nil {
		return ""
	}
	return h.MsgID
}

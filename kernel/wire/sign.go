package wire

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// hashes are the hashlib names the messaging spec's "hmac-<hash>" schemes
// may use, as jupyter_client's Session accepts them.
var hashes = map[string]func() hash.Hash{
	"md5":        md5.New,
	"sha1":       sha1.New,
	"sha224":     sha256.New224,
	"sha256":     sha256.New,
	"sha384":     sha512.New384,
	"sha512":     sha512.New,
	"sha512_224": sha512.New512_224,
	"sha512_256": sha512.New512_256,
	"sha3_224":   func() hash.Hash { return sha3.New224() },
	"sha3_256":   func() hash.Hash { return sha3.New256() },
	"sha3_384":   func() hash.Hash { return sha3.New384() },
	"sha3_512":   func() hash.Hash { return sha3.New512() },
}

// Signer signs and verifies messages with the connection key. With an
// empty key, as the spec allows, messages are neither signed nor checked.
// It is safe for concurrent use.
type Signer struct {
	scheme string
	pool   *sync.Pool // of hash.Hash (HMACs keyed with the connection key)
}

// NewSigner returns a signer for scheme ("hmac-sha256", "hmac-sha512", …).
func NewSigner(scheme string, key []byte) (*Signer, error) {
	name, ok := strings.CutPrefix(scheme, "hmac-")
	h := hashes[strings.ReplaceAll(name, "-", "_")]
	if !ok || h == nil {
		return nil, fmt.Errorf("signature scheme %q is not supported (use hmac-sha256)", scheme)
	}
	s := &Signer{scheme: scheme}
	if len(key) > 0 {
		k := append([]byte(nil), key...)
		s.pool = &sync.Pool{New: func() any { return hmac.New(h, k) }}
	}
	return s, nil
}

// Enabled reports whether messages are signed (the key is not empty).
func (s *Signer) Enabled() bool { return s.pool != nil }

// Sign returns the hex signature of the four signed parts (header, parent
// header, metadata, content), or nil when signing is off.
func (s *Signer) Sign(parts [][]byte) []byte {
	if s.pool == nil {
		return nil
	}
	mac := s.sum(parts)
	out := make([]byte, hex.EncodedLen(len(mac)))
	hex.Encode(out, mac)
	return out
}

// Verify reports whether sig is the hex signature of parts. It compares
// in constant time. With signing off every signature is accepted.
func (s *Signer) Verify(sig []byte, parts [][]byte) bool {
	if s.pool == nil {
		return true
	}
	got := make([]byte, hex.DecodedLen(len(sig)))
	if _, err := hex.Decode(got, sig); err != nil {
		return false
	}
	return hmac.Equal(got, s.sum(parts))
}

func (s *Signer) sum(parts [][]byte) []byte {
	h := s.pool.Get().(hash.Hash)
	h.Reset()
	for _, p := range parts {
		h.Write(p)
	}
	mac := h.Sum(nil)
	s.pool.Put(h)
	return mac
}

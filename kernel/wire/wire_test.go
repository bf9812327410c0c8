package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSignerSchemes(t *testing.T) {
	parts := [][]byte{[]byte(`{"a":1}`), []byte(`{}`), []byte(`{}`), []byte(`{"code":"1"}`)}
	for _, scheme := range []string{"hmac-sha256", "hmac-sha1", "hmac-md5", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha3_256", "hmac-sha512_256"} {
		t.Run(scheme, func(t *testing.T) {
			s, err := NewSigner(scheme, []byte("key"))
			if err != nil {
				t.Fatal(err)
			}
			sig := s.Sign(parts)
			if !s.Verify(sig, parts) {
				t.Fatal("own signature rejected")
			}
			tampered := [][]byte{parts[0], parts[1], parts[2], []byte(`{"code":"2"}`)}
			if s.Verify(sig, tampered) {
				t.Fatal("signature accepted for changed content")
			}
			other, _ := NewSigner(scheme, []byte("other key"))
			if other.Verify(sig, parts) {
				t.Fatal("signature accepted under another key")
			}
			if s.Verify([]byte("zz-not-hex"), parts) || s.Verify(nil, parts) {
				t.Fatal("malformed signature accepted")
			}
		})
	}
}

func TestSignerKnownVector(t *testing.T) {
	// Python: hmac.new(b"secret", b'{"h":1}{}{}{}', hashlib.sha256).hexdigest()
	s, _ := NewSigner("hmac-sha256", []byte("secret"))
	got := string(s.Sign([][]byte{[]byte(`{"h":1}`), []byte(`{}`), []byte(`{}`), []byte(`{}`)}))
	const want = "c61337d32dd4f04e951b821482bf0b090849025667650ef05235bea4a88e47a1"
	if got != want {
		t.Fatalf("signature %s, Python's hmac says %s", got, want)
	}
}

func TestSignerRejectsUnknownScheme(t *testing.T) {
	for _, scheme := range []string{"", "sha256", "hmac-", "hmac-whirlpool", "rsa-sha256"} {
		if _, err := NewSigner(scheme, []byte("k")); err == nil {
			t.Errorf("scheme %q accepted", scheme)
		}
	}
}

func TestEmptyKeyMeansNoSigning(t *testing.T) {
	s, err := NewSigner("hmac-sha256", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Enabled() || s.Sign([][]byte{[]byte("{}")}) != nil || !s.Verify(nil, nil) {
		t.Fatal("an empty key must turn signing off, as the spec says")
	}
}

func testCodec(t *testing.T) *Codec {
	t.Helper()
	s, err := NewSigner("hmac-sha256", []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	return &Codec{Signer: s, Guard: NewReplayGuard(16), MaxSize: 1 << 20}
}

func request(t *testing.T, c *Codec, msgType string, content string) [][]byte {
	t.Helper()
	m := &Message{
		Identities: [][]byte{[]byte("client-1"), []byte("router-2")},
		Header:     NewHeader(msgType, "s1"),
		Parent:     json.RawMessage("{}"),
		Metadata:   json.RawMessage("{}"),
		Content:    json.RawMessage(content),
		Buffers:    [][]byte{[]byte("buf")},
	}
	frames, err := c.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return frames
}

func TestCodecRoundTrip(t *testing.T) {
	c := testCodec(t)
	frames := request(t, c, "execute_request", `{"code":"x := 1"}`)
	m, err := c.Decode(frames)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Identities) != 2 || string(m.Identities[1]) != "router-2" {
		t.Errorf("identities %q", m.Identities)
	}
	if m.Header.MsgType != "execute_request" || m.Header.Session != "s1" || m.Header.Version != ProtocolVersion {
		t.Errorf("header %+v", m.Header)
	}
	if string(m.Content) != `{"code":"x := 1"}` || len(m.Buffers) != 1 {
		t.Errorf("content %s buffers %q", m.Content, m.Buffers)
	}
	r, err := Reply(m, "execute_reply", "k1", map[string]string{"status": "ok", "html": "<b>"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Parent, m.RawHeader) || len(r.Identities) != 2 {
		t.Error("a reply must carry the request's header as parent and its identities")
	}
	if !strings.Contains(string(r.Content), "<b>") {
		t.Errorf("HTML escaped in %s", r.Content)
	}
}

func TestCodecRejects(t *testing.T) {
	c := testCodec(t)
	good := func() [][]byte { return request(t, c, "kernel_info_request", `{}`) }
	d := 2 // index of the delimiter in request's frames
	cases := []struct {
		name   string
		frames func() [][]byte
		want   error
	}{
		{"no delimiter", func() [][]byte { f := good(); f[d] = []byte("<IDS|MSX>"); return f }, ErrNoDelimiter},
		{"too few frames", func() [][]byte { return good()[:d+4] }, ErrShort},
		{"missing signature", func() [][]byte { f := good(); f[d+1] = nil; return f }, ErrBadSignature},
		{"wrong signature", func() [][]byte { f := good(); f[d+1] = bytes.Repeat([]byte("a"), 64); return f }, ErrBadSignature},
		{"content changed after signing", func() [][]byte { f := good(); f[d+5] = []byte(`{"x":1}`); return f }, ErrBadSignature},
		{"oversized", func() [][]byte { f := good(); f = append(f, make([]byte, 2<<20)); return f }, ErrTooLarge},
		{"empty", func() [][]byte { return nil }, ErrNoDelimiter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Decode(tc.frames()); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCodecRejectsInvalidJSONAfterVerifying(t *testing.T) {
	c := testCodec(t)
	for _, bad := range [][4]string{
		{`{"msg_id":"1","msg_type":"x"`, `{}`, `{}`, `{}`},
		{`[]`, `{}`, `{}`, `{}`},
		{`{"msg_id":"1","msg_type":"x"}`, `null`, `{}`, `{}`},
		{`{"msg_id":"1","msg_type":"x"}`, `{}`, `{}`, `"text"`},
		{`{"msg_id":"1"}`, `{}`, `{}`, `{}`},
		{`{"msg_id":1,"msg_type":"x"}`, `{}`, `{}`, `{}`},
	} {
		parts := [][]byte{[]byte(bad[0]), []byte(bad[1]), []byte(bad[2]), []byte(bad[3])}
		frames := append([][]byte{[]byte(delimiter), c.Signer.Sign(parts)}, parts...)
		if _, err := c.Decode(frames); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: got %v, want ErrMalformed", bad, err)
		}
	}
}

func TestCodecRejectsReplay(t *testing.T) {
	c := testCodec(t)
	frames := request(t, c, "execute_request", `{"code":"1"}`)
	if _, err := c.Decode(frames); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Decode(frames); !errors.Is(err, ErrReplay) {
		t.Fatalf("replayed message: got %v, want ErrReplay", err)
	}
}

func TestReplayGuardIsBounded(t *testing.T) {
	g := NewReplayGuard(3)
	for _, s := range []string{"a", "b", "c", "d"} {
		if g.Seen([]byte(s)) {
			t.Fatalf("%s reported seen", s)
		}
	}
	if g.Len() != 3 {
		t.Fatalf("guard holds %d digests, want 3", g.Len())
	}
	if !g.Seen([]byte("d")) || !g.Seen([]byte("b")) {
		t.Fatal("recent digests forgotten")
	}
	if g.Seen([]byte("a")) {
		t.Fatal("oldest digest should have been forgotten")
	}
}

func TestConnectionFile(t *testing.T) {
	good := `{"transport":"tcp","ip":"127.0.0.1","shell_port":1,"control_port":2,"iopub_port":3,"stdin_port":4,"hb_port":5,"signature_scheme":"hmac-sha256","key":"abc"}`
	cases := []struct {
		name, text, wantErr string
	}{
		{"tcp", good, ""},
		{"ipc", strings.Replace(strings.Replace(good, `"tcp"`, `"ipc"`, 1), `"127.0.0.1"`, `"/tmp/k"`, 1), ""},
		{"defaults", `{"ip":"127.0.0.1","shell_port":1,"control_port":2,"iopub_port":3,"stdin_port":4,"hb_port":5,"key":""}`, ""},
		{"syntax", "{\n\"ip\": \"127.0.0.1\",\n\"shell_port\": ,\n}", "line 3 column 15"},
		{"transport", strings.Replace(good, `"tcp"`, `"udp"`, 1), "neither tcp nor ipc"},
		{"missing port", strings.Replace(good, `"hb_port":5`, `"hb_port":0`, 1), "hb_port 0"},
		{"duplicate port", strings.Replace(good, `"hb_port":5`, `"hb_port":1`, 1), "both 1"},
		{"scheme", strings.Replace(good, "hmac-sha256", "hmac-nope", 1), "not supported"},
		{"no ip", strings.Replace(good, `"127.0.0.1"`, `""`, 1), "no ip"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ci, err := ParseConnectionInfo([]byte(tc.text))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ci.Transport == "" || ci.SignatureScheme == "" {
					t.Fatalf("defaults not applied: %+v", ci)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrConnectionFile) {
				t.Fatalf("got %v, want an ErrConnectionFile mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestConnectionFileEndpoints(t *testing.T) {
	ci := &ConnectionInfo{Transport: "tcp", IP: "127.0.0.1"}
	if got := ci.Endpoint(5555); got != "tcp://127.0.0.1:5555" {
		t.Error(got)
	}
	ci = &ConnectionInfo{Transport: "tcp", IP: "::1"}
	if got := ci.Endpoint(5555); got != "tcp://[::1]:5555" {
		t.Error(got)
	}
	ci = &ConnectionInfo{Transport: "ipc", IP: "/run/k"}
	if got := ci.Endpoint(3); got != "ipc:///run/k-3" {
		t.Error(got)
	}
}

func TestReadConnectionFileNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "kernel-1.json")
	os.WriteFile(p, []byte("not json"), 0o600)
	_, err := ReadConnectionFile(p)
	if err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("error %v does not name %s", err, p)
	}
	if _, err := ReadConnectionFile(p + ".missing"); !errors.Is(err, ErrConnectionFile) {
		t.Fatalf("missing file: %v", err)
	}
}

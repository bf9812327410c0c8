package kernel

import (
	"encoding/json"
	"strings"
	"testing"

	"enclave/kernel/wire"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	cases := []string{"", "plain", "line\n", "tab\tcr\r", `quote" back\`, "\x00\x01\x1f\x7f", "<b>&</b>",
		"é ü 日本 🎉", "bad \xff utf8 \xc3", "sep \u2028 \u2029", strings.Repeat("x", 1000) + "\n"}
	for _, c := range cases {
		want, _ := wire.Marshal(c)
		if got := appendJSONString(nil, []byte(c)); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", c, got, want)
		}
	}
	var v struct{ Name, Text string }
	if err := json.Unmarshal(streamJSON("stdout", []byte("a\"b\n")), &v); err != nil || v.Name != "stdout" || v.Text != "a\"b\n" {
		t.Errorf("streamJSON: %+v %v", v, err)
	}
}

func BenchmarkStreamJSON(b *testing.B) {
	text := []byte(strings.Repeat(strings.Repeat("x", 127)+"\n", 8192))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		streamJSON("stdout", text)
	}
}

func BenchmarkStreamEncodingJSON(b *testing.B) {
	text := strings.Repeat(strings.Repeat("x", 127)+"\n", 8192)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		wire.Marshal(streamContent{Name: "stdout", Text: text})
	}
}

func TestAppendJSONStringRandom(t *testing.T) {
	alphabet := []byte("ab\"\\\n\t\x00\x1f\x7f\x80\xc3\xa9\xe2\x80\xa8 ~{}")
	seed := uint32(1)
	for n := 0; n < 2000; n++ {
		s := make([]byte, n%67)
		for i := range s {
			seed = seed*1664525 + 1013904223
			s[i] = alphabet[int(seed>>24)%len(alphabet)]
		}
		want, _ := wire.Marshal(string(s))
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q: got %s, want %s", s, got, want)
		}
	}
}

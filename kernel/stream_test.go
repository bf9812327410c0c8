package kernel

import (
	"enclave/kernel/wire"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

type streamLog struct {
	mu   sync.Mutex
	msgs []string
}

func (l *streamLog) send(name string, text []byte) {
	l.mu.Lock()
	l.msgs = append(l.msgs, name+":"+string(text))
	l.mu.Unlock()
}

func (l *streamLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

func TestStreamCoalescing(t *testing.T) {
	cases := []struct {
		name   string
		writes [][2]string
		size   int
		want   []string // after Stop
	}{
		{"small writes become one message", [][2]string{{"stdout", "a"}, {"stdout", "b"}, {"stdout", "c"}}, 1 << 20, []string{"stdout:abc"}},
		{"stream change keeps order", [][2]string{{"stdout", "a"}, {"stderr", "b"}, {"stdout", "c"}}, 1 << 20, []string{"stdout:a", "stderr:b", "stdout:c"}},
		{"size cap flushes", [][2]string{{"stdout", "aaaa"}, {"stdout", "bbbb"}, {"stdout", "c"}}, 4, []string{"stdout:aaaa", "stdout:bbbb", "stdout:c"}},
		{"split UTF-8 is held back", [][2]string{{"stdout", "h\xc3"}, {"stdout", "\xa9llo"}}, 2, []string{"stdout:h", "stdout:éllo"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var l streamLog
			s := newStreamBuffer(time.Hour, tc.size, l.send)
			for _, w := range tc.writes {
				s.Write(w[0], w[1])
			}
			s.Stop()
			got := l.get()
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			for _, m := range got {
				if !utf8.ValidString(m) {
					t.Errorf("invalid UTF-8 sent: %q", m)
				}
			}
		})
	}
}

func TestStreamTimerFlushesWhileRunning(t *testing.T) {
	var l streamLog
	s := newStreamBuffer(10*time.Millisecond, 1<<20, l.send)
	defer s.Stop()
	s.Write("stdout", "progress 1\n")
	deadline := time.Now().Add(2 * time.Second)
	for len(l.get()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("buffered text was not sent while the cell kept running")
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.Write("stdout", "progress 2\n")
	for len(l.get()) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the timer did not re-arm")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestEgressGate(t *testing.T) {
	g := NewEgressGate(200)
	out := func(msgType, text string) Output {
		b, _ := wire.Marshal(map[string]string{"name": "stdout", "text": text})
		return Output{Cell: "c1", MsgType: msgType, Content: b}
	}
	if got := g.Release(Output{Cell: "c1", MsgType: "status", Content: []byte(`{"execution_state":"busy"}`)}); len(got) != 1 {
		t.Fatal("status must always pass")
	}
	if got := g.Release(out("stream", strings.Repeat("a", 50))); len(got) != 1 {
		t.Fatal("output under the cap withheld")
	}
	got := g.Release(out("stream", strings.Repeat("b", 160)))
	if len(got) != 2 || !strings.Contains(string(got[1].Content), "limit") {
		t.Fatalf("over the cap: %q", got)
	}
	if len(got[0].Content) > 200-len(out("stream", strings.Repeat("a", 50)).Content) {
		t.Errorf("cut stream %d bytes leaves the cap", len(got[0].Content))
	}
	if got := g.Release(out("display_data", "x")); len(got) != 0 {
		t.Errorf("output after the notice: %q", got)
	}
	if g.Withheld() == 0 || g.Released() == 0 {
		t.Errorf("released %d withheld %d", g.Released(), g.Withheld())
	}
	g.CellDone("c1")
	if got := g.Release(out("stream", "new")); len(got) != 1 {
		t.Error("a new cell must get a fresh budget")
	}
}

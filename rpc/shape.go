package rpc

import "fmt"

// payloadOf names, by its JSON key, the one payload field each Type
// carries; "" for a Type that carries none. Send and Recv refuse a message
// whose Type is missing here or whose payload fields differ from it, so a
// payload a peer does not expect is an error, never silently ignored.
// A new field of Msg must be listed in (*Msg).payloads and used here
// (TestEveryPayloadIsChecked fails until it is).
var payloadOf = map[Type]string{
	Execute:    "exec",
	Complete:   "query",
	Inspect:    "query",
	Interrupt:  "",
	InputReply: "text", // may be empty: an empty line
	CallReply:  "reply",
	Shutdown:   "",

	Ready:         "hello",
	Stream:        "stream",
	Display:       "display",
	Result:        "display",
	Error:         "err",
	Done:          "done",
	InputRequest:  "input",
	Call:          "call",
	CompleteReply: "matches",
	InspectReply:  "found",
}

// payloadInstead names, by its JSON key, the payload a Type may carry in
// place of payloadOf's: an InputReply's error (the kernel could not ask
// the frontend: no frontend input, the cell's output held for review).
var payloadInstead = map[Type]string{
	InputReply: "reply",
}

// payloads counts the payload fields set in m and names one of them (the
// last, by JSON key); Text counts when not empty.
func (m *Msg) payloads() (n int, name string) {
	for _, f := range [...]struct {
		name string
		set  bool
	}{
		{"exec", m.Exec != nil},
		{"query", m.Query != nil},
		{"text", m.Text != ""},
		{"reply", m.Reply != nil},
		{"hello", m.Hello != nil},
		{"stream", m.Stream != nil},
		{"display", m.Display != nil},
		{"err", m.Err != nil},
		{"done", m.Done != nil},
		{"input", m.Input != nil},
		{"call", m.Call != nil},
		{"matches", m.Matches != nil},
		{"found", m.Found != nil},
	} {
		if f.set {
			n++
			name = f.name
		}
	}
	return n, name
}

// check returns an error unless m's Type is known and m carries exactly
// the payload that Type names (InputReply's text may be empty).
func (m *Msg) check() error {
	want, ok := payloadOf[m.Type]
	if !ok {
		return fmt.Errorf("rpc: unknown message type %q", m.Type)
	}
	n, got := m.payloads()
	switch {
	case n == 1 && (got == want || got == payloadInstead[m.Type]):
		return nil
	case n == 0 && (want == "" || want == "text"):
		return nil
	case n == 0:
		return fmt.Errorf("rpc: %s message without its %s", m.Type, want)
	case want == "":
		return fmt.Errorf("rpc: %s message carries a %s, which it has none of", m.Type, got)
	}
	return fmt.Errorf("rpc: %s message carries %d payloads (%s), want only %s", m.Type, n, got, want)
}

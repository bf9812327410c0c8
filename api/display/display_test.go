package display

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"
	"testing"
)

type shown struct {
	data, meta map[string]any
	id         string
	update     bool
}

type fakeSink struct {
	got []shown
	out bytes.Buffer
}

func (f *fakeSink) Display(data, meta map[string]any, id string, update bool) {
	f.got = append(f.got, shown{data, meta, id, update})
}
func (f *fakeSink) Stdout() io.Writer { return &f.out }

func TestBundles(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	img.Set(1, 1, color.White)
	pngB, err := AsPNG(img)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(pngB["image/png"].(string))
	if cfg, err := png.DecodeConfig(bytes.NewReader(raw)); err != nil || cfg.Width != 4 || cfg.Height != 2 {
		t.Errorf("PNG bundle does not decode to a 4×2 image: %v %+v", err, cfg)
	}
	jsonB, err := AsJSON(map[string]int{"n": 3})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AsJSON("{not json"); err == nil {
		t.Error("AsJSON accepted invalid JSON text")
	}
	vl, err := AsVegaLite(`{"mark": "bar"}`)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		b    Bundle
		mime string
		want string
	}{
		{"text", AsText("hi"), "text/plain", "hi"},
		{"html", AsHTML("<b>x</b>"), "text/html", "<b>x</b>"},
		{"html fallback", AsHTML("<b>x</b>"), "text/plain", "<HTML>"},
		{"markdown", AsMarkdown("*m*"), "text/markdown", "*m*"},
		{"svg", AsSVG("<svg/>"), "image/svg+xml", "<svg/>"},
		{"png text", pngB, "text/plain", "<PNG image 4×2>"},
		{"png bytes", AsPNGBytes(raw), "text/plain", "<PNG image 4×2>"},
		{"json", jsonB, "text/plain", "{\n  \"n\": 3\n}"},
		{"vega-lite", vl, "text/plain", "<VegaLite chart>"},
		{"with", AsText("a").With("text/html", "<i>a</i>"), "text/html", "<i>a</i>"},
	}
	for _, tc := range cases {
		if got, _ := tc.b[tc.mime].(string); got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.name, tc.mime, got, tc.want)
		}
	}
	if m, ok := jsonB["application/json"].(map[string]any); !ok || m["n"] != 3.0 {
		t.Errorf("application/json = %#v", jsonB["application/json"])
	}
}

func TestSinkAndHandles(t *testing.T) {
	f := &fakeSink{}
	SetSink(f)
	defer SetSink(nil)
	HTML("<p>")
	h := New(AsText("0%"))
	h.Update(AsText("100%"))
	Clear(true)
	Stdout().Write([]byte("out"))
	if len(f.got) != 4 {
		t.Fatalf("got %d displays, want 4: %+v", len(f.got), f.got)
	}
	if f.got[0].id != "" || f.got[0].update {
		t.Errorf("plain display has id %q update %v", f.got[0].id, f.got[0].update)
	}
	if f.got[1].id == "" || f.got[1].id != h.ID() || f.got[1].update {
		t.Errorf("New: id %q (handle %q) update %v", f.got[1].id, h.ID(), f.got[1].update)
	}
	if f.got[2].id != h.ID() || !f.got[2].update || f.got[2].data["text/plain"] != "100%" {
		t.Errorf("Update: %+v", f.got[2])
	}
	if len(f.got[3].data) != 0 || f.got[3].meta["clear_output"] == nil {
		t.Errorf("Clear: %+v", f.got[3])
	}
	if f.out.String() != "out" {
		t.Errorf("Stdout wrote %q", f.out.String())
	}
	if h2 := New(AsText("")); h2.ID() == h.ID() || !strings.HasPrefix(h2.ID(), "enclave-") {
		t.Errorf("handle ids %q, %q", h.ID(), h2.ID())
	}
}

func TestNoSink(t *testing.T) {
	SetSink(nil)
	HTML("dropped") // must not panic
	if Stdout() != io.Discard {
		t.Error("Stdout without a sink should discard")
	}
}

package display

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"
)

type shown struct {
	data, meta map[string]any
	id         string
	update     bool
}

type fakeSink struct {
	got     []shown
	out     bytes.Buffer
	notices []string
}

func (f *fakeSink) Display(data, meta map[string]any, id string, update bool) {
	f.got = append(f.got, shown{data, meta, id, update})
}
func (f *fakeSink) Stdout() io.Writer  { return &f.out }
func (f *fakeSink) Notice(text string) { f.notices = append(f.notices, text) }

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

func TestZeroHandle(t *testing.T) {
	f := &fakeSink{}
	SetSink(f)
	defer SetSink(nil)
	var nilHandle *Handle
	for _, h := range []*Handle{{}, nilHandle} {
		for name, call := range map[string]func(){
			"Update": func() { h.Update(AsText("x")) },
			"Show":   func() { h.Show(AsText("x")) },
			"ID":     func() { h.ID() },
		} {
			func() {
				defer func() {
					msg, _ := recover().(string)
					if want := "display: " + name + " called on a zero Handle"; !strings.HasPrefix(msg, want) {
						t.Errorf("%s on %#v: panic %q, want one starting %q", name, h, msg, want)
					}
				}()
				call()
			}()
		}
	}
	if len(f.got) != 0 {
		t.Errorf("a zero Handle sent %+v", f.got)
	}
}

func TestUnencodableJSON(t *testing.T) {
	f := &fakeSink{}
	SetSink(f)
	defer SetSink(nil)
	cases := []struct {
		name string
		show func() error
		want string
	}{
		{"NaN", func() error { return JSON(map[string]any{"x": math.NaN()}) },
			"display: application/json holds NaN, which JSON cannot encode"},
		{"Inf in a struct", func() error { return JSON(struct{ Y []float64 }{[]float64{1, math.Inf(-1)}}) },
			"display: application/json holds -Inf, which JSON cannot encode"},
		{"VegaLite +Inf", func() error { return VegaLite(map[string]any{"y": math.Inf(1)}) },
			"display: application/vnd.vegalite.v5+json holds +Inf, which JSON cannot encode"},
		{"channel", func() error { return JSON(map[string]any{"c": make(chan int)}) },
			"display: application/json holds a chan int, which JSON cannot encode"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.got, f.notices = nil, nil
			err := tc.show()
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			// A cell that ignores the error still hears of it.
			if len(f.notices) != 1 || f.notices[0] != tc.want {
				t.Errorf("notices %q, want [%q]", f.notices, tc.want)
			}
			if len(f.got) != 0 {
				t.Errorf("shown %+v", f.got)
			}
		})
	}
	if _, err := AsJSON(map[string]float64{"x": math.NaN()}); err == nil || err.Error() != cases[0].want {
		t.Errorf("AsJSON: %v", err)
	}
}

package display

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
)

// Bundle maps MIME types ("text/html", "image/png", …) to content: strings
// for text types, base64 for binary ones, any JSON value for JSON types.
type Bundle map[string]any

// MIMEBundle lets a Bundle be the last expression of a cell.
func (b Bundle) MIMEBundle() map[string]any { return b }

// With returns a copy of b with one more representation.
func (b Bundle) With(mime string, data any) Bundle {
	out := make(Bundle, len(b)+1)
	for k, v := range b {
		out[k] = v
	}
	out[mime] = data
	return out
}

// Interfaces a value can implement to be shown richly as the last
// expression of a cell. The first one found, in the order MIMEBundler,
// HTMLer, Markdowner, SVGer, PNGer, adds its representation; the text/plain
// one comes from String() or the value itself.
type (
	HTMLer      interface{ HTML() string }
	Markdowner  interface{ Markdown() string }
	SVGer       interface{ SVG() string }
	PNGer       interface{ PNG() []byte }
	MIMEBundler interface{ MIMEBundle() map[string]any }
)

// Sink receives what this package shows. The worker runtime installs it.
type Sink interface {
	// Display shows data; id is "" for a plain display_data, else the
	// display_id; update marks update_display_data. An empty data with
	// metadata {"clear_output": {"wait": bool}} clears the cell's output.
	Display(data, metadata map[string]any, id string, update bool)
	// Stdout is the current cell's standard output.
	Stdout() io.Writer
}

// noticer is a Sink that can also tell the cell, on its stderr, why
// something it asked to show was not shown.
type noticer interface{ Notice(text string) }

var (
	sinkMu sync.RWMutex
	sink   Sink
	nextID atomic.Uint64
	// idPrefix keeps display ids unique across worker restarts within one
	// notebook session, so an update never reaches an older output.
	idPrefix = "enclave-" + strconv.FormatUint(rand.Uint64(), 36) + "-"
)

// SetSink installs the sink. It is not exported to cells.
func SetSink(s Sink) {
	sinkMu.Lock()
	sink = s
	sinkMu.Unlock()
}

func send(data map[string]any, id string, update bool) { sendMeta(data, nil, id, update) }

func sendMeta(data, metadata map[string]any, id string, update bool) {
	sinkMu.RLock()
	s := sink
	sinkMu.RUnlock()
	if s != nil {
		s.Display(data, metadata, id, update)
	}
}

// Clear clears the cell's output; with wait, only when new output arrives
// (no flicker in loops that redraw).
func Clear(wait bool) {
	sendMeta(map[string]any{}, map[string]any{"clear_output": map[string]any{"wait": wait}}, "", false)
}

// Stdout returns the cell's standard output, for APIs that take an
// io.Writer (text/tabwriter, encoding/csv, …).
func Stdout() io.Writer {
	sinkMu.RLock()
	s := sink
	sinkMu.RUnlock()
	if s == nil {
		return io.Discard
	}
	return s.Stdout()
}

// notify tells the cell about err, a display that failed, in case it does
// not look at the error it is returned.
func notify(err error) error {
	sinkMu.RLock()
	s := sink
	sinkMu.RUnlock()
	if n, ok := s.(noticer); ok {
		n.Notice(err.Error())
	}
	return err
}

// Publish shows a bundle as display_data. An entry JSON cannot encode (a
// NaN, a channel) is left out, and the cell's stderr says which and why.
func Publish(b Bundle) { send(b, "", false) }

// Text shows plain text.
func Text(s string) { Publish(AsText(s)) }

// HTML shows an HTML fragment.
func HTML(s string) { Publish(AsHTML(s)) }

// Markdown shows Markdown.
func Markdown(s string) { Publish(AsMarkdown(s)) }

// SVG shows an SVG document.
func SVG(s string) { Publish(AsSVG(s)) }

// PNG shows an image, encoded as PNG. If it cannot, it shows nothing, says
// why on the cell's stderr and returns the error.
func PNG(img image.Image) error {
	b, err := AsPNG(img)
	if err != nil {
		return notify(err)
	}
	Publish(b)
	return nil
}

// PNGBytes shows an already encoded PNG.
func PNGBytes(data []byte) { Publish(AsPNGBytes(data)) }

// JSON shows v as application/json. If v is not JSON (it holds NaN or ±Inf,
// a channel, …), it shows nothing, says why on the cell's stderr and
// returns the error.
func JSON(v any) error {
	b, err := AsJSON(v)
	if err != nil {
		return notify(err)
	}
	Publish(b)
	return nil
}

// VegaLite shows a Vega-Lite (v5) specification, given as a JSON string or
// any value that encodes to one. Like JSON, it says why on the cell's
// stderr as well as returning the error if it cannot.
func VegaLite(spec any) error {
	b, err := AsVegaLite(spec)
	if err != nil {
		return notify(err)
	}
	Publish(b)
	return nil
}

// AsText is a text/plain bundle.
func AsText(s string) Bundle { return Bundle{"text/plain": s} }

// AsHTML is a text/html bundle with a plain-text fallback.
func AsHTML(s string) Bundle { return Bundle{"text/html": s, "text/plain": "<HTML>"} }

// AsMarkdown is a text/markdown bundle; its plain text is the Markdown.
func AsMarkdown(s string) Bundle { return Bundle{"text/markdown": s, "text/plain": s} }

// AsSVG is an image/svg+xml bundle.
func AsSVG(s string) Bundle { return Bundle{"image/svg+xml": s, "text/plain": "<SVG image>"} }

// AsPNG encodes img as an image/png bundle.
func AsPNG(img image.Image) (Bundle, error) {
	if img == nil {
		return nil, fmt.Errorf("display: nil image")
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("display: encode PNG: %w", err)
	}
	return pngBundle(buf.Bytes(), img.Bounds()), nil
}

// AsPNGBytes is an image/png bundle of already encoded PNG data.
func AsPNGBytes(data []byte) Bundle {
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Bundle{"image/png": base64.StdEncoding.EncodeToString(data), "text/plain": "<PNG image>"}
	}
	return pngBundle(data, image.Rect(0, 0, cfg.Width, cfg.Height))
}

func pngBundle(data []byte, r image.Rectangle) Bundle {
	return Bundle{
		"image/png":  base64.StdEncoding.EncodeToString(data),
		"text/plain": "<PNG image " + strconv.Itoa(r.Dx()) + "×" + strconv.Itoa(r.Dy()) + ">",
	}
}

// AsJSON is an application/json bundle of v.
func AsJSON(v any) (Bundle, error) {
	j, err := toJSON("application/json", v)
	if err != nil {
		return nil, err
	}
	text, _ := json.MarshalIndent(j, "", "  ")
	return Bundle{"application/json": j, "text/plain": string(text)}, nil
}

// AsVegaLite is an application/vnd.vegalite.v5+json bundle.
func AsVegaLite(spec any) (Bundle, error) {
	j, err := toJSON("application/vnd.vegalite.v5+json", spec)
	if err != nil {
		return nil, err
	}
	return Bundle{"application/vnd.vegalite.v5+json": j, "text/plain": "<VegaLite chart>"}, nil
}

// toJSON turns v, the content of a mime entry, into a generic JSON value;
// a string or []byte is taken as JSON text.
func toJSON(mime string, v any) (any, error) {
	var raw []byte
	switch x := v.(type) {
	case string:
		raw = []byte(x)
	case []byte:
		raw = x
	case json.RawMessage:
		raw = x
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, encodeError(mime, err)
		}
		raw = b
	}
	var j any
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("display: %s is not JSON: %w", mime, err)
	}
	return j, nil
}

// encodeError says why v, the content of a mime entry, could not be
// encoded, in words a researcher can act on: "display: application/json
// holds NaN, which JSON cannot encode".
func encodeError(mime string, err error) error {
	var uv *json.UnsupportedValueError
	var ut *json.UnsupportedTypeError
	switch {
	case errors.As(err, &uv) && (uv.Str == "NaN" || uv.Str == "+Inf" || uv.Str == "-Inf"):
		return fmt.Errorf("display: %s holds %s, which JSON cannot encode", mime, uv.Str)
	case errors.As(err, &ut):
		return fmt.Errorf("display: %s holds a %s, which JSON cannot encode", mime, ut.Type)
	}
	return fmt.Errorf("display: %s could not be encoded as JSON: %w", mime, err)
}

// Handle is a display that can be updated in place (progress, live
// tables), as update_display_data. Handles come from New: the methods of a
// zero (or nil) Handle, which names no display, panic.
type Handle struct {
	id string
}

// New shows b and returns a handle to update it.
func New(b Bundle) *Handle {
	h := &Handle{id: idPrefix + strconv.FormatUint(nextID.Add(1), 10)}
	send(b, h.id, false)
	return h
}

// ID is the display_id.
func (h *Handle) ID() string { return h.displayID("ID") }

// Update replaces what the handle shows, wherever it is shown.
func (h *Handle) Update(b Bundle) { send(b, h.displayID("Update"), true) }

// Show shows b again under the same display_id (a second place that later
// updates also change).
func (h *Handle) Show(b Bundle) { send(b, h.displayID("Show"), false) }

// displayID is h's display_id. A zero Handle has none, and an
// update_display_data without one is not a valid message: using it is a
// mistake in the cell, reported like one.
func (h *Handle) displayID(method string) string {
	if h == nil || h.id == "" {
		panic("display: " + method + " called on a zero Handle; use the *Handle that display.New returns")
	}
	return h.id
}

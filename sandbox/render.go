package sandbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"image"
	"image/png"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"enclave/rpc"
)

// maxPlain bounds the text/plain form of a result.
const maxPlain = 1 << 20

// richMethods are the methods a result may have to be shown richly, in the
// order they are asked; "" marks the text/plain ones.
var richMethods = []struct{ method, mime string }{
	{"MIMEBundle", "*"},
	{"HTML", "text/html"},
	{"Markdown", "text/markdown"},
	{"SVG", "image/svg+xml"},
	{"PNG", "image/png"},
	{"Error", ""},
	{"String", ""},
}

// show sends v, the value of the cell's last expression (held in
// resultVar), as execute_result. Rich forms come from the value's own
// methods, called through the interpreter, which alone knows the methods of
// types the cells declared; only methods some cell declared, or the
// compiled type has, are tried.
//
// A method of the value that panics fails the cell with its panic, as an
// expression that panicked would: a scan the kernel refused is shown as
// the refusal, not as a repr that says String panicked.
func (w *Worker) show(c *cellRun, v reflect.Value, inVar bool) bool {
	if !v.IsValid() {
		return true
	}
	var rich map[string]any
	text, hasText := "", false
	for _, rm := range richMethods {
		if hasText && rm.mime == "" {
			continue
		}
		var x any
		var ok bool
		var failed error
		if typeHasMethod(v.Type(), rm.method) {
			x, ok, failed = callCompiled(v, rm.method)
		} else if inVar && w.names.hasMethod(rm.method) {
			x, ok, failed = w.callInterpreted(c, rm.method)
		}
		if failed != nil && c.ctx.Err() == nil {
			w.fail(c, ErrPanic, fmt.Sprintf("%s() of the result: %v", rm.method, failed), 0, 0)
			return false
		}
		if !ok {
			continue
		}
		switch rm.mime {
		case "*":
			if m, ok := x.(map[string]any); ok {
				rich = m
			}
		case "":
			if s, ok := x.(string); ok {
				text, hasText = s, true
			}
		default:
			if rich == nil {
				rich = map[string]any{}
			}
			if _, ok := rich[rm.mime]; !ok {
				rich[rm.mime] = x
			}
		}
	}
	if c.ctx.Err() != nil {
		return true // interrupted while rendering: its forms may be cut short
	}
	var val any
	if v.CanInterface() {
		val = v.Interface()
	}
	w.result(val, rich, text, hasText)
	return true
}

// richMethodDeclared reports whether a cell declared a method that show
// calls through the interpreter.
func (w *Worker) richMethodDeclared() bool {
	for _, rm := range richMethods {
		if w.names.hasMethod(rm.method) {
			return true
		}
	}
	return false
}

// callInterpreted calls resultVar.method() in the interpreter; failed is
// the error it panicked with.
func (w *Worker) callInterpreted(c *cellRun, method string) (x any, ok bool, failed error) {
	prog, err := w.compile(w.resultVar() + "." + method + "()")
	if err != nil {
		return nil, false, nil
	}
	out, err := w.stop.run(c.ctx, prog)
	if err != nil {
		return nil, false, err
	}
	if !out.IsValid() || !out.CanInterface() {
		return nil, false, nil
	}
	return out.Interface(), true, nil
}

// callCompiled calls a method of a compiled type without arguments;
// failed is what it panicked with.
func callCompiled(v reflect.Value, method string) (x any, ok bool, failed error) {
	defer func() {
		if r := recover(); r != nil {
			x, ok, failed = nil, false, fmt.Errorf("%v", r)
		}
	}()
	if (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) && v.IsNil() {
		return nil, false, nil // shown as <nil>, as plain does
	}
	m := v.MethodByName(method)
	if !m.IsValid() && v.CanAddr() {
		m = v.Addr().MethodByName(method)
	}
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil, false, nil
	}
	return m.Call(nil)[0].Interface(), true, nil
}

func typeHasMethod(t reflect.Type, name string) bool {
	if _, ok := t.MethodByName(name); ok {
		return true
	}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		_, ok := reflect.PointerTo(t).MethodByName(name)
		return ok
	}
	return false
}

// result sends the value of a cell's last expression as execute_result.
// rich holds the forms the value's own methods gave (HTML(), …); text is
// its String() or Error() if it has one. A nil value shows nothing.
func (w *Worker) result(v any, rich map[string]any, text string, hasText bool) {
	defer func() {
		if r := recover(); r != nil {
			// Formatting an odd value must not end the worker.
			w.sendResult(map[string]any{"text/plain": fmt.Sprintf("<%T: could not be shown: %v>", v, r)})
		}
	}()
	if isNil(v) && rich == nil {
		return
	}
	data := map[string]any{}
	for k, x := range rich {
		if b, ok := x.([]byte); ok { // PNG() []byte
			x = base64.StdEncoding.EncodeToString(b)
		}
		data[k] = x
	}
	if img, ok := v.(image.Image); ok && data["image/png"] == nil {
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err == nil {
			data["image/png"] = base64.StdEncoding.EncodeToString(buf.Bytes())
			b := img.Bounds()
			if !hasText {
				text, hasText = fmt.Sprintf("<%T %d×%d>", v, b.Dx(), b.Dy()), true
			}
		}
	}
	if _, ok := data["text/plain"]; !ok {
		if !hasText {
			text = Plain(v)
		}
		data["text/plain"] = clip(text, maxPlain)
	}
	w.sendResult(data)
}

func (w *Worker) sendResult(data map[string]any) {
	c := w.currentCell()
	var id uint64
	if c != nil {
		id = c.id
	}
	// Rich forms count against the cell's output cap like displays; the
	// text (clipped to maxPlain) is always sent.
	if !w.out.charge(bundleSize(data)) {
		w.out.notice("the result's rich forms were dropped: the cell's output passed its limit of " + sizeText(w.out.limit()))
		data = plainOnly(data)
	}
	raw, problems := encodeBundle(data)
	for _, p := range problems {
		w.out.notice(p + "; that part of the result is not shown")
	}
	if len(problems) == len(data) {
		raw, _ = encodeBundle(plainOnly(data)) // a result always shows something
	}
	w.out.flush()
	err := w.conn.Send(&rpc.Msg{Type: rpc.Result, ID: id, Display: &rpc.DisplayData{Data: raw}})
	if errors.Is(err, rpc.ErrFrameTooLarge) {
		w.out.notice("the result's rich forms were dropped: larger than the " + sizeText(rpc.MaxFrame) + " a message may carry")
		raw, _ = encodeBundle(plainOnly(data))
		w.conn.Send(&rpc.Msg{Type: rpc.Result, ID: id, Display: &rpc.DisplayData{Data: raw}})
	}
}

// plainOnly is a bundle's text/plain form alone, at most maxPlain bytes
// (a rich bundle a cell built may carry any text/plain).
func plainOnly(data map[string]any) map[string]any {
	s, ok := data["text/plain"].(string)
	if !ok {
		s = "<the result could not be shown>"
	}
	return map[string]any{"text/plain": clip(s, maxPlain)}
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "\n… (" + strconv.Itoa(len(s)-cut) + " more bytes)"
}

// Plain is the text/plain form of a value as a notebook shows it: like
// fmt's %v, but strings quoted wherever they appear, struct fields named,
// functions and channels by their type, and long collections cut.
func Plain(v any) string {
	if v == nil {
		return "<nil>"
	}
	var b strings.Builder
	plain(&b, reflect.ValueOf(v), 0)
	return b.String()
}

const (
	maxItems = 200 // elements shown per slice, array or map
	maxDepth = 8
)

var (
	stringerType = reflect.TypeOf((*fmt.Stringer)(nil)).Elem()
	errorType    = reflect.TypeOf((*error)(nil)).Elem()
)

func plain(b *strings.Builder, v reflect.Value, depth int) {
	if !v.IsValid() {
		b.WriteString("<nil>")
		return
	}
	if depth > maxDepth {
		b.WriteString("…")
		return
	}
	if inner, ok := unwrapInterp(v); ok {
		plain(b, inner, depth)
		return
	}
	t := v.Type()
	if v.CanInterface() && (t.Implements(stringerType) || t.Implements(errorType)) {
		if (v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface) && v.IsNil() {
			b.WriteString("<nil>")
			return
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					fmt.Fprintf(b, "<%s: String panicked: %v>", t, r)
				}
			}()
			if e, ok := v.Interface().(error); ok {
				b.WriteString(e.Error())
			} else {
				b.WriteString(v.Interface().(fmt.Stringer).String())
			}
		}()
		return
	}
	switch v.Kind() {
	case reflect.String:
		b.WriteString(strconv.Quote(v.String()))
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		if v.IsNil() {
			b.WriteString("(" + t.String() + ")(nil)")
		} else {
			b.WriteString(t.String())
		}
	case reflect.Interface:
		plain(b, v.Elem(), depth)
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("<nil>")
			return
		}
		if e := v.Elem(); e.Kind() == reflect.Struct || e.Kind() == reflect.Slice || e.Kind() == reflect.Array || e.Kind() == reflect.Map {
			b.WriteByte('&')
			plain(b, e, depth+1)
			return
		}
		fmt.Fprintf(b, "%p", v.Interface())
	case reflect.Struct:
		b.WriteByte('{')
		for i := 0; i < v.NumField(); i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(t.Field(i).Name)
			b.WriteByte(':')
			plain(b, v.Field(i), depth+1)
		}
		b.WriteByte('}')
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			b.WriteString("[]")
			return
		}
		b.WriteByte('[')
		n := v.Len()
		for i := 0; i < n && i < maxItems; i++ {
			if i > 0 {
				b.WriteByte(' ')
			}
			plain(b, v.Index(i), depth+1)
		}
		if n > maxItems {
			fmt.Fprintf(b, " … (%d more)", n-maxItems)
		}
		b.WriteByte(']')
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return lessKey(keys[i], keys[j]) })
		b.WriteString("map[")
		for i, k := range keys {
			if i >= maxItems {
				fmt.Fprintf(b, " … (%d more)", len(keys)-maxItems)
				break
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			plain(b, k, depth+1)
			b.WriteByte(':')
			plain(b, v.MapIndex(k), depth+1)
		}
		b.WriteByte(']')
	case reflect.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString(strconv.FormatInt(v.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		b.WriteString(strconv.FormatUint(v.Uint(), 10))
	case reflect.Float32:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 32))
	case reflect.Float64:
		b.WriteString(strconv.FormatFloat(v.Float(), 'g', -1, 64))
	case reflect.Complex64, reflect.Complex128:
		fmt.Fprint(b, v.Complex())
	default:
		b.WriteString("<" + t.String() + ">")
	}
}

// unwrapInterp returns the value inside yaegi's valueInterface, the box it
// keeps values of the cells' own types in when they sit in an interface.
// The box's fields are unexported; the worker's own code reads the one
// holding the value (a reflect.Value) from an addressable copy.
func unwrapInterp(v reflect.Value) (reflect.Value, bool) {
	t := v.Type()
	if t.Kind() != reflect.Struct || t.String() != "interp.valueInterface" || t.NumField() != 2 ||
		t.Field(1).Name != "value" || t.Field(1).Type != reflect.TypeOf(reflect.Value{}) || !v.CanInterface() {
		return reflect.Value{}, false
	}
	cp := reflect.New(t).Elem()
	cp.Set(v)
	inner := *(*reflect.Value)(unsafe.Pointer(cp.Field(1).UnsafeAddr()))
	return inner, inner.IsValid()
}

// lessKey orders map keys as fmt does for the common kinds.
func lessKey(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.String:
		return a.String() < b.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() < b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() < b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() < b.Float()
	case reflect.Bool:
		return !a.Bool() && b.Bool()
	}
	return fmt.Sprint(a) < fmt.Sprint(b)
}

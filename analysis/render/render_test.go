package render

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"strings"
	"testing"

	"enclave/api/spec"
)

func num(v float64) *float64 { return &v }

// sampleTable has a released row, a row with suppressed cells (one of them
// wrongly carrying a value that must never be shown) and a hostile title.
func sampleTable() *spec.Table {
	return &spec.Table{
		Title:   `<script>alert("x")</script> Persons by age`,
		Columns: []string{"age", "n", "mean BMI"},
		Rows: [][]spec.Cell{
			{{Text: "40–50"}, {Text: "1,234", Value: num(1234)}, {Text: "27.5", Value: num(27.5)}},
			{{Text: "50–60"}, {Text: "≤20", Value: num(7), Status: spec.Small}, {Text: "—", Status: spec.Derived}},
			{{Text: "60–70"}, {Text: "56", Value: num(56)}, {Text: "28.25", Value: num(28.25)}},
		},
		Notes: []string{"≤20: between 1 and 20 persons", "mean <not> shown over fewer than 20 & co"},
	}
}

func TestTableHTML(t *testing.T) {
	h := TableBundle(sampleTable())[MIMEHTML].(string)
	tests := []struct {
		name string
		want string
		not  bool
	}{
		{"marker", ">≤20</td>", false},
		{"class", `class="enclave-suppressed"`, false},
		{"reason", `title="Suppressed: fewer persons than the minimum cell size"`, false},
		{"derived reason", `title="Suppressed: a mean, rate or percentage over too few persons"`, false},
		{"caption", "<caption>&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; Persons by age</caption>", false},
		{"no raw script", "<script>", true},
		{"legend", `<ul class="enclave-notes">`, false},
		{"legend item", "<li>≤20: between 1 and 20 persons</li>", false},
		{"legend escaped", "<li>mean &lt;not&gt; shown over fewer than 20 &amp; co</li>", false},
		{"released value", ">1,234</td>", false},
		{"no hidden value", ">7<", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Contains(h, tc.want); got == tc.not {
				t.Errorf("contains %q = %v, want %v\n%s", tc.want, got, !tc.not, h)
			}
		})
	}
	if n := strings.Count(h, SuppressedClass); n != 2 {
		t.Errorf("%d suppressed cells marked, want 2", n)
	}
}

func TestTableDataResource(t *testing.T) {
	tests := []struct {
		name  string
		table *spec.Table
		types []string
	}{
		{"sample", sampleTable(), []string{"string", "number", "number"}},
		{"nil", nil, []string{}},
		{"ragged and duplicate columns", &spec.Table{
			Columns: []string{"x", "x"},
			Rows: [][]spec.Cell{
				{{Text: "a"}, {Text: "1", Value: num(1)}, {Text: "2", Value: num(2)}},
				{{Text: "≤20", Status: spec.Small}},
			},
		}, []string{"string", "number", "number"}},
		{"non-finite value is not a number", &spec.Table{
			Columns: []string{"v"},
			Rows:    [][]spec.Cell{{{Text: "NaN", Value: num(math.NaN())}}},
		}, []string{"string"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := TableBundle(tc.table)
			raw, err := json.Marshal(b)
			if err != nil {
				t.Fatalf("bundle does not encode as JSON: %v", err)
			}
			var decoded map[string]json.RawMessage
			if err := json.Unmarshal(raw, &decoded); err != nil {
				t.Fatal(err)
			}
			var dr struct {
				Schema struct {
					Fields []struct{ Name, Type string } `json:"fields"`
				} `json:"schema"`
				Data []map[string]any `json:"data"`
			}
			if err := json.Unmarshal(decoded[MIMEDataResource], &dr); err != nil {
				t.Fatal(err)
			}
			if len(dr.Schema.Fields) != len(tc.types) {
				t.Fatalf("fields %+v, want types %v", dr.Schema.Fields, tc.types)
			}
			seen := map[string]bool{}
			for j, f := range dr.Schema.Fields {
				if f.Type != tc.types[j] {
					t.Errorf("field %q type %q, want %q", f.Name, f.Type, tc.types[j])
				}
				if f.Name == "" || seen[f.Name] {
					t.Errorf("field name %q empty or repeated", f.Name)
				}
				seen[f.Name] = true
			}
			if tc.table == nil {
				return
			}
			for i, row := range tc.table.Rows {
				for j, f := range dr.Schema.Fields {
					var cell spec.Cell
					if j < len(row) {
						cell = row[j]
					}
					got := dr.Data[i][f.Name]
					v, isNum := got.(float64)
					wantNum := cell.Status == spec.Released && cell.Value != nil && finite(*cell.Value)
					if isNum != wantNum {
						t.Errorf("row %d %q = %#v: numeric %v, want %v", i, f.Name, got, isNum, wantNum)
					}
					if isNum && v != *cell.Value {
						t.Errorf("row %d %q = %v, want %v", i, f.Name, v, *cell.Value)
					}
					if cell.Status != spec.Released && got != cell.Text {
						t.Errorf("row %d %q = %#v, want marker %q", i, f.Name, got, cell.Text)
					}
				}
			}
		})
	}
}

func TestTablePlain(t *testing.T) {
	tests := []struct {
		name  string
		table *spec.Table
		want  string
	}{
		{"sample", sampleTable(), `<script>alert("x")</script> Persons by age
age        n  mean BMI
-----  -----  --------
40–50  1,234      27.5
50–60    ≤20         —
60–70     56     28.25
Notes:
  ≤20: between 1 and 20 persons
  mean <not> shown over fewer than 20 & co`},
		{"empty", &spec.Table{Title: "Nothing"}, "Nothing\n(no rows)"},
		{"control characters", &spec.Table{
			Columns: []string{"a\tb"},
			Rows:    [][]spec.Cell{{{Text: "x\ny"}}},
		}, "a b\n---\nx y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := TableBundle(tc.table)[MIMEText].(string)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// svgText parses an SVG document as XML and returns its character data.
func svgText(t *testing.T, svg string) string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var text strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			text.Write(cd)
			text.WriteByte('\n')
		}
	}
	return text.String()
}

// checkFigure checks a figure bundle: the PNG decodes at 576×384, the SVG
// is XML with the title in it, and there is a text summary.
func checkFigure(t *testing.T, b map[string]any, title string) (summary, svg string) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b[MIMEPNG].(string))
	if err != nil {
		t.Fatalf("PNG is not base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	if sz := img.Bounds().Size(); sz.X != 576 || sz.Y != 384 {
		t.Errorf("PNG is %v, want 576×384", sz)
	}
	svg = b[MIMESVG].(string)
	if txt := svgText(t, svg); !strings.Contains(txt, title) {
		t.Errorf("SVG text does not contain the title %q:\n%s", title, txt)
	}
	summary = b[MIMEText].(string)
	if !strings.HasPrefix(summary, title) {
		t.Errorf("summary %q does not start with the title", summary)
	}
	return summary, svg
}

const secretHeight = 98765.4321

func TestBarsBundle(t *testing.T) {
	many := Bars{Title: "Many bins"}
	for i := range 40 {
		many.Labels = append(many.Labels, "bin number "+string(rune('A'+i%26)))
		many.Heights = append(many.Heights, float64(100+i))
	}
	tests := []struct {
		name    string
		bars    Bars
		wantErr bool
		lines   []string // lines the summary must contain
	}{
		{"histogram with a suppressed bin", Bars{
			Title: `Age <at> "baseline" & after`, XLabel: "age (years)", YLabel: "persons",
			Labels:     []string{"40–50", "50–60", "60–70"},
			Heights:    []float64{120, secretHeight, 85},
			Suppressed: []bool{false, true, false},
			Marker:     "≤20",
			Note:       "bins with 1–20 persons are not shown",
		}, false, []string{"  40–50  120", "  50–60  ≤20 (suppressed)", "  60–70   85", "bins with 1–20 persons are not shown"}},
		{"zero bars", Bars{Title: "Empty"}, false, []string{"(no bars)"}},
		{"all suppressed, heights missing", Bars{
			Title: "All small", Labels: []string{"a", "b"}, Suppressed: []bool{true, true}, Marker: "≤20",
		}, false, []string{"  a  ≤20 (suppressed)", "  b  ≤20 (suppressed)"}},
		{"negative heights", Bars{
			Title: "Change", Labels: []string{"x", "y"}, Heights: []float64{-3.5, secretHeight}, Suppressed: []bool{false, true},
		}, false, []string{"  x  -3.5", "  y  suppressed (suppressed)"}},
		{"many long labels", many, false, []string{"  bin number A  100"}},
		{"NaN height", Bars{Title: "x", Labels: []string{"a"}, Heights: []float64{math.NaN()}}, true, nil},
		{"infinite height", Bars{Title: "x", Labels: []string{"a"}, Heights: []float64{math.Inf(1)}}, true, nil},
		{"NaN ignored when suppressed", Bars{
			Title: "x", Labels: []string{"a", "b"}, Heights: []float64{1, math.NaN()}, Suppressed: []bool{false, true},
		}, false, []string{"  b  suppressed (suppressed)"}},
		{"missing height", Bars{Title: "x", Labels: []string{"a", "b"}, Heights: []float64{1}}, true, nil},
		{"too many heights", Bars{Title: "x", Labels: []string{"a"}, Heights: []float64{1, 2}}, true, nil},
		{"too many flags", Bars{Title: "x", Labels: []string{"a"}, Heights: []float64{1}, Suppressed: []bool{false, true}}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := BarsBundle(tc.bars)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			summary, svg := checkFigure(t, b, cleanText(tc.bars.Title))
			for _, l := range tc.lines {
				if !strings.Contains(summary+"\n", l+"\n") {
					t.Errorf("summary lacks line %q:\n%s", l, summary)
				}
			}
			// A suppressed bar's height appears nowhere, and does not
			// stretch the axis (no tick label in the tens of thousands).
			for _, s := range []string{"98765", "9.8765", "50000", "100000"} {
				if strings.Contains(summary, s) || strings.Contains(svg, ">"+s) {
					t.Errorf("output contains %q", s)
				}
			}
			for i, sup := range tc.bars.Suppressed {
				if !sup {
					continue
				}
				for _, line := range strings.Split(summary, "\n") {
					if strings.HasPrefix(line, "  "+tc.bars.Labels[i]+" ") && strings.ContainsAny(line, "0123456789") && !strings.Contains(line, tc.bars.Marker) {
						t.Errorf("suppressed bar line has a number: %q", line)
					}
				}
			}
		})
	}
}

func TestPointsBundle(t *testing.T) {
	h := -math.Log10(5e-8)
	line := [2][2]float64{{0, 0}, {6, 6}}
	manhattan := Points{Title: "GWAS <height>", XLabel: "position", YLabel: "-log10 p", HLine: &h}
	for i := range 200 {
		manhattan.X = append(manhattan.X, float64(i))
		manhattan.Y = append(manhattan.Y, float64(i%37)/4)
		manhattan.Groups = append(manhattan.Groups, i/50)
	}
	tests := []struct {
		name    string
		pts     Points
		wantErr bool
		want    string
	}{
		{"manhattan", manhattan, false, "200 points; x: position; y: -log10 p\nhorizontal line at y = " + formatNum(h)},
		{"qq", Points{Title: "QQ", X: []float64{0.1, 1, 2}, Y: []float64{0.2, 1.1, 2.5}, Line: &line, Groups: []int{-1, 0, 1}},
			false, "3 points\nreference line from (0, 0) to (6, 6)"},
		{"empty", Points{Title: "Nothing"}, false, "(no points)"},
		{"NaN", Points{Title: "x", X: []float64{1}, Y: []float64{math.NaN()}}, true, ""},
		{"NaN line", Points{Title: "x", X: []float64{1}, Y: []float64{1}, Line: &[2][2]float64{{0, math.NaN()}, {1, 1}}}, true, ""},
		{"mismatch", Points{Title: "x", X: []float64{1, 2}, Y: []float64{1}}, true, ""},
		{"groups mismatch", Points{Title: "x", X: []float64{1}, Y: []float64{1}, Groups: []int{1, 2}}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := PointsBundle(tc.pts)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			summary, _ := checkFigure(t, b, tc.pts.Title)
			if !strings.HasSuffix(summary, tc.want) {
				t.Errorf("summary %q, want suffix %q", summary, tc.want)
			}
		})
	}
}

func TestStepsBundle(t *testing.T) {
	km := []Step{
		{Name: "treated", T: []float64{0, 30, 90, 180}, S: []float64{1, 0.95, 0.9, 0.8}},
		{Name: "", T: []float64{0, 45, 120}, S: []float64{1, 0.9, 0.7}},
	}
	tests := []struct {
		name    string
		steps   []Step
		wantErr bool
		want    string
	}{
		{"two curves", km, false, "  treated  4 time points\n  curve 2  3 time points"},
		{"one unnamed curve", km[1:], false, "  curve 1  3 time points"},
		{"none", nil, false, "(no curves)"},
		{"empty curve", []Step{{Name: "a"}}, false, "  a  0 time points"},
		{"NaN", []Step{{T: []float64{0, math.NaN()}, S: []float64{1, 1}}}, true, ""},
		{"mismatch", []Step{{T: []float64{0, 1}, S: []float64{1}}}, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := StepsBundle("Survival", "days", "S(t)", tc.steps)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			summary, _ := checkFigure(t, b, "Survival")
			if !strings.HasSuffix(summary, tc.want) {
				t.Errorf("summary %q, want suffix %q", summary, tc.want)
			}
		})
	}
}

// TestDeterministic renders each kind of figure twice and compares bytes.
func TestDeterministic(t *testing.T) {
	h := 7.3
	tests := []struct {
		name   string
		render func() (map[string]any, error)
	}{
		{"bars", func() (map[string]any, error) {
			return BarsBundle(Bars{Title: "Age", Labels: []string{"40–50", "50–60", "60–70"},
				Heights: []float64{120, 0, 85}, Suppressed: []bool{false, true, false}, Marker: "≤20", Note: "a note"})
		}},
		{"points", func() (map[string]any, error) {
			return PointsBundle(Points{Title: "P", X: []float64{1, 2, 3}, Y: []float64{3, 1, 2}, Groups: []int{0, 1, 0}, HLine: &h})
		}},
		{"steps", func() (map[string]any, error) {
			return StepsBundle("KM", "days", "S", []Step{{Name: "a", T: []float64{0, 10}, S: []float64{1, 0.5}}})
		}},
		{"empty", func() (map[string]any, error) { return BarsBundle(Bars{Title: "none"}) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			b, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			for _, mime := range []string{MIMESVG, MIMEPNG, MIMEText} {
				if a[mime] != b[mime] {
					t.Errorf("%s differs between runs", mime)
				}
			}
		})
	}
}

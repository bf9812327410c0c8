package analysis

import (
	"math"
	"testing"
)

// TestDecoded: a window of tied values is hidden when, with the rows of its
// first or last value known (a count released before or after), its value
// fixes how many rows hold a value between.
func TestDecoded(t *testing.T) {
	window := func(values []float64, counts []int) tiedWindow {
		w := tiedWindow{first: 50, list: values, counts: counts, values: int64(len(values))}
		sum, n := 0.0, 0
		for i, v := range values {
			sum += float64(counts[i]) * v
			n += counts[i]
		}
		w.last, w.mean = w.first+int64(n)-1, sum/float64(n)
		return w
	}
	cases := []struct {
		name   string
		values []float64
		counts []int
		want   bool
	}{
		{"three consecutive years: the middle block follows from the first (review 61)", []float64{1931, 1932, 1933}, []int{8, 4, 9}, true},
		{"three years, the middle one a person's", []float64{1931, 1932, 1990}, []int{10, 1, 10}, true},
		{"four lab values on a 0.1 grid: many fillings with either end known", []float64{6.4, 6.5, 6.6, 6.7}, []int{5, 6, 5, 5}, false},
		{"five values on a grid", []float64{30.2, 30.3, 30.4, 30.5, 30.6}, []int{3, 5, 4, 5, 4}, false},
		{"four values far apart: the blocks between follow", []float64{1931, 1932, 1950, 1990}, []int{6, 3, 2, 10}, true},
		{"two values: a rank, judged by rankCells instead", []float64{5.6, 5.7}, []int{11, 10}, false},
	}
	for _, c := range cases {
		w := window(c.values, c.counts)
		shown := math.Round(w.mean*100) / 100
		if got := w.decoded(shown, 2); got != c.want {
			t.Errorf("%s: decoded %v, want %v (shown %.2f)", c.name, got, c.want, shown)
		}
	}
}

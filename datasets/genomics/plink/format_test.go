package plink

import "testing"

// TestFormatG pins plink2's dtoa_g output, including the cases where it
// differs from printf("%g"): round-half-even at exact ties.
func TestFormatG(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {1, "1"}, {0.5, "0.5"}, {0.473684, "0.473684"}, {18.0 / 19, "0.947368"},
		{1.0 / 15, "0.0666667"}, {0.0001, "0.0001"}, {0.00012345678, "0.000123457"},
		{9.99999e-5, "9.99999e-05"}, {1e-5, "1e-05"}, {1.5e-300, "1.5e-300"}, {4.94065645841247e-324, "0"}, {6.09143e-319, "0"}, {2.3e-308, "2.3e-308"},
		{123456.7, "123457"}, {1234567, "1.23457e+06"}, {12.5, "12.5"}, {99.9999, "99.9999"},
		{2.5e-7, "2.5e-07"}, {0.1234565, "0.123456"}, {0.9999996, "1"}, {-0.25, "-0.25"},
		{0.327956, "0.327956"}, {1e100, "1e+100"},
	} {
		if got := FormatG(c.in); got != c.want {
			t.Errorf("FormatG(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}

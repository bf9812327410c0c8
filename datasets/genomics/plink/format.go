package plink

import "math"

// plink2 prints floating-point table cells (frequencies, HWE p-values,
// betas, …) with 6 significant digits in the style of printf("%g"):
// trailing zeros dropped, exponential notation for values below 1e-4 or of
// 1e6 and more, with at least two exponent digits ("1e-05"). It rounds the
// scaled six-digit value half to even, where printf rounds the exact binary
// value, so decimal halves such as 0.1234565 go to the even digit, and it
// prints subnormal values as 0 (its builds flush denormals to zero).

// halfTolerance: a scaled value this close to an integer plus one half
// rounds as an exact half.
const halfTolerance = 1e-9

// AppendG appends x formatted as plink2 prints it (see above); NaN is
// "nan" and infinities "inf" / "-inf".
func AppendG(dst []byte, x float64) []byte {
	if math.IsNaN(x) {
		return append(dst, "nan"...)
	}
	if x < 0 {
		dst = append(dst, '-')
		x = -x
	}
	if math.IsInf(x, 0) {
		return append(dst, "inf"...)
	}
	if x < 0x1p-1022 { // zero or subnormal
		return append(dst, '0')
	}
	exp := int(math.Floor(math.Log10(x)))
	digits := roundHalfEven(scale10(x, 5-exp))
	// Log10 can land one off near powers of ten; rounding can carry.
	for digits >= 1e6 {
		exp++
		digits = roundHalfEven(scale10(x, 5-exp))
	}
	for digits < 1e5 {
		exp--
		digits = roundHalfEven(scale10(x, 5-exp))
	}
	var buf [6]byte
	for i := 5; i >= 0; i-- {
		buf[i] = byte('0' + digits%10)
		digits /= 10
	}
	n := 6
	for n > 1 && buf[n-1] == '0' {
		n--
	}
	sig := buf[:n]
	switch {
	case exp < -4 || exp >= 6:
		dst = append(dst, sig[0])
		if len(sig) > 1 {
			dst = append(dst, '.')
			dst = append(dst, sig[1:]...)
		}
		dst = append(dst, 'e')
		if exp < 0 {
			dst = append(dst, '-')
			exp = -exp
		} else {
			dst = append(dst, '+')
		}
		if exp < 10 {
			dst = append(dst, '0')
		}
		return appendUint(dst, exp)
	case exp < 0:
		dst = append(dst, "0."...)
		for i := -1; i > exp; i-- {
			dst = append(dst, '0')
		}
		return append(dst, sig...)
	default:
		intDigits := exp + 1
		for i := 0; i < intDigits; i++ {
			if i < len(sig) {
				dst = append(dst, sig[i])
			} else {
				dst = append(dst, '0')
			}
		}
		if len(sig) > intDigits {
			dst = append(dst, '.')
			dst = append(dst, sig[intDigits:]...)
		}
		return dst
	}
}

// scale10 is x·10^k, with exact powers of ten where float64 has them.
func scale10(x float64, k int) float64 {
	switch {
	case k >= 0 && k <= 22:
		return x * math.Pow10(k)
	case k < 0 && k >= -22:
		return x / math.Pow10(-k)
	case k > 0:
		return x * math.Pow10(22) * math.Pow10(k-22)
	default:
		return x / math.Pow10(22) / math.Pow10(-k-22)
	}
}

// roundHalfEven rounds v to an integer, halves (within halfTolerance) to
// the even neighbour.
func roundHalfEven(v float64) int {
	f := math.Floor(v)
	d := v - f
	i := int(f)
	switch {
	case math.Abs(d-0.5) < halfTolerance:
		if i%2 != 0 {
			i++
		}
	case d > 0.5:
		i++
	}
	return i
}

func appendUint(dst []byte, v int) []byte {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// FormatG is AppendG to a string.
func FormatG(x float64) string { return string(AppendG(nil, x)) }

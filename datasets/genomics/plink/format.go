package plink

import "strconv"

// plink2 prints floating-point table cells (frequencies, HWE p-values,
// betas ...) with its own 6-significant-digit routine, dtoa_g, which rounds
// half to even with a small tolerance after scaling by powers of ten. The
// functions below reproduce it operation by operation so that our tables
// match plink2's byte for byte, not merely to printf("%g") precision.

// bankerRound8 is plink2's kBankerRound8: the rounding offsets for even and
// odd integer parts.
var bankerRound8 = [2]float64{0.499999995, 0.500000005}

func bankerRoundD(x float64) uint32 {
	r := uint32(int32(x))
	return r + uint32(int32((x-float64(r))+bankerRound8[r&1]))
}

// bankerRoundScaled is plink2's BankerRoundD<k>: round x·10^k and split off
// the last k digits.
func bankerRoundScaled(x float64, pow10 uint32) (quotient, remainder uint32) {
	x *= float64(pow10)
	r := uint32(int32(x))
	r += uint32(int32((x - float64(r)) + bankerRound8[r&1]))
	return r / pow10, r % pow10
}

// appendFrac appends "." and the k-digit remainder without trailing zeros,
// or nothing when it is zero.
func appendFrac(dst []byte, remainder uint32, k int) []byte {
	if remainder == 0 {
		return dst
	}
	var buf [8]byte
	for i := k - 1; i >= 0; i-- {
		buf[i] = byte('0' + remainder%10)
		remainder /= 10
	}
	end := k
	for end > 0 && buf[end-1] == '0' {
		end--
	}
	dst = append(dst, '.')
	return append(dst, buf[:end]...)
}

// AppendG appends x formatted like plink2's dtoa_g: 6 significant digits,
// trailing zeros dropped, exponential notation below 1e-4 and from 1e6 on
// (two-digit exponent, "e-05"), "nan", "inf", and 0 for subnormal values
// as plink2 (built to flush denormals to zero) prints them.
func AppendG(dst []byte, x float64) []byte {
	if x != x {
		return append(dst, "nan"...)
	}
	if x < 0 {
		dst = append(dst, '-')
		x = -x
	}
	if x < 9.9999949999999e-5 {
		// plink2 runs with denormals flushed to zero: a subnormal value
		// (tiny p-values) prints as 0.
		if x < 2.2250738585072014e-308 {
			return append(dst, '0')
		}
		xp10 := 0
		if x < 9.9999949999999e-16 {
			if x < 9.9999949999999e-128 {
				if x < 9.9999949999999e-256 {
					x *= 1.0e256
					xp10 |= 256
				} else {
					x *= 1.0e128
					xp10 |= 128
				}
			}
			if x < 9.9999949999999e-64 {
				x *= 1.0e64
				xp10 |= 64
			}
			if x < 9.9999949999999e-32 {
				x *= 1.0e32
				xp10 |= 32
			}
			if x < 9.9999949999999e-16 {
				x *= 1.0e16
				xp10 |= 16
			}
		}
		if x < 9.9999949999999e-8 {
			x *= 100000000
			xp10 |= 8
		}
		if x < 9.9999949999999e-4 {
			x *= 10000
			xp10 |= 4
		}
		if x < 9.9999949999999e-2 {
			x *= 100
			xp10 |= 2
		}
		if x < 9.9999949999999e-1 {
			x *= 10
			xp10++
		}
		q, r := bankerRoundScaled(x, 100000)
		dst = append(dst, byte('0'+q))
		dst = appendFrac(dst, r, 5)
		dst = append(dst, 'e', '-')
		return appendExp(dst, xp10)
	}
	if x >= 999999.49999999 {
		xp10 := 0
		if x >= 9.9999949999999e15 {
			if x >= 9.9999949999999e127 {
				if x > 1.7976931348623157e308 {
					return append(dst, "inf"...)
				}
				if x >= 9.9999949999999e255 {
					x *= 1.0e-256
					xp10 |= 256
				} else {
					x *= 1.0e-128
					xp10 |= 128
				}
			}
			if x >= 9.9999949999999e63 {
				x *= 1.0e-64
				xp10 |= 64
			}
			if x >= 9.9999949999999e31 {
				x *= 1.0e-32
				xp10 |= 32
			}
			if x >= 9.9999949999999e15 {
				x *= 1.0e-16
				xp10 |= 16
			}
		}
		if x >= 9.9999949999999e7 {
			x *= 1.0e-8
			xp10 |= 8
		}
		if x >= 9.9999949999999e3 {
			x *= 1.0e-4
			xp10 |= 4
		}
		if x >= 9.9999949999999e1 {
			x *= 1.0e-2
			xp10 |= 2
		}
		if x >= 9.9999949999999e0 {
			x *= 1.0e-1
			xp10++
		}
		q, r := bankerRoundScaled(x, 100000)
		dst = append(dst, byte('0'+q))
		dst = appendFrac(dst, r, 5)
		dst = append(dst, 'e', '+')
		return appendExp(dst, xp10)
	}
	if x >= 0.99999949999999 {
		return appendSo6(dst, x)
	}
	// 6 significant digits after "0.", no less than ~0.0001.
	dst = append(dst, '0', '.')
	if x < 9.9999949999999e-3 {
		x *= 100
		dst = append(dst, '0', '0')
	}
	if x < 9.9999949999999e-2 {
		x *= 10
		dst = append(dst, '0')
	}
	v := bankerRoundD(x * 1000000)
	var buf [6]byte
	for i := 5; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	end := 6
	for end > 0 && buf[end-1] == '0' {
		end--
	}
	return append(dst, buf[:end]...)
}

func appendExp(dst []byte, xp10 int) []byte {
	if xp10 >= 100 {
		dst = append(dst, byte('0'+xp10/100))
		xp10 %= 100
	}
	return append(dst, byte('0'+xp10/10), byte('0'+xp10%10))
}

// appendSo6 is plink2's dtoa_so6: 0.999995 <= x < 999999.5.
func appendSo6(dst []byte, x float64) []byte {
	var q, r uint32
	var k int
	switch {
	case x < 9.9999949999999:
		q, r = bankerRoundScaled(x, 100000)
		k = 5
	case x < 99.999949999999:
		q, r = bankerRoundScaled(x, 10000)
		k = 4
	case x < 999.99949999999:
		q, r = bankerRoundScaled(x, 1000)
		k = 3
	case x < 9999.9949999999:
		q, r = bankerRoundScaled(x, 100)
		k = 2
	case x < 99999.949999999:
		q, r = bankerRoundScaled(x, 10)
		k = 1
	default:
		return strconv.AppendUint(dst, uint64(bankerRoundD(x)), 10)
	}
	dst = strconv.AppendUint(dst, uint64(q), 10)
	return appendFrac(dst, r, k)
}

// FormatG is AppendG to a string.
func FormatG(x float64) string { return string(AppendG(nil, x)) }

package plink

import (
	"strconv"
	"strings"
)

// Chromosome codes as plink numbers them for humans.
const (
	ChromUnknown = 0
	ChromX       = 23
	ChromY       = 24
	ChromXY      = 25 // pseudo-autosomal region of X
	ChromMT      = 26
)

// ParseChrom returns plink's numeric code (0–26) of a chromosome name:
// "1".."22", "X", "Y", "XY", "MT", "M", "23".."26" and "0", each optionally
// prefixed by "chr" (any case). ok is false for anything else.
func ParseChrom(name string) (code int, ok bool) {
	s := name
	if len(s) > 3 && strings.EqualFold(s[:3], "chr") {
		s = s[3:]
	}
	switch strings.ToUpper(s) {
	case "X":
		return ChromX, true
	case "Y":
		return ChromY, true
	case "XY":
		return ChromXY, true
	case "MT", "M":
		return ChromMT, true
	}
	if len(s) == 0 || len(s) > 2 || s[0] == '+' || s[0] == '-' || (len(s) == 2 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > ChromMT {
		return 0, false
	}
	if n == 0 && s != "0" {
		return 0, false
	}
	return n, true
}

var chromNames = func() [ChromMT + 1]string {
	var a [ChromMT + 1]string
	for i := 0; i <= 22; i++ {
		a[i] = strconv.Itoa(i)
	}
	a[ChromX], a[ChromY], a[ChromXY], a[ChromMT] = "X", "Y", "XY", "MT"
	return a
}()

// ChromName is the name plink2 prints for a chromosome code ("1".."22",
// "X", "Y", "XY", "MT", "0").
func ChromName(code int) string {
	if code < 0 || code > ChromMT {
		return "0"
	}
	return chromNames[code]
}

// Ploidy describes how a sample's genotype on a chromosome is counted,
// following plink2: autosomes and XY are diploid for everyone; X is haploid
// in males; Y is haploid in males and absent in everyone else; MT is
// haploid for everyone. In a haploid call a heterozygous code is missing.
type Ploidy uint8

// Ploidy values.
const (
	Diploid Ploidy = iota
	Haploid
	Absent
)

// SamplePloidy returns the ploidy of a sample with the given sex (1 male,
// 2 female, 0 unknown) on chromosome code chrom.
func SamplePloidy(chrom int, sex int) Ploidy {
	switch chrom {
	case ChromX:
		if sex == 1 {
			return Haploid
		}
	case ChromY:
		if sex == 1 {
			return Haploid
		}
		return Absent
	case ChromMT:
		return Haploid
	}
	return Diploid
}

package assoc

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"enclave/datasets/genomics/plink"
)

// ErrBadTable marks a malformed phenotype or covariate file.
var ErrBadTable = errors.New("malformed phenotype/covariate file")

// Column is one phenotype or covariate, aligned to the samples of a fileset.
type Column struct {
	Name string
	// Values[i] is the value for fileset sample i, NaN when missing or when
	// the sample is absent from the file. Case/control columns hold 0
	// (control) and 1 (case).
	Values []float64
	// Binary is true for a case/control column (all values 1, 2, 0 or
	// missing in the file).
	Binary bool
}

// ReadTable reads a plink-style phenotype or covariate file and aligns its
// columns to samples (the .fam order). Lines are "FID IID v1 v2 ..." after a
// header "FID IID name1 name2 ..." ("#FID" also accepted) or "#IID name1 ..."
// (then no FID column); without a header the columns are named
// defaultPrefix1, defaultPrefix2, ... Values NA, nan, . and -9 are missing.
// With binaryAllowed, a column holding only 1, 2, 0 and missing values is
// case/control (0 = missing), as plink2 does for phenotypes; covariates are
// always read as numbers. A sample id absent from the .fam, a repeated
// sample, a non-numeric value or a short line is an error naming the file
// and line.
func ReadTable(path string, samples []plink.Sample, defaultPrefix string, binaryAllowed bool) ([]Column, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	byFull := make(map[string]int, len(samples))
	byIID := make(map[string]int, len(samples))
	for i, s := range samples {
		byFull[s.FID+"\x00"+s.IID] = i
		if _, dup := byIID[s.IID]; dup {
			byIID[s.IID] = -1 // ambiguous without FID
		} else {
			byIID[s.IID] = i
		}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	var names []string
	var raw [][]string // raw[j][i]: token of column j for sample i ("" absent)
	iidOnly := false
	seen := make([]bool, len(samples))
	lineNo := 0
	for sc.Scan() {
		lineNo++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if names == nil {
			first := strings.ToUpper(fields[0])
			switch {
			case first == "FID" || first == "#FID":
				if len(fields) < 3 || !strings.EqualFold(fields[1], "IID") {
					return nil, fmt.Errorf("%s:%d: header must be FID IID followed by column names: %w", path, lineNo, ErrBadTable)
				}
				names = append([]string(nil), fields[2:]...)
				raw = newRaw(len(names), len(samples))
				continue
			case first == "#IID" || first == "IID":
				if len(fields) < 2 {
					return nil, fmt.Errorf("%s:%d: header has no column names: %w", path, lineNo, ErrBadTable)
				}
				iidOnly = true
				names = append([]string(nil), fields[1:]...)
				raw = newRaw(len(names), len(samples))
				continue
			case strings.HasPrefix(first, "#"):
				return nil, fmt.Errorf("%s:%d: unrecognised header %q (want FID IID ... or #IID ...): %w", path, lineNo, fields[0], ErrBadTable)
			default:
				if len(fields) < 3 {
					return nil, fmt.Errorf("%s:%d: want FID IID and at least one value, got %d fields: %w", path, lineNo, len(fields), ErrBadTable)
				}
				for j := 0; j < len(fields)-2; j++ {
					names = append(names, fmt.Sprintf("%s%d", defaultPrefix, j+1))
				}
				raw = newRaw(len(names), len(samples))
			}
		}
		idCols := 2
		if iidOnly {
			idCols = 1
		}
		if len(fields) != idCols+len(names) {
			return nil, fmt.Errorf("%s:%d: %d fields, want %d: %w", path, lineNo, len(fields), idCols+len(names), ErrBadTable)
		}
		var idx int
		var ok bool
		if iidOnly {
			idx, ok = byIID[fields[0]]
			if ok && idx < 0 {
				return nil, fmt.Errorf("%s:%d: IID %q is ambiguous in the .fam (several families); add a FID column: %w", path, lineNo, fields[0], ErrBadTable)
			}
		} else {
			idx, ok = byFull[fields[0]+"\x00"+fields[1]]
		}
		if !ok {
			id := fields[0]
			if !iidOnly {
				id = fields[0] + " " + fields[1]
			}
			return nil, fmt.Errorf("%s:%d: sample %q is not in the .fam: %w", path, lineNo, id, ErrBadTable)
		}
		if seen[idx] {
			return nil, fmt.Errorf("%s:%d: sample %q listed twice: %w", path, lineNo, samples[idx].IID, ErrBadTable)
		}
		seen[idx] = true
		for j := range names {
			raw[j][idx] = fields[idCols+j]
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if names == nil {
		return nil, fmt.Errorf("%s: no header and no data: %w", path, ErrBadTable)
	}
	cols := make([]Column, len(names))
	for j, name := range names {
		c := Column{Name: name, Values: make([]float64, len(samples))}
		binary := binaryAllowed
		for i, tok := range raw[j] {
			v, err := parseValue(tok)
			if err != nil {
				return nil, fmt.Errorf("%s: column %s, sample %s %s: %v: %w", path, name, samples[i].FID, samples[i].IID, err, ErrBadTable)
			}
			c.Values[i] = v
			if !math.IsNaN(v) && v != 0 && v != 1 && v != 2 {
				binary = false
			}
		}
		if binary {
			c.Binary = true
			for i, v := range c.Values {
				switch v {
				case 1:
					c.Values[i] = 0
				case 2:
					c.Values[i] = 1
				default:
					c.Values[i] = math.NaN()
				}
			}
		}
		cols[j] = c
	}
	return cols, nil
}

func newRaw(cols, n int) [][]string {
	r := make([][]string, cols)
	for j := range r {
		r[j] = make([]string, n)
	}
	return r
}

func parseValue(tok string) (float64, error) {
	switch tok {
	case "", "NA", "na", "nan", "NaN", "NAN", ".", "-9":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return 0, fmt.Errorf("value %q is not a number", tok)
	}
	if v == -9 || math.IsInf(v, 0) || math.IsNaN(v) {
		return math.NaN(), nil
	}
	return v, nil
}

// FamPhenotype returns the .fam phenotype column as a Column named PHENO1,
// as plink2 does when no --pheno file is given.
func FamPhenotype(samples []plink.Sample, binary bool) Column {
	c := Column{Name: "PHENO1", Values: make([]float64, len(samples)), Binary: binary}
	for i, s := range samples {
		switch {
		case s.PhenoMissing:
			c.Values[i] = math.NaN()
		case binary:
			c.Values[i] = s.PhenoValue - 1
		default:
			c.Values[i] = s.PhenoValue
		}
	}
	return c
}

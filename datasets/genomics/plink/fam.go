package plink

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Sample is one .fam line.
type Sample struct {
	FID, IID       string // family and within-family ids
	Father, Mother string // "0" when unknown
	Sex            int    // 1 male, 2 female, 0 unknown
	// Pheno is the phenotype as written (column 6). PhenoValue holds its
	// number (1 control, 2 case for a case/control column) unless
	// PhenoMissing.
	Pheno        string
	PhenoValue   float64
	PhenoMissing bool
}

// Founder reports whether both parents are unknown ("0"), plink's
// definition; plink2 computes allele frequencies and HWE on founders only.
func (s *Sample) Founder() bool { return s.Father == "0" && s.Mother == "0" }

// Fam is the parsed .fam file.
type Fam struct {
	Samples []Sample
	// Binary is true when the phenotype column is case/control: every
	// value is 1, 2 or missing (0, -9, NA).
	Binary bool
}

// ReadFam parses a .fam file.
func ReadFam(path string) (*Fam, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseFam(f, path)
}

func parseFam(r io.Reader, path string) (*Fam, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<26)
	fam := &Fam{Binary: true}
	var fields [7][]byte
	line := 0
	for sc.Scan() {
		line++
		nf := splitFields(sc.Bytes(), fields[:])
		if nf == 0 {
			continue
		}
		if nf != 6 {
			return nil, fmt.Errorf("%s line %d: %d columns, want 6 (FID, IID, father, mother, sex, phenotype)", path, line, nf)
		}
		s := Sample{
			FID: string(fields[0]), IID: string(fields[1]),
			Father: string(fields[2]), Mother: string(fields[3]),
			Pheno: string(fields[5]),
		}
		switch string(fields[4]) {
		case "1", "M", "m":
			s.Sex = 1
		case "2", "F", "f":
			s.Sex = 2
		case "0", "-9", "NA", "na", "U", "u":
			s.Sex = 0
		default:
			return nil, fmt.Errorf("%s line %d: sex code %q, want 1 (male), 2 (female) or 0 (unknown)", path, line, fields[4])
		}
		switch s.Pheno {
		case "-9", "NA", "na", "nan", "NaN":
			s.PhenoMissing = true
		default:
			v, err := strconv.ParseFloat(s.Pheno, 64)
			if err != nil {
				return nil, fmt.Errorf("%s line %d: phenotype %q is not a number (use -9 or NA for missing)", path, line, s.Pheno)
			}
			s.PhenoValue = v
			if v != 0 && v != 1 && v != 2 {
				fam.Binary = false
			}
		}
		fam.Samples = append(fam.Samples, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s line %d: %w", path, line+1, err)
	}
	if fam.Binary {
		for i := range fam.Samples {
			if fam.Samples[i].PhenoValue == 0 {
				fam.Samples[i].PhenoMissing = true
			}
		}
	}
	return fam, nil
}

package assoc

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"enclave/datasets/genomics/plink"
)

// FileName is plink2's output name for r: PREFIX.PHENO.glm.linear or
// PREFIX.PHENO.glm.logistic.hybrid.
func FileName(prefix string, r *Result) string {
	if r.Logistic {
		return prefix + "." + r.Pheno + ".glm.logistic.hybrid"
	}
	return prefix + "." + r.Pheno + ".glm.linear"
}

// WriteFile writes r to FileName(prefix, r) and returns the path.
func WriteFile(prefix string, variants []plink.Variant, r *Result) (string, error) {
	path := FileName(prefix, r)
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := Write(f, variants, r); err != nil {
		f.Close()
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return path, f.Close()
}

// Write writes r as plink2 writes --glm output: tab-separated, a header
//
//	#CHROM POS ID REF ALT A1 TEST OBS_CT BETA SE T_STAT P ERRCODE   (linear)
//	#CHROM POS ID REF ALT A1 FIRTH? TEST OBS_CT OR LOG(OR)_SE Z_STAT P ERRCODE
//
// and per variant one line per test of its model (ADD, then covariates;
// SEX on chrX), numbers with six
// significant digits as plink2's dtoa_g, NA where there is no estimate.
func Write(w io.Writer, variants []plink.Variant, r *Result) error {
	if len(variants) != len(r.Obs) {
		return fmt.Errorf("%d variants for %d results", len(variants), len(r.Obs))
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if r.Logistic {
		bw.WriteString("#CHROM\tPOS\tID\tREF\tALT\tA1\tFIRTH?\tTEST\tOBS_CT\tOR\tLOG(OR)_SE\tZ_STAT\tP\tERRCODE\n")
	} else {
		bw.WriteString("#CHROM\tPOS\tID\tREF\tALT\tA1\tTEST\tOBS_CT\tBETA\tSE\tT_STAT\tP\tERRCODE\n")
	}
	nt := len(r.Tests)
	var line []byte
	for v := range variants {
		vr := &variants[v]
		for t, name := range r.Tests {
			k := v*nt + t
			if !r.Has(v, t) {
				continue
			}
			line = append(line[:0], vr.Chrom...)
			line = append(line, '\t')
			line = appendInt(line, vr.Pos)
			line = append(line, '\t')
			line = append(line, vr.ID...)
			line = append(line, '\t')
			line = append(line, vr.Ref()...)
			line = append(line, '\t')
			line = append(line, vr.Alt()...)
			line = append(line, '\t')
			if r.A1IsRef[v] {
				line = append(line, vr.Ref()...)
			} else {
				line = append(line, vr.Alt()...)
			}
			if r.Logistic {
				if r.Firth[v] {
					line = append(line, "\tY"...)
				} else {
					line = append(line, "\tN"...)
				}
			}
			line = append(line, '\t')
			line = append(line, name...)
			line = append(line, '\t')
			line = appendInt(line, int64(r.Obs[v]))
			if r.Err[v] != errNone {
				line = append(line, "\tNA\tNA\tNA\tNA\t"...)
				line = append(line, r.Err[v].String()...)
			} else {
				line = append(line, '\t')
				if r.Logistic {
					line = plink.AppendG(line, math.Exp(r.Beta[k]))
				} else {
					line = plink.AppendG(line, r.Beta[k])
				}
				line = append(line, '\t')
				line = plink.AppendG(line, r.SE[k])
				line = append(line, '\t')
				line = plink.AppendG(line, r.Stat[k])
				line = append(line, '\t')
				line = plink.AppendG(line, r.P[k])
				if r.Unfinished[v] {
					line = append(line, "\tUNFINISHED"...)
				} else {
					line = append(line, "\t."...)
				}
			}
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func appendInt(b []byte, v int64) []byte {
	return strconv.AppendInt(b, v, 10)
}

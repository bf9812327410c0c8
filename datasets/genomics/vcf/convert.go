package vcf

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"enclave/datasets/genomics/plink"
)

// Convert writes the VCF's biallelic variants as a PLINK 1.9 fileset
// PREFIX.bed/.bim/.fam, as plink2 --vcf FILE --make-bed does: A1 = ALT,
// A2 = REF, FID 0, IID = VCF sample name, sex and phenotype unknown.
// Options.Region and Options.ID restrict it to a region or a variant id.
func Convert(vcfPath, outPrefix string, opts Options) (Stats, error) {
	r, err := Open(vcfPath, opts)
	if err != nil {
		return Stats{}, err
	}
	if err := writeFam(outPrefix+".fam", r.Samples); err != nil {
		return Stats{}, err
	}
	bedF, err := os.Create(outPrefix + ".bed")
	if err != nil {
		return Stats{}, err
	}
	defer bedF.Close()
	bimF, err := os.Create(outPrefix + ".bim")
	if err != nil {
		return Stats{}, err
	}
	defer bimF.Close()
	bed := bufio.NewWriterSize(bedF, 4<<20)
	bim := bufio.NewWriterSize(bimF, 1<<20)
	bed.Write(plink.Magic[:])
	var line []byte
	write := func(v *plink.Variant, row []byte) error {
		if opts.ID != "" && v.ID != opts.ID {
			return nil
		}
		line = AppendBimLine(line[:0], v)
		bim.Write(line)
		_, err := bed.Write(row)
		return err
	}
	switch {
	case opts.Region != "":
		err = r.Query(opts.Region, write)
	case opts.ID != "":
		err = r.QueryID(opts.ID, write)
	default:
		err = r.Scan(write)
	}
	if err != nil {
		return r.Stats(), err
	}
	for _, w := range []*bufio.Writer{bed, bim} {
		if err := w.Flush(); err != nil {
			return r.Stats(), err
		}
	}
	if err := bedF.Close(); err != nil {
		return r.Stats(), err
	}
	return r.Stats(), bimF.Close()
}

// AppendBimLine appends a .bim line for v (centimorgans written as 0 when
// zero, as plink2 does).
func AppendBimLine(b []byte, v *plink.Variant) []byte {
	b = append(b, v.Chrom...)
	b = append(b, '\t')
	b = append(b, v.ID...)
	b = append(b, '\t')
	if v.CM == 0 {
		b = append(b, '0')
	} else {
		b = strconv.AppendFloat(b, v.CM, 'g', -1, 64)
	}
	b = append(b, '\t')
	b = strconv.AppendInt(b, v.Pos, 10)
	b = append(b, '\t')
	b = append(b, v.A1...)
	b = append(b, '\t')
	b = append(b, v.A2...)
	return append(b, '\n')
}

func writeFam(path string, samples []plink.Sample) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, s := range samples {
		sex := strconv.Itoa(s.Sex)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.FID, s.IID, s.Father, s.Mother, sex, s.Pheno)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

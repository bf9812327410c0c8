package vcf

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"enclave/datasets/genomics/plink"
)

// dosageVCF writes a bgzipped, indexed VCF of n samples and m records with
// FORMAT GT:DS (some DS ".", some GT "./." with a DS, haploid male calls
// on chrX), DS-only autosomal records and GT-only records.
func dosageVCF(t *testing.T, dir string, n, m int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(5, uint64(m)))
	var b strings.Builder
	b.WriteString("##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n")
	b.WriteString("##FORMAT=<ID=DS,Number=A,Type=Float,Description=\"Dosage\">\n##contig=<ID=1>\n##contig=<ID=X>\n")
	b.WriteString("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\ts%d", i)
	}
	b.WriteString("\n")
	for v := 0; v < m; v++ {
		chrom := "1"
		if v >= m*3/4 {
			chrom = "X"
		}
		kind := v % 3 // 0 GT:DS, 1 DS only (autosomes), 2 GT only
		if chrom == "X" && kind == 1 {
			kind = 0
		}
		format := [3]string{"GT:DS", "DS", "GT"}[kind]
		fmt.Fprintf(&b, "%s\t%d\tv%d\tA\tG\t.\t.\t.\t%s", chrom, 100+10*v, v, format)
		f := 0.1 + 0.8*r.Float64()
		for i := 0; i < n; i++ {
			haploid := chrom == "X" && i%2 == 0
			a1, a2 := r.Float64() < f, r.Float64() < f
			gt := map[bool]string{true: "1", false: "0"}[a1]
			d := 0.0
			if a1 {
				d = 1
			}
			if !haploid {
				gt += "/" + map[bool]string{true: "1", false: "0"}[a2]
				if a2 {
					d++
				}
			}
			// Imputation-like noise: mostly near the call, sometimes far.
			switch x := r.Float64(); {
			case x < 0.3:
				d += 0.04 * (r.Float64() - 0.5)
			case x < 0.6:
				d += 0.6 * (r.Float64() - 0.5)
			}
			top := 2.0
			if haploid {
				top = 1
			}
			d = math.Min(top, math.Max(0, d))
			ds := strconv.FormatFloat(d, 'f', 3, 64)
			switch x := r.Float64(); {
			case x < 0.05:
				ds = "."
			case x < 0.1:
				gt = map[bool]string{true: ".", false: "./."}[haploid]
			case x < 0.12:
				gt, ds = map[bool]string{true: ".", false: "./."}[haploid], "."
			}
			switch kind {
			case 0:
				fmt.Fprintf(&b, "\t%s:%s", gt, ds)
			case 1:
				fmt.Fprintf(&b, "\t%s", ds)
			case 2:
				fmt.Fprintf(&b, "\t%s", gt)
			}
		}
		b.WriteString("\n")
	}
	path := filepath.Join(dir, "ds.vcf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "bgzip", "-f", path)
	sh(t, "tabix", "-f", "-p", "vcf", path+".gz")
	return path + ".gz"
}

// TestDosageMatchesPlink2: with Options.Dosage the hard calls are plink2
// --vcf FILE dosage=DS --make-bed's byte for byte, and the dosages those
// plink2 --export A prints (to its printed precision); without it DS is
// ignored and the hard calls are GT's.
func TestDosageMatchesPlink2(t *testing.T) {
	need(t, "plink2", "bgzip", "tabix")
	dir := t.TempDir()
	const n, m = 41, 120
	path := dosageVCF(t, dir, n, m)
	sh(t, "plink2", "--vcf", path, "dosage=DS", "--make-bed", "--out", filepath.Join(dir, "p2"))
	sh(t, "plink2", "--vcf", path, "dosage=DS", "--export", "A", "--out", filepath.Join(dir, "p2"))
	if _, err := Convert(path, filepath.Join(dir, "ours"), Options{Dosage: true}); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".bed", ".bim", ".fam"} {
		a, _ := os.ReadFile(filepath.Join(dir, "ours"+ext))
		b, _ := os.ReadFile(filepath.Join(dir, "p2"+ext))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from plink2 dosage=DS (%d vs %d bytes)", ext, len(a), len(b))
		}
	}
	// plink2's .raw: one line per sample, REF dosages per variant.
	f, err := os.Open(filepath.Join(dir, "p2.raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var raw [][]string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		raw = append(raw, strings.Fields(sc.Text())[6:])
	}
	r, err := Open(path, Options{Dosage: true})
	if err != nil {
		t.Fatal(err)
	}
	v, withDS := 0, 0
	err = r.ScanDosage(func(vr *plink.Variant, row []byte, dose []uint16) error {
		if (dose != nil) != (v%3 != 2) {
			t.Errorf("%s: dosage row %v, want one for FORMAT with DS", vr.ID, dose != nil)
		}
		for i := 0; i < n; i++ {
			want := raw[1+i][v]
			var got float64
			switch {
			case dose != nil && dose[i] == plink.DosageMissing, dose == nil && plink.Code(row, i) == plink.CodeMissing:
				if want != "NA" {
					t.Errorf("%s sample %d: missing, plink2 %s", vr.ID, i, want)
				}
				continue
			case dose != nil:
				got = 2 - float64(dose[i])/plink.DosageUnit
				if plink.HardCall(dose[i]) != byte(plink.Code(row, i)) {
					t.Errorf("%s sample %d: hard call %d of dosage %d", vr.ID, i, plink.Code(row, i), dose[i])
				}
			default:
				got = 2 - float64(plink.CodeDosage(byte(plink.Code(row, i))))/plink.DosageUnit
			}
			// plink2 prints the shortest decimal of the 1/16384 unit.
			w, err := strconv.ParseFloat(want, 64)
			if err != nil || math.Round(w*plink.DosageUnit) != math.Round(got*plink.DosageUnit) {
				t.Errorf("%s sample %d: REF dosage %.6f, plink2 %s", vr.ID, i, got, want)
			}
		}
		if dose != nil {
			withDS++
		}
		v++
		return nil
	})
	if err != nil || v != m || withDS != 80 {
		t.Fatalf("scan: %v, %d variants, %d with DS", err, v, withDS)
	}
	// Without Options.Dosage, DS is not read: a GT:DS record's hard calls
	// are GT's, which differ from the dosages', and a DS-only record has
	// no genotypes.
	r0, _ := Open(path, Options{})
	var rows0, rows1 [][]byte
	err0 := r0.Scan(func(_ *plink.Variant, row []byte) error {
		rows0 = append(rows0, append([]byte(nil), row...))
		return nil
	})
	r.Scan(func(_ *plink.Variant, row []byte) error {
		rows1 = append(rows1, append([]byte(nil), row...))
		return nil
	})
	if err0 == nil || !strings.Contains(err0.Error(), `FORMAT "DS" has no GT`) || len(rows0) != 1 || bytes.Equal(rows0[0], rows1[0]) {
		t.Errorf("without Dosage: %v, %d rows; the GT:DS row must differ from the dosages' hard calls", err0, len(rows0))
	}
}

// TestBadDosage: a DS outside [0, 2] (or [0, 1] for a haploid GT), a
// non-number, and DS without GT on chrX are refused, the error naming the
// file, line, variant and sample.
func TestBadDosage(t *testing.T) {
	need(t, "bgzip", "tabix")
	head := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\n1\t5\trs1\tA\tG\t.\t.\t.\tGT:DS\t0/1:1\t0/0:0\n"
	for i, c := range []struct{ rec, want string }{
		{"1\t9\trs2\tA\tG\t.\t.\t.\tGT:DS\t0/1:2.5\t0/0:0", `line 4: variant rs2 at 1:9: sample 1 (column 10): DS "2.5" is not a diploid dosage in [0, 2]`},
		{"1\t9\trs3\tA\tG\t.\t.\t.\tDS\t1\tx", `line 4: variant rs3 at 1:9: sample 2 (column 11): DS "x" is not a diploid dosage`},
		{"X\t9\trs4\tA\tG\t.\t.\t.\tGT:DS\t1:1.2\t0/0:0", `variant rs4 at X:9: sample 1 (column 10): DS "1.2" is not a haploid (GT 1) dosage in [0, 1]`},
		{"X\t9\trs5\tA\tG\t.\t.\t.\tDS\t1\t0", `variant rs5 at X:9: DS without GT on chromosome X`},
		{"1\t9\trs6\tA\tG\t.\t.\t.\tGT:DS\t0/1:-0.2\t0/0:nan", `variant rs6 at 1:9: sample 1 (column 10): DS "-0.2" is not a diploid dosage`},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, fmt.Sprintf("bad%d.vcf", i))
		os.WriteFile(p, []byte(head+c.rec+"\n"), 0o644)
		sh(t, "bgzip", "-f", p)
		sh(t, "tabix", "-f", "-p", "vcf", p+".gz")
		r, err := Open(p+".gz", Options{Dosage: true})
		if err != nil {
			t.Fatal(err)
		}
		err = r.ScanDosage(func(*plink.Variant, []byte, []uint16) error { return nil })
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p+".gz") {
			t.Errorf("%s: %v; want an error with %q", c.rec, err, c.want)
		}
		// Through the index (a region query) the record is named too.
		err = r.QueryDosage("1:9-9", func(*plink.Variant, []byte, []uint16) error { return nil })
		if strings.HasPrefix(c.rec, "1\t") && (err == nil || !strings.Contains(err.Error(), c.want[strings.Index(c.want, "variant"):])) {
			t.Errorf("query %s: %v", c.rec, err)
		}
	}
}

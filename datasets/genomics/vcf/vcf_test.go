package vcf

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"enclave/datasets/genomics/plink"
)

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
}

func sh(t *testing.T, name string, args ...string) {
	t.Helper()
	if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
}

// randomVCF writes a bgzipped, indexed VCF exercising what real files
// hold: chr-prefixed and plain names, phased and unphased calls, haploid
// chrX/Y/MT calls, missing calls, extra FORMAT fields, ids ".", no-ALT
// records and multi-allelic sites.
func randomVCF(t *testing.T, dir string, n, m int, multi bool) string {
	t.Helper()
	r := rand.New(rand.NewPCG(3, uint64(n)))
	var b strings.Builder
	b.WriteString("##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n")
	b.WriteString("##FORMAT=<ID=DP,Number=1,Type=Integer,Description=\"Depth\">\n")
	for _, c := range []string{"chr1", "chr2", "chr22", "chrX", "chrY", "chrM"} {
		fmt.Fprintf(&b, "##contig=<ID=%s>\n", c)
	}
	b.WriteString("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\tsample_%d", i)
	}
	b.WriteString("\n")
	chroms := []string{"chr1", "chr2", "chr22", "chrX", "chrY", "chrM"}
	for v := 0; v < m; v++ {
		chrom := chroms[v*len(chroms)/m]
		haploid := chrom == "chrY" || chrom == "chrM" || (chrom == "chrX" && v%2 == 0)
		pos := 1000 + 37*v
		id := fmt.Sprintf("rs%d", v)
		if v%11 == 0 {
			id = "."
		}
		ref, alt := "A", "G"
		nalt := 1
		switch {
		case v%13 == 4:
			alt = "."
			nalt = 0
		case multi && v%7 == 3:
			alt = "G,T"
			nalt = 2
		case v%17 == 5:
			ref, alt = "ACT", "A"
		}
		format := "GT"
		if v%3 == 1 {
			format = "GT:DP"
		}
		fmt.Fprintf(&b, "%s\t%d\t%s\t%s\t%s\t50\tPASS\t.\t%s", chrom, pos, id, ref, alt, format)
		p := r.Float64()
		for i := 0; i < n; i++ {
			allele := func() string {
				if r.Float64() < 0.03 {
					return "."
				}
				if nalt > 0 && r.Float64() < p {
					return fmt.Sprint(1 + r.IntN(nalt))
				}
				return "0"
			}
			var gt string
			switch {
			case haploid:
				gt = allele()
			default:
				a1, a2 := allele(), allele()
				if a1 == "." || a2 == "." {
					a1, a2 = ".", "." // plink2 refuses half-calls by default
				}
				sep := "/"
				if v%2 == 0 {
					sep = "|"
				}
				gt = a1 + sep + a2
			}
			if format == "GT:DP" {
				gt += fmt.Sprintf(":%d", r.IntN(40))
			}
			b.WriteString("\t" + gt)
		}
		b.WriteString("\n")
	}
	path := filepath.Join(dir, "t.vcf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "bgzip", "-f", path)
	sh(t, "tabix", "-f", "-p", "vcf", path+".gz")
	return path + ".gz"
}

// TestConvertMatchesPlink2 converts a VCF and compares the fileset with
// plink2 --vcf FILE --make-bed byte for byte.
func TestConvertMatchesPlink2(t *testing.T) {
	need(t, "plink2", "bgzip", "tabix")
	for _, multi := range []bool{false, true} {
		t.Run(fmt.Sprintf("multiallelic=%v", multi), func(t *testing.T) {
			dir := t.TempDir()
			path := randomVCF(t, dir, 37, 400, multi)
			args := []string{"--vcf", path, "--make-bed", "--out", filepath.Join(dir, "p2")}
			if multi {
				args = append(args, "--max-alleles", "2")
			}
			sh(t, "plink2", args...)
			st, err := Convert(path, filepath.Join(dir, "ours"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, ext := range []string{".bed", ".bim", ".fam"} {
				a, _ := os.ReadFile(filepath.Join(dir, "ours"+ext))
				b, _ := os.ReadFile(filepath.Join(dir, "p2"+ext))
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs from plink2's (%d vs %d bytes)", ext, len(a), len(b))
				}
			}
			wantMulti := 0
			for v := 0; multi && v < 400; v++ {
				if v%13 != 4 && v%7 == 3 {
					wantMulti++
				}
			}
			if st.Records != 400 || st.Multiallelic != wantMulti || st.Variants != st.Records-st.Multiallelic {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestSplitMatchesBcftoolsNorm checks Split against bcftools norm -m-
// followed by plink2.
func TestSplitMatchesBcftoolsNorm(t *testing.T) {
	need(t, "plink2", "bgzip", "tabix", "bcftools")
	dir := t.TempDir()
	path := randomVCF(t, dir, 21, 300, true)
	norm := filepath.Join(dir, "norm.vcf.gz")
	sh(t, "bcftools", "norm", "-m-", "-Oz", "-o", norm, path)
	sh(t, "plink2", "--vcf", norm, "--make-bed", "--out", filepath.Join(dir, "p2"))
	if _, err := Convert(path, filepath.Join(dir, "ours"), Options{Split: true}); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".bed", ".bim"} {
		a, _ := os.ReadFile(filepath.Join(dir, "ours"+ext))
		b, _ := os.ReadFile(filepath.Join(dir, "p2"+ext))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from bcftools norm -m- + plink2 (%d vs %d bytes)", ext, len(a), len(b))
		}
	}
}

// TestQueries compares region and id queries with tabix.
func TestQueries(t *testing.T) {
	need(t, "bgzip", "tabix")
	dir := t.TempDir()
	path := randomVCF(t, dir, 9, 600, false)
	r, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, region := range []string{"chr1:1000-3000", "1:2,000-2,100", "chr2", "chr22:5000", "X:16000-17000", "chrM:1-100000000", "chr7:1-100"} {
		var got []string
		err := r.Query(region, func(v *plink.Variant, row []byte) error {
			got = append(got, fmt.Sprintf("%d:%s", v.Pos, v.ID))
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		q := region
		if !strings.HasPrefix(q, "chr") {
			q = "chr" + q
		}
		q = strings.ReplaceAll(strings.Replace(q, "chrX", "chrX", 1), ",", "")
		if strings.HasPrefix(q, "chr22:5000") {
			q = "chr22:5000-5000"
		}
		out, err := exec.Command("tabix", path, q).Output()
		if err != nil {
			t.Fatalf("tabix %s: %v", q, err)
		}
		var want []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if f := strings.Split(line, "\t"); len(f) > 2 {
				want = append(want, f[1]+":"+f[2])
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s: got %v\nwant %v", region, got, want)
		}
	}
	// Convert restricted to a region equals plink2 --vcf --chr --from-bp --to-bp.
	if _, err := exec.LookPath("plink2"); err == nil {
		sh(t, "plink2", "--vcf", path, "--chr", "2", "--from-bp", "7000", "--to-bp", "9000", "--make-bed", "--out", filepath.Join(dir, "p2r"))
		if _, err := Convert(path, filepath.Join(dir, "ours_r"), Options{Region: "chr2:7000-9000"}); err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{".bed", ".bim"} {
			a, _ := os.ReadFile(filepath.Join(dir, "ours_r"+ext))
			b, _ := os.ReadFile(filepath.Join(dir, "p2r"+ext))
			if !bytes.Equal(a, b) {
				t.Errorf("region convert: %s differs from plink2's", ext)
			}
		}
	}
	n := 0
	err = r.QueryID("rs25", func(v *plink.Variant, row []byte) error {
		n++
		if v.Pos != 1000+37*25 {
			t.Errorf("rs25 at %d", v.Pos)
		}
		return nil
	})
	if err != nil || n != 1 {
		t.Errorf("QueryID rs25: %v, %d hits", err, n)
	}
}

func TestGTAndDosage(t *testing.T) {
	p := &recordParser{n: 1, opts: Options{Dosage: true}, alts: []string{"T"}}
	p.variant.ChromCode = 1
	var st Stats
	// As plink2 --vcf dosage=DS (checked with plink2 2.00a3.5): DS, where
	// present, decides the hard call (within 0.1 of an integer) and GT
	// only the ploidy; a haploid DS is doubled.
	for _, c := range []struct {
		gt, ds string
		want   byte
		dose   uint16
	}{
		{"0/0", "", plink.CodeHomA2, 0}, {"0|1", "", plink.CodeHet, plink.DosageUnit}, {"1/1", ".", plink.CodeHomA1, 2 * plink.DosageUnit},
		{"./.", "", plink.CodeMissing, plink.DosageMissing}, {".", "", plink.CodeMissing, plink.DosageMissing}, {"0/.", "", plink.CodeMissing, plink.DosageMissing},
		{"1", "", plink.CodeHomA1, 2 * plink.DosageUnit}, {"0", "", plink.CodeHomA2, 0},
		{"./.", "1.95", plink.CodeHomA1, 31949}, {"", "0.04", plink.CodeHomA2, 655}, {"./.", "1.05", plink.CodeHet, 17203},
		{"./.", "1.5", plink.CodeMissing, 24576}, {"1/1", "0", plink.CodeHomA2, 0}, {"0/1", "0.8", plink.CodeMissing, 13107},
		{"1/1", "1.23456", plink.CodeMissing, 20227}, {"0/1", "1.1", plink.CodeHet, 18022}, {"0/0", "1.11", plink.CodeMissing, 18186},
		{"1", "0.96", plink.CodeHomA1, 31457}, {"1", "0.93", plink.CodeMissing, 30474}, {".", "0.6", plink.CodeMissing, 19661},
		{"0", "0.04", plink.CodeHomA2, 1311}, {"1", "0.5", plink.CodeHet, plink.DosageUnit},
	} {
		got, dose, _, err := p.call([]byte(c.gt), []byte(c.ds), 0, &st)
		if err != nil || got != c.want || dose != c.dose {
			t.Errorf("GT %q DS %q: code %d dosage %d, %v; want %d, %d", c.gt, c.ds, got, dose, err, c.want, c.dose)
		}
	}
	for _, bad := range []string{"0/1/1", "3/0", "a/0"} {
		if _, _, err := p.code([]byte(bad), 1, &st); err == nil {
			t.Errorf("GT %q accepted", bad)
		}
	}
	for _, bad := range [][2]string{{"0/1", "2.5"}, {"0/1", "-0.1"}, {"0/1", "abc"}, {"./.", "nan"}, {"0/1", "Inf"}, {"1", "1.5"}, {"0/1", "0x1p-1"}} {
		if _, _, _, err := p.call([]byte(bad[0]), []byte(bad[1]), 0, &st); err == nil || !strings.Contains(err.Error(), bad[1]) {
			t.Errorf("GT %q DS %q: %v, want an error naming the DS", bad[0], bad[1], err)
		}
	}
}

// TestBadInput: missing index, plain gzip, unknown chromosomes → errors
// naming the file (and line).
func TestBadInput(t *testing.T) {
	need(t, "bgzip", "tabix")
	dir := t.TempDir()
	path := randomVCF(t, dir, 3, 20, false)
	os.Remove(path + ".tbi")
	if _, err := Open(path, Options{}); !errors.Is(err, ErrNoIndex) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "tabix -p vcf") {
		t.Errorf("no index: %v", err)
	}
	plain := filepath.Join(dir, "plain.vcf.gz")
	sh(t, "sh", "-c", "bgzip -dc "+path+" | gzip -c > "+plain)
	if _, err := Open(plain, Options{NoIndex: true}); err == nil || !strings.Contains(err.Error(), "not BGZF") {
		t.Errorf("plain gzip: %v", err)
	}
	// Truncated and corrupted files fail with the file named.
	good := randomVCF(t, t.TempDir(), 40, 300, false)
	data, _ := os.ReadFile(good)
	trunc := filepath.Join(dir, "trunc.vcf.gz")
	os.WriteFile(trunc, data[:len(data)*2/3], 0o644)
	if _, err := Convert(trunc, filepath.Join(dir, "t"), Options{NoIndex: true}); err == nil || !strings.Contains(err.Error(), "trunc.vcf.gz") {
		t.Errorf("truncated: %v", err)
	}
	corrupt := append([]byte(nil), data...)
	corrupt[len(corrupt)/2] ^= 0x55
	cpath := filepath.Join(dir, "corrupt.vcf.gz")
	os.WriteFile(cpath, corrupt, 0o644)
	if _, err := Convert(cpath, filepath.Join(dir, "c"), Options{NoIndex: true}); err == nil || !strings.Contains(err.Error(), "corrupt.vcf.gz") {
		t.Errorf("corrupted: %v", err)
	}
	text := "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\nchr1\t5\t.\tA\tG\t.\t.\t.\tGT\t0/1\nchrUn_KI270302v1\t9\t.\tA\tG\t.\t.\t.\tGT\t0/1\n"
	bad := filepath.Join(dir, "bad.vcf")
	os.WriteFile(bad, []byte(text), 0o644)
	sh(t, "bgzip", "-f", bad)
	_, err := Convert(bad+".gz", filepath.Join(dir, "x"), Options{NoIndex: true})
	if err == nil || !strings.Contains(err.Error(), "bad.vcf.gz line 4") || !strings.Contains(err.Error(), `unknown chromosome name "chrUn_KI270302v1"`) {
		t.Errorf("unknown chromosome: %v", err)
	}
}

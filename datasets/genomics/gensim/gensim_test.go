package gensim

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"enclave/datasets/genomics/plink"
	"enclave/datasets/genomics/vcf"
)

func cohort(n int) []Person {
	ps := make([]Person, n)
	for i := range ps {
		// person ids as an OMOP generator hands them out: not 0..n-1
		ps[i] = Person{PersonID: int64(1000 + 7*i), Ancestry: Ancestries[(i*7/3)%5]}
	}
	if n > 10 {
		ps[3].Ancestry = "UNKNOWN"
	}
	return ps
}

func hashFiles(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	for _, f := range []string{"cohort.bed", "cohort.bim", "cohort.fam", "cohort.vcf.gz", "cohort.vcf.gz.tbi", "linkage.csv"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// TestWriteDeterministicAndPlanted checks that output depends on the seed
// only (not on threads) and that the planted variants carry exactly
// Dosage's genotypes.
func TestWriteDeterministicAndPlanted(t *testing.T) {
	ps := cohort(301)
	d1, d2, d3 := t.TempDir(), t.TempDir(), t.TempDir()
	if err := Write(d1, ps, Options{Seed: 42, Variants: 3000, Threads: 1}); err != nil {
		t.Fatal(err)
	}
	if err := Write(d2, ps, Options{Seed: 42, Variants: 3000, Threads: 2}); err != nil {
		t.Fatal(err)
	}
	if err := Write(d3, ps, Options{Seed: 43, Variants: 3000, Threads: 2}); err != nil {
		t.Fatal(err)
	}
	if hashFiles(t, d1) != hashFiles(t, d2) {
		t.Error("1 and 2 threads wrote different files")
	}
	if hashFiles(t, d1) == hashFiles(t, d3) {
		t.Error("seeds 42 and 43 wrote the same files")
	}
	// NoVCF: the same fileset, no VCF.
	d4 := t.TempDir()
	if err := Write(d4, ps, Options{Seed: 42, Variants: 3000, Threads: 2, NoVCF: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"cohort.bed", "cohort.bim", "cohort.fam", "linkage.csv"} {
		a, _ := os.ReadFile(filepath.Join(d1, f))
		b, _ := os.ReadFile(filepath.Join(d4, f))
		if !bytes.Equal(a, b) {
			t.Errorf("NoVCF changed %s", f)
		}
	}
	if _, err := os.Stat(filepath.Join(d4, "cohort.vcf.gz")); err == nil {
		t.Error("NoVCF wrote a VCF")
	}
	fs, err := plink.Open(filepath.Join(d1, "cohort"))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if fs.NumVariants() != 3000 || fs.NumSamples() != len(ps) {
		t.Fatalf("%d variants %d samples", fs.NumVariants(), fs.NumSamples())
	}
	dos := make([]int8, len(ps))
	found := 0
	rare, mono := 0, 0
	for v, vr := range fs.Variants {
		if v > 0 && vr.ChromCode == fs.Variants[v-1].ChromCode && vr.Pos <= fs.Variants[v-1].Pos {
			t.Fatalf("variant %d out of order", v)
		}
		c := fs.Counts(v)
		af := float64(c.A1Count()) / float64(2*c.NonMissing())
		if af == 0 {
			mono++
		} else if min(af, 1-af) < 0.01 {
			rare++
		}
		for j, p := range PlantedVariants {
			if vr.ID != p.ID {
				continue
			}
			found++
			if vr.Chrom != p.Chrom || vr.Pos != int64(p.Pos) || vr.Alt() != p.Alt || vr.Ref() != p.Ref {
				t.Errorf("planted %s written as %+v", p.ID, vr)
			}
			plink.UnpackInt8(fs.Row(v), len(ps), dos)
			for i, per := range ps {
				if want := Dosage(42, per.PersonID, per.Ancestry, j); int(dos[i]) != want {
					t.Fatalf("%s person %d: dosage %d, Dosage says %d", p.ID, per.PersonID, dos[i], want)
				}
			}
		}
	}
	if found != len(PlantedVariants) {
		t.Errorf("found %d planted variants", found)
	}
	// A realistic spectrum: many rare variants, yet mostly polymorphic.
	if rare < 3000/5 || mono > 3000/2 {
		t.Errorf("spectrum: %d rare (<1%%), %d monomorphic of 3000", rare, mono)
	}
	link, _ := os.ReadFile(filepath.Join(d1, "linkage.csv"))
	if !strings.HasPrefix(string(link), "sample_id,person_id\nGS0000001,1000\nGS0000002,1007\n") {
		t.Errorf("linkage.csv starts %q", link[:60])
	}
}

// TestVCFAgreesWithBedAndIndex converts the VCF with plink2 and compares
// the genotypes with our .bed, and queries the index with tabix.
func TestVCFAgreesWithBedAndIndex(t *testing.T) {
	for _, tool := range []string{"plink2", "tabix", "bcftools"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	ps := cohort(150)
	dir := t.TempDir()
	if err := Write(dir, ps, Options{Seed: 7, Variants: 2500, Threads: 2}); err != nil {
		t.Fatal(err)
	}
	vcfPath := filepath.Join(dir, "cohort.vcf.gz")
	out := filepath.Join(dir, "fromvcf")
	if b, err := exec.Command("plink2", "--vcf", vcfPath, "--make-bed", "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("plink2 --vcf: %v\n%s", err, b)
	}
	ours, _ := os.ReadFile(filepath.Join(dir, "cohort.bed"))
	theirs, _ := os.ReadFile(out + ".bed")
	if !bytes.Equal(ours, theirs) {
		t.Error("plink2's .bed from our VCF differs from our .bed")
	}
	for _, ext := range []string{".bim", ".fam"} {
		ob, _ := os.ReadFile(filepath.Join(dir, "cohort"+ext))
		tb, _ := os.ReadFile(out + ext)
		if !bytes.Equal(ob, tb) {
			t.Errorf("%s differs:\nours   %.200s\nplink2 %.200s", ext, ob, tb)
		}
	}
	// Our own reader converts it back to the same fileset, and its region
	// queries work on our index.
	if _, err := vcf.Convert(vcfPath, filepath.Join(dir, "ours"), vcf.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".bed", ".bim", ".fam"} {
		a, _ := os.ReadFile(filepath.Join(dir, "cohort"+ext))
		b, _ := os.ReadFile(filepath.Join(dir, "ours"+ext))
		if !bytes.Equal(a, b) {
			t.Errorf("vcf.Convert of our VCF: %s differs", ext)
		}
	}
	vr, err := vcf.Open(vcfPath, vcf.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hits := 0
	if err := vr.Query("19:45411941-45411941", func(v *plink.Variant, row []byte) error {
		hits++
		if v.ID != "rs_ldl_2" {
			t.Errorf("query found %s", v.ID)
		}
		return nil
	}); err != nil || hits != 1 {
		t.Errorf("query for rs_ldl_2: %v, %d hits", err, hits)
	}
	// bgzip -t style integrity and index queries.
	if b, err := exec.Command("bcftools", "view", "-H", "-G", vcfPath).Output(); err != nil || bytes.Count(b, []byte("\n")) != 2500 {
		t.Fatalf("bcftools view: %v, %d lines", err, bytes.Count(b, []byte("\n")))
	}
	fs, err := plink.Open(filepath.Join(dir, "cohort"))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	for _, q := range []struct{ chrom string }{{"1"}, {"10"}, {"19"}, {"22"}} {
		var want []string
		var lo, hi int64 = -1, -1
		for _, v := range fs.Variants {
			if v.Chrom == q.chrom {
				if lo < 0 {
					lo = v.Pos
				}
				hi = v.Pos
			}
		}
		mid := lo + (hi-lo)/3
		end := lo + 2*(hi-lo)/3
		for _, v := range fs.Variants {
			if v.Chrom == q.chrom && v.Pos >= mid && v.Pos <= end {
				want = append(want, v.ID)
			}
		}
		region := fmt.Sprintf("chr%s:%d-%d", q.chrom, mid, end)
		b, err := exec.Command("tabix", vcfPath, region).Output()
		if err != nil {
			t.Fatalf("tabix %s: %v", region, err)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if f := strings.SplitN(line, "\t", 4); len(f) > 2 {
				got = append(got, f[2])
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("tabix %s: %d records, want %d", region, len(got), len(want))
		}
	}
}

// TestPopulationGenetics checks what a geneticist would look at first:
// neighbouring common variants are in LD, distant ones are not, and allele
// frequencies differ between ancestries (structure a PCA can find).
func TestPopulationGenetics(t *testing.T) {
	ps := cohort(2000)
	dir := t.TempDir()
	if err := Write(dir, ps, Options{Seed: 11, Variants: 4000, Threads: 2}); err != nil {
		t.Fatal(err)
	}
	fs, err := plink.Open(filepath.Join(dir, "cohort"))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	n := fs.NumSamples()
	dos := func(v int) []float64 {
		d := make([]float64, n)
		plink.UnpackMap(fs.Row(v), n, [4]float64{2, -1, 1, 0}, d)
		return d
	}
	r2 := func(a, b []float64) float64 {
		var sa, sb, saa, sbb, sab, k float64
		for i := range a {
			if a[i] < 0 || b[i] < 0 {
				continue
			}
			sa += a[i]
			sb += b[i]
			saa += a[i] * a[i]
			sbb += b[i] * b[i]
			sab += a[i] * b[i]
			k++
		}
		cov := sab/k - sa/k*sb/k
		va, vb := saa/k-sa/k*sa/k, sbb/k-sb/k*sb/k
		if va <= 0 || vb <= 0 {
			return 0
		}
		return cov * cov / (va * vb)
	}
	var common []int
	for v := range fs.Variants {
		c := fs.Counts(v)
		af := float64(c.A1Count()) / float64(2*c.NonMissing())
		if af > 0.1 && af < 0.9 {
			common = append(common, v)
		}
	}
	var near, far float64
	var nNear, nFar int
	for i := 1; i < len(common); i++ {
		a, b := common[i-1], common[i]
		if b-a <= 2 && fs.Variants[a].ChromCode == fs.Variants[b].ChromCode {
			near += r2(dos(a), dos(b))
			nNear++
		}
		if i >= 200 {
			far += r2(dos(common[i-200]), dos(b))
			nFar++
		}
	}
	near /= float64(nNear)
	far /= float64(nFar)
	if near < 0.1 || far > 0.01 {
		t.Errorf("mean r² of neighbouring common variants %.3f (want > 0.1), of distant ones %.4f (want < 0.01)", near, far)
	}
	// Structure: ALT frequency differs between EAS and AFR by more than
	// sampling noise on average.
	eas := plink.NewMask(n, func(i int) bool { return ps[i].Ancestry == "EAS" })
	afr := plink.NewMask(n, func(i int) bool { return ps[i].Ancestry == "AFR" })
	var diff float64
	for _, v := range common {
		ce, ca := plink.CountRowMasked(fs.Row(v), eas), plink.CountRowMasked(fs.Row(v), afr)
		fe := float64(ce.A1Count()) / float64(2*ce.NonMissing())
		fa := float64(ca.A1Count()) / float64(2*ca.NonMissing())
		diff += (fe - fa) * (fe - fa)
	}
	diff /= float64(len(common))
	// sampling variance of a difference of two frequencies near 0.3 from
	// ~400 persons each is about 0.001; Balding–Nichols F≈0.07 adds ~0.03.
	if diff < 0.005 {
		t.Errorf("mean squared EAS–AFR frequency difference %.4f: no population structure", diff)
	}
	t.Logf("r² neighbours %.3f, distant %.4f; EAS–AFR Δf² %.4f over %d common variants", near, far, diff, len(common))
}

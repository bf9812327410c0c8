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

package vcf

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"enclave/datasets/genomics/plink"
)

// benchVCF writes a bgzipped VCF of n samples × m biallelic records with
// FORMAT format ("GT": the table-driven fast path; "GT:DP": the general
// one), hard calls only.
func benchVCF(b *testing.B, dir, format string, n, m int) string {
	b.Helper()
	if _, err := exec.LookPath("bgzip"); err != nil {
		b.Skip("bgzip not installed")
	}
	r := rand.New(rand.NewPCG(1, 2))
	var sb strings.Builder
	sb.WriteString("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "\ts%d", i)
	}
	sb.WriteString("\n")
	for v := 0; v < m; v++ {
		fmt.Fprintf(&sb, "1\t%d\tv%d\tA\tG\t.\t.\t.\t%s", 100+v, v, format)
		for i := 0; i < n; i++ {
			gt := [4]string{"0/0", "0/1", "1/1", "./."}[r.IntN(4)]
			if format == "GT:DP" {
				gt += ":12"
			}
			sb.WriteString("\t" + gt)
		}
		sb.WriteString("\n")
	}
	p := filepath.Join(dir, "b.vcf")
	if err := os.WriteFile(p, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("bgzip", "-f", p).CombinedOutput(); err != nil {
		b.Fatalf("bgzip: %v %s", err, out)
	}
	return p + ".gz"
}

// benchScan times a whole-file scan of a hard-call VCF (20,000 samples ×
// 500 records), the path a VCF without DS takes.
func benchScan(b *testing.B, format string, opts Options) {
	path := benchVCF(b, b.TempDir(), format, 20000, 500)
	opts.NoIndex = true
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := Open(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		k := 0
		if err := r.Scan(func(*plink.Variant, []byte) error { k++; return nil }); err != nil || k != 500 {
			b.Fatal(err, k)
		}
	}
}

func BenchmarkScanGT(b *testing.B)         { benchScan(b, "GT", Options{}) }
func BenchmarkScanGTDP(b *testing.B)       { benchScan(b, "GT:DP", Options{}) }
func BenchmarkScanGTDPDosage(b *testing.B) { benchScan(b, "GT:DP", Options{Dosage: true}) }

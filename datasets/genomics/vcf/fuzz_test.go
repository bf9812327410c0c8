package vcf

import (
	"testing"
)

// FuzzRecord parses arbitrary data lines for three samples as Scan does:
// the fixed columns, then the genotypes of every ALT. A bad line must give
// an error, never a panic, and a parsed line must fill one packed row of
// the right width per ALT with in-range codes.
func FuzzRecord(f *testing.F) {
	for _, s := range []string{
		"1\t100\trs1\tA\tG\t.\tPASS\t.\tGT\t0/1\t1|1\t./.",
		"chrX\t5\t.\tC\tT,G\t50\t.\tAC=1\tGT:DS\t0/2:0.1\t1:1.9\t.:.",
		"22\t7\trs2\tAT\tA\t.\t.\t.\tDS\t0.05\t1.01\t2",
		"MT\t1\t.\tG\t.\t.\t.\t.",
		"1\tx\t.\tA\tG",
	} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, line string, dosage bool) {
		p := &recordParser{n: 3, opts: Options{Dosage: dosage, Split: true}, rows: make([][]byte, 1)}
		if err := p.head([]byte(line)); err != nil {
			return
		}
		if len(p.alts) == 0 {
			t.Fatal("a parsed record without ALT")
		}
		var st Stats
		if err := p.genotypes(&st); err != nil {
			return
		}
		for j := range p.alts {
			if len(p.rows[j]) != 1 {
				t.Fatalf("ALT %d: %d-byte row for 3 samples", j, len(p.rows[j]))
			}
			if p.rows[j][0]>>6 != 0 {
				t.Fatalf("ALT %d: padding bits set in %08b", j, p.rows[j][0])
			}
		}
	})
}

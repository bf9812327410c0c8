package plink

import (
	"bufio"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// dummy makes a plink1.9 --dummy fileset with n samples, m variants and the
// given missing rate, or skips the test when plink1.9 is not installed.
func dummy(t *testing.T, n, m int, missing string) string {
	t.Helper()
	exe, err := exec.LookPath("plink1.9")
	if err != nil {
		t.Skip("plink1.9 not installed")
	}
	out := filepath.Join(t.TempDir(), "d")
	cmd := exec.Command(exe, "--dummy", strconv.Itoa(n), strconv.Itoa(m), missing, "--seed", strconv.Itoa(n), "--out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("plink1.9 --dummy: %v\n%s", err, b)
	}
	return out
}

// TestDosagesMatchPlinkRecodeA checks every genotype we decode against
// plink1.9 --recode A, which prints the A1 allele count per sample.
func TestDosagesMatchPlinkRecodeA(t *testing.T) {
	for _, n := range []int{1, 5, 32, 37, 70} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			prefix := dummy(t, n, 40, "0.1")
			cmd := exec.Command("plink1.9", "--bfile", prefix, "--recode", "A", "--out", prefix+"_raw")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("plink1.9 --recode A: %v\n%s", err, b)
			}
			fs, err := Open(prefix)
			if err != nil {
				t.Fatal(err)
			}
			defer fs.Close()
			if fs.NumSamples() != n || fs.NumVariants() != 40 {
				t.Fatalf("got %d samples %d variants", fs.NumSamples(), fs.NumVariants())
			}
			f, err := os.Open(prefix + "_raw.raw")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			sc.Scan()
			header := strings.Fields(sc.Text())[6:]
			for v, h := range header {
				if want := fs.Variants[v].ID + "_" + fs.Variants[v].A1; h != want {
					t.Fatalf("recode A counts %s, we count %s", h, want)
				}
			}
			want := make([][]string, 0, n)
			for sc.Scan() {
				want = append(want, strings.Fields(sc.Text())[6:])
			}
			i8 := make([]int8, n)
			f64 := make([]float64, n)
			m64 := make([]float64, n)
			for v := 0; v < fs.NumVariants(); v++ {
				row := fs.Row(v)
				UnpackInt8(row, n, i8)
				UnpackFloat64(row, n, f64)
				UnpackMap(row, n, [4]float64{2, -7, 1, 0}, m64)
				var c Counts
				for i := 0; i < n; i++ {
					w := want[i][v]
					got := strconv.Itoa(int(i8[i]))
					switch {
					case w == "NA":
						c.Missing++
						if i8[i] != -1 || !math.IsNaN(f64[i]) || m64[i] != -7 {
							t.Fatalf("variant %d sample %d: want missing, got %d %v %v", v, i, i8[i], f64[i], m64[i])
						}
						continue
					case w != got || float64(i8[i]) != f64[i] || f64[i] != m64[i]:
						t.Fatalf("variant %d sample %d: want %s, got %s %v %v", v, i, w, got, f64[i], m64[i])
					}
					switch w {
					case "2":
						c.HomA1++
					case "1":
						c.Het++
					case "0":
						c.HomA2++
					}
				}
				if got := fs.Counts(v); got != c {
					t.Errorf("variant %d: CountRow %+v, want %+v", v, got, c)
				}
				if got := CountRowMasked(row, FullMask(n)); got != c {
					t.Errorf("variant %d: CountRowMasked(full) %+v, want %+v", v, got, c)
				}
			}
		})
	}
}

// TestCountRowMasked compares popcount counting over random subsets with a
// genotype-by-genotype count.
func TestCountRowMasked(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 3, 4, 31, 32, 33, 63, 64, 65, 200, 1001} {
		row := make([]byte, (n+3)/4)
		for i := range row {
			row[i] = byte(r.IntN(256))
		}
		// Padding bits are garbage here on purpose: they must be ignored.
		in := make([]bool, n)
		for i := range in {
			in[i] = r.IntN(3) > 0
		}
		m := NewMask(n, func(i int) bool { return in[i] })
		var want, wantAll Counts
		for i := 0; i < n; i++ {
			add := func(c *Counts) {
				switch Code(row, i) {
				case CodeHomA1:
					c.HomA1++
				case CodeHet:
					c.Het++
				case CodeHomA2:
					c.HomA2++
				default:
					c.Missing++
				}
			}
			add(&wantAll)
			if in[i] {
				add(&want)
			}
			if m.Has(i) != in[i] {
				t.Fatalf("n=%d: Has(%d) = %v", n, i, !in[i])
			}
		}
		if got := CountRowMasked(row, m); got != want {
			t.Errorf("n=%d masked: got %+v want %+v", n, got, want)
		}
		if got := CountRow(row, n); got != wantAll {
			t.Errorf("n=%d: got %+v want %+v", n, got, wantAll)
		}
	}
}

func TestParseChrom(t *testing.T) {
	for _, c := range []struct {
		in   string
		code int
		ok   bool
	}{
		{"1", 1, true}, {"22", 22, true}, {"chr7", 7, true}, {"X", 23, true}, {"chrX", 23, true},
		{"23", 23, true}, {"Y", 24, true}, {"24", 24, true}, {"XY", 25, true}, {"25", 25, true},
		{"MT", 26, true}, {"M", 26, true}, {"chrM", 26, true}, {"26", 26, true}, {"0", 0, true},
		{"27", 0, false}, {"chr", 0, false}, {"", 0, false}, {"01", 0, false}, {"-1", 0, false},
		{"Un_gl000220", 0, false}, {"chr1_random", 0, false}, {"HLA", 0, false},
	} {
		code, ok := ParseChrom(c.in)
		if code != c.code || ok != c.ok {
			t.Errorf("ParseChrom(%q) = %d, %v; want %d, %v", c.in, code, ok, c.code, c.ok)
		}
	}
}

func writeSet(t *testing.T, bim, fam string, bed []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s")
	for ext, s := range map[string]string{".bim": bim, ".fam": fam, ".bed": string(bed)} {
		if err := os.WriteFile(p+ext, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestBadInput checks that broken filesets fail with a message naming the
// file (and line) a steward has to fix.
func TestBadInput(t *testing.T) {
	bim2 := "1 rs1 0 100 A G\n1 rs2 0 200 C T\n"
	fam5 := "f1 s1 0 0 1 -9\nf2 s2 0 0 2 -9\nf3 s3 0 0 0 -9\nf4 s4 0 0 1 2\nf5 s5 0 0 2 1\n"
	good := []byte{0x6c, 0x1b, 0x01, 0, 0, 0xff, 0xff} // 2 rows × 2 bytes
	for _, c := range []struct {
		name, bim, fam string
		bed            []byte
		want           []string
	}{
		{"wrong magic", bim2, fam5, append([]byte{'#', 'x', 'y'}, good[3:]...), []string{"s.bed", "magic bytes 23 78 79"}},
		{"sample-major", bim2, fam5, append([]byte{0x6c, 0x1b, 0x00}, good[3:]...), []string{"s.bed", "sample-major"}},
		{"truncated", bim2, fam5, good[:6], []string{"s.bed", "truncated", "6 bytes", "want 3 + 2 variants"}},
		{"empty bed", bim2, fam5, nil, []string{"s.bed", "too short"}},
		{"bim has extra variant", bim2 + "2 rs3 0 5 A C\n", fam5, good, []string{"s.bed", "truncated", "fits 2 variants", ".bim and .bed disagree"}},
		{"fam has extra samples", bim2, fam5 + "f6 s6 0 0 1 1\nf7 s7 0 0 1 1\nf8 s8 0 0 1 1\nf9 s9 0 0 1 1\n", good, []string{"s.bed", ".fam and .bed disagree"}},
		{"unknown chromosome", bim2 + "chrUn_gl000220 rs3 0 5 A C\n", fam5, good, []string{"s.bim line 3", `unknown chromosome name "chrUn_gl000220"`}},
		{"bim columns", "1 rs1 100 A G\n", fam5, good, []string{"s.bim line 1", "5 columns, want 6"}},
		{"bim position", "1 rs1 0 1e5x A G\n", fam5, good, []string{"s.bim line 1", `base-pair position "1e5x"`}},
		{"fam sex", bim2, "f1 s1 0 0 3 -9\n", good, []string{"s.fam line 1", `sex code "3"`}},
		{"fam pheno", bim2, "f1 s1 0 0 1 -9\nf2 s2 0 0 1 high\n", good, []string{"s.fam line 2", `phenotype "high"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := writeSet(t, c.bim, c.fam, c.bed)
			fs, err := Open(p)
			if err == nil {
				fs.Close()
				t.Fatal("Open succeeded")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(c.name, "magic") && !errors.Is(err, ErrBadBed) {
				t.Errorf("error %v is not ErrBadBed", err)
			}
		})
	}
}

// TestFamConventions checks sex, founders and phenotype coding.
func TestFamConventions(t *testing.T) {
	fam := "f1 s1 0 0 1 -9\nf1 s2 0 0 2 1\nf1 s3 s1 s2 0 2\nf2 s4 0 0 1 0\n"
	p := writeSet(t, "X rs1 0 100 A G\n", fam, []byte{0x6c, 0x1b, 0x01, 0b10_11_01_00})
	fs, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if !fs.PhenoBinary {
		t.Error("1/2/-9/0 phenotype not case/control")
	}
	type want struct {
		sex     int
		founder bool
		missing bool
		value   float64
	}
	for i, w := range []want{{1, true, true, 0}, {2, true, false, 1}, {0, false, false, 2}, {1, true, true, 0}} {
		s := fs.Samples[i]
		if s.Sex != w.sex || s.Founder() != w.founder || s.PhenoMissing != w.missing || (!w.missing && s.PhenoValue != w.value) {
			t.Errorf("sample %s: %+v, want %+v", s.IID, s, w)
		}
	}
	if v := fs.Variants[0]; v.Chrom != "X" || v.ChromCode != ChromX || v.Alt() != "A" || v.Ref() != "G" {
		t.Errorf("variant %+v", v)
	}
	if c := fs.Counts(0); c != (Counts{HomA1: 1, Missing: 1, HomA2: 1, Het: 1}) {
		t.Errorf("counts %+v", c)
	}
	q := writeSet(t, "1 rs1 0 100 A G\n", "f1 s1 0 0 1 0\nf2 s2 0 0 1 3.5\nf3 s3 0 0 1 -9\nf4 s4 0 0 1 NA\n", []byte{0x6c, 0x1b, 0x01, 0})
	fq, err := Open(q)
	if err != nil {
		t.Fatal(err)
	}
	defer fq.Close()
	if fq.PhenoBinary || fq.Samples[0].PhenoMissing || !fq.Samples[2].PhenoMissing || !fq.Samples[3].PhenoMissing {
		t.Errorf("quantitative phenotype: 0 must be a value, -9/NA missing: %+v", fq.Samples)
	}
}

func TestParallelCoversEveryVariantOnce(t *testing.T) {
	for _, n := range []int{0, 1, 1023, 1024, 1025, 5000} {
		seen := make([]int32, n)
		err := Parallel(n, 2, func(lo, hi int) error {
			for v := lo; v < hi; v++ {
				seen[v]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for v, s := range seen {
			if s != 1 {
				t.Fatalf("n=%d: variant %d visited %d times", n, v, s)
			}
		}
	}
	boom := errors.New("boom")
	if err := Parallel(10000, 2, func(lo, hi int) error { return boom }); err != boom {
		t.Errorf("error not returned: %v", err)
	}
}

// TestBigBimLineNumbers: a .bim large enough to be parsed in two halves
// still reports the right line.
func TestBigBimLineNumbers(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 60000; i++ {
		chrom := "1"
		if i == 45678 {
			chrom = "chrZ"
		}
		b.WriteString(chrom + "\trs" + strconv.Itoa(i) + "\t0\t" + strconv.Itoa(i) + "\tA\tG\n")
	}
	p := filepath.Join(t.TempDir(), "big.bim")
	os.WriteFile(p, []byte(b.String()), 0o644)
	_, err := ReadBim(p)
	if err == nil || !strings.Contains(err.Error(), "big.bim line 45678: unknown chromosome") {
		t.Fatalf("error %v", err)
	}
	fixed := strings.Replace(b.String(), "chrZ", "2", 1)
	os.WriteFile(p, []byte(fixed), 0o644)
	vs, err := ReadBim(p)
	if err != nil || len(vs) != 60000 || vs[59999].ID != "rs60000" || vs[45677].Chrom != "2" {
		t.Fatalf("%d variants, %v", len(vs), err)
	}
}

// TestCountWordsPortable: the assembly and portable loops agree.
func TestCountWordsPortable(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 7, 100} {
		row := make([]byte, 8*n+3)
		for i := range row {
			row[i] = byte(r.Uint32())
		}
		m := make([]uint64, n)
		for i := range m {
			m[i] = r.Uint64() & lowBits
		}
		for _, mask := range [][]uint64{nil, m} {
			a1, b1, c1 := countWords(row, mask, n)
			a2, b2, c2 := countWordsGo(row, mask, n)
			if a1 != a2 || b1 != b2 || c1 != c2 {
				t.Errorf("n=%d mask=%v: %d %d %d vs portable %d %d %d", n, mask != nil, a1, b1, c1, a2, b2, c2)
			}
		}
	}
}

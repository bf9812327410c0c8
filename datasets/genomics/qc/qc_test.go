package qc

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"enclave/datasets/genomics/plink"
)

func needPlink2(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("plink2"); err != nil {
		t.Skip("plink2 not installed")
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if b, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
	}
}

// randomFileset writes a fileset whose variants cover what a steward meets:
// every chromosome class, rare and common alleles, HWE departures in both
// directions, monomorphic and all-missing variants, males, females,
// unknown sex and non-founders.
func randomFileset(t *testing.T, dir string, n, m int, seed uint64, sexes ...int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	prefix := filepath.Join(dir, fmt.Sprintf("r%d", seed))
	if len(sexes) == 0 {
		sexes = []int{1, 2, 2, 1, 0}
	}
	var fam strings.Builder
	for i := 0; i < n; i++ {
		sex := sexes[r.IntN(len(sexes))]
		father, mother := "0", "0"
		if i > 3 && r.IntN(6) == 0 {
			father = fmt.Sprintf("s%d", r.IntN(i))
		}
		fmt.Fprintf(&fam, "f%d s%d %s %s %d %d\n", i, i, father, mother, sex, 1+r.IntN(2))
	}
	chroms := []string{"0", "1", "2", "chr3", "5", "22", "X", "23", "Y", "XY", "MT", "26"}
	var bim strings.Builder
	rowBytes := (n + 3) / 4
	bed := []byte{0x6c, 0x1b, 0x01}
	for v := 0; v < m; v++ {
		c := chroms[(v*len(chroms))/m]
		a1, a2 := "A", "G"
		switch v % 9 {
		case 3:
			a1, a2 = "T", "C"
		case 5:
			a1, a2 = "0", "C" // monomorphic, A1 unknown
		case 7:
			a1, a2 = "AT", "A"
		}
		fmt.Fprintf(&bim, "%s rs%d 0 %d %s %s\n", c, v, 1000+v, a1, a2)
		// allele frequency from very rare to common; inbreeding F in [-0.5, 0.8]
		var p float64
		switch r.IntN(4) {
		case 0:
			p = r.Float64() * 0.01
		case 1:
			p = r.Float64() * 0.1
		default:
			p = r.Float64()
		}
		f := -0.5 + 1.3*r.Float64()
		miss := []float64{0, 0, 0, 0, 0, 0.01, 0.01, 0.01, 0.2, 0.2, 0.6, 1}[r.IntN(12)]
		if v%9 == 5 {
			p = 0
		}
		row := make([]byte, rowBytes)
		for i := 0; i < n; i++ {
			var code byte
			u := r.Float64()
			homA1 := p*p + f*p*(1-p)
			het := 2 * p * (1 - p) * (1 - f)
			switch {
			case r.Float64() < miss:
				code = plink.CodeMissing
			case u < max(homA1, 0):
				code = plink.CodeHomA1
			case u < max(homA1, 0)+max(het, 0):
				code = plink.CodeHet
			default:
				code = plink.CodeHomA2
			}
			row[i/4] |= code << (2 * (i % 4))
		}
		bed = append(bed, row...)
	}
	for ext, b := range map[string][]byte{".bim": []byte(bim.String()), ".fam": []byte(fam.String()), ".bed": bed} {
		if err := os.WriteFile(prefix+ext, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return prefix
}

// malesOnlyNonfounders makes every non-founder male (and leaves founders
// female or unknown), so that no counted sample is male.
func malesOnlyNonfounders(t *testing.T, prefix string) string {
	t.Helper()
	b, err := os.ReadFile(prefix + ".fam")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		f := strings.Fields(l)
		if f[2] != "0" {
			f[4] = "1"
		}
		lines[i] = strings.Join(f, " ")
	}
	if err := os.WriteFile(prefix+".fam", []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return prefix
}

// compareTables fails on the first line where ours and plink2's differ.
func compareTables(t *testing.T, ours []byte, plinkFile string) {
	t.Helper()
	want, err := os.ReadFile(plinkFile)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(ours, want) {
		return
	}
	ol := strings.Split(string(ours), "\n")
	wl := strings.Split(string(want), "\n")
	bad := 0
	for i := 0; i < max(len(ol), len(wl)); i++ {
		var o, w string
		if i < len(ol) {
			o = ol[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if o != w {
			t.Errorf("%s line %d:\n ours   %q\n plink2 %q", filepath.Base(plinkFile), i+1, o, w)
			if bad++; bad > 8 {
				t.FailNow()
			}
		}
	}
}

func ours(t *testing.T, write func(w *bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestAgainstPlink2 compares .afreq, .hardy, .hardy.x (and the midp
// variants, and --nonfounders) with plink2 byte for byte.
func TestAgainstPlink2(t *testing.T) {
	needPlink2(t)
	dir := t.TempDir()
	sets := map[string]string{
		"random":   randomFileset(t, dir, 333, 900, 1),
		"random2k": randomFileset(t, dir, 2001, 1200, 2),
		// plink2 quirks: without males, unknown-sex samples join the
		// females in the chrX test; without any known sex, no chrX test.
		"nomales": malesOnlyNonfounders(t, randomFileset(t, dir, 150, 400, 3, 0, 2, 2)),
		"nosex":   randomFileset(t, dir, 150, 400, 4, 0),
	}
	if _, err := exec.LookPath("plink1.9"); err == nil {
		d := filepath.Join(dir, "dummy")
		run(t, "plink1.9", "--dummy", "513", "700", "0.02", "--seed", "7", "--out", d)
		sets["dummy"] = d
	}
	for name, prefix := range sets {
		for _, opts := range []Options{{Threads: 2}, {Threads: 1, MidP: true}, {Threads: 2, Nonfounders: true}} {
			t.Run(fmt.Sprintf("%s/midp=%v/nonfounders=%v", name, opts.MidP, opts.Nonfounders), func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "p")
				// --missing runs on its own: plink2 2.00a3.5 aborts on
				// --missing --hardy when the only males are non-founders.
				run(t, "plink2", "--bfile", prefix, "--missing", "--out", out, "--threads", "1")
				args := []string{"--bfile", prefix, "--freq", "--out", out, "--threads", "1", "--hardy"}
				if opts.MidP {
					args = append(args, "midp")
				}
				if opts.Nonfounders {
					args = append(args, "--nonfounders")
				}
				run(t, "plink2", args...)
				fs, err := plink.Open(prefix)
				if err != nil {
					t.Fatal(err)
				}
				defer fs.Close()
				opts.Hardy = opts.Threads == 2 // both paths: p in the pass, and in the writer
				st, err := Compute(fs, opts)
				if err != nil {
					t.Fatal(err)
				}
				if name == "random2k" {
					// The comparison must cover tiny p-values (exponent formats,
					// underflow-aware tail sums), not only p near 1.
					minP := 1.0
					for v := range st {
						if st[v].HardyTable() == "autosomal" {
							_, _, _, p := HardyCounts(&st[v], opts.MidP)
							minP = min(minP, p)
						}
					}
					if minP > 1e-100 {
						t.Errorf("smallest HWE p %g: test set lacks strong departures", minP)
					}
				}
				compareTables(t, ours(t, func(b *bytes.Buffer) error { return WriteAfreq(b, fs, st) }), out+".afreq")
				compareTables(t, ours(t, func(b *bytes.Buffer) error { return WriteHardy(b, fs, st, opts.MidP) }), out+".hardy")
				ms, err := ComputeMissing(fs, opts.Threads)
				if err != nil {
					t.Fatal(err)
				}
				compareTables(t, ours(t, func(b *bytes.Buffer) error { return WriteVmiss(b, fs, ms) }), out+".vmiss")
				compareTables(t, ours(t, func(b *bytes.Buffer) error { return WriteSmiss(b, fs, ms) }), out+".smiss")
				if _, err := os.Stat(out + ".hardy.x"); err == nil {
					compareTables(t, ours(t, func(b *bytes.Buffer) error { return WriteHardyX(b, fs, st, opts.MidP) }), out+".hardy.x")
				}
			})
		}
	}
}

var _ = strconv.Itoa

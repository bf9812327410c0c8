package analysis

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"enclave/api/spec"
	"enclave/datasets"
	"enclave/datasets/genomics/plink"
)

// TestGenomicsSexChromSummariesMatchPlink2: genomics.Freq and Hardy count
// chrX as plink2 --freq and --hardy do, with sex from OMOP: a copy of the
// fixture's fileset with its common variants moved to chrX (males made
// hemizygous, their heterozygous calls turned into ALT calls as real chrX
// data has them) and the .fam sex set from the persons' OMOP gender is
// summarised in a kernel session and by plink2 on the same persons; every
// shown frequency, allele count, genotype class and HWE p-value equals
// plink2's, autosomes included.
// fixtureSexes opens the genomics fixture's fileset (the caller closes it)
// and gives each of its samples the plink sex code of its person's OMOP
// gender: 1 male, 2 female, 0 unknown or not a person of the workspace.
func fixtureSexes(t *testing.T, db Engine, gdir string) (src *plink.Fileset, ds *genoDataset, sexOf []int) {
	t.Helper()
	e0 := newGenoEnv(t, datasets.Controlled)
	ds, err := e0.srv.dataset(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	gender := map[int64]int{}
	rows, err := db.QueryContext(context.Background(), "SELECT person_id, CASE gender_concept_id WHEN 8507 THEN 1 WHEN 8532 THEN 2 ELSE 0 END FROM person")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p int64
		var s int
		if err := rows.Scan(&p, &s); err != nil {
			t.Fatal(err)
		}
		gender[p] = s
	}
	rows.Close()
	if src, err = plink.Open(filepath.Join(gdir, "cohort")); err != nil {
		t.Fatal(err)
	}
	sexOf = make([]int, src.NumSamples())
	for i := range sexOf {
		if p := ds.person[i]; p >= 0 {
			sexOf[i] = gender[p]
		}
	}
	return src, ds, sexOf
}

func TestGenomicsSexChromSummariesMatchPlink2(t *testing.T) {
	if _, err := exec.LookPath("plink2"); err != nil {
		t.Skip("plink2 not installed")
	}
	db, gdir := genoEngine(t, datasets.Controlled)
	const nX = 200
	// The fixture's samples, persons and OMOP sex.
	src, ds, sexOf := fixtureSexes(t, db, gdir)
	defer src.Close()
	dir := t.TempDir()
	n := src.NumSamples()
	var fam, keep, keepKnown strings.Builder
	males := 0
	for i, s := range src.Samples {
		if ds.person[i] >= 0 {
			fmt.Fprintf(&keep, "%s\t%s\n", s.FID, s.IID)
			if sexOf[i] != 0 {
				fmt.Fprintf(&keepKnown, "%s\t%s\n", s.FID, s.IID)
			}
		}
		if sexOf[i] == 1 {
			males++
		}
		fmt.Fprintf(&fam, "%s\t%s\t0\t0\t%d\t-9\n", s.FID, s.IID, sexOf[i])
	}
	if males == 0 || males == n {
		t.Fatalf("%d males of %d samples: the fixture does not exercise chrX", males, n)
	}
	// chrX: common variants (the fixture's are mostly rare, and a rare
	// variant's genotype classes are hidden), up to nX.
	isX := make([]bool, src.NumVariants())
	nx := 0
	for v := range src.Variants {
		c := plink.CountRow(src.Row(v), n)
		if f := float64(c.A1Count()) / float64(2*c.NonMissing()); nx < nX && f > 0.1 && f < 0.9 {
			isX[v] = true
			nx++
		}
	}
	if nx < 50 {
		t.Fatalf("%d common variants: the fixture does not exercise chrX", nx)
	}
	// plink2 wants each chromosome in one block: chrX goes last.
	var order []int
	for _, x := range []bool{false, true} {
		for v := range src.Variants {
			if isX[v] == x {
				order = append(order, v)
			}
		}
	}
	var bim strings.Builder
	var bed []byte
	bed = append(bed, 0x6c, 0x1b, 0x01)
	xAt := make([]bool, len(order))
	for k, v := range order {
		vr := src.Variants[v]
		row := append([]byte(nil), src.Row(v)...)
		chrom := vr.Chrom
		if isX[v] {
			chrom, xAt[k] = "X", true
			for i := 0; i < n; i++ {
				if sexOf[i] == 1 && plink.Code(row, i) == plink.CodeHet {
					sh := uint(2 * (i & 3))
					row[i>>2] = row[i>>2]&^(3<<sh) | plink.CodeHomA1<<sh
				}
			}
		}
		fmt.Fprintf(&bim, "%s\t%s\t0\t%d\t%s\t%s\n", chrom, vr.ID, vr.Pos, vr.A1, vr.A2)
		bed = append(bed, row...)
	}
	link, err := os.ReadFile(filepath.Join(gdir, "linkage.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string][]byte{"cohort.bed": bed, "cohort.bim": []byte(bim.String()), "cohort.fam": []byte(fam.String()),
		"linkage.csv": link, "keep.txt": []byte(keep.String()), "known.txt": []byte(keepKnown.String())} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// plink2 over every linked person, and over those of known sex (the
	// persons of unknown sex are few: their counts are hidden, and with
	// them, by secondary suppression, some of the chrX classes shown).
	for _, run := range [][2]string{{"keep.txt", "p2"}, {"known.txt", "p2k"}} {
		out, err := exec.Command("plink2", "--bfile", filepath.Join(dir, "cohort"), "--keep", filepath.Join(dir, run[0]),
			"--freq", "counts", "--hardy", "--threads", "1", "--out", filepath.Join(dir, run[1])).CombinedOutput()
		if err != nil {
			t.Fatalf("plink2: %v\n%s", err, out)
		}
	}
	ref := func(name string) map[string]map[string]string { return readPlinkTable(t, filepath.Join(dir, name)) }
	afreq, hardy, hardyX := ref("p2.acount"), ref("p2.hardy"), ref("p2.hardy.x")
	hardyKnown, hardyXKnown := ref("p2k.hardy"), ref("p2k.hardy.x")
	if len(hardyX) != nx {
		t.Fatalf("plink2 wrote %d chrX rows, want %d", len(hardyX), nx)
	}

	// The same summaries in kernel sessions over the modified files: one
	// for every person, one for the persons of known sex (a session of its
	// own: the two populations differ by a few persons, so the second
	// would be refused as a difference of the first).
	session := func() *genoEnv { return dosageSession(t, db, dir) }
	var freq, hw, hwKnown spec.Table
	e := session()
	all, g := e.persons(), e.variants()
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "freq", Variants: g.ID, Cohort: all.ID}, &freq)
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "hardy", Variants: g.ID, Cohort: all.ID}, &hw)
	e = session()
	all, g = e.persons(), e.variants()
	known := e.handle(spec.MDerive, spec.DeriveArgs{Base: e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Sex: "female"}}).ID,
		Step: spec.Step{Or: e.handle(spec.MDerive, spec.DeriveArgs{Base: all.ID, Step: spec.Step{Sex: "male"}}).ID}})
	e.must(spec.MGenoSummary, spec.GenoSummaryArgs{Kind: "hardy", Variants: g.ID, Cohort: known.ID}, &hwKnown)

	num := func(s string) float64 {
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("plink2 value %q: %v", s, err)
		}
		return x
	}
	// near: a released value (4 decimals, or 4 significant digits below
	// 1e-4) against plink2's.
	near := func(ours, want float64) bool {
		d := math.Abs(ours - want)
		return d <= 5.01e-5 || d <= 5.01e-4*math.Abs(want)
	}
	fa1, ffreq, fcount := col(&freq, "A1"), col(&freq, "A1 freq"), col(&freq, "A1 count")
	checked := map[string]int{}
	checkHardy := func(tab *spec.Table, i int, id string, x bool, ha, hx map[string]map[string]string, label string) {
		ha1, hhom, hhet, hother, hp, hh1, hh0 := col(tab, "A1"), col(tab, "hom A1"), col(tab, "het"), col(tab, "hom other"), col(tab, "HWE p"), col(tab, "haploid A1"), col(tab, "haploid other")
		h := tab.Rows[i]
		if h[0].Text != id {
			t.Fatalf("row %d: freq %s, hardy %s", i, id, h[0].Text)
		}
		var want [5]string // hom A1, het, hom other, haploid A1, haploid other
		var p string
		if x {
			w := hx[id]
			if w == nil {
				t.Fatalf("%s: not in plink2's .hardy.x", id)
			}
			want = [5]string{w["FEMALE_HOM_A1_CT"], w["FEMALE_HET_A1_CT"], w["FEMALE_TWO_AX_CT"], w["MALE_A1_CT"], w["MALE_AX_CT"]}
			if h[ha1].Text != w["A1"] {
				want = [5]string{want[2], want[1], want[0], want[4], want[3]}
			}
			p = w["P"]
		} else {
			w := ha[id]
			if w == nil {
				t.Fatalf("%s: not in plink2's .hardy", id)
			}
			want = [5]string{w["HOM_A1_CT"], w["HET_A1_CT"], w["TWO_AX_CT"]}
			if h[ha1].Text != w["A1"] {
				want[0], want[2] = want[2], want[0]
			}
			p = w["P"]
			if h[hh1].Value != nil || h[hh0].Value != nil {
				t.Errorf("%s: haploid counts on an autosome", id)
			}
		}
		for j, c := range []int{hhom, hhet, hother, hh1, hh0} {
			if !x && j >= 3 {
				break
			}
			if v := h[c].Value; v != nil {
				checked[fmt.Sprintf("class x=%v", x)+label]++
				if *v != num(want[j]) {
					t.Errorf("%s (chrX %v%s): %s %v, plink2 %s", id, x, label, tab.Columns[c], *v, want[j])
				}
			}
		}
		if v := h[hp].Value; v != nil {
			checked[fmt.Sprintf("hwe x=%v", x)+label]++
			if !near(*v, num(p)) {
				t.Errorf("%s (chrX %v%s): HWE p %v, plink2 %s", id, x, label, *v, p)
			}
		}
	}
	for i, r := range freq.Rows {
		id := r[0].Text
		a := afreq[id]
		if a == nil {
			t.Fatalf("%s: not in plink2's .acount", id)
		}
		x := xAt[i]
		// plink2 counts ALT; A1 here is the minor allele.
		altIsA1 := r[fa1].Text == a["ALT"]
		obs, alt := num(a["OBS_CT"]), num(a["ALT_CTS"])
		wantCount, wantFreq := alt, alt/obs
		if !altIsA1 {
			wantCount, wantFreq = obs-alt, 1-alt/obs
		}
		if wantFreq > 0.5+1e-12 {
			t.Errorf("%s: A1 %s has frequency %g in plink2: not the minor allele", id, r[fa1].Text, wantFreq)
		}
		if v := r[ffreq].Value; v != nil {
			checked["freq"]++
			if !near(*v, wantFreq) {
				t.Errorf("%s (chrX %v): A1 freq %v, plink2 %.6g", id, x, *v, wantFreq)
			}
		}
		if v := r[fcount].Value; v != nil {
			checked["count"]++
			if *v != wantCount {
				t.Errorf("%s (chrX %v): A1 count %v, plink2 %v", id, x, *v, wantCount)
			}
		}
		checkHardy(&hw, i, id, x, hardy, hardyX, "")
		checkHardy(&hwKnown, i, id, x, hardyKnown, hardyXKnown, " known")
	}
	t.Logf("values compared: %v", checked)
	for _, k := range []string{"freq", "count", "class x=true", "class x=false", "hwe x=false", "class x=true known", "hwe x=true known"} {
		if checked[k] < 20 {
			t.Errorf("only %d shown values of kind %q compared: %v", checked[k], k, checked)
		}
	}
}

package linkage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enclave/datasets/genomics/gensim"
	"enclave/datasets/genomics/plink"
)

// TestPersonSetsOfSyntheticCohort checks, on a gensim cohort, that the
// carrier and non-missing sets hold exactly the persons a researcher would
// count by hand from the genotypes, under their OMOP person_ids.
func TestPersonSetsOfSyntheticCohort(t *testing.T) {
	dir := t.TempDir()
	persons := make([]gensim.Person, 203)
	for i := range persons {
		persons[i] = gensim.Person{PersonID: int64(5_000_000 + 13*i), Ancestry: gensim.Ancestries[i%5]}
	}
	if err := gensim.Write(dir, persons, gensim.Options{Seed: 9, Variants: 400, Threads: 2}); err != nil {
		t.Fatal(err)
	}
	tab, err := Read(filepath.Join(dir, "linkage.csv"))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := plink.Open(filepath.Join(dir, "cohort"))
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	l, err := tab.Link(fs.Samples, true)
	if err != nil {
		t.Fatal(err)
	}
	dos := make([]int8, fs.NumSamples())
	for v := range fs.Variants {
		row := fs.Row(v)
		plink.UnpackInt8(row, len(dos), dos)
		car, nm := l.PersonSets(fs, v)
		hom := l.HomAlt(row)
		var nCar, nNM, nHom uint64
		for i, d := range dos {
			pid := uint32(persons[i].PersonID)
			if d >= 1 {
				nCar++
			}
			if d >= 0 {
				nNM++
			}
			if d == 2 {
				nHom++
			}
			if car.Contains(pid) != (d >= 1) || nm.Contains(pid) != (d >= 0) || hom.Contains(pid) != (d == 2) {
				t.Fatalf("variant %d person %d dosage %d: carrier %v nonmissing %v homalt %v", v, pid, d, car.Contains(pid), nm.Contains(pid), hom.Contains(pid))
			}
		}
		if car.GetCardinality() != nCar || nm.GetCardinality() != nNM || hom.GetCardinality() != nHom {
			t.Fatalf("variant %d: cardinalities %d %d %d, want %d %d %d", v, car.GetCardinality(), nm.GetCardinality(), hom.GetCardinality(), nCar, nNM, nHom)
		}
		c := fs.Counts(v)
		if int(nCar) != c.HomA1+c.Het || int(nNM) != c.NonMissing() {
			t.Fatalf("variant %d: sets disagree with counts %+v", v, c)
		}
	}
}

func TestReadErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"no header", "GS1,5\n", "line 1: header"},
		{"bad person", "sample_id,person_id\nGS1,5\nGS2,x\n", "line 3: person_id \"x\""},
		{"too big", "sample_id,person_id\nGS1,99999999999\n", "line 2: person_id"},
		{"duplicate", "sample_id,person_id\nGS1,5\nGS1,6\n", "line 3: sample_id \"GS1\" listed twice"},
	} {
		p := filepath.Join(t.TempDir(), "linkage.csv")
		os.WriteFile(p, []byte(c.text), 0o644)
		_, err := Read(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	p := filepath.Join(t.TempDir(), "l.tsv")
	os.WriteFile(p, []byte("person_id\tsample_id\n7\tA\n"), 0o644)
	tab, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if pid, ok := tab.Person("A"); !ok || pid != 7 {
		t.Errorf("tab-separated, reordered columns: %d %v", pid, ok)
	}
	l, err := tab.Link([]plink.Sample{{IID: "A"}, {IID: "B"}}, false)
	if err != nil || l.Person[1] != -1 || len(l.Unlinked) != 1 {
		t.Errorf("non-strict link: %+v %v", l, err)
	}
	if _, err := tab.Link([]plink.Sample{{IID: "B"}}, true); err == nil || !strings.Contains(err.Error(), `"B"`) {
		t.Errorf("strict link: %v", err)
	}
}

package bgzfw

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/biogo/hts/bgzf"
	"github.com/biogo/hts/tabix"
)

// TestReadBackWithBiogo writes a small VCF one record a block, indexes
// it, and reads both with biogo/hts: the text comes back whole and a region
// query of the index starts at a block that leads to the records in it.
func TestReadBackWithBiogo(t *testing.T) {
	type rec struct {
		chrom string
		pos   int
	}
	recs := []rec{{"1", 100}, {"1", 200}, {"1", 70000}, {"1", 3 << 20}, {"2", 50}, {"2", 51}}
	c := NewBlockCompressor()
	var file []byte
	var idx IndexBuilder
	var want strings.Builder
	file = c.AppendBlock(file, []byte("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n"))
	want.WriteString("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n")
	for _, r := range recs {
		line := fmt.Sprintf("%s\t%d\tv%s_%d\tA\tG\n", r.chrom, r.pos, r.chrom, r.pos)
		start := MakeVOffset(int64(len(file)), 0)
		file = c.AppendBlock(file, []byte(line))
		if err := idx.Add(r.chrom, r.pos-1, r.pos, start, MakeVOffset(int64(len(file)), 0)); err != nil {
			t.Fatal(err)
		}
		want.WriteString(line)
	}
	file = append(file, EOFBlock()...)

	br, err := bgzf.NewReader(bytes.NewReader(file), 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(br)
	if err != nil || string(got) != want.String() {
		t.Fatalf("read back %q, %v; want %q", got, err, want.String())
	}

	ti, err := tabix.ReadFrom(bytes.NewReader(idx.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		chunks, err := ti.Chunks(r.chrom, r.pos-1, r.pos)
		if err != nil || len(chunks) == 0 {
			t.Fatalf("%s:%d: chunks %v, %v", r.chrom, r.pos, chunks, err)
		}
		br, err := bgzf.NewReader(bytes.NewReader(file), 1)
		if err != nil {
			t.Fatal(err)
		}
		if err := br.Seek(chunks[0].Begin); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(br)
		id := fmt.Sprintf("\tv%s_%d\t", r.chrom, r.pos)
		found := false
		if sc.Scan() {
			var chrom string
			var pos int
			if _, err := fmt.Sscanf(sc.Text(), "%s\t%d", &chrom, &pos); err != nil || chrom != r.chrom || pos > r.pos {
				t.Errorf("%s:%d: the index's first chunk starts at %q, not at a record of %s up to it", r.chrom, r.pos, sc.Text(), r.chrom)
			}
			found = strings.Contains(sc.Text(), id)
		}
		for !found && sc.Scan() {
			if strings.Contains(sc.Text(), id) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s:%d: not reached from the index's first chunk %v", r.chrom, r.pos, chunks[0].Begin)
		}
	}
	if _, err := ti.Chunks("3", 0, 10); err == nil {
		t.Error("a chromosome the index does not hold gave chunks")
	}
	if err := idx.Add("1", 10, 11, 0, 0); err == nil {
		t.Error("Add accepted chromosome 1 again after 2")
	}
}

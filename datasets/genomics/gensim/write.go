package gensim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"

	"enclave/datasets/genomics/bgzfw"
	"enclave/datasets/genomics/plink"
	"enclave/datasets/genomics/vcf"
)

// Person is one genotyped person of the synthetic cohort.
type Person struct {
	PersonID int64
	Ancestry string // one of Ancestries; anything else gets shared frequencies
}

// Options control the simulation.
type Options struct {
	Seed     int64 // same seed as the OMOP generator, so planted dosages agree
	Variants int   // total variants, the planted ones included
	Threads  int   // goroutines; <= 0 means GOMAXPROCS
	// NoVCF writes only the PLINK fileset and linkage.csv. The VCF text is
	// 4 bytes per genotype (a 1M × 100k cohort is 400 GB before
	// compression), so very large cohorts skip it.
	NoVCF bool
}

// SampleID is the genotype sample id Write gives the i-th person (0-based):
// distinct from the person_id, as in real biobanks, and linked back through
// linkage.csv.
func SampleID(i int) string { return fmt.Sprintf("GS%07d", i+1) }

// VCFChrom is the chromosome name Write uses in the VCF (GRCh38 style);
// the .bim uses plink's plain numbers.
func VCFChrom(chrom int) string { return "chr" + strconv.Itoa(chrom) }

// ldKeep is the probability that a haplotype keeps its latent value from
// one variant to the next: adjacent common variants are correlated
// (r² decaying along the chromosome), i.e. a little LD.
const ldKeep = 0.9

// rareCutoff: variants whose ALT frequency is below it in every ancestry
// are drawn by placing carriers rather than genotype by genotype.
const rareCutoff = 0.02

// Write simulates Options.Variants variants for persons and writes
// dir/cohort.bed/.bim/.fam (A1 = ALT), dir/cohort.vcf.gz with its tabix
// index dir/cohort.vcf.gz.tbi, and dir/linkage.csv (sample_id,person_id).
//
// The model: a shared allele-frequency spectrum with many rare variants
// (density ∝ 1/q), per-ancestry frequencies drawn around it
// (Balding–Nichols), haplotypes sampled independently per variant except
// that a haplotype keeps its latent uniform with probability ldKeep from one
// variant to the next (LD between neighbours, broken every segment), a
// little missingness, and the PlantedVariants with exactly Dosage's
// genotypes (never missing). Output depends only on the seed, the persons
// and Options.Variants, not on Threads.
func Write(dir string, persons []Person, opts Options) error {
	if len(persons) == 0 {
		return errors.New("gensim: no persons to genotype")
	}
	if opts.Variants < len(PlantedVariants) {
		return fmt.Errorf("gensim: %d variants requested, need at least the %d planted ones", opts.Variants, len(PlantedVariants))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	sites := layout(opts.Seed, opts.Variants)
	g := newGenerator(opts.Seed, persons, sites)
	g.vcf = !opts.NoVCF
	if err := writeFamAndLinkage(dir, persons); err != nil {
		return err
	}
	if err := writeBim(filepath.Join(dir, "cohort.bim"), sites); err != nil {
		return err
	}
	return g.writeBedAndVCF(dir, threads)
}

func writeFamAndLinkage(dir string, persons []Person) error {
	fam, err := os.Create(filepath.Join(dir, "cohort.fam"))
	if err != nil {
		return err
	}
	defer fam.Close()
	link, err := os.Create(filepath.Join(dir, "linkage.csv"))
	if err != nil {
		return err
	}
	defer link.Close()
	fw, lw := bufio.NewWriter(fam), bufio.NewWriter(link)
	lw.WriteString("sample_id,person_id\n")
	for i, p := range persons {
		id := SampleID(i)
		// FID 0, as plink2 writes when importing the VCF.
		fmt.Fprintf(fw, "0\t%s\t0\t0\t0\t-9\n", id)
		fmt.Fprintf(lw, "%s,%d\n", id, p.PersonID)
	}
	if err := fw.Flush(); err != nil {
		return err
	}
	if err := lw.Flush(); err != nil {
		return err
	}
	if err := fam.Close(); err != nil {
		return err
	}
	return link.Close()
}

func writeBim(path string, sites []site) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var b []byte
	for i := range sites {
		s := &sites[i]
		b = strconv.AppendInt(b[:0], int64(s.chrom), 10)
		b = append(b, '\t')
		b = append(b, s.id...)
		b = append(b, "\t0\t"...)
		b = strconv.AppendInt(b, int64(s.pos), 10)
		b = append(b, '\t')
		b = append(b, s.alt...) // A1 = ALT
		b = append(b, '\t')
		b = append(b, s.ref...)
		b = append(b, '\n')
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// generator holds what every segment needs.
type generator struct {
	seed     int64
	persons  []Person
	sites    []site
	group    []uint8   // ancestry group per person
	members  [][]int32 // persons per group
	rowBytes int
	segSize  int
	vcf      bool // also write the VCF
}

func newGenerator(seed int64, persons []Person, sites []site) *generator {
	g := &generator{seed: seed, persons: persons, sites: sites, rowBytes: (len(persons) + 3) / 4}
	idx := map[string]int{}
	for k, a := range Ancestries {
		idx[a] = k
	}
	g.group = make([]uint8, len(persons))
	g.members = make([][]int32, nGroups)
	for i, p := range persons {
		k, ok := idx[p.Ancestry]
		if !ok {
			k = nGroups - 1
		}
		g.group[i] = uint8(k)
		g.members[k] = append(g.members[k], int32(i))
	}
	// Segments of about 8 MB of VCF text: they are the unit of parallel
	// work and of LD (the latent haplotypes restart at each segment).
	g.segSize = min(max((8<<20)/(4*len(persons)+64), 16), 2048)
	return g
}

// segment is one generated run of variants, ready to append to the files.
type segment struct {
	rows   []byte // packed .bed rows
	blocks []byte // BGZF blocks of the VCF lines
	sizes  []int  // compressed size of each block
	recs   []recPos
	err    error
}

// recPos locates a VCF line inside its segment's blocks.
type recPos struct {
	startBlock, startWithin int
	endBlock, endWithin     int
}

func (g *generator) writeBedAndVCF(dir string, threads int) error {
	bedF, err := os.Create(filepath.Join(dir, "cohort.bed"))
	if err != nil {
		return err
	}
	defer bedF.Close()
	vcfPath := filepath.Join(dir, "cohort.vcf.gz")
	vcfF := io.Discard
	if g.vcf {
		f, err := os.Create(vcfPath)
		if err != nil {
			return err
		}
		defer f.Close()
		vcfF = f
	} else {
		// A VCF of an earlier run would no longer match the fileset.
		os.Remove(vcfPath)
		os.Remove(vcfPath + ".tbi")
	}
	bedW := bufio.NewWriterSize(bedF, 4<<20)
	vcfW := bufio.NewWriterSize(vcfF, 4<<20)
	bedW.Write(plink.Magic[:])

	// The header goes in blocks of its own.
	comp := bgzfw.NewBlockCompressor()
	header := g.vcfHeader()
	hdr := comp.Compress(header)
	vcfW.Write(hdr)
	vcfOff := int64(len(hdr))

	nSeg := (len(g.sites) + g.segSize - 1) / g.segSize
	results := make([]chan *segment, nSeg)
	for i := range results {
		results[i] = make(chan *segment, 1)
	}
	// At most threads+1 segments in flight bounds memory.
	sem := make(chan struct{}, threads+1)
	var wg sync.WaitGroup
	next := make(chan int)
	go func() {
		for s := 0; s < nSeg; s++ {
			sem <- struct{}{}
			next <- s
		}
		close(next)
	}()
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := bgzfw.NewBlockCompressor()
			for s := range next {
				results[s] <- g.segment(s, c)
			}
		}()
	}
	var idx bgzfw.IndexBuilder
	var firstErr error
	for s := 0; s < nSeg; s++ {
		seg := <-results[s]
		<-sem
		if firstErr != nil {
			continue
		}
		if seg.err != nil {
			firstErr = seg.err
			continue
		}
		bedW.Write(seg.rows)
		vcfW.Write(seg.blocks)
		// File offset of each block of the segment.
		offs := make([]int64, len(seg.sizes)+1)
		offs[0] = vcfOff
		for b, n := range seg.sizes {
			offs[b+1] = offs[b] + int64(n)
		}
		lo := s * g.segSize
		for j, rp := range seg.recs {
			if !g.vcf {
				break
			}
			st := &g.sites[lo+j]
			start := bgzfw.MakeVOffset(offs[rp.startBlock], rp.startWithin)
			end := bgzfw.MakeVOffset(offs[rp.endBlock], rp.endWithin)
			if err := idx.Add(VCFChrom(st.chrom), st.pos-1, st.pos-1+len(st.ref), start, end); err != nil {
				firstErr = err
			}
		}
		vcfOff = offs[len(seg.sizes)]
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	vcfW.Write(bgzfw.EOFBlock())
	if err := bedW.Flush(); err != nil {
		return err
	}
	if err := vcfW.Flush(); err != nil {
		return err
	}
	if err := bedF.Close(); err != nil {
		return err
	}
	if !g.vcf {
		return nil
	}
	if err := vcfF.(*os.File).Close(); err != nil {
		return err
	}
	return idx.WriteFile(vcfPath + ".tbi")
}

func (g *generator) vcfHeader() []byte {
	b := []byte("##fileformat=VCFv4.2\n##FILTER=<ID=PASS,Description=\"All filters passed\">\n")
	b = append(b, "##source=enclave-gensim\n##reference=GRCh38\n"...)
	for c, l := range chromLengths {
		b = fmt.Appendf(b, "##contig=<ID=%s,length=%d>\n", VCFChrom(c+1), l)
	}
	b = append(b, "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"...)
	b = append(b, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"...)
	for i := range g.persons {
		b = append(b, '\t')
		b = append(b, SampleID(i)...)
	}
	return append(b, '\n')
}

// segment generates variants [s·segSize, …) and their VCF blocks.
func (g *generator) segment(s int, c *bgzfw.BlockCompressor) *segment {
	lo := s * g.segSize
	hi := min(lo+g.segSize, len(g.sites))
	n := len(g.persons)
	r := rand.New(rand.NewPCG(uint64(g.seed), uint64(s)*0x9e3779b97f4a7c15+1))
	hap := make([]uint32, 2*n)
	for h := range hap {
		hap[h] = r.Uint32()
	}
	seg := &segment{rows: make([]byte, (hi-lo)*g.rowBytes)}
	var text []byte
	block := make([]byte, 0, bgzfw.MaxBlockData)
	blockIdx := 0
	flush := func() {
		if len(block) == 0 {
			return
		}
		before := len(seg.blocks)
		seg.blocks = c.AppendBlock(seg.blocks, block)
		seg.sizes = append(seg.sizes, len(seg.blocks)-before)
		block = block[:0]
		blockIdx++
	}
	for v := lo; v < hi; v++ {
		st := &g.sites[v]
		row := seg.rows[(v-lo)*g.rowBytes : (v-lo+1)*g.rowBytes]
		g.genotypes(r, st, hap, row)
		if !g.vcf {
			seg.recs = append(seg.recs, recPos{})
			continue
		}
		// VCF line, cut into blocks.
		text = text[:0]
		text = append(text, VCFChrom(st.chrom)...)
		text = append(text, '\t')
		text = strconv.AppendInt(text, int64(st.pos), 10)
		text = append(text, '\t')
		text = append(text, st.id...)
		text = append(text, '\t')
		text = append(text, st.ref...)
		text = append(text, '\t')
		text = append(text, st.alt...)
		text = append(text, "\t.\tPASS\t.\tGT"...)
		text = vcf.AppendGT(text, row, n)
		text = append(text, '\n')
		rp := recPos{startBlock: blockIdx, startWithin: len(block)}
		if len(block) == bgzfw.MaxBlockData {
			flush()
			rp = recPos{startBlock: blockIdx}
		}
		for rest := text; len(rest) > 0; {
			k := min(len(rest), bgzfw.MaxBlockData-len(block))
			block = append(block, rest[:k]...)
			rest = rest[k:]
			if len(block) == bgzfw.MaxBlockData {
				flush()
			}
		}
		rp.endBlock, rp.endWithin = blockIdx, len(block)
		seg.recs = append(seg.recs, rp)
	}
	flush()
	return seg
}

// genotypes fills the packed row of one variant.
func (g *generator) genotypes(r *rand.Rand, st *site, hap []uint32, row []byte) {
	n := len(g.persons)
	codeOf := [3]byte{plink.CodeHomA2, plink.CodeHet, plink.CodeHomA1} // by ALT dosage
	if st.planted >= 0 {
		clear(row)
		for i, p := range g.persons {
			d := Dosage(g.seed, p.PersonID, p.Ancestry, st.planted)
			row[i>>2] |= codeOf[d] << (2 * (i & 3))
		}
		return
	}
	rare := true
	for k := 0; k < nGroups; k++ {
		if len(g.members[k]) > 0 && st.freq[k] >= rareCutoff {
			rare = false
		}
	}
	if rare {
		// Everyone homozygous REF, then place Poisson-many ALT copies per
		// ancestry group on random haplotypes.
		for i := range row {
			row[i] = 0xff
		}
		for k, mem := range g.members {
			if len(mem) == 0 || st.freq[k] <= 0 {
				continue
			}
			x := poisson(r, 2*float64(len(mem))*st.freq[k])
			for ; x > 0; x-- {
				i := int(mem[r.IntN(len(mem))])
				sh := uint(2 * (i & 3))
				switch (row[i>>2] >> sh) & 3 {
				case plink.CodeHomA2:
					row[i>>2] = row[i>>2]&^(3<<sh) | plink.CodeHet<<sh
				case plink.CodeHet:
					row[i>>2] &^= 3 << sh // → 00, hom ALT
				}
			}
		}
	} else {
		// Latent haplotype uniforms: redraw a (1−ldKeep) share, keep the rest.
		redraw := int(math.Round((1 - ldKeep) * float64(len(hap))))
		for ; redraw > 0; redraw-- {
			hap[r.IntN(len(hap))] = r.Uint32()
		}
		var thr [nGroups]uint32
		for k := range thr {
			thr[k] = uint32(math.Min(st.freq[k], 1) * 4294967295.0)
		}
		clear(row)
		for i := 0; i < n; i++ {
			t := thr[g.group[i]]
			d := 0
			if hap[2*i] < t {
				d++
			}
			if hap[2*i+1] < t {
				d++
			}
			row[i>>2] |= codeOf[d] << (2 * (i & 3))
		}
	}
	if n%4 != 0 {
		row[len(row)-1] &= byte(1)<<(2*(n%4)) - 1 // padding bits zero, as plink writes them
	}
	if st.missing > 0 {
		x := poisson(r, st.missing*float64(n))
		for ; x > 0; x-- {
			i := r.IntN(n)
			sh := uint(2 * (i & 3))
			row[i>>2] = row[i>>2]&^(3<<sh) | plink.CodeMissing<<sh
		}
	}
}

// poisson draws a Poisson count: by inversion for small means, by a
// rounded normal for large ones.
func poisson(r *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		x := math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64())
		return int(max(x, 0))
	}
	l := math.Exp(-lambda)
	k := 0
	p := r.Float64()
	for p > l {
		k++
		p *= r.Float64()
	}
	return k
}

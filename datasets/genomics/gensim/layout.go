package gensim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// chromLengths are the GRCh38 lengths of chromosomes 1–22; variants are
// spread over them in proportion.
var chromLengths = [22]int{
	248956422, 242193529, 198295559, 190214555, 181538259, 170805979, 159345973,
	145138636, 138394717, 133797422, 135086622, 133275309, 114364328, 107043718,
	101991189, 90338345, 83257441, 80373285, 58617616, 64444167, 46709983, 50818468,
}

// fst is the Balding–Nichols differentiation of each ancestry from the
// shared allele frequency, in the order of Ancestries; persons of any other
// ancestry label get the shared frequency.
var fst = [5]float64{0.06, 0.03, 0.08, 0.05, 0.05}

// nGroups is len(Ancestries) plus one group for unknown labels.
const nGroups = 6

// site is one simulated variant.
type site struct {
	chrom   int // 1..22
	pos     int
	id      string
	ref     string
	alt     string
	planted int // index into PlantedVariants, or -1
	// freq is the ALT frequency per ancestry group (nGroups).
	freq    [nGroups]float64
	missing float64 // per-genotype missing rate
}

// layout draws the variants: positions, alleles and frequencies. It is a
// pure function of (seed, m) so that it can be recomputed anywhere.
func layout(seed int64, m int) []site {
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	nRandom := m - len(PlantedVariants)
	if nRandom < 0 {
		nRandom = 0
	}
	total := 0
	for _, l := range chromLengths {
		total += l
	}
	// Variants per chromosome in proportion to length (largest remainder).
	counts := make([]int, 22)
	given := 0
	for c, l := range chromLengths {
		counts[c] = nRandom * l / total
		given += counts[c]
	}
	for c := 0; given < nRandom; c = (c + 1) % 22 {
		counts[c]++
		given++
	}
	sites := make([]site, 0, nRandom+len(PlantedVariants))
	for c := 0; c < 22; c++ {
		chrom := c + 1
		taken := map[int]bool{}
		for _, p := range PlantedVariants {
			if p.Chrom == fmt.Sprint(chrom) {
				taken[p.Pos] = true
			}
		}
		pos := make([]int, 0, counts[c])
		for len(pos) < counts[c] {
			x := 10_000 + r.IntN(chromLengths[c]-20_000)
			if !taken[x] {
				taken[x] = true
				pos = append(pos, x)
			}
		}
		sort.Ints(pos)
		for _, x := range pos {
			s := site{chrom: chrom, pos: x, planted: -1}
			s.ref, s.alt = drawAlleles(r)
			s.id = fmt.Sprintf("%d:%d:%s:%s", chrom, x, s.ref, s.alt)
			drawFreqs(r, &s)
			sites = append(sites, s)
		}
	}
	for i, p := range PlantedVariants {
		var chrom int
		fmt.Sscan(p.Chrom, &chrom)
		s := site{chrom: chrom, pos: p.Pos, id: p.ID, ref: p.Ref, alt: p.Alt, planted: i}
		sites = append(sites, s)
	}
	sort.SliceStable(sites, func(i, j int) bool {
		if sites[i].chrom != sites[j].chrom {
			return sites[i].chrom < sites[j].chrom
		}
		return sites[i].pos < sites[j].pos
	})
	return sites
}

var bases = [4]string{"A", "C", "G", "T"}

// drawAlleles picks REF and ALT, transitions (A↔G, C↔T) twice as often as
// transversions, as in real SNP data.
func drawAlleles(r *rand.Rand) (string, string) {
	ref := r.IntN(4)
	var alt int
	if r.IntN(3) < 2 {
		alt = ref ^ 2 // A(0)↔G(2), C(1)↔T(3)
	} else {
		alt = (ref + 1 + 2*r.IntN(2)) % 4 // a transversion
	}
	return bases[ref], bases[alt]
}

// drawFreqs draws the shared minor-allele frequency from a spectrum with
// density ∝ 1/q on [1e-4, 0.5] (about half the variants below 1%), makes
// ALT the major allele one time in ten, and then each ancestry's frequency
// from Beta(p(1−F)/F, (1−p)(1−F)/F) (Balding–Nichols).
func drawFreqs(r *rand.Rand, s *site) {
	const qmin = 1e-4
	q := qmin * math.Pow(0.5/qmin, r.Float64())
	p := q
	if r.IntN(10) == 0 {
		p = 1 - q
	}
	for k, f := range fst {
		a := p * (1 - f) / f
		b := (1 - p) * (1 - f) / f
		s.freq[k] = betaDraw(r, a, b)
	}
	s.freq[5] = p
	switch x := r.Float64(); {
	case x < 0.7:
		s.missing = 0
	default:
		s.missing = 1e-3 * math.Pow(20, r.Float64()) // 0.1% to 2%
	}
}

// gammaDraw is Marsaglia & Tsang's gamma sampler (shape a, scale 1).
func gammaDraw(r *rand.Rand, a float64) float64 {
	if a < 1 {
		u := r.Float64()
		return gammaDraw(r, a+1) * math.Pow(u, 1/a)
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

func betaDraw(r *rand.Rand, a, b float64) float64 {
	x := gammaDraw(r, a)
	y := gammaDraw(r, b)
	if x+y == 0 {
		return 0
	}
	return x / (x + y)
}

// Package splitmix holds the SplitMix64 mixing functions (Steele, Lea &
// Flood 2014, with Stafford's "variant 13" constants): a bijection of
// 64-bit words that spreads every input bit over the output, used to derive
// independent seeds and to finish weak hashes.
package splitmix

// Mix is the SplitMix64 finaliser.
func Mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Hash is one SplitMix64 step from state x: Mix of x plus the golden-ratio
// increment.
func Hash(x uint64) uint64 { return Mix(x + 0x9e3779b97f4a7c15) }

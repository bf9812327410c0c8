//go:build !linux

package confine

func checkFDs() string   { return unavailable(LayerFDs, "not Linux") }
func noNewPrivs() string { return unavailable(LayerNoNewPrivs, "not Linux") }
func landlockAll() string {
	return unavailable(LayerLandlock, "not Linux")
}
func seccompFilter() (string, error) { return unavailable(LayerSeccomp, "not Linux"), nil }

// LandlockABI returns 0: Landlock is Linux only.
func LandlockABI() int { return 0 }

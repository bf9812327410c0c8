package release

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestWorkspaceEgress: two kernels' counters on one file add up, from
// several goroutines at once, starting from a counter an older kernel
// wrote unpadded; a corrupt counter is an error, not a reset.
func TestWorkspaceEgress(t *testing.T) {
	path := filepath.Join(t.TempDir(), HistoryDir, EgressFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var counters [2]*WorkspaceEgress
	for i := range counters {
		w, err := OpenWorkspaceEgress(path)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		counters[i] = w
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := counters[(g+i)%2].Add(3); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total, err := counters[0].Add(0)
	if err != nil || total != 1000+4*50*3 {
		t.Errorf("total %d, %v; want %d", total, err, 1000+4*50*3)
	}
	if err := os.WriteFile(path, []byte("12x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := counters[1].Add(1); err == nil {
		t.Errorf("a corrupt counter was accepted")
	}
	counters[1].Close()
	if _, err := counters[1].Add(1); err == nil {
		t.Errorf("Add after Close succeeded")
	}
}

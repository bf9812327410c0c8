package omop

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Bounds of DefaultMemoryLimit. The ceiling keeps an import of a million
// persons (150 million rows) under 2 GiB of resident memory: DuckDB's
// buffer pool stays within the limit and spills to disk beyond it, and the
// rest of the process needs a few hundred MB.
const (
	minMemoryLimit = 256 << 20
	maxMemoryLimit = 1 << 30
)

// DefaultMemoryLimit is the DuckDB memory_limit an import and its tier
// builds use unless told otherwise: a quarter of the machine's memory (or
// of the cgroup's limit, if lower), at least 256 MiB and at most 1 GiB.
func DefaultMemoryLimit() string {
	return memoryLimitFor(machineMemory())
}

func memoryLimitFor(total int64) string {
	limit := total / 4
	if total <= 0 || limit > maxMemoryLimit {
		limit = maxMemoryLimit
	}
	if limit < minMemoryLimit {
		limit = minMemoryLimit
	}
	return fmt.Sprintf("%dMB", limit>>20)
}

// machineMemory is the memory available to this process in bytes: the
// smaller of MemTotal and the cgroup v2 or v1 memory limit; 0 if unknown.
func machineMemory() int64 {
	var total int64
	if f, err := os.Open("/proc/meminfo"); err == nil {
		s := bufio.NewScanner(f)
		for s.Scan() {
			if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
				if err == nil {
					total = kb << 10
				}
				break
			}
		}
		f.Close()
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (total == 0 || n < total) {
			total = n
		}
	}
	return total
}

// Package zstdenc compresses blobs into standard zstd frames. Builds with cgo
// (the default wherever a C compiler is installed, and what CI and the
// benchmarks use) compress with the reference C library, libzstd, bundled by
// github.com/DataDog/zstd: at the fastest level it is 1.4–1.8× faster than
// the pure-Go encoder of klauspost/compress on repository data and
// compresses 2–5% better, and compression is half of a backup's CPU. Builds
// without cgo (cross-compiled Windows and arm64 binaries, CGO_ENABLED=0, or
// the lumbung_purego tag) use klauspost/compress. Both write frames any zstd
// decoder reads; decoding always uses klauspost/compress (memory-safe Go,
// for data read back from storage).
package zstdenc

import "fmt"

// Levels of the repository config (compression_level): 1 fastest (about
// zstd -1), 2 default (-3), 3 better (-7), 4 best (-11).
const (
	MinLevel = 1
	MaxLevel = 4
)

func checkLevel(level int) error {
	if level < MinLevel || level > MaxLevel {
		return fmt.Errorf("zstd: compression level %d out of range %d-%d", level, MinLevel, MaxLevel)
	}
	return nil
}

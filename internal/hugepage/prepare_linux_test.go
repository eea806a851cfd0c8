//go:build !race

// The race detector's runtime lays out the heap its own way, so this test
// runs without it: `make test` runs this package once more without -race.

package hugepage

import (
	"testing"
	"unsafe"
)

// TestPrepareHeapLandsArgon2Memory: the allocation that follows PrepareHeap
// (as Argon2id's inside x/crypto follows it) is in the advised range. It
// is likely, not certain (another goroutine may take the range first, or
// the runtime's background work may intervene), so one of three tries must
// land; if none does, a Go release has changed how the heap hands out
// memory and key derivation has lost its huge pages: this test says so.
func TestPrepareHeapLandsArgon2Memory(t *testing.T) {
	thpSupported(t)
	const n = 48 << 20
	for try := 1; try <= 3; try++ {
		PrepareHeap(n)
		b := make([]uint64, n/8) // as argon2 allocates: one large object
		if hugeFlagged(t, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), n)) {
			return
		}
		t.Logf("try %d: the allocation after PrepareHeap is not in memory marked for huge pages", try)
	}
	t.Fatal("in three tries the allocation after PrepareHeap never landed in memory marked for huge pages")
}

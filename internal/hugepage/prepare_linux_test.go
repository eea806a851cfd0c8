//go:build !race

// The race detector's runtime lays out the heap its own way, so this test
// runs without it: `make test` runs this package once more without -race.

package hugepage

import (
	"runtime"
	"runtime/debug"
	"testing"
	"unsafe"
)

// TestPrepareHeapLandsArgon2Memory: the allocation that follows PrepareHeap
// (as Argon2id's inside x/crypto follows it) is in the advised range, every
// time. Before garbage collection was switched off until done, the
// runtime's background scavenger made 1 in 25 miss (4 of 400 runs of a
// separate program), so twenty tries in a row catch a return of that about
// every other run; if none lands, a Go release has changed how the heap
// hands out memory and key derivation has lost its huge pages.
func TestPrepareHeapLandsArgon2Memory(t *testing.T) {
	thpSupported(t)
	const n = 48 << 20
	missed := 0
	for try := 1; try <= 20; try++ {
		done := PrepareHeap(n)
		b := make([]uint64, n/8) // as argon2 allocates: one large object
		done()
		if !hugeFlagged(t, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), n)) {
			missed++
			t.Logf("try %d: the allocation after PrepareHeap is not in memory marked for huge pages", try)
		}
		b = nil
		runtime.GC() // free it, as a key derivation does
	}
	if missed > 0 {
		t.Fatalf("%d of 20 allocations after PrepareHeap missed the memory marked for huge pages", missed)
	}
}

// TestPrepareHeapRestoresGC: garbage collection is off between PrepareHeap
// and done, and back at the caller's setting after.
func TestPrepareHeapRestoresGC(t *testing.T) {
	thpSupported(t)
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	done := PrepareHeap(8 << 20)
	if got := debug.SetGCPercent(-1); got != -1 {
		t.Errorf("between PrepareHeap and done: GC percent %d, want -1 (off)", got)
	}
	done()
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("after done: GC percent %d, want the caller's 150", got)
	}
}

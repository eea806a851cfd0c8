//go:build !race

// The race detector's runtime lays out the heap its own way, so this test
// runs without it: `make test` runs this package once more without -race.

package hugepage

import (
	"os"
	"os/exec"
	"runtime/debug"
	"testing"
	"unsafe"
)

// TestPrepareHeapLandsArgon2Memory: the allocation that follows PrepareHeap
// (as Argon2id's inside x/crypto follows it) is in the advised range, every
// time. Each try runs in a process of its own, as lumbung derives its key
// once at the start of one: in a process that has advised and freed other
// large buffers (other tests, earlier tries) the heap hands out memory
// otherwise. Before garbage collection was switched off until done, the
// runtime's background scavenger made 1 process in 25 miss (4 of 400), so
// twenty in a row catch a return of that about every other run; if none
// lands, a Go release has changed how the heap hands out memory and key
// derivation has lost its huge pages.
func TestPrepareHeapLandsArgon2Memory(t *testing.T) {
	thpSupported(t)
	const n = 48 << 20
	if os.Getenv("HUGEPAGE_PLACEMENT_CHILD") != "" {
		done := PrepareHeap(n)
		b := make([]uint64, n/8) // as argon2 allocates: one large object
		done()
		if !hugeFlagged(t, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), n)) {
			t.Fatal("the allocation after PrepareHeap is not in memory marked for huge pages")
		}
		return
	}
	missed := 0
	for range 20 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPrepareHeapLandsArgon2Memory$", "-test.count=1")
		cmd.Env = append(os.Environ(), "HUGEPAGE_PLACEMENT_CHILD=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			missed++
			t.Logf("%v\n%s", err, out)
		}
	}
	if missed > 0 {
		t.Fatalf("in %d of 20 processes the allocation after PrepareHeap missed the memory marked for huge pages", missed)
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

// Package hugepage asks the kernel to back large memory that is used whole
// with transparent huge pages (2 MiB): one page fault instead of 512, and
// far fewer TLB misses for memory read at random. On virtual machines,
// where every first touch of a 4 KiB page is a trip to the host, that is
// the difference between 170 and 75 ms for Argon2id's 48 MiB
// (docs/benchmarks.md). It only advises: where the system has no huge
// pages (other systems, THP "never"), nothing changes.
package hugepage

import (
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// Size is the huge page size advised for (x86-64 and arm64 with 4 KiB base
// pages).
const Size = 2 << 20

// Advise asks for huge pages for the whole 2 MiB pages within the first n
// bytes of b's capacity. b must not be touched yet (freshly allocated):
// pages already there keep their size. Only for memory that will be filled
// to n, since each huge page is backed whole at its first touch.
func Advise(b []byte, n int) {
	if n > 0 {
		advise(b[:0:min(n, cap(b))])
	}
}

// PrepareHeap makes the next Go allocation of up to n bytes land in memory
// advised for huge pages, for memory a library allocates itself (Argon2id's,
// inside x/crypto): it allocates a little more than n bytes (or than the
// working set the process expects, if larger: see ExpectWorkingSet),
// advises them without touching them, and frees them with a garbage
// collection, so that the allocation that follows finds that range first.
// Call done right after that allocation.
//
// Until done, garbage collection is off, which also idles the runtime's
// background scavenger: returning free pages to the system, it holds them
// as allocated for a moment, and an allocation meeting such a hole in the
// range went past it (1 time in 25 before). Other calls wait for done, so
// two derivations never share the range. If the allocation lands
// elsewhere anyway, it gets ordinary pages, as without this.
func PrepareHeap(n int) (done func()) {
	if !supported || n < 2*Size {
		return func() {}
	}
	prepareMu.Lock()
	gcPercent := debug.SetGCPercent(-1)
	b := make([]byte, 0, max(n, int(workingSet.Load()))+2*Size)
	advise(b)
	b = nil
	runtime.GC()
	return func() {
		debug.SetGCPercent(gcPercent)
		prepareMu.Unlock()
	}
}

// prepareMu is held from PrepareHeap to its done.
var prepareMu sync.Mutex

// workingSet is set by ExpectWorkingSet.
var workingSet atomic.Int64

// ExpectWorkingSet says that the process allocates about n bytes of
// buffers soon after its next key derivation (a restore: ranges of packs
// and decoded blobs). PrepareHeap then readies that much instead of only
// its caller's allocation, so those buffers get huge pages too: a
// restore's page faults fall from ~10,000 to ~2,000 (docs/benchmarks.md).
// A backup does not ask: huge pages would hold whole 2 MiB for its
// partly used buffers and raise its peak RSS to restic's.
func ExpectWorkingSet(n int) { workingSet.Store(int64(n)) }

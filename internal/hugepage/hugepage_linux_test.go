package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeFlagged reports whether every Size-aligned 2 MiB of b lies in a
// mapping the kernel marked for huge pages ("hg" in /proc/self/smaps).
func hugeFlagged(t *testing.T, b []byte) bool {
	t.Helper()
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b[:1])))
	lo := (start + Size - 1) &^ (Size - 1)
	hi := (start + uintptr(cap(b))) &^ (Size - 1)
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var from, to uintptr
	covered := lo
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var a, z uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &a, &z); n == 2 && strings.Contains(line, " ") && !strings.HasPrefix(line, "VmFlags") {
			from, to = a, z
			continue
		}
		if strings.HasPrefix(line, "VmFlags:") && strings.Contains(line, " hg") && from <= covered && covered < to {
			covered = to
		}
	}
	return covered >= hi
}

func thpSupported(t *testing.T) {
	t.Helper()
	b, err := unix.Mmap(-1, 0, 2*Size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	if err := unix.Madvise(b, unix.MADV_HUGEPAGE); err != nil {
		t.Skipf("this kernel has no transparent huge pages (madvise: %v): nothing to advise", err)
	}
}

func TestAdviseMarksAlignedPart(t *testing.T) {
	thpSupported(t)
	b := make([]byte, 0, 9<<20)
	advise(b)
	if !hugeFlagged(t, b) {
		t.Fatal("the 2 MiB-aligned part of the buffer is not marked for huge pages")
	}
}

// Advise marks only the whole 2 MiB pages within the first n bytes: the
// rest of the buffer (a pack buffer's room for its header) keeps ordinary
// pages, so it does not hold a whole huge page for a few bytes.
func TestAdviseStopsAtN(t *testing.T) {
	thpSupported(t)
	b := make([]byte, 0, 16<<20)
	Advise(b, 8<<20)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b[:1])))
	end := (start + 8<<20) &^ (Size - 1) // the advice ends at or before here
	if !hugeFlagged(t, b[:0:8<<20]) {
		t.Error("the 2 MiB pages within the first 8 MiB are not marked for huge pages")
	}
	if tail := b[end-start : end-start : cap(b)]; hugeFlagged(t, tail) {
		t.Error("the buffer past n is marked for huge pages too")
	}
}

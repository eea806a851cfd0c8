package hugepage

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

const supported = true

// advise marks the Size-aligned part of b's capacity for huge pages.
func advise(b []byte) {
	if cap(b) < Size {
		return
	}
	base := unsafe.Pointer(unsafe.SliceData(b[:1]))
	start := uintptr(base)
	lo := (start + Size - 1) &^ (Size - 1)
	hi := (start + uintptr(cap(b))) &^ (Size - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(base, lo-start)), hi-lo), unix.MADV_HUGEPAGE)
}

package restorer

import (
	"strconv"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Direct I/O: the aligned middle of each large write to a large file goes
// around the page cache (O_DIRECT, through a second descriptor of the
// partial file); the unaligned ends, small files and file systems that
// refuse O_DIRECT go through it as usual. Copying a restored database dump
// into the page cache costs more CPU than decrypting and decompressing it,
// and filling the cache with it evicts the hot data of the services running
// on the server being rebuilt. The restore is then done when the large
// files are on the disk, not when they are queued for it.
const (
	directAlign    = 4096    // offset, length and memory alignment every Linux file system accepts
	directMinFile  = 1 << 20 // smaller files are written through the page cache
	directMinWrite = 64 << 10
	directBufSize  = 1 << 20 // staging buffer for data not aligned in memory
)

// directIO hands out direct descriptors and staging buffers. It turns
// itself off for the rest of the restore when the target's file system
// refuses a direct open or write.
type directIO struct {
	off  atomic.Bool
	bufs chan []byte
}

func newDirectIO(workers int) *directIO {
	return &directIO{bufs: make(chan []byte, workers)}
}

// open returns a descriptor with O_DIRECT of the same file as fd (opened
// through /proc/self/fd, so it cannot be another file swapped in under the
// name), or -1 when the file is small or direct I/O is not to be used.
func (d *directIO) open(fd int, size int64) int {
	if d == nil || size < directMinFile || d.off.Load() {
		return -1
	}
	var dfd int
	err := ignoringEINTR(func() (err error) {
		dfd, err = unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_WRONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		d.off.Store(true) // no /proc, or a file system without O_DIRECT
		return -1
	}
	return dfd
}

// write writes the aligned middle of b (destined for off) through dfd and
// returns the stretch of b it wrote, [lo, hi); the caller writes the rest
// through the page cache. lo == hi means nothing was written directly, and
// a failed direct write stops at the last piece that made it: the caller's
// normal write of the rest shows a real error (a full disk) as usual.
func (d *directIO) write(dfd int, b []byte, off int64) (lo, hi int) {
	lo = int(alignUp(off) - off)
	if lo >= len(b) {
		return 0, 0
	}
	n := (len(b) - lo) &^ (directAlign - 1)
	if n < directMinWrite || d.off.Load() {
		return 0, 0
	}
	mid := b[lo : lo+n]
	var stage []byte
	if !aligned(mid) {
		stage = d.getBuf()
		defer d.putBuf(stage)
	}
	done := 0
	for done < n {
		piece := mid[done:]
		if stage != nil {
			piece = stage[:copy(stage, piece)]
		}
		w, err := unix.Pwrite(dfd, piece, off+int64(lo+done))
		if err == unix.EINTR {
			continue
		}
		if err == unix.EINVAL {
			d.off.Store(true) // alignment or O_DIRECT refused here: not again
		}
		if err != nil || w <= 0 {
			break
		}
		done += w &^ (directAlign - 1)
		if w%directAlign != 0 {
			break // the page cache writes from the last whole block on
		}
	}
	return lo, lo + done
}

func (d *directIO) getBuf() []byte {
	select {
	case b := <-d.bufs:
		return b
	default:
	}
	b := make([]byte, directBufSize+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign)) % directAlign
	return b[skip : skip+directBufSize : skip+directBufSize]
}

func (d *directIO) putBuf(b []byte) {
	select {
	case d.bufs <- b:
	default:
	}
}

func aligned(b []byte) bool {
	return uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign == 0
}

func alignUp(off int64) int64 { return (off + directAlign - 1) &^ (directAlign - 1) }

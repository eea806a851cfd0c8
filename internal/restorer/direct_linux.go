package restorer

import (
	"strconv"
	"sync"
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
// files are on the disk, not when they are queued for it. Large files are
// also preallocated, so their direct writes need not take turns (see
// prealloc).
const (
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
	// edgeBufs counts the block buffers held by edgeSets (see maxEdgeBufs).
	edgeBufs atomic.Int64
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
	return d.writeMin(dfd, b, off, directMinWrite)
}

// writeMin is write for aligned middles of at least minLen bytes.
func (d *directIO) writeMin(dfd int, b []byte, off int64, minLen int) (lo, hi int) {
	lo = int(alignUp(off) - off)
	if lo >= len(b) {
		return 0, 0
	}
	n := (len(b) - lo) &^ (directAlign - 1)
	if n < max(minLen, directAlign) || d.off.Load() {
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
	return alignedBuf(directBufSize)
}

// alignedBuf returns n bytes of new memory starting at a directAlign
// boundary, as direct I/O wants.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(b)))%directAlign)) % directAlign
	return b[skip : skip+n : skip+n]
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

// Preallocated large files. A direct write that extends a file or fills a
// hole takes the file's lock exclusively until the disk has the data, so
// the workers writing one large file take turns at the disk's latency,
// and each turn also waits for a CPU busy decoding (4 writers of 1 MiB
// pieces reach ~450 MB/s here with both cores busy). A file given its
// blocks first (fallocate) and written only in whole aligned blocks takes
// the lock shared: the same 4 writers reach ~1.6 GB/s. So a large file is
// preallocated, the aligned middle of each blob goes straight to the disk,
// and the unaligned ends, which share a block with the neighbouring blob,
// are gathered in a block buffer (edgeSet) and written once the block is
// whole. A file whose content repeats a blob (runs of zeroes, mostly) is
// not preallocated: it is restored sparse as before.

// maxEdgeBufs bounds the block buffers waiting for the rest of their block,
// over all files of a restore (4 MiB); past it, ends go through the page
// cache as for files not preallocated.
const maxEdgeBufs = 1024

// edgeSet gathers the partial blocks of one preallocated file.
type edgeSet struct {
	size   int64 // the file's size: its last block holds size%directAlign bytes
	mu     sync.Mutex
	blocks map[int64]*edgeBlock // by offset
}

type edgeBlock struct {
	buf  []byte // directAlign bytes, aligned; nil: the block goes through the page cache
	have int    // bytes of the block received
}

// prealloc gives the file open as fd its blocks, up to size rounded up to
// a whole block (the file's length until finishFile cuts it to size), and
// returns its edgeSet; nil if the file is not to be preallocated (direct
// I/O off, or the file system cannot).
func (d *directIO) prealloc(fd int, size int64) *edgeSet {
	if d == nil || d.off.Load() || size < directMinFile {
		return nil
	}
	if ignoringEINTR(func() error { return unix.Fallocate(fd, 0, 0, alignUp(size)) }) != nil {
		return nil // no fallocate here, or no room: the writes will say
	}
	return &edgeSet{size: size, blocks: make(map[int64]*edgeBlock)}
}

// writeAssembled writes b at off into a preallocated file: the aligned
// middle directly, the ends through its edgeSet.
func (p pfile) writeAssembled(b []byte, off int64) error {
	end := off + int64(len(b))
	head := min(int(alignUp(off)-off), len(b)) // bytes in the first, partial block
	tail := max(int(alignDown(end)-off), head) // where the last, partial block starts
	if head > 0 {
		if err := p.addEdge(alignDown(off), int(off-alignDown(off)), b[:head]); err != nil {
			return err
		}
	}
	if mid := b[head:tail]; len(mid) > 0 {
		_, hi := p.dio.writeMin(p.dfd, mid, off+int64(head), directAlign)
		if err := p.pwrite(mid[hi:], off+int64(head+hi)); err != nil {
			return err
		}
	}
	if tail < len(b) {
		return p.addEdge(alignDown(end), 0, b[tail:])
	}
	return nil
}

// addEdge puts data at pos of the block at blockOff, and writes the block
// once every byte of the file in it has arrived.
func (p pfile) addEdge(blockOff int64, pos int, data []byte) error {
	e := p.edges
	need := int(min(directAlign, e.size-blockOff))
	e.mu.Lock()
	eb := e.blocks[blockOff]
	if eb == nil {
		eb = &edgeBlock{buf: p.dio.getEdgeBuf()}
		e.blocks[blockOff] = eb
	}
	eb.have += len(data)
	done := eb.have >= need
	if done {
		delete(e.blocks, blockOff)
	}
	if eb.buf == nil {
		e.mu.Unlock()
		return p.pwrite(data, blockOff+int64(pos))
	}
	copy(eb.buf[pos:], data)
	e.mu.Unlock()
	if !done {
		return nil
	}
	return p.writeBlock(eb, blockOff, need)
}

// writeBlock writes a gathered block (directly, else its need bytes
// through the page cache) and frees its buffer.
func (p pfile) writeBlock(eb *edgeBlock, blockOff int64, need int) error {
	defer p.dio.putEdgeBuf(eb.buf)
	if _, hi := p.dio.writeMin(p.dfd, eb.buf, blockOff, directAlign); hi == directAlign {
		return nil
	}
	return p.pwrite(eb.buf[:need], blockOff)
}

// flushEdges writes the blocks still waiting for bytes that never came
// (blobs that failed): what arrived, with zeroes for the rest.
func (p pfile) flushEdges() error {
	e := p.edges
	e.mu.Lock()
	blocks := e.blocks
	e.blocks = make(map[int64]*edgeBlock)
	e.mu.Unlock()
	var first error
	for off, eb := range blocks {
		if eb.buf == nil {
			continue
		}
		if err := p.writeBlock(eb, off, int(min(directAlign, e.size-off))); err != nil && first == nil {
			first = err
		}
	}
	return first
}

var edgeBufPool = sync.Pool{New: func() any { return alignedBuf(directAlign) }}

// getEdgeBuf returns a zeroed, aligned block buffer, or nil when
// maxEdgeBufs are in use.
func (d *directIO) getEdgeBuf() []byte {
	if d.edgeBufs.Add(1) > maxEdgeBufs {
		d.edgeBufs.Add(-1)
		return nil
	}
	b := edgeBufPool.Get().([]byte)
	clear(b)
	return b
}

func (d *directIO) putEdgeBuf(b []byte) {
	if b == nil {
		return
	}
	d.edgeBufs.Add(-1)
	edgeBufPool.Put(b)
}

package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unsafe"

	"github.com/lumbung-id/lumbung/internal/backend"

	"golang.org/x/sys/unix"
)

// Direct I/O: large saves (packs) bypass the page cache. Copying every pack
// into the page cache costs as much CPU as encrypting it, and a backup that
// fills the cache with its own output evicts the hot data of the services
// running on the same server. The aligned prefix of the data is written with
// O_DIRECT; the rest (and any file system that refuses O_DIRECT) goes through
// the page cache as usual, and the file is synced either way.
const (
	directAlign = 4096
	directMin   = 1 << 20
)

// writeDirect writes an aligned prefix of data to f with O_DIRECT and
// returns its length; 0 means nothing was written and the caller writes
// everything normally. Any failure of the direct path falls back to the
// normal one: a real error (a full disk) shows there again.
func writeDirect(ctx context.Context, f *os.File, data []byte) int {
	n := len(data) &^ (directAlign - 1)
	if n < directMin || uintptr(unsafe.Pointer(unsafe.SliceData(data)))%directAlign != 0 {
		return 0
	}
	if !setDirect(f, true) {
		return 0
	}
	written := 0
	for written < n && ctx.Err() == nil {
		m, err := f.Write(data[written:min(n, written+chunkSize)])
		written += m
		if err != nil || m%directAlign != 0 {
			break
		}
	}
	// Should turning it off ever fail, the unaligned rest fails to write
	// and the save reports an error: nothing half-written is kept.
	setDirect(f, false)
	return written
}

// setDirect turns O_DIRECT on or off for f and reports success.
func setDirect(f *os.File, on bool) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	cerr := rc.Control(func(fd uintptr) {
		flags, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			return
		}
		if on {
			flags |= unix.O_DIRECT
		} else {
			flags &^= unix.O_DIRECT
		}
		_, err = unix.FcntlInt(fd, unix.F_SETFL, flags)
		ok = err == nil
	})
	return cerr == nil && ok
}

// directReadMin is the smallest range LoadInto reads with O_DIRECT: below
// it the kernel's read-ahead through the page cache serves a run of small
// ranges better than one disk read each.
const directReadMin = 128 << 10

// loadDirect reads a large range around the page cache: whole aligned
// blocks with O_DIRECT into aligned memory of buf (or of a new buffer when
// buf is too small), returning the range's bytes. A restore or a check
// reads each pack once, so the page cache would only cost a copy of every
// byte and the eviction of the server's hot data. ok is false when the
// range is small or the file system refuses O_DIRECT; the caller then reads
// normally.
func (l *Local) loadDirect(ctx context.Context, h backend.Handle, offset, length int64, buf []byte) (data []byte, ok bool, err error) {
	if length < directReadMin || offset < 0 || l.noDirectRead.Load() {
		return nil, false, nil
	}
	f, name, _, err := l.openRange(ctx, h, offset, length, unix.O_DIRECT)
	if errors.Is(err, unix.EINVAL) {
		l.noDirectRead.Store(true)
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	defer f.Close()
	start := offset &^ (directAlign - 1)
	end := (offset + length + directAlign - 1) &^ (directAlign - 1)
	mem := alignedSpan(buf, int(end-start))
	n, err := readDirect(ctx, h, f, mem, start)
	if errors.Is(err, unix.EINVAL) && n == 0 {
		l.noDirectRead.Store(true) // opened, but refused to read (some FUSE file systems)
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	skip := int(offset - start)
	if n < skip+int(length) {
		return nil, true, shrunk(h, name, start+int64(n), offset, length)
	}
	return mem[skip : skip+int(length) : skip+int(length)], true, nil
}

// alignedSpan returns n bytes of buf starting at an aligned address, or of
// a new buffer if buf has no room for them.
func alignedSpan(buf []byte, n int) []byte {
	if cap(buf) < n+directAlign {
		buf = make([]byte, n+directAlign)
	}
	buf = buf[:cap(buf)]
	skip := (directAlign - int(uintptr(unsafe.Pointer(unsafe.SliceData(buf)))%directAlign)) % directAlign
	return buf[skip : skip+n]
}

// readDirect fills aligned mem from f (opened with O_DIRECT) at an aligned
// offset and returns how much it read before the end of the file: a read
// that comes back short of a whole block is the end (reading on from there
// would be unaligned).
func readDirect(ctx context.Context, h backend.Handle, f *os.File, mem []byte, offset int64) (int, error) {
	fd := int(f.Fd())
	done := 0
	for done < len(mem) {
		if err := ctx.Err(); err != nil {
			return done, fmt.Errorf("load %v: %w", h, err)
		}
		n, err := unix.Pread(fd, mem[done:min(len(mem), done+chunkSize)], offset+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("load %v: %w", h, &fs.PathError{Op: "read", Path: f.Name(), Err: err})
		}
		done += n
		if n == 0 || n%directAlign != 0 {
			break
		}
	}
	return done, nil
}

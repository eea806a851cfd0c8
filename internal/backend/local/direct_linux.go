package local

import (
	"context"
	"os"
	"unsafe"

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

package local

import (
	"context"

	"golang.org/x/sys/unix"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// ReadAhead asks the kernel to read h into the page cache in the background
// (posix_fadvise WILLNEED). Packs are written around the page cache, so
// right after a backup each tree loaded from a pack is otherwise a disk
// read of its own; with the hint the pack's trees arrive in one sequential
// read (docs/benchmarks.md).
func (l *Local) ReadAhead(ctx context.Context, h backend.Handle) {
	name, err := l.filename(h)
	if err != nil || ctx.Err() != nil {
		return
	}
	fd, err := unix.Open(name, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	_ = unix.Fadvise(fd, 0, 0, unix.FADV_WILLNEED)
	unix.Close(fd)
}

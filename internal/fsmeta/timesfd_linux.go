package fsmeta

import (
	"io/fs"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// CanSetTimesFD says SetTimesFD works here.
const CanSetTimesFD = true

// SetTimesFD sets the access and modification times of the file open as fd,
// with nanosecond precision: utimensat with a NULL path (what C's futimens
// does), so no name is looked up again. A zero time is left as it is
// (UTIME_OMIT). path is only used in errors.
func SetTimesFD(fd int, path string, atime, mtime time.Time) error {
	if atime.IsZero() && mtime.IsZero() {
		return nil
	}
	var ts [2]unix.Timespec
	for i, t := range [2]time.Time{atime, mtime} {
		if t.IsZero() {
			ts[i] = unix.Timespec{Nsec: unix.UTIME_OMIT}
			continue
		}
		var err error
		if ts[i], err = unix.TimeToTimespec(t); err != nil {
			return &fs.PathError{Op: "futimens", Path: path, Err: err}
		}
	}
	err := ignoringEINTR(func() error {
		// x/sys/unix has no futimens for Linux: UtimesNanoAt needs a path.
		_, _, errno := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if errno != 0 {
			return errno
		}
		return nil
	})
	if err != nil {
		return &fs.PathError{Op: "futimens", Path: path, Err: err}
	}
	return nil
}

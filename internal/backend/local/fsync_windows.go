//go:build windows

package local

import (
	"errors"
	"syscall"
)

// syncDir does nothing: the os package cannot open a directory for flushing
// on Windows. Durability there rests on the file's own flush (File.Sync) and
// NTFS's metadata journal; a crash right after Save may lose the new name
// but never exposes a partial file under it.
func syncDir(dir string) error { return nil }

const (
	errorInvalidFunction = syscall.Errno(1) // ERROR_INVALID_FUNCTION
)

// linkUnsupported reports whether a link error means the filesystem cannot
// make hard links at all (FAT and exFAT answer ERROR_INVALID_FUNCTION).
func linkUnsupported(err error) bool {
	return errors.Is(err, errorInvalidFunction) || errors.Is(err, errors.ErrUnsupported)
}

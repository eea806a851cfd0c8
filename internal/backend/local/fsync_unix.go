//go:build unix

package local

import (
	"errors"
	"os"
	"syscall"
)

// syncDir makes the entries of directory dir (files linked, renamed or
// removed in it) durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		// Some filesystems (certain FUSE and network ones) cannot sync a
		// directory; there is nothing more we can do for them.
		err = nil
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// linkUnsupported reports whether a link error means the filesystem cannot
// make hard links at all (Linux reports EPERM for that, e.g. on vfat).
func linkUnsupported(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, errors.ErrUnsupported)
}

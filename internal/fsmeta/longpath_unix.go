//go:build unix

package fsmeta

import (
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// longPath is the length from which a path is opened one directory at a
// time. Linux refuses paths of PATH_MAX (4096) bytes and more with
// ENAMETOOLONG, macOS from 1024; a deep tree of long names (archives of
// archives, generated reports) goes past that, and its files must still be
// backed up and restored.
const longPath = 1024

// openLong opens path as open(2) does, also when it is longer than the
// system allows: the longest prefix that fits is opened as a directory
// (following symlinks, as the kernel would), and every directory after it
// with openat and O_NOFOLLOW, one name at a time, so nothing below that
// prefix is reached through a symlink.
func openLong(path string, flags int) (int, error) {
	if len(path) < longPath {
		return openRetry(path, flags)
	}
	comps := strings.Split(path, "/")
	last := len(comps) - 1
	for last > 0 && comps[last] == "" { // a trailing slash
		last--
	}
	// The prefix: as many leading components as fit.
	n, size := 0, 0
	for n < last && size+len(comps[n])+1 < longPath {
		size += len(comps[n]) + 1
		n++
	}
	prefix := strings.Join(comps[:n], "/")
	switch {
	case prefix == "" && strings.HasPrefix(path, "/"):
		prefix = "/"
	case prefix == "":
		prefix = "."
	}
	dirFlags := unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	fd, err := openRetry(prefix, dirFlags)
	if err != nil {
		return -1, err
	}
	for _, c := range comps[n:last] {
		if c == "" || c == "." {
			continue
		}
		next, err := openatRetry(fd, c, dirFlags|unix.O_NOFOLLOW)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	target, err := openatRetry(fd, comps[last], flags)
	unix.Close(fd)
	return target, err
}

func openatRetry(dirfd int, name string, flags int) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// OpenDir opens the directory path for listing without following a final
// symlink, also when path is longer than the system allows (see openLong).
func OpenDir(path string) (*os.File, error) {
	fd, err := openLong(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// ReadlinkAt reads the target of the symlink name in the open directory
// dir (path is the same entry's full path, for errors), so that a symlink
// deep in a long path can be read.
func ReadlinkAt(dir *os.File, name, path string) (string, error) {
	size := 256
	for {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return "", &fs.PathError{Op: "readlink", Path: path, Err: err}
		case n < size:
			return string(buf[:n]), nil
		}
		size *= 2
	}
}

package restorer

import (
	"io/fs"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// shortPathMax is the longest path handed to a system call as it is; a
// longer one is reached through a descriptor of an ancestor directory,
// opened in steps of at most that many bytes, as
// /proc/self/fd/N/rest-of-path (the kernel limits the string it is given,
// not the depth it resolves).
const shortPathMax = 4000

// onPath runs fn with a name for path that system calls accept: path
// itself, or for a path too long for them, its form through an ancestor's
// descriptor (open only while fn runs).
func onPath(path string, fn func(p string) error) error {
	if len(path) < shortPathMax {
		return fn(path)
	}
	fd, rest, err := openAncestor(path)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	short := "/proc/self/fd/" + strconv.Itoa(fd) + "/" + rest
	return unshorten(fn(short), short, path)
}

// openAncestor opens (O_PATH) the ancestor of path below which the rest of
// path is short enough, through as many shorter steps as it takes, and
// returns its descriptor and the rest.
func openAncestor(path string) (int, string, error) {
	const step = shortPathMax - 64 // room for the /proc/self/fd/N/ prefix
	fd, rest := unix.AT_FDCWD, path
	for len(rest) >= step {
		cut := strings.LastIndexByte(rest[:step], '/')
		if cut <= 0 {
			if fd != unix.AT_FDCWD {
				unix.Close(fd)
			}
			return -1, "", unix.ENAMETOOLONG // a single name longer than that: no file system has one
		}
		next, err := openat(fd, rest[:cut], unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if fd != unix.AT_FDCWD {
			unix.Close(fd)
		}
		if err != nil {
			return -1, "", err
		}
		fd, rest = next, rest[cut+1:]
	}
	return fd, rest, nil
}

package fsmeta

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// shortPathMax is the longest path OnPath hands to a system call as it is
// (Linux refuses PATH_MAX, 4096 bytes, and more).
const shortPathMax = 4000

// OnPath runs fn with a name for path that path-based system calls accept,
// however long path is: path itself, or for a path too long for one call,
// /proc/self/fd/N/rest, where N is a descriptor of an ancestor directory
// opened one directory at a time (see openLong; open only while fn runs)
// and rest is short. The kernel limits the string it is given, not the
// depth it resolves. Errors from fn name path, not that form.
func OnPath(path string, fn func(p string) error) error {
	if len(path) < shortPathMax {
		return fn(path)
	}
	cut := strings.LastIndexByte(path[:len(path)-shortPathMax/2], '/')
	if cut <= 0 {
		return fn(path) // one enormous name: let the call say so
	}
	fd, err := openLong(path[:cut], unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return &fs.PathError{Op: "open", Path: path[:cut], Err: err}
	}
	defer unix.Close(fd)
	short := "/proc/self/fd/" + strconv.Itoa(fd) + path[cut:]
	return unshorten(fn(short), short, path)
}

// unshorten puts long back where short (the name fn was given for it)
// starts a path in err.
func unshorten(err error, short, long string) error {
	fix := func(p *string) {
		if strings.HasPrefix(*p, short) {
			*p = long + (*p)[len(short):]
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		fix(&pe.Path)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		fix(&le.Old)
		fix(&le.New)
	}
	return err
}

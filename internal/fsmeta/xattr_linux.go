package fsmeta

import (
	"errors"
	"io/fs"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// XattrsFD returns the extended attributes of the file open as fd, sorted
// by name; none where the file system has none. path is for errors.
func XattrsFD(fd int, path string) ([]Xattr, error) {
	// The first listing goes into the stack: a backup asks every file, and
	// a buffer passed through readXattrs' function values would be a heap
	// allocation per file (1 KiB of garbage each, 25 MB for 25,000 files).
	var small [1 << 10]byte
	n, err := unix.Flistxattr(fd, small[:])
	for err == unix.EINTR {
		n, err = unix.Flistxattr(fd, small[:])
	}
	if err == nil && n == 0 {
		return nil, nil
	}
	var names []byte
	if err == nil {
		names = small[:n]
	}
	return readXattrs(path, names, err,
		func(buf []byte) (int, error) { return unix.Flistxattr(fd, buf) },
		func(name string, buf []byte) (int, error) { return unix.Fgetxattr(fd, name, buf) })
}

// XattrsPath returns the extended attributes of path itself (a symlink's
// own, never its target's), sorted by name.
func XattrsPath(path string) (xs []Xattr, err error) {
	err = OnPath(path, func(p string) (err error) {
		list := func(buf []byte) (int, error) { return unix.Llistxattr(p, buf) }
		names, err := sized(make([]byte, 1<<10), list)
		xs, err = readXattrs(path, names, err, list,
			func(name string, buf []byte) (int, error) { return unix.Lgetxattr(p, name, buf) })
		return err
	})
	return xs, err
}

// readXattrs reads the attributes named in names, the result of a first
// listing (err its error: ERANGE lists again with list into a buffer as
// large as the kernel asks for).
func readXattrs(path string, names []byte, err error, list func([]byte) (int, error), get func(string, []byte) (int, error)) ([]Xattr, error) {
	if err == unix.ERANGE {
		names, err = sized(make([]byte, 4<<10), list)
	}
	switch {
	case errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOSYS):
		return nil, nil
	case err != nil:
		return nil, &fs.PathError{Op: "listxattr", Path: path, Err: err}
	case len(names) == 0:
		return nil, nil
	}
	var out []Xattr
	var errs []error
	for name := range strings.SplitSeq(strings.TrimSuffix(string(names), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		value, err := sized(make([]byte, 256), func(buf []byte) (int, error) { return get(name, buf) })
		switch {
		case errors.Is(err, unix.ENODATA):
			// Removed since it was listed.
		case err != nil:
			errs = append(errs, &fs.PathError{Op: "getxattr " + name, Path: path, Err: err})
		default:
			out = append(out, Xattr{Name: name, Value: value})
		}
	}
	// Sorted and unique, as the tree format demands.
	slices.SortFunc(out, func(a, b Xattr) int { return strings.Compare(a.Name, b.Name) })
	out = slices.CompactFunc(out, func(a, b Xattr) bool { return a.Name == b.Name })
	return out, errors.Join(errs...)
}

// sized calls fn with buf, and with a buffer of the size the kernel asks for
// while it says buf is too small (ERANGE).
func sized(buf []byte, fn func([]byte) (int, error)) ([]byte, error) {
	for range 8 {
		n, err := fn(buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ERANGE:
			need, err := fn(nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, max(need, 2*len(buf)))
			continue
		case err != nil:
			return nil, err
		}
		return buf[:n], nil
	}
	return nil, unix.ERANGE // growing faster than it can be read
}

// SetXattrsFD sets extended attributes on the file open as fd, skipping
// those this process may not set (see XattrSettable). It returns
// ErrXattrUnsupported (wrapped) if the file system holds none.
func SetXattrsFD(fd int, path string, xs []Xattr, root bool) error {
	return setXattrs(path, xs, root, func(name string, value []byte) error {
		return unix.Fsetxattr(fd, name, value, 0)
	})
}

// SetXattrsPath sets extended attributes on path itself, never following
// a final symlink (see SetXattrsFD).
func SetXattrsPath(path string, xs []Xattr, root bool) error {
	if len(xs) == 0 {
		return nil
	}
	return OnPath(path, func(p string) error {
		return setXattrs(path, xs, root, func(name string, value []byte) error {
			return unix.Lsetxattr(p, name, value, 0)
		})
	})
}

func setXattrs(path string, xs []Xattr, root bool, set func(string, []byte) error) error {
	var errs []error
	for _, x := range xs {
		if !XattrSettable(x.Name, root) {
			continue
		}
		err := set(x.Name, x.Value)
		for err == unix.EINTR {
			err = set(x.Name, x.Value)
		}
		switch {
		case err == nil:
		case errors.Is(err, unix.ENOTSUP):
			// No extended attributes (vfat, exfat), or not this kind (a
			// file system mounted without ACLs): said once for the restore.
			return &fs.PathError{Op: "setxattr " + x.Name, Path: path, Err: errors.Join(ErrXattrUnsupported, err)}
		default:
			errs = append(errs, &fs.PathError{Op: "setxattr " + x.Name, Path: path, Err: err})
		}
	}
	return errors.Join(errs...)
}

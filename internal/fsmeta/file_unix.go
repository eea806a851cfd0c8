//go:build unix

package fsmeta

import (
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// File is a regular file open for reading. On unix it is a bare descriptor
// read with read(2): a backup opens every file once, and an os.File adds a
// runtime-poller registration, a finalizer and more system calls to each
// open and close, which cost more than reading a small file does.
type File struct {
	fd       int
	path     string
	meta     Meta
	blocking bool // O_NONBLOCK cleared (see Read)
}

// OpenNoFollow opens the regular file path for reading without following a
// final symlink, so a symlink swapped in after the archiver's stat makes the
// open fail (ELOOP on Linux) instead of reading the link's target. It opens
// non-blocking, so a FIFO swapped in does not hang the backup, and refuses
// anything that is not a regular file (ErrNotRegular). On Linux it asks for
// O_NOATIME so a backup does not update access times, retrying without it on
// EPERM (files the process does not own). Paths longer than the system
// allows are opened one directory at a time (openLong). Callers should
// compare f.Meta() with their earlier metadata (SameFile) before trusting
// what they read.
func OpenNoFollow(path string) (*File, error) {
	const flags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
	fd, err := openLong(path, flags|oNoatime)
	if oNoatime != 0 && err == unix.EPERM {
		fd, err = openLong(path, flags)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := fstatRetry(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	m := metaFromStat(&st)
	if m.Kind != KindFile {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrNotRegular}
	}
	// O_NONBLOCK was only for the open. Reads of regular files ignore it on
	// local file systems, so it is left on (clearing it costs two system
	// calls per file); Read clears it if a file system (some FUSE ones)
	// honours it.
	return &File{fd: fd, path: path, meta: m}, nil
}

func openRetry(path string, flags int) (int, error) {
	for {
		fd, err := unix.Open(path, flags, 0)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func fstatRetry(fd int, st *unix.Stat_t) error {
	for {
		if err := unix.Fstat(fd, st); err != unix.EINTR {
			return err
		}
	}
}

// Meta is the metadata of the open file, read when it was opened.
func (f *File) Meta() Meta { return f.meta }

// Restat reads the open file's metadata again, so a reader can tell whether
// the file changed while it was read.
func (f *File) Restat() (Meta, error) {
	if f.fd < 0 {
		return Meta{}, os.ErrClosed
	}
	var st unix.Stat_t
	if err := fstatRetry(f.fd, &st); err != nil {
		return Meta{}, &fs.PathError{Op: "fstat", Path: f.path, Err: err}
	}
	return metaFromStat(&st), nil
}

// Read reads up to len(p) bytes; it returns io.EOF at the end of the file.
func (f *File) Read(p []byte) (int, error) {
	if f.fd < 0 {
		return 0, os.ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, err := unix.Read(f.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && !f.blocking:
			// The file system honours the O_NONBLOCK of the open: wait
			// for the data like any reader of a regular file would.
			if err := unix.SetNonblock(f.fd, false); err != nil {
				return 0, &fs.PathError{Op: "fcntl", Path: f.path, Err: err}
			}
			f.blocking = true
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Close releases the descriptor.
func (f *File) Close() error {
	if f.fd < 0 {
		return os.ErrClosed
	}
	err := unix.Close(f.fd)
	f.fd = -1
	if err != nil {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}

// metaFromStat converts what stat(2) returned.
func metaFromStat(st *unix.Stat_t) Meta {
	m := Meta{
		Mode: uint32(st.Mode) & ModeMask, Size: int64(st.Size),
		UID: st.Uid, GID: st.Gid,
		User: defaultNames.User(st.Uid), Group: defaultNames.Group(st.Gid),
		Inode: uint64(st.Ino), Device: uint64(st.Dev), Links: uint64(st.Nlink),
		AccessTime: timespec(int64(st.Atim.Sec), int64(st.Atim.Nsec)),
		ModTime:    timespec(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		ChangeTime: timespec(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)),
	}
	switch uint32(st.Mode) & unix.S_IFMT {
	case unix.S_IFREG:
		m.Kind = KindFile
	case unix.S_IFDIR:
		m.Kind = KindDir
	case unix.S_IFLNK:
		m.Kind = KindSymlink
	default:
		m.Kind = KindSpecial
	}
	return m
}

// Xattrs returns the open file's extended attributes (see XattrsFD).
func (f *File) Xattrs() ([]Xattr, error) { return XattrsFD(f.fd, f.path) }

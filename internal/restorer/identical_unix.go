//go:build unix

package restorer

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// existingFile is a regular file already in the target, open read-only
// relative to its directory's descriptor, never through a symlink.
type existingFile struct {
	fd   int
	dir  *dirRef
	name string
}

// openExisting opens dir/name if it is a regular file of size bytes; nil
// (and no error) when nothing, or something else, stands there.
func (r *restorer) openExisting(dir *dirRef, name string, size int64) (existing, error) {
	dfd, err := r.dirFDs.acquire(dir)
	if err != nil {
		return nil, err
	}
	defer r.dirFDs.release(dir)
	at := name
	if dfd == unix.AT_FDCWD {
		at = filepath.Join(dir.path, name)
	}
	fd, err := openat(dfd, at, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ELOOP) {
			return nil, nil
		}
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(dir.path, name), Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != size {
		unix.Close(fd)
		return nil, nil
	}
	return &existingFile{fd: fd, dir: dir, name: name}, nil
}

func (e *existingFile) path() string { return filepath.Join(e.dir.path, e.name) }

func (e *existingFile) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(e.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: e.path(), Err: err}
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// setMeta applies m through the descriptor, as to a restored file.
func (e *existingFile) setMeta(r *restorer, m meta) error {
	return r.setFileMeta(e.fd, e.dir, e.name, m, keptFile)
}

func (e *existingFile) close() error {
	if err := unix.Close(e.fd); err != nil {
		return &fs.PathError{Op: "close", Path: e.path(), Err: err}
	}
	return nil
}

//go:build !unix

package restorer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lumbung-id/lumbung/internal/fsmeta"
)

// existingFile is a regular file already in the target, open read-only.
type existingFile struct {
	*os.File
	path string
}

// openExisting opens dir/name if it is a regular file of size bytes; nil
// (and no error) when nothing, or something else, stands there.
func (r *restorer) openExisting(dir *dirRef, name string, size int64) (existing, error) {
	path := filepath.Join(dir.path, name)
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && (!fi.Mode().IsRegular() || fi.Size() != size)) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	return &existingFile{File: f, path: path}, nil
}

// setMeta applies m by path, after the file is closed (Windows keeps the
// times of a file open for reading only if nothing is written).
func (e *existingFile) setMeta(r *restorer, m meta) error {
	return r.applyMeta(e.path, m, fsmeta.KindFile)
}

func (e *existingFile) close() error { return e.File.Close() }

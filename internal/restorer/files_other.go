//go:build !unix

package restorer

import (
	"os"

	"github.com/lumbung-id/lumbung/internal/fsmeta"
)

// Without unix *at calls, files are handled by full path and through
// *os.File, as everywhere before the restore was made descriptor-based.

// pfile is a partial file open for writing.
type pfile struct{ f *os.File }

func (p pfile) writeAt(b []byte, off int64) error {
	_, err := p.f.WriteAt(b, off)
	return err
}

func (p pfile) truncate(size int64) error { return p.f.Truncate(size) }
func (p pfile) dense() bool               { return false }
func (p pfile) flush() error              { return nil }
func (p pfile) close() error              { return p.f.Close() }

// dirFD and dirCache keep nothing here: directories are never opened.
type dirFD struct{}

func newDirFD() dirFD { return dirFD{} }

type dirCache struct{}

func (*dirCache) init()            {}
func (*dirCache) queued(*dirRef)   {}
func (*dirCache) fileDone(*dirRef) {}
func (*dirCache) closeAll()        {}

// createPartialFile creates f's partial file afresh, empty (finishFile sets
// its size).
func (r *restorer) createPartialFile(f *fileState) (pfile, error) {
	fd, err := createPartial(f.tmpPath())
	return pfile{fd}, err
}

// openPartialFile opens f's partial file again for more writes.
func (r *restorer) openPartialFile(f *fileState) (pfile, error) {
	fd, err := openPath(f.tmpPath(), os.O_WRONLY|oNoFollow, 0)
	return pfile{fd}, err
}

// closePartialFile closes f's partial file, then applies its metadata.
func (r *restorer) closePartialFile(f *fileState, p pfile) (merr, cerr error) {
	cerr = p.close()
	return r.applyMeta(f.tmpPath(), metaOf(f.node), fsmeta.KindFile), cerr
}

// movePartialFile renames f's partial file to its real name.
func (r *restorer) movePartialFile(f *fileState) error {
	path, tmp := f.pathOf(), f.tmpPath()
	return r.replace(path, func() error { return renamePath(tmp, path) })
}

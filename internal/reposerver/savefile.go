package reposerver

import (
	"context"
	"errors"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// FileSaver is an optional interface of the storage a Store returns: it
// takes a complete file (a finished upload session, on the server's disk)
// as object h without copying its bytes. Storage without it gets the file
// read into memory and saved with Backend.Save.
//
// SaveFile must follow Save's rules: never overwrite (an error matching
// backend.ErrExists when h is stored), never expose a partial file under
// h's name. It may consume path (rename or link it away); the caller
// removes whatever is left. An error matching ErrSaveFileUnsupported means
// "copy it instead" (the file is on another filesystem, say): nothing was
// stored and the file is untouched.
type FileSaver interface {
	SaveFile(ctx context.Context, h backend.Handle, path string) error
}

// ErrSaveFileUnsupported: SaveFile cannot take this file (it is on
// another filesystem, say); save a copy. It is errors.ErrUnsupported, which
// the local backend's SaveFile returns.
var ErrSaveFileUnsupported = errors.ErrUnsupported

// fileSaverOf returns be's FileSaver, if it has one (the local backend does).
func fileSaverOf(be backend.Backend) (FileSaver, bool) {
	fs, ok := be.(FileSaver)
	return fs, ok
}

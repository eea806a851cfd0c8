// Package backend defines the storage seam of Lumbung: a dumb, immutable blob
// store. Backends know how to put named files somewhere (a local directory, a
// repository server, an S3 bucket); they never interpret what they store and
// never decide what may be deleted — that belongs to the repository package.
package backend

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// FileType is the kind of object a file holds; backends use it to place files.
type FileType uint8

// The object kinds of a repository. Their on-storage paths are fixed by
// docs/format.md ("Layout"), so changing them breaks every repository.
const (
	ConfigFile FileType = iota + 1
	KeyFile
	PackFile
	IndexFile
	SnapshotFile
	LockFile
)

func (t FileType) String() string {
	switch t {
	case ConfigFile:
		return "config"
	case KeyFile:
		return "key"
	case PackFile:
		return "data"
	case IndexFile:
		return "index"
	case SnapshotFile:
		return "snapshot"
	case LockFile:
		return "lock"
	}
	return fmt.Sprintf("filetype(%d)", uint8(t))
}

// Dir is the top-level directory that holds files of type t ("" for the config).
func (t FileType) Dir() string {
	switch t {
	case ConfigFile:
		return ""
	case KeyFile:
		return "keys"
	case PackFile:
		return "data"
	case IndexFile:
		return "index"
	case SnapshotFile:
		return "snapshots"
	case LockFile:
		return "locks"
	}
	return ""
}

// AllTypes lists every file type in a stable order.
var AllTypes = []FileType{ConfigFile, KeyFile, PackFile, IndexFile, SnapshotFile, LockFile}

// Handle names one stored file. For ConfigFile the Name is ignored.
type Handle struct {
	Type FileType
	Name string
}

func (h Handle) String() string {
	if h.Type == ConfigFile {
		return "config"
	}
	return h.Type.String() + "/" + h.Name
}

// Valid reports whether h can name a file: a known type and, except for the
// config, a non-empty name made only of lowercase hex digits. Backends must
// refuse anything else so that a hostile name can never escape the layout.
func (h Handle) Valid() error {
	if h.Type < ConfigFile || h.Type > LockFile {
		return fmt.Errorf("invalid file type %d", h.Type)
	}
	if h.Type == ConfigFile {
		return nil
	}
	if len(h.Name) == 0 || len(h.Name) > 128 {
		return fmt.Errorf("invalid name %q for %v", h.Name, h.Type)
	}
	for i := 0; i < len(h.Name); i++ {
		c := h.Name[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("invalid name %q for %v: not lowercase hex", h.Name, h.Type)
		}
	}
	return nil
}

// FileInfo describes a stored file.
type FileInfo struct {
	Name string
	Size int64
}

// Errors every backend returns for the same conditions, so callers can tell
// them apart with errors.Is whatever the storage is.
var (
	// ErrNotExist: the named file is not stored.
	ErrNotExist = fs.ErrNotExist
	// ErrExists: Save was asked to store a name that already exists. Stored
	// files are immutable; nothing is ever overwritten.
	ErrExists = fs.ErrExist
	// ErrPermission: the credential may not do this (for example an append
	// token asked to delete).
	ErrPermission = fs.ErrPermission
	// ErrNoSpace: the storage is full.
	ErrNoSpace = errors.New("no space left on storage")
)

// Backend is a blob store. Guarantees every implementation must give (and the
// conformance suite in backend/backendtest checks):
//   - Save is atomic and durable: when it returns nil, the whole file is stored
//     and survives a crash; a failed or interrupted Save leaves no file under
//     the name (at most invisible temporary data). Lock files need not be
//     durable: a crash leaves a lock without a holder either way, and readers
//     skip a lock they cannot read.
//   - Save never overwrites: if the name exists it returns an error matching
//     ErrExists and leaves the stored file unchanged.
//   - Read-after-write: a file saved is immediately visible to Load, Stat, List.
//   - Load of a missing file returns an error matching ErrNotExist.
//   - All methods honour ctx cancellation.
type Backend interface {
	// Location describes where the data lives, for messages ("local:/srv/repo").
	Location() string
	// Save stores data under h.
	Save(ctx context.Context, h Handle, data []byte) error
	// Load returns length bytes of h starting at offset; length 0 means to the
	// end. Reading past the end is an error (the file is shorter than expected).
	// The bytes are the caller's: readers decrypt in place.
	Load(ctx context.Context, h Handle, offset, length int64) ([]byte, error)
	// Stat returns the size of h.
	Stat(ctx context.Context, h Handle) (FileInfo, error)
	// List calls fn for every file of type t, in no particular order. An error
	// from fn stops the listing and is returned.
	List(ctx context.Context, t FileType, fn func(FileInfo) error) error
	// Remove deletes h. Only maintenance (with an admin credential) and lock
	// release call it.
	Remove(ctx context.Context, h Handle) error
	// Close releases resources.
	Close() error
}

// LoaderInto is implemented by backends that can read into the caller's
// buffer (local files): a reader of many ranges, such as a restore, reuses
// a few buffers instead of allocating (and having the runtime zero) one per
// Load.
type LoaderInto interface {
	// LoadInto reads length (> 0) bytes of h from offset, with Load's errors
	// (reading past the end is one), and returns them. They are read into
	// buf when its capacity is at least length+LoadIntoSlack, into a new
	// buffer otherwise, and may start anywhere in buf: a backend that reads
	// around the page cache reads whole aligned blocks into aligned memory.
	// The caller keeps buf for its next call once it is done with the bytes.
	LoadInto(ctx context.Context, h Handle, offset, length int64, buf []byte) ([]byte, error)
}

// ReadAheader is implemented by backends that can fetch a file ahead of the
// reads that will follow (local files: into the page cache). A reader of
// many small pieces of one file, such as the trees in a pack, asks once.
// It is a hint: it may do nothing, and reports no error.
type ReadAheader interface {
	ReadAhead(ctx context.Context, h Handle)
}

// LoadIntoSlack is the room a LoadInto buffer needs beyond the length read:
// a block for the alignment of memory, one for the start and one for the end.
const LoadIntoSlack = 3 << 12

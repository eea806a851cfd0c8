// Package fsmeta reads and applies file metadata (kind, permission bits,
// owner, times, inode identity, link count) for the archiver and restorer.
//
// It is the only place in Lumbung with OS-specific file metadata code: the
// OS-independent API is in this file, and each platform's half lives in a
// small per-OS file (*_unix.go, *_windows.go, and so on), so that the
// archiver and restorer stay free of build tags and syscall types.
//
// Rules this package keeps, and callers may rely on:
//   - It never follows a symlink in the final path component, neither when
//     reading (Lstat, OpenNoFollow) nor when applying metadata (Chown, Chmod,
//     SetTimes, and on unix SetTimesAt; ChownFD and ChmodFD work on an open
//     descriptor and resolve no path at all): a restore or backup must not
//     be redirected to a symlink's target by a link swapped in behind its
//     back.
//   - It never changes file contents, creates, renames or deletes files;
//     it only reads metadata and applies the metadata it is given.
//   - It never blocks opening a FIFO or device that replaced a regular file.
//   - It never decides policy (what to skip, whether to warn): that is the
//     caller's job. Unsupported operations (owners on Windows) are no-ops.
package fsmeta

import (
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"
)

// ErrNotRegular is returned by OpenNoFollow for anything but a regular file
// (a FIFO, device or directory swapped in after the caller's stat).
var ErrNotRegular = errors.New("not a regular file")

// Kind is the type of a file system entry.
type Kind uint8

const (
	KindFile    Kind = iota // regular file
	KindDir                 // directory
	KindSymlink             // symbolic link
	KindSpecial             // device, FIFO, socket or other irregular file; the archiver skips these with a warning
)

func (k Kind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	case KindSymlink:
		return "symlink"
	case KindSpecial:
		return "special"
	}
	return "unknown"
}

// KindOf classifies a fs.FileMode.
func KindOf(mode fs.FileMode) Kind {
	t := mode.Type()
	switch {
	case t&fs.ModeSymlink != 0:
		return KindSymlink
	case t&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeDevice|fs.ModeCharDevice|fs.ModeIrregular) != 0:
		// Checked before ModeDir: Windows reports junctions and other
		// non-symlink reparse points as irregular, possibly with ModeDir.
		return KindSpecial
	case t&fs.ModeDir != 0:
		return KindDir
	case t == 0:
		return KindFile
	}
	return KindSpecial
}

// Unix mode bits beyond the permissions, as stored in Meta.Mode.
const (
	ModeSetuid uint32 = 0o4000
	ModeSetgid uint32 = 0o2000
	ModeSticky uint32 = 0o1000
	ModeMask   uint32 = 0o7777
)

// Meta is the metadata of one file system entry.
type Meta struct {
	Kind Kind
	// Mode holds the permission bits plus setuid, setgid and sticky, as
	// unix bits (masked with ModeMask). On Windows it is derived from the
	// read-only attribute as os.Lstat reports it (0o666 or 0o444 for files).
	Mode uint32
	// UID and GID are the numeric owner ids (0 on Windows).
	UID, GID uint32
	// User and Group are the names of UID and GID, from a cached lookup;
	// empty when unknown (and always on Windows).
	User, Group string
	// Size is the length in bytes (for a symlink, the length of its target).
	Size int64
	// ModTime is the content modification time. ChangeTime is the inode
	// change time on unix; on Windows, where there is no such thing, it is
	// ModTime. AccessTime is the last access time.
	ModTime, ChangeTime, AccessTime time.Time
	// Inode and Device identify the file (see SameFile). On Windows they are
	// the file index and volume serial number, filled only by Lstat.
	Inode, Device uint64
	// Links is the hard link count (on Windows filled only by Lstat).
	Links uint64
}

// ContentChanged reports whether a file's content may differ between two
// looks at its metadata: its size, modification time or change time moved.
// (The change time also moves with owner or mode changes; a reader asking
// "did it change while I read it" prefers a false alarm to a missed one.)
func ContentChanged(before, after Meta) bool {
	return before.Size != after.Size || !before.ModTime.Equal(after.ModTime) || !before.ChangeTime.Equal(after.ChangeTime)
}

// SameFile reports whether a and b describe the same file, by device and
// inode. It is false when the inode is unknown (zero), as it is on Windows
// for metadata from FromFileInfo.
func SameFile(a, b Meta) bool {
	return a.Inode != 0 && a.Inode == b.Inode && a.Device == b.Device
}

// Lstat reads the metadata of path without following a final symlink.
func Lstat(path string) (Meta, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return Meta{}, err
	}
	m := FromFileInfo(fi)
	lstatExtra(path, &m)
	return m, nil
}

// FromFileInfo converts an fs.FileInfo from os.Lstat, os.File.Stat or
// os.ReadDir entries' Info, using its Sys() value, so that the archiver
// stats each file once. For a FileInfo without a platform Sys() value, only
// the fields that fs.FileInfo itself carries are set (times default to
// ModTime and the owner to zero with no names).
func FromFileInfo(fi fs.FileInfo) Meta {
	mode := fi.Mode()
	m := Meta{
		Kind:       KindOf(mode),
		Mode:       modeBits(mode),
		Size:       fi.Size(),
		ModTime:    fi.ModTime(),
		ChangeTime: fi.ModTime(),
		AccessTime: fi.ModTime(),
	}
	fromSys(fi.Sys(), &m)
	return m
}

// modeBits converts Go's permission and special bits to unix bits.
func modeBits(mode fs.FileMode) uint32 {
	m := uint32(mode.Perm())
	if mode&fs.ModeSetuid != 0 {
		m |= ModeSetuid
	}
	if mode&fs.ModeSetgid != 0 {
		m |= ModeSetgid
	}
	if mode&fs.ModeSticky != 0 {
		m |= ModeSticky
	}
	return m
}

// Names resolves owner ids to names and back, caching every answer
// (including failures), because os/user lookups are slow: without cgo each
// one reads /etc/passwd or /etc/group. It is safe for concurrent use.
type Names struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
	uids   map[string]idAnswer
	gids   map[string]idAnswer
}

type idAnswer struct {
	id uint32
	ok bool
}

// NewNames returns an empty cache.
func NewNames() *Names {
	return &Names{
		users:  make(map[uint32]string),
		groups: make(map[uint32]string),
		uids:   make(map[string]idAnswer),
		gids:   make(map[string]idAnswer),
	}
}

// defaultNames serves FromFileInfo and Chown.
var defaultNames = NewNames()

// User returns the name of uid, or "" if it has none.
func (n *Names) User(uid uint32) string {
	return cachedName(&n.mu, n.users, uid, lookupUserName)
}

// Group returns the name of gid, or "" if it has none.
func (n *Names) Group(gid uint32) string {
	return cachedName(&n.mu, n.groups, gid, lookupGroupName)
}

// UID returns the local id of the user called name.
func (n *Names) UID(name string) (uint32, bool) {
	return cachedID(&n.mu, n.uids, name, lookupUID)
}

// GID returns the local id of the group called name.
func (n *Names) GID(name string) (uint32, bool) {
	return cachedID(&n.mu, n.gids, name, lookupGID)
}

// The lookups run without the lock, so one slow lookup does not stall
// other goroutines; two goroutines may look up the same id at once, which
// is harmless.
func cachedName(mu *sync.Mutex, m map[uint32]string, id uint32, lookup func(uint32) string) string {
	mu.Lock()
	name, ok := m[id]
	mu.Unlock()
	if ok {
		return name
	}
	name = lookup(id)
	mu.Lock()
	m[id] = name
	mu.Unlock()
	return name
}

func cachedID(mu *sync.Mutex, m map[string]idAnswer, name string, lookup func(string) (uint32, bool)) (uint32, bool) {
	if name == "" {
		return 0, false
	}
	mu.Lock()
	a, ok := m[name]
	mu.Unlock()
	if ok {
		return a.id, a.ok
	}
	a.id, a.ok = lookup(name)
	mu.Lock()
	m[name] = a
	mu.Unlock()
	return a.id, a.ok
}

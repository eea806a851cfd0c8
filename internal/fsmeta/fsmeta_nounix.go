//go:build !unix

package fsmeta

import (
	"io/fs"
	"os"
	"time"
)

// Owners are not unix ids here: names are never resolved.
func lookupUserName(uint32) string    { return "" }
func lookupGroupName(uint32) string   { return "" }
func lookupUID(string) (uint32, bool) { return 0, false }
func lookupGID(string) (uint32, bool) { return 0, false }

// IsRoot reports whether the process may chown; never on this system.
func IsRoot() bool { return false }

// Chown does nothing on this system: owners are not unix ids.
func Chown(path string, uid, gid uint32, user, group string, preferNames bool) error {
	return nil
}

// Chmod sets path's permissions as os.Chmod does (on Windows: the
// read-only attribute from the owner write bit). It does nothing for a
// symlink.
func Chmod(path string, mode uint32) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	return os.Chmod(path, fs.FileMode(mode&0o777))
}

// SetTimes sets the access and modification times of path. A zero time
// leaves that time unchanged. Symlinks are skipped (returns nil): their
// times cannot be set here without following them.
func SetTimes(path string, atime, mtime time.Time, isSymlink bool) error {
	if isSymlink {
		return nil
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	return os.Chtimes(path, atime, mtime)
}

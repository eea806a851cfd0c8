//go:build unix

package fsmeta

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func fromSys(sys any, m *Meta) {
	st, ok := sys.(*syscall.Stat_t)
	if !ok || st == nil {
		return
	}
	m.Mode = uint32(st.Mode) & ModeMask
	m.UID, m.GID = st.Uid, st.Gid
	m.User = defaultNames.User(st.Uid)
	m.Group = defaultNames.Group(st.Gid)
	m.Inode = uint64(st.Ino)
	m.Device = uint64(st.Dev)
	m.Links = uint64(st.Nlink)
	m.AccessTime, m.ModTime, m.ChangeTime = statTimes(st)
}

func timespec(sec, nsec int64) time.Time { return time.Unix(sec, nsec) }

// lstatExtra has nothing to add on unix: Stat_t carries everything.
func lstatExtra(string, *Meta) {}

func lookupUserName(uid uint32) string {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return ""
	}
	return u.Username
}

func lookupGroupName(gid uint32) string {
	g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10))
	if err != nil {
		return ""
	}
	return g.Name
}

func lookupUID(name string) (uint32, bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return 0, false
	}
	id, err := strconv.ParseUint(u.Uid, 10, 32)
	return uint32(id), err == nil
}

func lookupGID(name string) (uint32, bool) {
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, false
	}
	id, err := strconv.ParseUint(g.Gid, 10, 32)
	return uint32(id), err == nil
}

// IsRoot reports whether the process may give files away with Chown
// (effective uid 0).
func IsRoot() bool { return os.Geteuid() == 0 }

// Chown sets the owner of path without following a final symlink (lchown).
// When preferNames is true, a non-empty user or group name that exists on
// this system wins over the stored numeric id; unknown names fall back to
// uid and gid. Only root may give files to other users.
func Chown(path string, uid, gid uint32, user, group string, preferNames bool) error {
	uid, gid = OwnerIDs(uid, gid, user, group, preferNames)
	if err := unix.Lchown(path, int(uid), int(gid)); err != nil {
		return &fs.PathError{Op: "lchown", Path: path, Err: err}
	}
	return nil
}

// Chmod sets the mode bits (mode & 0o7777, including setuid, setgid and
// sticky) of path. It is not for symlinks: if path is a symlink it does
// nothing, since following it would change the target.
func Chmod(path string, mode uint32) error {
	mode &= ModeMask
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	// AT_SYMLINK_NOFOLLOW closes the race with a symlink swapped in after
	// the Lstat where the kernel supports it (BSDs, macOS, Linux >= 6.6
	// with fchmodat2); elsewhere fall back to a plain chmod.
	err = unix.Fchmodat(unix.AT_FDCWD, path, mode, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOSYS) {
		err = unix.Fchmodat(unix.AT_FDCWD, path, mode, 0)
	}
	if err != nil {
		return &fs.PathError{Op: "chmod", Path: path, Err: err}
	}
	return nil
}

// SetTimes sets the access and modification times of path with nanosecond
// precision, never following a final symlink (utimensat with
// AT_SYMLINK_NOFOLLOW), so a symlink's own times are set without touching
// its target. A zero time leaves that time unchanged. If the system cannot
// set a symlink's times, SetTimes on a symlink returns nil.
func SetTimes(path string, atime, mtime time.Time, isSymlink bool) error {
	err := SetTimesAt(unix.AT_FDCWD, path, path, atime, mtime)
	if err != nil && isSymlink && (errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.ENOSYS)) {
		return nil
	}
	return err
}

// The *FD functions apply metadata through an open file descriptor, so no
// path is resolved and nothing can be redirected by a symlink swapped in
// along the way. path is only used in errors.

// OwnerIDs are the ids Chown and ChownFD give a file recorded with these
// ids and names: with preferNames, the ids this system has for the names
// where it knows them.
func OwnerIDs(uid, gid uint32, user, group string, preferNames bool) (uint32, uint32) {
	if preferNames {
		if id, ok := defaultNames.UID(user); ok {
			uid = id
		}
		if id, ok := defaultNames.GID(group); ok {
			gid = id
		}
	}
	return uid, gid
}

// ChownFD is Chown of the file open as fd (fchown), with the same rules for
// names and ids.
func ChownFD(fd int, path string, uid, gid uint32, user, group string, preferNames bool) error {
	uid, gid = OwnerIDs(uid, gid, user, group, preferNames)
	if err := ignoringEINTR(func() error { return unix.Fchown(fd, int(uid), int(gid)) }); err != nil {
		return &fs.PathError{Op: "fchown", Path: path, Err: err}
	}
	return nil
}

// ChmodFD sets the mode bits (mode & 0o7777, including setuid, setgid and
// sticky) of the file open as fd (fchmod).
func ChmodFD(fd int, path string, mode uint32) error {
	if err := ignoringEINTR(func() error { return unix.Fchmod(fd, mode&ModeMask) }); err != nil {
		return &fs.PathError{Op: "fchmod", Path: path, Err: err}
	}
	return nil
}

// SetTimesAt sets the access and modification times of the entry name in
// the directory open as dirfd (unix.AT_FDCWD: name is a path), with
// nanosecond precision and never following a symlink (utimensat with
// AT_SYMLINK_NOFOLLOW). A zero time leaves that time unchanged (read back
// through path). path is the entry's full path, also used in errors.
func SetTimesAt(dirfd int, name, path string, atime, mtime time.Time) error {
	if atime.IsZero() && mtime.IsZero() {
		return nil
	}
	if atime.IsZero() || mtime.IsZero() {
		// Rare (snapshots record both): read the current times by path.
		cur, err := Lstat(path)
		if err != nil {
			return err
		}
		if atime.IsZero() {
			atime = cur.AccessTime
		}
		if mtime.IsZero() {
			mtime = cur.ModTime
		}
	}
	var ts [2]unix.Timespec
	for i, t := range [2]time.Time{atime, mtime} {
		var err error
		if ts[i], err = unix.TimeToTimespec(t); err != nil {
			return &fs.PathError{Op: "utimensat", Path: path, Err: err}
		}
	}
	err := ignoringEINTR(func() error { return unix.UtimesNanoAt(dirfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW) })
	if err != nil {
		return &fs.PathError{Op: "utimensat", Path: path, Err: err}
	}
	return nil
}

// ignoringEINTR retries fn while it is interrupted by a signal (the Go
// runtime's preemption signals interrupt slow file systems such as NFS and
// FUSE).
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

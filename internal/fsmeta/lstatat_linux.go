package fsmeta

import (
	"os"

	"golang.org/x/sys/unix"
)

// LstatAt is Lstat of the entry name in the open directory dir; path is the
// same entry's full path, used in errors. Resolving one component instead
// of the whole path matters when a backup stats every file of a large tree.
func LstatAt(dir *os.File, name, path string) (Meta, error) {
	var st unix.Stat_t
	for {
		err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return Meta{}, &os.PathError{Op: "lstat", Path: path, Err: err}
		}
		break
	}
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
	return m, nil
}

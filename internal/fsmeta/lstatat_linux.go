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
	return metaFromStat(&st), nil
}

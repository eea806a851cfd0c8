package fsmeta

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// What mode a new file gets. open(2) gives a new file the mode asked for
// less the process's umask, unless its directory has a default ACL, which
// then decides instead. Where neither can change the mode asked for, a
// restore can create a file with its final mode and skip the fchmod.

// Umask returns the process's file mode creation mask, read from
// /proc/self/status (Linux 4.7 and later) rather than with umask(2), which
// can only read it by changing it. ok is false if it cannot be read.
func Umask() (mask uint32, ok bool) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, found := strings.CutPrefix(sc.Text(), "Umask:"); found {
			m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32)
			return uint32(m), err == nil
		}
	}
	return 0, false
}

// MayHaveDefaultACL reports whether the directory at path has, or may have,
// a default ACL (system.posix_acl_default), which gives the files created
// in it their mode bits. It is false only when the directory certainly has
// none: no such attribute, or a file system without ACLs.
func MayHaveDefaultACL(path string) bool {
	_, err := unix.Lgetxattr(path, "system.posix_acl_default", nil)
	switch err {
	case unix.ENODATA, unix.EOPNOTSUPP:
		return false
	}
	return true
}

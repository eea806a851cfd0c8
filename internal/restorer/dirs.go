package restorer

import "github.com/lumbung-id/lumbung/internal/fsmeta"

// dirRef is a directory that files are restored into: the target, or one
// that ensureDir created or entered. On unix, files are created, written,
// given their metadata and renamed relative to an open descriptor of the
// directory (see dirCache), so their long paths are not resolved again and
// again, and a symlink swapped into the path during the restore cannot
// redirect them: the descriptor is opened without following a final
// symlink and checked to be the very directory (device and inode) that
// ensureDir found.
type dirRef struct {
	path string
	snap string // as the snapshot shows it; "" for the root
	// dev and ino identify the directory as ensureDir (or, for the target,
	// Stat) found it; ino 0 means unknown.
	dev, ino uint64
	// follow allows a final symlink: only for the target itself, which the
	// user chose.
	follow bool
	// setgid and gid are the directory's setgid bit and group as found:
	// files created in a setgid directory take its group.
	setgid bool
	gid    uint32
	// defaultACL says the directory has, or may have, a default ACL, which
	// decides the mode of new files in it (see finalModeAtCreate).
	defaultACL bool
	fd         dirFD // guarded by the dirCache's mutex
}

func newDirRef(path, snap string, m fsmeta.Meta, follow bool) *dirRef {
	return &dirRef{path: path, snap: snap, dev: m.Device, ino: m.Inode, follow: follow,
		setgid: m.Mode&fsmeta.ModeSetgid != 0, gid: m.GID, defaultACL: true, fd: newDirFD()}
}

// newDirRef is newDirRef for a directory files are restored into, with
// whether it may have a default ACL (looked up only where new files could
// otherwise be created with their final mode).
func (r *restorer) newDirRef(path, snap string, m fsmeta.Meta, follow bool) *dirRef {
	d := newDirRef(path, snap, m, follow)
	if r.umaskOK {
		d.defaultACL = fsmeta.MayHaveDefaultACL(path)
	}
	return d
}

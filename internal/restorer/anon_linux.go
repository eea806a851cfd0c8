package restorer

import (
	"io/fs"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"golang.org/x/sys/unix"
)

// Files written in one go (a single blob, the usual small file) are
// created without a name (O_TMPFILE) in their directory, written, given
// their metadata, and only then linked under their real name (linkat):
// one directory entry instead of a partial name plus a rename, which is
// most of what restoring a small file costs the kernel. The guarantee is
// the same: no name shows a file that is not whole, and an interrupted
// restore leaves nothing of such a file behind (an unnamed file disappears
// when closed). A file that failed is linked under its partial name.
//
// Naming an unnamed file needs linkat with AT_EMPTY_PATH (root, or Linux
// 6.10 and later) or through /proc/self/fd. Which one works is probed once,
// on a file of the restore's own, before any content is written unnamed;
// where neither does, or the file system has no O_TMPFILE, files are
// created under their partial name as everywhere else.
type anonFiles struct {
	probe sync.Once
	how   atomic.Int32 // anonOff, anonEmptyPath or anonProc
}

const (
	anonOff = iota
	anonEmptyPath
	anonProc
)

// create makes an unnamed file in the directory open as dfd, or returns
// ok false where unnamed files are not used (the caller then creates a
// named partial file). probeName is a name of the caller's that nothing in
// the snapshot uses, for the probe.
func (a *anonFiles) create(dfd int, probeName string, perm uint32) (fd int, ok bool) {
	if dfd == unix.AT_FDCWD {
		return -1, false
	}
	a.probe.Do(func() { a.how.Store(probeAnon(dfd, probeName)) })
	if a.how.Load() == anonOff {
		return -1, false
	}
	fd, err := openat(dfd, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, perm)
	if err != nil {
		// This directory's file system has no O_TMPFILE (another mount
		// below the target): a named partial file here.
		return -1, false
	}
	return fd, true
}

// link names the unnamed file fd name in the directory open as dfd; it
// fails with EEXIST if name is taken, never replacing anything.
func (a *anonFiles) link(fd, dfd int, name string) error {
	return linkAnon(int(a.how.Load()), fd, dfd, name)
}

func linkAnon(how, fd, dfd int, name string) error {
	return ignoringEINTR(func() error {
		if how == anonEmptyPath {
			return unix.Linkat(fd, "", dfd, name, unix.AT_EMPTY_PATH)
		}
		return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), dfd, name, unix.AT_SYMLINK_FOLLOW)
	})
}

// probeAnon finds how this process can name an unnamed file in the
// directory open as dfd: it makes one, links it as name and removes it.
func probeAnon(dfd int, name string) int32 {
	fd, err := openat(dfd, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return anonOff
	}
	defer unix.Close(fd)
	for _, how := range []int{anonEmptyPath, anonProc} {
		if linkAnon(how, fd, dfd, name) == nil {
			if ignoringEINTR(func() error { return unix.Unlinkat(dfd, name, 0) }) != nil {
				return anonOff // cannot clean up after itself here: stay with named files
			}
			return int32(how)
		}
	}
	return anonOff
}

// createAnonFile makes f's file unnamed, if it can (see anonFiles); ok is
// false when f is to be created under its partial name instead. The file
// is created with its final mode bits where the kernel gives it exactly
// those (see finalModeAtCreate), and f.modeSet says so. Until it is named
// nobody can open it, so its mode bits open nothing early.
func (r *restorer) createAnonFile(f *fileState) (p pfile, ok bool, err error) {
	dfd, err := r.dirFDs.acquire(f.dir)
	if err != nil {
		return pfile{}, false, err
	}
	defer r.dirFDs.release(f.dir)
	perm, final := r.finalModeAtCreate(f)
	if !final {
		perm = 0o600
	}
	fd, ok := r.anon.create(dfd, f.tmpName+".probe", perm)
	if !ok {
		return pfile{}, false, nil
	}
	f.modeSet = final
	return r.pfileOf(fd, f), true, nil
}

// finalModeAtCreate returns f's final mode bits and whether creating the
// file with them gives it exactly those: no setuid, setgid or sticky bit
// (chown may clear them, and they are set last), no extended attributes
// (an ACL among them sets the mode too), nothing the umask takes away, and
// no default ACL on the directory (which would decide the mode instead).
func (r *restorer) finalModeAtCreate(f *fileState) (uint32, bool) {
	mode := r.modeOf(metaOf(f.node), fsmeta.KindFile)
	ok := r.umaskOK && !f.dir.defaultACL && mode&^0o777 == 0 && mode&r.umask == 0 && len(f.node.Xattrs) == 0
	return mode, ok
}

// nameAnonFile links f's unnamed file: under its real name when it was
// restored whole (done: nothing is left to rename), else, or when the real
// name is taken, under its partial name (which an interrupted restore may
// have left: it is replaced).
func (r *restorer) nameAnonFile(f *fileState, p pfile) (done bool, err error) {
	dfd, err := r.dirFDs.acquire(f.dir)
	if err != nil {
		return false, err
	}
	defer r.dirFDs.release(f.dir)
	name, tmp := f.at(dfd) // full paths if no descriptor of the directory can be had now
	if f.err == nil && r.anon.link(p.fd, dfd, name) == nil {
		return true, nil
	}
	err = r.anon.link(p.fd, dfd, tmp)
	if err == unix.EEXIST {
		if rerr := ignoringEINTR(func() error { return unix.Unlinkat(dfd, tmp, 0) }); rerr == nil {
			err = r.anon.link(p.fd, dfd, tmp)
		}
	}
	if err != nil {
		return false, &fs.PathError{Op: "link", Path: f.tmpPath(), Err: err}
	}
	return false, nil
}

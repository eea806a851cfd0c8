//go:build unix

package restorer

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"golang.org/x/sys/unix"
)

// On unix every file is created, written, given its metadata and renamed
// relative to an open descriptor of its directory, with raw descriptors:
// one name is resolved per call instead of a long path, and no *os.File is
// made for a partial file (that would try to register it with the
// runtime's poller, a handful of fcntl and epoll calls per file for
// nothing). Metadata goes through the open file (fchown, fchmod, and on
// Linux futimens) before it is closed; times, which writes would change,
// are set last. Each call saved counts: a restore of many small files is
// made of little else, and on a virtual machine every system call costs
// microseconds.

// maxDirFDs bounds the directory descriptors kept open (fewer if the
// process may open few files); beyond it the least recently used idle one
// is closed, and when none is idle files are handled by full path.
const maxDirFDs = 256

// pfile is a partial file open for writing: fd, and for a large file on
// Linux dfd, a second descriptor with O_DIRECT, set when dio is (see
// directIO).
type pfile struct {
	fd, dfd int
	dio     *directIO
	edges   *edgeSet // the file is preallocated (see directIO.prealloc)
}

func (p pfile) writeAt(b []byte, off int64) error {
	if p.edges != nil {
		return p.writeAssembled(b, off)
	}
	if p.dio != nil {
		lo, hi := p.dio.write(p.dfd, b, off)
		if hi > lo {
			if err := p.pwrite(b[:lo], off); err != nil {
				return err
			}
			b, off = b[hi:], off+int64(hi)
		}
	}
	return p.pwrite(b, off)
}

func (p pfile) pwrite(b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pwrite(p.fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return io.ErrShortWrite
		}
		b = b[n:]
		off += int64(n)
	}
	return nil
}

func (p pfile) truncate(size int64) error {
	return ignoringEINTR(func() error { return unix.Ftruncate(p.fd, size) })
}

// close is not retried on EINTR: the descriptor is released either way.
func (p pfile) close() error {
	if p.dio != nil {
		unix.Close(p.dfd) // every write through it has returned: nothing is pending
	}
	return unix.Close(p.fd)
}

// dirFD is the descriptor state of a dirRef, guarded by dirCache.mu.
type dirFD struct {
	fd      int
	idx     int  // position in dirCache.open
	open    bool // fd is open
	opening bool // being opened by an acquire that dropped the lock
	byPath  bool // cannot be opened (no permission): use full paths
	users   int  // operations using fd now
	pending int  // queued files of the directory not finished yet
	lastUse uint64
	err     error // the directory is gone or was replaced: nothing more is restored into it
}

func newDirFD() dirFD { return dirFD{fd: -1} }

// dirCache shares one descriptor per directory between the files being
// restored into it. A descriptor is opened when the first of them needs it
// and closed once no queued file of the directory is left unfinished (or
// when it must make room, or at the end of the batch).
type dirCache struct {
	mu   sync.Mutex
	cond sync.Cond
	open []*dirRef // directories with an open descriptor
	n    int       // descriptors open or being opened
	max  int
	tick uint64
}

func (c *dirCache) init() {
	c.cond.L = &c.mu
	c.max = maxDirFDs
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
		if cur := uint64(rl.Cur) / 4; cur < uint64(c.max) {
			c.max = int(max(cur, 4))
		}
	}
}

// queued counts a file of d queued for restore; fileDone, once it is
// finished.
func (c *dirCache) queued(d *dirRef) {
	c.mu.Lock()
	d.fd.pending++
	c.mu.Unlock()
}

func (c *dirCache) fileDone(d *dirRef) {
	c.mu.Lock()
	d.fd.pending--
	c.maybeClose(d)
	c.mu.Unlock()
}

// errReplaced marks a directory that is no longer the one ensureDir
// created or entered.
var errReplaced = errors.New("the directory was replaced during the restore (a symlink or another directory swapped in?); nothing is written through it")

// acquire returns a descriptor of d for one operation, to be handed back
// with release; unix.AT_FDCWD means none could be had and entries are to be
// named by full path.
func (c *dirCache) acquire(d *dirRef) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for d.fd.opening {
		c.cond.Wait()
	}
	c.tick++
	d.fd.lastUse = c.tick
	switch {
	case d.fd.err != nil:
		return -1, d.fd.err
	case d.fd.open:
		d.fd.users++
		return d.fd.fd, nil
	case d.fd.byPath || (c.n >= c.max && !c.evict()):
		d.fd.users++
		return unix.AT_FDCWD, nil
	}
	d.fd.opening = true
	c.n++
	c.mu.Unlock()
	fd, err := openDir(d)
	c.mu.Lock()
	d.fd.opening = false
	c.cond.Broadcast()
	if err != nil {
		c.n--
		switch {
		case errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE):
			d.fd.users++
			return unix.AT_FDCWD, nil
		case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EBADF):
			// No permission to open it (only where O_PATH is missing), or
			// a kernel that cannot fstat an O_PATH descriptor (before
			// Linux 3.6): handle its files by path.
			d.fd.byPath = true
			d.fd.users++
			return unix.AT_FDCWD, nil
		case errors.Is(err, errReplaced) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
			err = fmt.Errorf("%w: %s: %w", ErrUnsafePath, d.path, errReplaced)
		default:
			err = &fs.PathError{Op: "open directory", Path: d.path, Err: err}
		}
		d.fd.err = err
		return -1, err
	}
	d.fd.fd, d.fd.open, d.fd.idx = fd, true, len(c.open)
	d.fd.users++
	c.open = append(c.open, d)
	return fd, nil
}

func (c *dirCache) release(d *dirRef) {
	c.mu.Lock()
	d.fd.users--
	c.maybeClose(d)
	c.mu.Unlock()
}

func (c *dirCache) maybeClose(d *dirRef) {
	if d.fd.open && d.fd.users == 0 && d.fd.pending <= 0 {
		c.closeFD(d)
	}
}

func (c *dirCache) closeFD(d *dirRef) {
	unix.Close(d.fd.fd)
	last := c.open[len(c.open)-1]
	c.open[d.fd.idx] = last
	last.fd.idx = d.fd.idx
	c.open[len(c.open)-1] = nil
	c.open = c.open[:len(c.open)-1]
	d.fd.fd, d.fd.open = -1, false
	c.n--
}

// evict closes the least recently used descriptor that no operation is
// using; it reports false if there is none.
func (c *dirCache) evict() bool {
	var victim *dirRef
	for _, d := range c.open {
		if d.fd.users == 0 && (victim == nil || d.fd.lastUse < victim.fd.lastUse) {
			victim = d
		}
	}
	if victim == nil {
		return false
	}
	c.closeFD(victim)
	return true
}

// closeAll closes every descriptor, at the end of a batch (after an
// interrupted one, some files never finish).
func (c *dirCache) closeAll() {
	c.mu.Lock()
	for len(c.open) > 0 {
		d := c.open[len(c.open)-1]
		d.fd.pending = 0
		c.closeFD(d)
	}
	c.mu.Unlock()
}

// openDir opens d, never following a final symlink (but for the target),
// and checks it is still the directory ensureDir found.
func openDir(d *dirRef) (int, error) {
	flags := oDirOpen | unix.O_DIRECTORY | unix.O_CLOEXEC
	if !d.follow {
		flags |= unix.O_NOFOLLOW
	}
	var fd int
	err := onPath(d.path, func(p string) error {
		return ignoringEINTR(func() (err error) {
			fd, err = unix.Open(p, flags, 0)
			return err
		})
	})
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if uint32(st.Mode)&unix.S_IFMT != unix.S_IFDIR || d.ino != 0 && (uint64(st.Ino) != d.ino || uint64(st.Dev) != d.dev) {
		unix.Close(fd)
		return -1, errReplaced
	}
	return fd, nil
}

// at returns the names of f and of its partial file relative to the
// descriptor dfd from acquire: plain names, or full paths for AT_FDCWD.
func (f *fileState) at(dfd int) (name, tmp string) {
	if dfd == unix.AT_FDCWD {
		return f.pathOf(), f.tmpPath()
	}
	return f.name, f.tmpName
}

// createPartialFile creates f's partial file afresh (O_EXCL, never through
// a symlink), removing one left by an interrupted restore. It is created
// empty: finishFile sets the size if the writes do not reach it.
func (r *restorer) createPartialFile(f *fileState) (pfile, error) {
	dfd, err := r.dirFDs.acquire(f.dir)
	if err != nil {
		return pfile{}, err
	}
	defer r.dirFDs.release(f.dir)
	_, tmp := f.at(dfd)
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := openat(dfd, tmp, flags, 0o600)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if unix.Fstatat(dfd, tmp, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && uint32(st.Mode)&unix.S_IFMT == unix.S_IFDIR {
			return pfile{}, fmt.Errorf("a directory is in the way: %w", &fs.PathError{Op: "open", Path: f.tmpPath(), Err: err})
		}
		if rerr := ignoringEINTR(func() error { return unix.Unlinkat(dfd, tmp, 0) }); rerr != nil && rerr != unix.ENOENT {
			return pfile{}, &fs.PathError{Op: "remove", Path: f.tmpPath(), Err: rerr}
		}
		fd, err = openat(dfd, tmp, flags, 0o600)
	}
	if err != nil {
		return pfile{}, &fs.PathError{Op: "open", Path: f.tmpPath(), Err: err}
	}
	if !f.repeats {
		if f.edges = r.direct.prealloc(fd, f.size); f.edges != nil {
			f.allocated = alignUp(f.size)
		}
	}
	return r.pfileOf(fd, f), nil
}

// pfileOf wraps a partial file's descriptor, with a direct one if f is
// large enough for it.
func (r *restorer) pfileOf(fd int, f *fileState) pfile {
	if dfd := r.direct.open(fd, f.size); dfd >= 0 {
		return pfile{fd: fd, dfd: dfd, dio: r.direct, edges: f.edges}
	}
	return pfile{fd: fd}
}

// dense reports whether writes to p go in whole (preallocated file),
// zeroes included: no holes are left for runs of zeroes.
func (p pfile) dense() bool { return p.edges != nil }

// flush writes what p holds back (see flushEdges).
func (p pfile) flush() error {
	if p.edges == nil {
		return nil
	}
	return p.flushEdges()
}

// openPartialFile opens f's partial file again for more writes. It never
// follows a symlink, nor blocks on a FIFO standing in its place.
func (r *restorer) openPartialFile(f *fileState) (pfile, error) {
	dfd, err := r.dirFDs.acquire(f.dir)
	if err != nil {
		return pfile{}, err
	}
	defer r.dirFDs.release(f.dir)
	_, tmp := f.at(dfd)
	fd, err := openat(dfd, tmp, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return pfile{}, &fs.PathError{Op: "open", Path: f.tmpPath(), Err: err}
	}
	return r.pfileOf(fd, f), nil
}

// closePartialFile applies f's metadata to its open partial file (see
// setFileMeta) and closes it; an unnamed file is named first (see
// nameAnonFile). merr says which metadata could not be applied, cerr that
// naming or closing failed.
func (r *restorer) closePartialFile(f *fileState, p pfile) (merr, cerr error) {
	have := created
	if f.modeSet {
		have = createdWithMode
	}
	merr = r.setFileMeta(p.fd, f.dir, f.tmpName, metaOf(f.node), have)
	if f.anon {
		var err error
		if f.named, err = r.nameAnonFile(f, p); err != nil {
			p.close()
			return merr, err
		}
	}
	return merr, p.close()
}

// newFile says what a file has from its creation, so setFileMeta need not
// set it again.
type newFile uint8

const (
	keptFile        newFile = iota // already there and kept (Options.SkipIdentical)
	created                        // created by this restore: owned by the restoring user (see ownedAsNew)
	createdWithMode                // created with its final mode bits, too (see finalModeAtCreate)
)

// setFileMeta applies m to the open file fd, called name in dir, through
// the descriptor: owner first (as root; chown clears setuid and setgid),
// extended attributes, mode bits, then times (by name on systems that
// cannot set them through a descriptor); have says what the file has
// already.
func (r *restorer) setFileMeta(fd int, dir *dirRef, name string, m meta, have newFile) error {
	path := filepath.Join(dir.path, name)
	var errs []error
	if r.root {
		uid, gid := fsmeta.OwnerIDs(m.uid, m.gid, m.user, m.group, true)
		if have == keptFile || !r.ownedAsNew(dir, uid, gid) {
			if err := fsmeta.ChownFD(fd, path, uid, gid, "", "", false); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := r.setXattrs(m, func(xs []fsmeta.Xattr) error { return fsmeta.SetXattrsFD(fd, path, xs, r.root) }); err != nil {
		errs = append(errs, err)
	}
	if have != createdWithMode {
		if err := fsmeta.ChmodFD(fd, path, r.modeOf(m, fsmeta.KindFile)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := r.setFileTimes(fd, dir, name, path, m); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// setFileTimes sets m's times on the file open as fd, called name in dir:
// through the descriptor where the system can, else by name.
func (r *restorer) setFileTimes(fd int, dir *dirRef, name, path string, m meta) error {
	if fsmeta.CanSetTimesFD {
		return fsmeta.SetTimesFD(fd, path, r.atimeOf(m), m.mtime)
	}
	dfd, err := r.dirFDs.acquire(dir)
	if err != nil {
		return err
	}
	defer r.dirFDs.release(dir)
	at := name
	if dfd == unix.AT_FDCWD {
		at = path
	}
	return fsmeta.SetTimesAt(dfd, at, path, r.atimeOf(m), m.mtime)
}

// ownedAsNew reports whether a file this restore creates in dir is owned
// by uid and gid from the start: the kernel gives a new file the
// restoring user's ids, and the directory's group where the directory is
// setgid (as it was when the restore created or entered it). Then the
// fchown that would set them again is skipped.
func (r *restorer) ownedAsNew(dir *dirRef, uid, gid uint32) bool {
	newGID := r.gid
	if dir.setgid {
		newGID = dir.gid
	}
	return r.ownIDs && uid == r.uid && gid == newGID
}

// movePartialFile renames f's partial file to its real name; only if that
// fails is what stands there looked at (see replace).
func (r *restorer) movePartialFile(f *fileState) error {
	if f.named {
		return nil
	}
	dfd, err := r.dirFDs.acquire(f.dir)
	if err != nil {
		return err
	}
	defer r.dirFDs.release(f.dir)
	name, tmp := f.at(dfd)
	rename := func() error {
		if err := ignoringEINTR(func() error { return unix.Renameat(dfd, tmp, dfd, name) }); err != nil {
			return &os.LinkError{Op: "rename", Old: f.tmpPath(), New: f.pathOf(), Err: err}
		}
		return nil
	}
	if err := rename(); err != nil {
		return r.clearAndRetry(f.pathOf(), err, rename)
	}
	return nil
}

func openat(dfd int, name string, flags int, mode uint32) (fd int, err error) {
	err = ignoringEINTR(func() error {
		fd, err = unix.Openat(dfd, name, flags, mode)
		return err
	})
	return fd, err
}

// ignoringEINTR retries fn while a signal interrupts it (the runtime's
// preemption signals do, on slow file systems such as NFS or FUSE).
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// Package local stores a repository in a directory on a local (or locally
// mounted) filesystem.
//
// It is a dumb blob store like every backend: it puts named, immutable files
// under a fixed layout and never interprets them. It must never overwrite a
// stored file, never leave a partially written file under a final name, never
// follow a name outside the repository directory (every handle is validated
// first), and never delete anything except on an explicit Remove or, for
// abandoned temporary files, CleanTemp.
//
// Layout (fixed by the repository format; changing it breaks repositories):
//
//	DIR/config
//	DIR/keys/<name>
//	DIR/data/<first two characters of name>/<name>
//	DIR/index/<name>
//	DIR/snapshots/<name>
//	DIR/locks/<name>
//	DIR/tmp/            temporary files of Saves in progress
//
// Files are created with mode 0600 and directories with mode 0700: repository
// data is private to its owner.
package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
)

const (
	fileMode = 0o600
	dirMode  = 0o700

	tmpDir     = "tmp"
	tmpPattern = "save-*"

	// chunkSize bounds single reads and writes so that a cancelled context is
	// noticed between them.
	chunkSize = 8 << 20
)

// Local is a backend.Backend on a directory. It is safe for concurrent use,
// also by several processes on the same directory.
type Local struct {
	dir string // absolute, cleaned

	// noDirectRead is set once the file system has refused O_DIRECT for a
	// read; LoadInto then reads through the page cache.
	noDirectRead atomic.Bool
	// noLinks is set once the filesystem has refused a hard link; Saves then
	// use the rename fallback (see commit).
	noLinks atomic.Bool
	// renameMu serialises the check-then-rename of the fallback within this
	// process.
	renameMu sync.Mutex
}

var _ backend.Backend = (*Local)(nil)

// Create makes a new, empty repository layout at dir and opens it. dir may
// exist if it is an empty directory, or what an initialisation killed before
// its config was saved left there (see reclaimAbandoned); anything else
// already there is refused with an error matching backend.ErrExists. Create
// does not write the config: the caller saves it (backend.ConfigFile) as the
// last step of initialisation.
func Create(ctx context.Context, dir string) (*Local, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create repository at %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("create repository at %s: %w", dir, err)
	}
	mkdir := os.Mkdir
	if err := checkEmptyOrMissing(abs); err != nil {
		reclaimed, rerr := reclaimAbandoned(abs, time.Now())
		if errors.Is(rerr, errInitRunning) {
			return nil, fmt.Errorf("create repository at %s: %w: %w", abs, rerr, backend.ErrExists)
		}
		if rerr != nil {
			return nil, fmt.Errorf("create repository at %s: %w", abs, rerr)
		}
		if !reclaimed {
			return nil, err
		}
		// Finish the layout the interrupted initialisation began.
		mkdir = func(p string, m fs.FileMode) error { return os.MkdirAll(p, m) }
	}
	if err := os.MkdirAll(abs, dirMode); err != nil {
		return nil, fmt.Errorf("create repository at %s: %w", abs, err)
	}
	if err := makeLayout(ctx, abs, mkdir); err != nil {
		return nil, fmt.Errorf("create repository at %s: %w", abs, err)
	}
	return &Local{dir: abs}, nil
}

// OpenUnfinished opens dir as Create left it before the config was saved:
// a repository whose creation a writer is still finishing (a repository
// server restarted in the middle of it, say). Layout directories a Create
// killed part way did not make are made now. dir must exist.
func OpenUnfinished(ctx context.Context, dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", dir, err)
	}
	fi, err := os.Stat(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no repository at %s: %w", abs, backend.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", abs, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("open repository at %s: not a directory", abs)
	}
	if err := makeLayout(ctx, abs, func(p string, m fs.FileMode) error { return os.MkdirAll(p, m) }); err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", abs, err)
	}
	return &Local{dir: abs}, nil
}

// makeLayout makes the directories of a repository in abs with mkdir and
// syncs them.
func makeLayout(ctx context.Context, abs string, mkdir func(string, fs.FileMode) error) error {
	top := []string{tmpDir}
	for _, t := range backend.AllTypes {
		if d := t.Dir(); d != "" {
			top = append(top, d)
		}
	}
	for _, d := range top {
		if err := mkdir(filepath.Join(abs, d), dirMode); err != nil {
			return err
		}
	}
	data := filepath.Join(abs, backend.PackFile.Dir())
	for i := 0; i < 256; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := mkdir(filepath.Join(data, fmt.Sprintf("%02x", i)), dirMode); err != nil {
			return err
		}
	}
	// Make the new directory entries durable. The parent's entry for dir is
	// best effort: the parent may not be readable.
	for _, d := range []string{data, abs} {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	_ = syncDir(filepath.Dir(abs))
	return nil
}

// checkEmptyOrMissing fails unless dir is missing or an empty directory.
func checkEmptyOrMissing(dir string) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create repository at %s: %w", dir, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("create repository at %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("create repository at %s: it exists and is not a directory: %w", dir, backend.ErrExists)
	}
	names, err := f.Readdirnames(1)
	if err != nil && err != io.EOF {
		return fmt.Errorf("create repository at %s: %w", dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("create repository at %s: directory is not empty (choose a new or empty directory): %w", dir, backend.ErrExists)
	}
	return nil
}

// Open opens the repository at dir. It fails with an error matching
// backend.ErrNotExist when dir holds no repository (no config file).
func Open(ctx context.Context, dir string) (*Local, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", dir, err)
	}
	fi, err := os.Stat(filepath.Join(abs, "config"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no repository at %s (no config file): %w", abs, backend.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("open repository at %s: %w", abs, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open repository at %s: config is not a regular file", abs)
	}
	return &Local{dir: abs}, nil
}

// Location returns "local:" followed by the absolute directory.
func (l *Local) Location() string { return "local:" + l.dir }

// Dir returns the absolute repository directory.
func (l *Local) Dir() string { return l.dir }

// filename returns the path of h after validating it.
func (l *Local) filename(h backend.Handle) (string, error) {
	if err := h.Valid(); err != nil {
		return "", err
	}
	switch h.Type {
	case backend.ConfigFile:
		return filepath.Join(l.dir, "config"), nil
	case backend.PackFile:
		if len(h.Name) < 2 {
			return "", fmt.Errorf("invalid name %q for %v: pack names need at least 2 characters", h.Name, h.Type)
		}
		return filepath.Join(l.dir, h.Type.Dir(), h.Name[:2], h.Name), nil
	}
	return filepath.Join(l.dir, h.Type.Dir(), h.Name), nil
}

// Save stores data under h: it writes a temporary file in DIR/tmp, syncs it,
// hard-links it to the final name (which fails if the name exists, so nothing
// is ever overwritten), removes the temporary name and syncs the directory.
// Lock files are neither synced nor their directory (see backend.Backend).
func (l *Local) Save(ctx context.Context, h backend.Handle, data []byte) error {
	final, err := l.filename(h)
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	// A lock need not survive a crash (a crash leaves a holder-less lock
	// either way, and a lock that cannot be read is skipped): its file and
	// directory are not synced, which spares every command two disk flushes.
	durable := h.Type != backend.LockFile
	tmp, err := l.writeTemp(ctx, data, durable)
	if err != nil {
		return l.saveErr(h, err)
	}
	err = ctx.Err()
	if err == nil {
		err = l.commit(tmp, final)
	}
	// The temporary name goes in every case: after a successful link the data
	// lives on under the final name. A failure to remove is left for CleanTemp.
	_ = os.Remove(tmp)
	if err != nil {
		return l.saveErr(h, err)
	}
	if !durable {
		return nil
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return l.saveErr(h, fmt.Errorf("sync directory: %w", err))
	}
	return nil
}

// SaveFile stores the complete file at path as h without copying its bytes
// (a repository server's finished upload): the file is synced, then linked
// (or, without hard links, renamed) to h's name, never over an existing
// one, and the directory is synced, as in Save. It may consume path; the
// caller removes whatever is left. When the file cannot be taken as it is
// (it lives on another filesystem, say) the error matches
// errors.ErrUnsupported: nothing was stored, and the caller saves a copy.
func (l *Local) SaveFile(ctx context.Context, h backend.Handle, path string) error {
	final, err := l.filename(h)
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if err := syncFile(path); err != nil {
		return l.saveErr(h, fmt.Errorf("sync %s: %w", path, err))
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if err := l.commit(path, final); err != nil {
		if errors.Is(err, fs.ErrExist) || fsmeta.IsNoSpace(err) {
			return l.saveErr(h, err)
		}
		return fmt.Errorf("save %v: %w (%v)", h, errors.ErrUnsupported, err)
	}
	// Stored now. When the directory sync fails path is kept, so that a
	// retry finds the name taken by the same bytes.
	if err := syncDir(filepath.Dir(final)); err != nil {
		return l.saveErr(h, fmt.Errorf("sync directory: %w", err))
	}
	_ = os.Remove(path)
	return nil
}

// syncFile flushes path's data to stable storage. It opens the file for
// writing because Windows flushes only handles that may write.
func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Sync()
	// Close reports deferred write errors on some filesystems (NFS).
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeTemp writes data to a new temporary file, syncs it (if sync is set)
// and closes it, and returns its name. On error no temporary file is left.
func (l *Local) writeTemp(ctx context.Context, data []byte, sync bool) (name string, err error) {
	dir := filepath.Join(l.dir, tmpDir)
	f, err := os.CreateTemp(dir, tmpPattern) // mode 0600, O_EXCL
	if errors.Is(err, fs.ErrNotExist) {
		// Some copy tools drop empty directories; recreate it.
		if err = os.MkdirAll(dir, dirMode); err == nil {
			f, err = os.CreateTemp(dir, tmpPattern)
		}
	}
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	data = data[writeDirect(ctx, f, data):]
	for len(data) > 0 {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n := min(len(data), chunkSize)
		if _, err := f.Write(data[:n]); err != nil {
			return "", err
		}
		data = data[n:]
	}
	if sync {
		if err := f.Sync(); err != nil {
			return "", err
		}
	}
	// Close reports deferred write errors on some filesystems (NFS).
	if err := f.Close(); err != nil {
		return "", err
	}
	return f.Name(), nil
}

// commit gives the synced temporary file tmp its final name without ever
// replacing an existing file.
func (l *Local) commit(tmp, final string) error {
	if !l.noLinks.Load() {
		err := os.Link(tmp, final)
		if errors.Is(err, fs.ErrNotExist) && !errors.Is(statErr(tmp), fs.ErrNotExist) {
			// The target directory is missing (dropped by a copy tool).
			if err = os.MkdirAll(filepath.Dir(final), dirMode); err == nil {
				err = os.Link(tmp, final)
			}
		}
		if err == nil || !linkUnsupported(err) {
			return err
		}
		// Latch the fallback only once it has worked, so that a link refused
		// for another reason (Linux also says EPERM for, e.g., immutable
		// files) does not switch this backend to the racy path for good.
		if err := l.renameNoReplace(tmp, final); err != nil {
			return err
		}
		l.noLinks.Store(true)
		return nil
	}
	return l.renameNoReplace(tmp, final)
}

// renameNoReplace renames tmp to final unless final exists.
func (l *Local) renameNoReplace(tmp, final string) error {
	// Fallback for filesystems without hard links (FAT, exFAT, some network
	// and FUSE filesystems): check that the name is free, then rename. Within
	// this process renameMu makes that atomic, but another process saving the
	// same name between the check and the rename could have its file
	// replaced. Names are content hashes or random, so the replacing data is
	// then normally identical; the race is accepted because these
	// filesystems offer no atomic no-replace primitive reachable portably.
	l.renameMu.Lock()
	defer l.renameMu.Unlock()
	if _, err := os.Lstat(final); err == nil {
		return &os.LinkError{Op: "rename", Old: tmp, New: final, Err: fs.ErrExist}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	err := os.Rename(tmp, final)
	if errors.Is(err, fs.ErrNotExist) && !errors.Is(statErr(tmp), fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(final), dirMode); err == nil {
			err = os.Rename(tmp, final)
		}
	}
	return err
}

func statErr(name string) error {
	_, err := os.Lstat(name)
	return err
}

// saveErr adds context to a Save error and maps disk-full conditions to
// backend.ErrNoSpace. Existence and permission errors from the os package
// already match backend.ErrExists and backend.ErrPermission.
func (l *Local) saveErr(h backend.Handle, err error) error {
	switch {
	case fsmeta.IsNoSpace(err):
		return fmt.Errorf("save %v: the disk holding %s is full (or the user's quota is used up); free space on it or move the repository to a larger disk, then retry: %w: %w",
			h, l.dir, backend.ErrNoSpace, err)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("save %v: already stored (stored files are never overwritten): %w", h, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("save %v: permission denied in %s: %w", h, l.dir, err)
	}
	return fmt.Errorf("save %v: %w", h, err)
}

// Load returns length bytes of h from offset (length 0: to the end).
func (l *Local) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	var buf []byte
	err := l.load(ctx, h, offset, length, func(n int64) []byte {
		buf = make([]byte, n)
		return buf
	})
	if err != nil {
		return nil, err
	}
	return buf, nil
}

// LoadInto reads length bytes of h from offset, for readers of many ranges
// that reuse their buffers (see backend.LoaderInto). Large ranges are read
// with direct I/O where the file system allows it (see loadDirect).
func (l *Local) LoadInto(ctx context.Context, h backend.Handle, offset, length int64, buf []byte) ([]byte, error) {
	if length <= 0 {
		return nil, fmt.Errorf("load %v: invalid length %d", h, length)
	}
	if data, ok, err := l.loadDirect(ctx, h, offset, length, buf); ok {
		return data, err
	}
	if int64(cap(buf)) < length {
		buf = make([]byte, length)
	}
	buf = buf[:length]
	if err := l.load(ctx, h, offset, length, func(int64) []byte { return buf }); err != nil {
		return nil, err
	}
	return buf, nil
}

// checkRange checks a range of a file of size bytes and returns its length
// (length 0: to the end).
func checkRange(h backend.Handle, name string, size, offset, length int64) (int64, error) {
	if length == 0 {
		if offset > size {
			return 0, fmt.Errorf("load %v: %s is %d bytes, offset %d is past its end: %w", h, name, size, offset, io.ErrUnexpectedEOF)
		}
		return size - offset, nil
	}
	if offset > size || length > size-offset {
		return 0, fmt.Errorf("load %v: %s is %d bytes, shorter than the %d requested at offset %d: %w", h, name, size, length, offset, io.ErrUnexpectedEOF)
	}
	return length, nil
}

// load reads length bytes of h from offset into the buffer alloc returns
// once the length is known (length 0: to the end).
func (l *Local) load(ctx context.Context, h backend.Handle, offset, length int64, alloc func(int64) []byte) error {
	f, name, length, err := l.openRange(ctx, h, offset, length, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := alloc(length)
	n, err := readAt(ctx, h, f, buf, offset)
	if err == nil && n < len(buf) {
		err = shrunk(h, name, offset+int64(n), offset, length)
	}
	return err
}

// shrunk is the error for a file that ended at end, before the length bytes
// wanted at offset: it shrank since it was stat'ed, which cannot happen to
// an immutable file, but say so.
func shrunk(h backend.Handle, name string, end, offset, length int64) error {
	return fmt.Errorf("load %v: %s ended after %d bytes, wanted %d at offset %d: %w", h, name, end, length, offset, io.ErrUnexpectedEOF)
}

// openRange opens h (with extra open flags) for reading length bytes from
// offset, checks that the file holds them, and returns the file, its name
// and the length (length 0: to the end).
func (l *Local) openRange(ctx context.Context, h backend.Handle, offset, length int64, flags int) (*os.File, string, int64, error) {
	name, err := l.filename(h)
	if err != nil {
		return nil, "", 0, fmt.Errorf("load %v: %w", h, err)
	}
	if offset < 0 || length < 0 {
		return nil, "", 0, fmt.Errorf("load %v: invalid offset %d or length %d", h, offset, length)
	}
	if err := ctx.Err(); err != nil {
		return nil, "", 0, fmt.Errorf("load %v: %w", h, err)
	}
	f, err := os.OpenFile(name, os.O_RDONLY|flags, 0)
	if err != nil {
		return nil, "", 0, fmt.Errorf("load %v: %w", h, err)
	}
	fi, err := f.Stat()
	if err == nil {
		length, err = checkRange(h, name, fi.Size(), offset, length)
	} else {
		err = fmt.Errorf("load %v: %w", h, err)
	}
	if err != nil {
		f.Close()
		return nil, "", 0, err
	}
	return f, name, length, nil
}

// readAt fills buf from f at offset, in pieces so that a cancelled context
// stops it, and returns how much it read before the end of the file.
func readAt(ctx context.Context, h backend.Handle, f *os.File, buf []byte, offset int64) (int, error) {
	done := 0
	for done < len(buf) {
		if err := ctx.Err(); err != nil {
			return done, fmt.Errorf("load %v: %w", h, err)
		}
		n, err := f.ReadAt(buf[done:min(len(buf), done+chunkSize)], offset+int64(done))
		done += n
		if err == io.EOF {
			return done, nil
		}
		if err != nil {
			return done, fmt.Errorf("load %v: %w", h, err)
		}
	}
	return done, nil
}

// Stat returns the size of h. The config's FileInfo.Name is "config".
func (l *Local) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	name, err := l.filename(h)
	if err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	fi, err := os.Stat(name)
	if err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	if !fi.Mode().IsRegular() {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %s is not a regular file", h, name)
	}
	return backend.FileInfo{Name: infoName(h), Size: fi.Size()}, nil
}

func infoName(h backend.Handle) string {
	if h.Type == backend.ConfigFile {
		return "config"
	}
	return h.Name
}

// List calls fn for every file of type t. Names that are not valid handles
// (foreign files, temporary files) are skipped, as are pack files in the
// wrong data/XX directory, which Load could not find. A missing type
// directory lists as empty.
func (l *Local) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := (backend.Handle{Type: t, Name: "0"}).Valid(); err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	switch t {
	case backend.ConfigFile:
		fi, err := l.Stat(ctx, backend.Handle{Type: t})
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %v: %w", t, err)
		}
		return fn(fi)
	case backend.PackFile:
		for i := 0; i < 256; i++ {
			prefix := fmt.Sprintf("%02x", i)
			if err := l.listDir(ctx, t, filepath.Join(l.dir, t.Dir(), prefix), prefix, fn); err != nil {
				return err
			}
		}
		return nil
	}
	return l.listDir(ctx, t, filepath.Join(l.dir, t.Dir()), "", fn)
}

func (l *Local) listDir(ctx context.Context, t backend.FileType, dir, prefix string, fn func(backend.FileInfo) error) error {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	defer f.Close()
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %v: %w", t, err)
		}
		entries, err := f.ReadDir(1000)
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("list %v: %w", t, err)
			}
			name := e.Name()
			if (backend.Handle{Type: t, Name: name}).Valid() != nil || len(name) < len(prefix) || name[:len(prefix)] != prefix {
				continue
			}
			if !e.Type().IsRegular() {
				continue
			}
			info, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed meanwhile
			}
			if err != nil {
				return fmt.Errorf("list %v: %w", t, err)
			}
			if err := fn(backend.FileInfo{Name: name, Size: info.Size()}); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %v: %w", t, err)
		}
	}
}

// Remove deletes h; a missing file is an error matching backend.ErrNotExist.
func (l *Local) Remove(ctx context.Context, h backend.Handle) error {
	name, err := l.filename(h)
	if err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	fi, err := os.Lstat(name)
	if err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("remove %v: %s is not a regular file", h, name)
	}
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	if h.Type == backend.LockFile {
		// A lock's removal need not survive a crash: one that comes back is
		// what a crash while holding it leaves anyway (stale, or removed by
		// `unlock`). Syncing the directory here would wait for the metadata
		// of everything the command just wrote (a whole restored tree, on
		// ext4 without a journal): 0.1-0.3 s at the end of every command.
		return nil
	}
	if err := syncDir(filepath.Dir(name)); err != nil {
		return fmt.Errorf("remove %v: sync directory: %w", h, err)
	}
	return nil
}

// CleanTemp removes temporary files in DIR/tmp last modified more than
// olderThan ago: leftovers of writers that were killed mid-Save. A Save in
// progress keeps its file's modification time fresh while writing; if its file
// is removed anyway, that Save fails cleanly (nothing is stored). Use an age
// well above the longest Save, such as an hour.
func (l *Local) CleanTemp(olderThan time.Duration) error {
	dir := filepath.Join(l.dir, tmpDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clean temporary files: %w", err)
	}
	cutoff := time.Now().Add(-olderThan)
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if info.ModTime().Before(cutoff) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("clean temporary files: %w", err)
	}
	return nil
}

// Close releases nothing: Local holds no open files between calls.
func (l *Local) Close() error { return nil }

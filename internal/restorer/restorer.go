// Package restorer writes a snapshot (or chosen paths of it) back to disk:
// contents, directories, symlinks, hard links and metadata (mode bits,
// owner, times), verifying every blob on the way.
//
// It is the path an administrator relies on after ransomware, so it must be
// correct, fast and safe against a damaged or hostile repository. It must
// never:
//   - create, write, remove or change the metadata of anything outside
//     Options.Target. Every entry name is checked again (repository.ValidName
//     plus this OS's rules) and every output path is built only from checked
//     components under the target;
//   - follow a symlink while restoring. Directories are created (or found)
//     one component at a time and checked with Lstat; a symlink or file
//     standing where a directory must be is removed, never traversed. Files
//     are created fresh with O_EXCL|O_NOFOLLOW under a temporary name and
//     renamed into place, or on Linux, when written in one go, created
//     without a name (O_TMPFILE) and linked into place (see anonFiles); on
//     unix they are created, written, given their metadata and named
//     relative to a descriptor of their directory, opened with O_NOFOLLOW
//     and checked to be the very directory (device and inode) that was
//     created or entered, so a symlink or directory swapped into the path
//     during the restore cannot redirect them (such a directory is
//     refused). Hard links are made (os.Link, or a copy where the file
//     system has none) once their first name is restored. Symlinks from
//     the snapshot are created last, after every file and directory, so no
//     later write can pass through one; their targets are written verbatim
//     and never resolved by the restorer. A directory this restore created or
//     entered is never removed; directory metadata is applied at the very
//     end, deepest first;
//   - leave a file whose content is damaged, incomplete or was never backed
//     up under its real name: content is written to NAME.lumbung-partial and
//     renamed to NAME only once every blob has been verified and written. A
//     file that fails keeps what could be restored under the .lumbung-partial
//     name (holes where blobs were bad) and is reported in Result.Errors; an
//     interrupted restore leaves only .lumbung-partial files behind (and
//     nothing of the unnamed files it was writing);
//   - trust sizes or structure from the repository: file sizes come from the
//     index's blob lengths, trees that contain themselves or nest deeper than
//     maxDepth are refused, and a snapshot that expands to an absurd number of
//     entries is refused before anything is written;
//   - hold more than a bounded amount of file data in memory, whatever the
//     snapshot says (see the budgets in content.go).
//
// Contents are restored pack by pack: the blobs a batch of files needs are
// grouped by pack and read as contiguous ranges (one backend Load per
// range), decoded on all cores and written (pwrite) to every file (and
// offset) that uses them, so a pack is read once per batch however many
// files share its blobs. The worker that writes a file's last blob finishes
// it while it is still open: size (only if the writes fell short of it),
// owner, mode and times, then the rename.
package restorer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/chunker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// Repo is what the restorer needs from a repository.
type Repo interface {
	LoadTree(ctx context.Context, id crypto.ID) (*repository.Tree, error)
	// LoadBlob reads a blob trying every place it is listed; used only for
	// blobs whose places disagree about its length.
	LoadBlob(ctx context.Context, id crypto.ID, buf []byte) ([]byte, error)
	Index() *repository.Index
	// BlobID, ChunkerTable and ChunkerParams cut a file already in the
	// target as a backup would, to tell whether it holds a node's content
	// (Options.SkipIdentical).
	BlobID(data []byte) crypto.ID
	ChunkerTable() *chunker.Table
	ChunkerParams() chunker.Params
	DecodeBlob(id crypto.ID, loc repository.Location, sealed, buf []byte) ([]byte, error)
	DecodeBlobInPlace(id crypto.ID, loc repository.Location, sealed []byte, getBuf func(n int) []byte) ([]byte, error)
	Backend() backend.Backend
}

var _ Repo = (*repository.Repository)(nil)

// Options control one restore.
type Options struct {
	// Target is the directory to restore into; it is created (mode 0700) if
	// missing. The snapshot's paths are recreated below it: /srv/data/x is
	// restored as TARGET/srv/data/x.
	Target string
	// Include restricts the restore to these snapshot paths (as the snapshot
	// shows them, e.g. "/srv/data/a.txt" or "/srv/data") and everything below
	// them; their parent directories are created with their metadata. Empty
	// means everything. A path that is not in the snapshot is an error.
	Include []string
	// Progress receives totals (computed from the trees before anything is
	// written) and progress; nil means ui.NoProgress.
	Progress ui.Progress
	// Workers is how many goroutines decode blobs and write files; zero means
	// 2×GOMAXPROCS, at most 32.
	Workers int
	// Overwrite allows removing a directory (with its contents) that stands
	// in the target where the snapshot has a file or symlink. Existing files
	// and symlinks in the way are always replaced (the snapshot wins), and a
	// directory that this restore created or entered is never removed.
	Overwrite bool
	// SkipIdentical keeps files already in the target whose content is the
	// snapshot's (read and compared chunk by chunk, never judged by size
	// and times) and only sets their metadata: a restore run again after
	// an interruption does only what is left.
	SkipIdentical bool
}

// FileError is one entry that was not restored as it was in the snapshot.
// Path is the path as the snapshot shows it.
type FileError struct {
	Path string `json:"path"`
	Err  string `json:"error"`
}

func (e FileError) Error() string { return e.Path + ": " + e.Err }

// Result summarises a restore.
type Result struct {
	// Files counts regular files restored completely (hard links included),
	// Dirs directories, Symlinks symbolic links; Bytes is the content of the
	// files restored.
	Files, Dirs, Symlinks int64
	Bytes                 int64
	// Skipped counts special files (devices, FIFOs, sockets), which are
	// never restored.
	Skipped int64
	// Kept counts files (among Files) found already identical in the
	// target and left as they were (Options.SkipIdentical).
	Kept int64
	// Errors lists entries not restored (or restored without some of their
	// metadata), at most maxErrors of them; Failed counts them all.
	Errors []FileError
	Failed int64
}

var (
	// ErrUnsafePath marks an entry refused because restoring it could write
	// outside the target (a bad name, a tree that contains itself, absurd
	// nesting).
	ErrUnsafePath = errors.New("refusing to restore outside the target")
	// ErrSomeFailed is returned (with a Result) when some entries could not
	// be restored; Result.Errors names them.
	ErrSomeFailed = errors.New("some files could not be restored")
)

// PartialSuffix is appended to the name of a file while it is written, and
// stays on files that could not be restored completely.
const PartialSuffix = ".lumbung-partial"

// Limits on what a snapshot may ask for.
const (
	// maxDepth bounds directory nesting; no real path is this deep
	// (PATH_MAX is 4096 bytes).
	maxDepth = 1024
	// maxEntries bounds the entries a snapshot may expand to, so a hostile
	// tree reused at every level (2^n paths from n trees) is refused before
	// anything is written rather than filling the disk with directories.
	maxEntries = repository.MaxTreeEntries
	// maxErrors bounds Result.Errors.
	maxErrors = 10000
)

type restorer struct {
	repo   Repo
	idx    *repository.Index
	be     backend.Backend
	opts   Options
	prog   ui.Progress
	target string
	root   bool
	// uid and gid are the ids the restoring process gives the files it
	// creates (ownIDs: known, as on unix).
	uid, gid uint32
	ownIDs   bool
	// umask is the process's umask (umaskOK: known), which new files'
	// mode bits pass through (see finalModeAtCreate).
	umask   uint32
	umaskOK bool
	now     time.Time
	workers int
	loaders int
	trees   *treeCache

	// The walker's own, never touched by the batch being restored meanwhile
	// (see restoreBatch), but for the files of finished batches that hard
	// links refer to.
	batch     *batch
	flushDone chan struct{}            // closed when the batch being restored is done; nil: none
	earlyMin  int                      // files the next batch started before it is full needs: twice the last such batch
	links     map[[2]uint64]*fileState // first restored file of each hard-linked inode
	rawLens   map[crypto.ID]uint32     // verified lengths of blobs whose places disagree (see places)
	locBuf    []repository.Location    // scratch for places
	dirs      []dirEntry               // directories in post-order, for their metadata
	symlinks  []symlinkEntry           // created last
	sealedBud *budget
	rawBud    *budget
	rangeBufs chan []byte // range buffers for reuse (see loadRangeBytes)
	bufs      sync.Pool
	dirFDs    dirCache  // open directories files are restored into
	direct    *directIO // nil: no direct I/O on this system
	anon      anonFiles

	usedMu   sync.Mutex
	usedDirs map[[2]uint64]struct{} // identity of every directory this restore created or entered

	files, dirCount, syms, bytes, skipped, kept atomic.Int64
	identCk                                     *chunker.Chunker // the walker's, for keepIdentical
	identBuf                                    []byte           // the walker's chunk buffer for keepIdentical

	errMu  sync.Mutex
	errs   []FileError
	failed int64
	unsafe bool
	full   bool // some entry failed because the target's disk is full

	noXattrs atomic.Bool // the target's file system holds no extended attributes
}

// Restore restores the tree root (a snapshot's Tree) into opts.Target. It
// restores everything it can: entries that fail are listed in Result.Errors
// and the error returned wraps ErrSomeFailed (and ErrUnsafePath if any entry
// was refused as unsafe). Errors that stop the whole restore (unreadable
// root tree, unusable target, include paths not in the snapshot, context
// cancelled) are returned with whatever Result was reached, possibly nil.
func Restore(ctx context.Context, repo Repo, root crypto.ID, opts Options) (*Result, error) {
	if opts.Target == "" {
		return nil, errors.New("restore: no target directory given")
	}
	target, err := filepath.Abs(opts.Target)
	if err != nil {
		return nil, fmt.Errorf("restore: target %q: %w", opts.Target, err)
	}
	includes, err := parseIncludes(opts.Include)
	if err != nil {
		return nil, err
	}
	if opts.Progress == nil {
		opts.Progress = ui.NoProgress
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = min(2*runtime.GOMAXPROCS(0), 32)
	}
	workers = max(workers, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	r := &restorer{
		repo: repo, idx: repo.Index(), be: repo.Backend(), opts: opts, prog: opts.Progress,
		target: target, root: fsmeta.IsRoot(), now: time.Now(),
		workers: workers, loaders: min(max(workers, 2), 8),
		links:     make(map[[2]uint64]*fileState),
		rawLens:   make(map[crypto.ID]uint32),
		sealedBud: newBudget(sealedBudget),
		rangeBufs: make(chan []byte, sealedBudget/maxRange+1),
		rawBud:    newBudget(rawBudget),
		usedDirs:  make(map[[2]uint64]struct{}),
	}
	r.dirFDs.init()
	if uid, gid := os.Geteuid(), os.Getegid(); uid >= 0 && gid >= 0 {
		r.uid, r.gid, r.ownIDs = uint32(uid), uint32(gid), true
	}
	r.umask, r.umaskOK = fsmeta.Umask()
	r.direct = newDirectIO(workers)
	r.trees = newTreeCache(repo, r.loaders)
	defer func() {
		cancel() // stop prefetches before waiting for them
		r.trees.wait()
	}()
	r.batch = newBatch()

	rootTree, err := repo.LoadTree(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("restore: read the snapshot's root tree: %w", err)
	}
	totals, err := r.scan(ctx, root, rootTree, includes)
	if err != nil {
		return nil, err
	}
	r.prog.Start("restore", totals)

	if err := os.MkdirAll(target, 0o700); err != nil {
		return nil, fmt.Errorf("restore: create target: %w", err)
	}
	// The target itself may be reached through a symlink: the user chose it.
	fi, err := os.Stat(target)
	if err != nil {
		return nil, fmt.Errorf("restore: target: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("restore: target %s is not a directory", target)
	}
	tm := fsmeta.FromFileInfo(fi)
	r.markUsed(tm)

	r.walk(ctx, rootTree, r.newDirRef(target, "", tm, true), "", includes, 0, map[crypto.ID]bool{root: true})
	r.flush(ctx)
	r.waitFlush()
	r.dirFDs.closeAll()
	if err := ctx.Err(); err != nil {
		return r.result(), fmt.Errorf("restore interrupted (files not finished keep the %s suffix): %w", PartialSuffix, err)
	}
	r.restoreSymlinks(ctx)
	r.finishDirs(ctx)
	res := r.result()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("restore interrupted: %w", err)
	}
	return res, r.failure(res)
}

// failure is the error for a finished restore with failed entries (nil if
// none): how many, the first, and what to do when the disk is full.
func (r *restorer) failure(res *Result) error {
	if res.Failed == 0 {
		return nil
	}
	first := res.Errors[0]
	n := res.Failed
	total := res.Files + res.Dirs + res.Symlinks + n
	r.errMu.Lock()
	unsafe, full := r.unsafe, r.full
	r.errMu.Unlock()
	hint := ""
	if full {
		hint = fmt.Sprintf("; the disk holding %s is full (or the user's quota is used up): free space on it or restore to a larger disk, then run the restore again", r.target)
	}
	if unsafe {
		return fmt.Errorf("%w (%d of %d entries; %w for some): first: %s: %s%s", ErrSomeFailed, n, total, ErrUnsafePath, first.Path, first.Err, hint)
	}
	return fmt.Errorf("%w (%d of %d entries): first: %s: %s%s", ErrSomeFailed, n, total, first.Path, first.Err, hint)
}

func (r *restorer) result() *Result {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return &Result{
		Files: r.files.Load(), Dirs: r.dirCount.Load(), Symlinks: r.syms.Load(),
		Bytes: r.bytes.Load(), Skipped: r.skipped.Load(), Kept: r.kept.Load(),
		Errors: append([]FileError(nil), r.errs...), Failed: r.failed,
	}
}

// report records an entry that was not restored as it was.
func (r *restorer) report(path string, err error) {
	r.errMu.Lock()
	r.failed++
	if len(r.errs) < maxErrors {
		r.errs = append(r.errs, FileError{Path: path, Err: err.Error()})
	}
	if errors.Is(err, ErrUnsafePath) {
		r.unsafe = true
	}
	if fsmeta.IsNoSpace(err) {
		r.full = true
	}
	r.errMu.Unlock()
	r.prog.Warn(path, err)
}

// unsafePath reports an entry refused for safety.
func (r *restorer) unsafePath(path, why string) {
	r.report(path, fmt.Errorf("%w: %s", ErrUnsafePath, why))
}

func (r *restorer) markUsed(m fsmeta.Meta) {
	if m.Inode == 0 {
		return
	}
	r.usedMu.Lock()
	r.usedDirs[[2]uint64{m.Device, m.Inode}] = struct{}{}
	r.usedMu.Unlock()
}

func (r *restorer) isUsed(m fsmeta.Meta) bool {
	r.usedMu.Lock()
	defer r.usedMu.Unlock()
	_, ok := r.usedDirs[[2]uint64{m.Device, m.Inode}]
	return ok
}

// Package archiver turns files into a snapshot: it walks the given paths,
// reuses unchanged files from the parent snapshot without reading them, cuts
// changed files into content-defined chunks and hands them to the
// repository writer on every core, then writes trees bottom-up and, last,
// the snapshot.
//
// It never modifies the files it reads, and never writes a snapshot before
// every blob the snapshot needs is durable and indexed.
package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/bufpool"
	"github.com/lumbung-id/lumbung/internal/chunker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// Repo is what the archiver needs from a repository.
type Repo interface {
	NewWriter(ctx context.Context) *repository.Writer
	LoadTree(ctx context.Context, id crypto.ID) (*repository.Tree, error)
	Index() *repository.Index
	ChunkerTable() *chunker.Table
	ChunkerParams() chunker.Params
	BlobID(data []byte) crypto.ID
	SaveSnapshot(ctx context.Context, sn *repository.Snapshot) (crypto.ID, error)
	UnindexedPacks(ctx context.Context) (map[crypto.ID]int64, error)
}

var _ Repo = (*repository.Repository)(nil)

// Options control one backup.
type Options struct {
	// Parent is the snapshot to compare with; files unchanged since it are
	// not read again. Nil means read everything.
	Parent   *repository.Snapshot
	ParentID crypto.ID
	// Excludes are patterns: without a '/', matched against each base name
	// (`*.tmp`); with one, matched against the whole absolute path, and a
	// matching directory excludes everything below it.
	Excludes []string
	// OneFileSystem keeps the backup on the file systems of the paths
	// given: a directory on another one (a mount point, /proc under /) is
	// saved empty, and other entries from another one are left out.
	OneFileSystem bool
	// Skip lists absolute paths left out without being recorded as
	// excludes: the repository being written to, when it is local.
	Skip     []string
	Tags     []string
	Hostname string
	Dataset  string
	// Time of the snapshot; zero means now.
	Time time.Time
	// ProgramVersion is recorded in the snapshot.
	ProgramVersion string
	Progress       ui.Progress
	// Scan counts files and bytes ahead of the backup so progress can show
	// a percentage and ETA. It costs a second walk of the tree, so it is
	// off when nobody watches.
	Scan bool
	// Workers is how many files are read at once; zero means a default
	// based on the number of CPUs.
	Workers int
}

// Result is what a backup produced.
type Result struct {
	ID       crypto.ID
	Snapshot *repository.Snapshot
	// Adopted counts packs a killed earlier backup left without an index
	// that this backup indexed and reused.
	Adopted int
}

// testOpenHook, when set by tests, replaces how files are opened.
var testOpenHook func(string) (*fsmeta.File, error)

// ErrSomeUnreadable is returned (with a saved snapshot) when some files
// could not be read; they are listed in Snapshot.Unreadable.
var ErrSomeUnreadable = errors.New("snapshot saved, but some files could not be read")

type archiver struct {
	repo   Repo
	w      *repository.Writer
	opts   Options
	prog   ui.Progress
	names  *fsmeta.Names
	files  chan *fileJob
	large  chan *fileJob // files of largeFile bytes and more (see submit)
	chunks chan *chunkJob
	bufs   *bufpool.Pool

	mu         sync.Mutex
	summary    repository.Summary
	unreadable []repository.UnreadableFile
	// skipIDs are the device and inode of the directories of opts.Skip,
	// so they are left out also when reached by another path (a symlink
	// or bind mount to the repository).
	skipIDs map[[2]uint64]bool
	// changedWhileRead lists files that changed while they were read.
	changedWhileRead []string
	skipped          int64
	hardlinks        map[[2]uint64]*future
	// openFile opens a file for reading without following symlinks; tests
	// replace it to simulate unreadable files.
	openFile func(string) (*fsmeta.File, error)
	// background tracks goroutines that assemble directories and hard
	// links, so that nothing writes after the writer is finished.
	background sync.WaitGroup
	// walkers bounds the directories listed concurrently; walking tracks
	// those goroutines, which submit files, so the file queue is closed
	// only after them.
	walkers chan struct{}
	walking sync.WaitGroup
}

// future is a node whose content is still being saved.
type future struct {
	done chan struct{}
	node *repository.Node
	err  error
}

func resolved(n *repository.Node) *future {
	f := &future{done: make(chan struct{}), node: n}
	close(f.done)
	return f
}

func (f *future) wait(ctx context.Context) (*repository.Node, error) {
	select {
	case <-f.done:
		return f.node, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Backup saves paths as a new snapshot.
func Backup(ctx context.Context, repo Repo, paths []string, opts Options) (*Result, error) {
	if len(paths) == 0 {
		return nil, errors.New("nothing to back up: give at least one path")
	}
	abs, err := AbsPaths(paths)
	if err != nil {
		return nil, err
	}
	for _, p := range abs {
		if _, err := os.Lstat(p); err != nil {
			return nil, fmt.Errorf("cannot back up %s: %w", p, err)
		}
	}
	return run(ctx, repo, abs, opts, func(ctx context.Context, a *archiver, prev *repository.Tree) (crypto.ID, error) {
		return a.saveRoots(ctx, abs, prev)
	})
}

// BackupReader saves the stream rd as a single file named filename (for
// database dumps piped in: `pg_dump | lumbung backup --stdin`).
func BackupReader(ctx context.Context, repo Repo, rd io.Reader, filename string, opts Options) (*Result, error) {
	if err := repository.ValidName(filename); err != nil {
		return nil, fmt.Errorf("--stdin-filename %q: must be a plain file name without '/'", filename)
	}
	return run(ctx, repo, []string{"/" + filename}, opts, func(ctx context.Context, a *archiver, _ *repository.Tree) (crypto.ID, error) {
		now := time.Now()
		node := &repository.Node{Name: filename, Type: repository.NodeFile, Mode: 0o644, ModTime: now, ChangeTime: now,
			UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
		f := a.saveContent(ctx, node, rd, filename)
		n, err := f.wait(ctx)
		if err != nil {
			return crypto.ID{}, err
		}
		if n.Error != "" {
			return crypto.ID{}, fmt.Errorf("read standard input: %s", n.Error)
		}
		a.count(func(s *repository.Summary) { s.FilesNew++; s.TotalFiles++; s.TotalBytes += int64(n.Size) })
		return a.saveTree(ctx, &repository.Tree{Nodes: []*repository.Node{n}})
	})
}

func run(ctx context.Context, repo Repo, paths []string, opts Options, save func(context.Context, *archiver, *repository.Tree) (crypto.ID, error)) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.Progress == nil {
		opts.Progress = ui.NoProgress
	}
	if opts.Time.IsZero() {
		opts.Time = time.Now()
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
	}
	for _, p := range opts.Excludes {
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", p, err)
		}
	}
	a := &archiver{repo: repo, opts: opts, prog: opts.Progress, names: fsmeta.NewNames(), hardlinks: make(map[[2]uint64]*future), openFile: fsmeta.OpenNoFollow}
	if testOpenHook != nil {
		a.openFile = testOpenHook
	}
	a.skipIDs = skipIdentities(opts.Skip)
	a.summary.Start = time.Now()
	maxChunk := repo.ChunkerParams().Max

	a.w = repo.NewWriter(ctx)
	res := &Result{}
	// Reuse what a killed backup already stored.
	if orphans, err := repo.UnindexedPacks(ctx); err == nil && len(orphans) > 0 {
		res.Adopted, _ = a.w.AdoptPacks(ctx, orphans, nil)
	}

	var prev *repository.Tree
	if opts.Parent != nil {
		t, err := repo.LoadTree(ctx, opts.Parent.Tree)
		if err == nil {
			prev = t
		} // a damaged parent only costs speed: everything is read again
	}

	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	a.files = make(chan *fileJob, workers)
	a.large = make(chan *fileJob, 1)
	a.walkers = make(chan struct{}, walkersPerCPU*runtime.GOMAXPROCS(0))
	a.chunks = make(chan *chunkJob, runtime.GOMAXPROCS(0))
	// Chunk buffers in flight: one per file worker (and the large-file
	// worker), the queue, one per blob worker.
	a.bufs = bufpool.New(maxChunk, workers+1+2*runtime.GOMAXPROCS(0)+1)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() { defer wg.Done(); a.fileWorker(ctx, a.files) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); a.fileWorker(ctx, a.large) }()
	var bwg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		bwg.Add(1)
		go func() { defer bwg.Done(); a.blobWorker(ctx) }()
	}
	scanDone := make(chan struct{})
	if opts.Scan {
		go func() { defer close(scanDone); a.scan(ctx, paths) }()
	} else {
		close(scanDone)
	}

	a.prog.Start("backup", ui.Counts{})
	root, err := save(ctx, a, prev)
	if err != nil {
		cancel()
	}
	a.walking.Wait()
	close(a.files)
	close(a.large)
	wg.Wait()
	close(a.chunks)
	bwg.Wait()
	if err != nil {
		cancel()
		a.background.Wait()
		<-scanDone
		a.w.Abort()
		a.prog.Finish()
		return nil, err
	}
	a.background.Wait()
	<-scanDone
	if err := a.w.Commit(ctx); err != nil {
		a.prog.Finish()
		return nil, fmt.Errorf("commit data: %w", err)
	}
	st := a.w.Stats()
	a.summary.End = time.Now()
	a.summary.DataBlobs, a.summary.TreeBlobs = st.DataBlobs, st.TreeBlobs
	a.summary.DataAdded, a.summary.DataAddedPack = st.DataBytes, st.PackedBytes
	a.summary.Skipped = a.skipped
	sn := &repository.Snapshot{
		Time: opts.Time, Tree: root, Paths: paths, Hostname: opts.Hostname, Tags: opts.Tags,
		Excludes: opts.Excludes, Dataset: opts.Dataset, ProgramVersion: opts.ProgramVersion,
		Summary: &a.summary, Unreadable: a.unreadable, ChangedWhileRead: a.changedWhileRead,
		UID: uint32(os.Getuid()), GID: uint32(os.Getgid()),
	}
	sn.Username = currentUser()
	if opts.Parent != nil && !opts.ParentID.IsZero() {
		pid := opts.ParentID
		sn.Parent = &pid
	}
	id, err := repo.SaveSnapshot(ctx, sn)
	a.prog.Finish()
	if err != nil {
		return nil, err
	}
	res.ID, res.Snapshot = id, sn
	if len(a.unreadable) > 0 {
		return res, ErrSomeUnreadable
	}
	return res, nil
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return ""
}

// AbsPaths makes paths absolute and drops any path inside another one.
func AbsPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", p, err)
		}
		out = append(out, filepath.Clean(a))
	}
	sort.Strings(out)
	var kept []string
	for _, p := range out {
		if len(kept) > 0 {
			last := kept[len(kept)-1]
			if p == last || strings.HasPrefix(p, strings.TrimSuffix(last, string(filepath.Separator))+string(filepath.Separator)) {
				continue
			}
		}
		kept = append(kept, p)
	}
	return kept, nil
}

func (a *archiver) count(fn func(*repository.Summary)) {
	a.mu.Lock()
	fn(&a.summary)
	a.mu.Unlock()
}

// errChangedWhileRead is the warning for a file whose size or times moved
// while it was read: what the snapshot holds may mix old and new contents.
var errChangedWhileRead = errors.New("changed while it was read: the snapshot keeps it as read, which may mix old and new contents; " +
	"back up a live database from a dump (pg_dump ... | lumbung backup --stdin) or from a file-system snapshot")

// maxChangedListed bounds Snapshot.ChangedWhileRead (a busy log directory
// changes all the time); the summary counts them all.
const maxChangedListed = 1000

func (a *archiver) warnChanged(path string) {
	a.mu.Lock()
	a.summary.FilesChangedWhileRead++
	if len(a.changedWhileRead) < maxChangedListed {
		a.changedWhileRead = append(a.changedWhileRead, path)
	}
	a.mu.Unlock()
	a.prog.Warn(path, errChangedWhileRead)
}

func (a *archiver) warnUnreadable(path string, err error) {
	a.mu.Lock()
	a.unreadable = append(a.unreadable, repository.UnreadableFile{Path: path, Error: err.Error()})
	a.mu.Unlock()
	a.prog.Warn(path, err)
}

// skipIdentities returns the device and inode of each path that exists
// (following symlinks) and has them.
func skipIdentities(paths []string) map[[2]uint64]bool {
	ids := map[[2]uint64]bool{}
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			if m := fsmeta.FromFileInfo(fi); m.Inode != 0 {
				ids[[2]uint64{m.Device, m.Inode}] = true
			}
		}
	}
	return ids
}

// skippedDir reports whether a directory with metadata m is one of
// opts.Skip, by identity.
func (a *archiver) skippedDir(m fsmeta.Meta) bool {
	return m.Kind == fsmeta.KindDir && m.Inode != 0 && a.skipIDs[[2]uint64{m.Device, m.Inode}]
}

// excluded reports whether path (absolute) matches an exclude pattern or
// is one to skip.
func (a *archiver) excluded(path string) bool {
	for _, s := range a.opts.Skip {
		if path == s {
			return true
		}
	}
	base := filepath.Base(path)
	for _, p := range a.opts.Excludes {
		if !strings.Contains(p, "/") {
			if ok, _ := filepath.Match(p, base); ok {
				return true
			}
			continue
		}
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
	}
	return false
}

// scan counts what will be backed up so progress can show a total and ETA.
func (a *archiver) scan(ctx context.Context, paths []string) {
	var total ui.Counts
	last := time.Now()
	// parentDev is the device of the directory holding p; zero for the
	// paths given, which are always walked.
	var walk func(p string, parentDev uint64)
	walk = func(p string, parentDev uint64) {
		if ctx.Err() != nil || a.excluded(p) {
			return
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return
		}
		m := fsmeta.FromFileInfo(fi)
		dev := m.Device
		if a.otherFileSystem(parentDev, dev) || a.skippedDir(m) {
			return
		}
		switch {
		case fi.IsDir():
			total.Dirs++
			entries, err := os.ReadDir(p)
			if err != nil {
				return
			}
			for _, e := range entries {
				walk(filepath.Join(p, e.Name()), dev)
			}
		case fi.Mode().IsRegular():
			total.Files++
			total.Bytes += fi.Size()
		}
		if time.Since(last) > 200*time.Millisecond {
			a.prog.Start("backup", total)
			last = time.Now()
		}
	}
	for _, p := range paths {
		walk(p, 0)
	}
	a.prog.Start("backup", total)
}

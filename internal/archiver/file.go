package archiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lumbung-id/lumbung/internal/chunker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

type fileJob struct {
	path  string
	node  *repository.Node
	fut   *future
	isNew bool
}

// chunkJob is one chunk of a file on its way to a blob worker.
type chunkJob struct {
	data []byte
	id   crypto.ID
	file *fileSave
}

// fileSave collects the chunks of one file while blob workers save them. The
// reader does not wait for them: it goes on to the next file, and whoever
// releases the last reference (the reader at the end of the file, or the
// blob worker of its last chunk) completes the file. That keeps reading,
// chunking and compressing of different files overlapped on every core.
type fileSave struct {
	a       *archiver
	ctx     context.Context
	node    *repository.Node
	path    string
	jobs    []*chunkJob
	size    uint64
	readErr error // set by the reader before it releases its reference
	changed bool  // the file changed while it was read (set likewise)
	refs    atomic.Int64
	repoErr fileErr
	done    func(error) // called exactly once, when the file is complete
}

func (f *fileSave) release() {
	if f.refs.Add(-1) == 0 {
		f.done(f.complete())
	}
}

// complete runs after every chunk is settled.
func (f *fileSave) complete() error {
	if err := f.repoErr.get(); err != nil {
		return err
	}
	if f.readErr != nil {
		if err := f.ctx.Err(); err != nil {
			return err
		}
		// The file could not be read to the end: keep its metadata, not a
		// partial content that would restore as if whole.
		f.node.Error = fmt.Sprintf("read failed after %d bytes: %v", f.size, f.readErr)
		f.node.Content = nil
		f.a.warnUnreadable(f.path, f.readErr)
		return nil
	}
	f.node.Content = make([]crypto.ID, len(f.jobs))
	for i, j := range f.jobs {
		f.node.Content[i] = j.id
	}
	f.node.Size = f.size
	if f.changed {
		f.a.warnChanged(f.path)
	}
	return nil
}

type fileErr struct {
	mu  sync.Mutex
	err error
}

func (e *fileErr) set(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *fileErr) get() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// unchanged reports whether the file can be taken from the parent snapshot
// without reading it: same size, mtime, ctime and inode, and every content
// blob still indexed.
func (a *archiver) unchanged(prev, cur *repository.Node) bool {
	if prev == nil || prev.Type != repository.NodeFile || prev.Error != "" ||
		prev.Size != cur.Size || prev.Inode != cur.Inode ||
		!prev.ModTime.Equal(cur.ModTime) || !prev.ChangeTime.Equal(cur.ChangeTime) {
		return false
	}
	if prev.Size > 0 && len(prev.Content) == 0 {
		return false
	}
	idx := a.repo.Index()
	for _, id := range prev.Content {
		if !idx.Has(id) {
			return false
		}
	}
	return true
}

func (a *archiver) saveFile(ctx context.Context, path string, node *repository.Node, prev *repository.Node) *future {
	if a.unchanged(prev, node) {
		node.Content, node.Xattrs = prev.Content, prev.Xattrs
		a.count(func(s *repository.Summary) { s.FilesUnchanged++; s.TotalFiles++; s.TotalBytes += int64(node.Size) })
		a.prog.Add(ui.Counts{Files: 1, Bytes: int64(node.Size)})
		return resolved(node)
	}
	isNew := prev == nil
	// A hard link to a file already saved in this backup shares its content.
	if node.Links > 1 {
		key := [2]uint64{node.DeviceID, node.Inode}
		a.mu.Lock()
		first := a.hardlinks[key]
		if first == nil {
			f := &future{done: make(chan struct{})}
			a.hardlinks[key] = f
			a.mu.Unlock()
			a.submit(ctx, &fileJob{path: path, node: node, fut: f, isNew: isNew})
			return f
		}
		a.mu.Unlock()
		f := &future{done: make(chan struct{})}
		a.background.Add(1)
		go func() {
			defer a.background.Done()
			defer close(f.done)
			n, err := first.wait(ctx)
			if err != nil {
				f.err = err
				return
			}
			node.Content, node.Error, node.Size, node.Xattrs = n.Content, n.Error, n.Size, n.Xattrs
			a.count(func(s *repository.Summary) {
				if isNew {
					s.FilesNew++
				} else {
					s.FilesChanged++
				}
				s.TotalFiles++
				s.TotalBytes += int64(node.Size)
			})
			a.prog.Add(ui.Counts{Files: 1, Bytes: int64(node.Size)})
			f.node = node
		}()
		return f
	}
	f := &future{done: make(chan struct{})}
	a.submit(ctx, &fileJob{path: path, node: node, fut: f, isNew: isNew})
	return f
}

// Large files (database dumps, media, archives) have a worker of their own,
// so the disk writes their packs while the other workers' small files are
// compressed, instead of all the large files' packs queueing at the end of
// a backup whose walk reaches them last (directories are listed
// walkersPerCPU per CPU at once, so the walk reaches them early). The
// large-file worker reads a chunk only while fewer than largeBacklog packs
// wait for the disk: incompressible data costs so little CPU that it would
// otherwise fill every pack buffer and stall the compression of everything
// else until the disk caught up (measured: the disk-bound phase only moved
// from the end to the middle).
const (
	largeFile     = 8 << 20
	largeBacklog  = 2
	walkersPerCPU = 4
)

// isLarge reports whether a file goes to the large-file worker.
func isLarge(n *repository.Node) bool { return n.Size >= largeFile }

func (a *archiver) submit(ctx context.Context, j *fileJob) {
	queue := a.files
	if isLarge(j.node) {
		queue = a.large
	}
	select {
	case queue <- j:
	case <-ctx.Done():
		j.fut.err = ctx.Err()
		close(j.fut.done)
	}
}

func (a *archiver) fileWorker(ctx context.Context, jobs <-chan *fileJob) {
	ck := chunker.New(strings.NewReader(""), a.repo.ChunkerTable(), a.repo.ChunkerParams())
	for j := range jobs {
		if ctx.Err() != nil {
			j.fut.err = ctx.Err()
			close(j.fut.done)
			continue
		}
		a.prog.Item(j.path)
		a.readFile(ctx, ck, j)
	}
}

// readFile reads one file and hands its chunks to the blob workers; the
// file's future completes when the last chunk is saved. An unreadable file
// is recorded on the node (and in the snapshot) and is not an error; a
// repository failure is.
func (a *archiver) readFile(ctx context.Context, ck *chunker.Chunker, j *fileJob) {
	done := func(err error) {
		if err != nil {
			j.fut.err = err
		} else {
			j.fut.node = j.node
			a.count(func(s *repository.Summary) {
				if j.isNew {
					s.FilesNew++
				} else {
					s.FilesChanged++
				}
				s.TotalFiles++
				s.TotalBytes += int64(j.node.Size)
			})
			a.prog.Add(ui.Counts{Files: 1})
		}
		close(j.fut.done)
	}
	f, err := a.openFile(j.path)
	if err != nil {
		j.node.Error = err.Error()
		a.warnUnreadable(j.path, err)
		a.prog.Add(ui.Counts{Bytes: int64(j.node.Size)}) // counted by the scan
		done(nil)
		return
	}
	defer f.Close()
	if m := f.Meta(); m.Inode != 0 && !fsmeta.SameFile(m, fsmeta.Meta{Inode: j.node.Inode, Device: j.node.DeviceID}) {
		// Replaced since it was listed (an editor's or a log rotation's
		// rename): record what is read, with its own metadata.
		a.setMeta(j.node, m)
		j.node.Size = uint64(m.Size)
	}
	xs, xerr := f.Xattrs()
	a.setXattrs(j.node, j.path, xs, xerr)
	ck.Reset(f)
	// Metadata, not the count of bytes read, tells whether the file
	// changed: files of /proc and /sys report sizes that have nothing to
	// do with what a read returns.
	opened := f.Meta()
	a.chunkContent(ctx, ck, j.node, j.path, opened.Size <= inlineMax, done, func() bool {
		now, err := f.Restat()
		return err == nil && fsmeta.ContentChanged(opened, now)
	})
}

// saveContent saves a stream as a file's content.
func (a *archiver) saveContent(ctx context.Context, node *repository.Node, rd io.Reader, path string) *future {
	ck := chunker.New(rd, a.repo.ChunkerTable(), a.repo.ChunkerParams())
	f := &future{done: make(chan struct{})}
	a.chunkContent(ctx, ck, node, path, false, func(err error) {
		if err != nil {
			f.err = err
		} else {
			f.node = node
		}
		close(f.done)
	}, nil)
	return f
}

// inlineMax is the largest file whose chunks its reader saves itself
// instead of queueing them for the blob workers. Handing a small file's
// only chunk to another goroutine (a channel send, a wake-up, a context
// switch: system calls that cost a microsecond each on a virtual machine)
// costs about as much as compressing it, and the readers saving small
// files while the blob workers save large files' chunks keep both cores
// busy when one of them waits in a cgo call. It is the writer's
// repository.SmallBlob, so the extra savers take small scratch buffers
// (with 4 MiB ones peak RSS rose 28 MiB). Initial backup of the bench
// corpus (25,000 small files), three sets of 8 alternating pairs: −4.2%,
// −5.2% and −2.0% (medians of the pairs' differences), faster in 23 of
// 24, peak RSS 5–11 MiB lower (docs/benchmarks.md).
const inlineMax = repository.SmallBlob

// chunkContent cuts the stream of ck into chunks and queues them for the
// blob workers, or saves them itself if inline is set (see inlineMax). It
// returns when the stream is read; done is called (maybe later, on another
// goroutine) when every chunk is saved. changed, if not nil, is asked once
// the whole stream is read whether the source changed meanwhile.
func (a *archiver) chunkContent(ctx context.Context, ck *chunker.Chunker, node *repository.Node, path string, inline bool, done func(error), changed func() bool) {
	f := &fileSave{a: a, ctx: ctx, node: node, path: path, done: done}
	f.refs.Store(1) // the reader's own reference
	defer func() {
		if changed != nil && f.readErr == nil && f.repoErr.get() == nil && ctx.Err() == nil {
			f.changed = changed()
		}
		f.release()
	}()
	for {
		if isLarge(node) {
			// Feed the disk at its pace (see largeFile).
			if err := a.w.WaitBacklog(ctx, largeBacklog); err != nil {
				f.repoErr.set(err) // the repository failed (or the backup was cancelled), not the file
				return
			}
		}
		buf := a.bufs.Get()
		data, err := ck.Next(buf)
		if err != nil {
			a.bufs.Put(buf)
			if err != io.EOF {
				f.readErr = err
			}
			return
		}
		if f.repoErr.get() != nil {
			a.bufs.Put(data)
			return
		}
		f.size += uint64(len(data))
		a.prog.Add(ui.Counts{Bytes: int64(len(data))})
		j := &chunkJob{data: data, file: f}
		f.jobs = append(f.jobs, j)
		f.refs.Add(1)
		if inline {
			a.saveChunk(ctx, j)
			continue
		}
		select {
		case a.chunks <- j:
		case <-ctx.Done():
			f.refs.Add(-1)
			a.bufs.Put(data)
			f.readErr = ctx.Err()
			return
		}
	}
}

func (a *archiver) blobWorker(ctx context.Context) {
	for j := range a.chunks {
		a.saveChunk(ctx, j)
	}
}

// saveChunk stores one chunk as a data blob, gives its buffer back and
// releases the chunk's reference to its file.
func (a *archiver) saveChunk(ctx context.Context, j *chunkJob) {
	j.id = a.repo.BlobID(j.data)
	if _, err := a.w.SaveBlobID(ctx, repository.DataBlob, j.id, j.data); err != nil {
		if !errors.Is(err, context.Canceled) || ctx.Err() == nil {
			j.file.repoErr.set(err)
		} else {
			j.file.repoErr.set(ctx.Err())
		}
	}
	a.bufs.Put(j.data)
	j.data = nil
	j.file.release()
}

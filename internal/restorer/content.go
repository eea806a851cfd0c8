package restorer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// How contents are restored.
//
// The walk queues files into a batch (at most maxBatchFiles files or
// maxBatchBlobs blob uses). A full batch is flushed: the distinct blobs it
// needs are grouped by pack, each pack's blobs sorted by offset and cut into
// ranges of neighbouring blobs (gaps of at most maxGap, ranges of at most
// maxRange bytes), and each range is read with one backend Load. Loaders
// (a few, I/O bound) hand the range's blobs to workers (Options.Workers,
// CPU bound), which decode and verify each blob (repository.DecodeBlob) and
// write it at every offset of every file that uses it. A file is finished
// by whichever worker writes its last blob (see blobDone and finishFile).
//
// Memory is bounded by two budgets, whatever the snapshot says: sealed bytes
// of ranges loaded but not yet decoded (sealedBudget), and bytes of blobs
// being decoded (rawBudget). Each is acquired before the memory is used and
// released after; a range or blob larger than a budget takes all of it.
// Batches themselves hold only metadata (file names, blob ids, offsets).
const (
	maxBatchFiles = 1 << 15
	maxBatchBlobs = 1 << 18
	minBatchFiles = 256 // a batch smaller than this starts only when the walk is done
	maxRange      = 4 << 20
	maxGap        = 1 << 20
	sealedBudget  = 8 << 20
	rawBudget     = 16 << 20
)

// fileState is one file being restored. A batch holds up to maxBatchFiles
// of them, so it keeps only what cannot be derived: paths, the snapshot path
// and the metadata are made from dir, name and node when needed.
type fileState struct {
	dir           *dirRef // the directory it is restored into
	name, tmpName string  // its name and its partial file's name in dir
	node          *repository.Node
	size          int64 // from the index's blob lengths, not node.Size

	mu        sync.Mutex
	fh        pfile // the partial file, valid while open is set
	open      bool  // writes are running, or the last one handed fh to finishFile
	active    int   // writes running
	remaining int   // blob writes not yet done
	end       int64 // highest offset written up to: the file is truncated to size at the end only if this falls short
	created   bool
	anon      bool     // created without a name (see anonFiles), named once finished
	named     bool     // linked under its real name: nothing to rename
	modeSet   bool     // created with its final mode bits: no fchmod
	repeats   bool     // its content uses a blob more than once (runs of zeroes): not preallocated
	edges     *edgeSet // preallocated: partial blocks gathered (see directIO.prealloc)
	allocated int64    // its length as preallocated (0: not)
	ioErr     error    // the partial file cannot be created or opened: no more writes
	err       error    // first reason the file is not restored whole
	missing   bool     // content not backed up (node.Error)
	ok        bool     // renamed into place (read after the batch is done)
}

func (f *fileState) pathOf() string   { return filepath.Join(f.dir.path, f.name) }
func (f *fileState) tmpPath() string  { return filepath.Join(f.dir.path, f.tmpName) }
func (f *fileState) snapPath() string { return f.dir.snap + "/" + f.name }

func (f *fileState) setErr(err error) {
	if f.err == nil {
		f.err = err
	}
}

// target is one use of a blob: file and offset.
type target struct {
	f   *fileState
	off int64
}

type blobJob struct {
	id  crypto.ID
	loc repository.Location
	// alts are further places of the blob, tried in turn when loc cannot
	// be read or does not verify (see retry). Almost always empty.
	alts    []repository.Location
	seq     int // order of first use in the batch
	targets []target
}

type linkJob struct {
	first           *fileState
	path, tmp, snap string // tmp: for a copy where hard links fail
}

type batch struct {
	files []*fileState
	blobs map[crypto.ID]*blobJob
	uses  int
	links []linkJob
}

func newBatch() *batch { return &batch{blobs: make(map[crypto.ID]*blobJob)} }

// addFile queues the file node n (in tree t, directory dir) for restore.
func (r *restorer) addFile(ctx context.Context, t *repository.Tree, n *repository.Node, dir *dirRef) {
	var key [2]uint64
	linked := n.Links > 1 && n.Inode != 0
	if linked {
		key = [2]uint64{n.DeviceID, n.Inode}
		if first := r.links[key]; first != nil && sameContent(first, n) {
			r.batch.links = append(r.batch.links, linkJob{first: first, path: filepath.Join(dir.path, n.Name),
				tmp: filepath.Join(dir.path, partialName(t, n.Name)), snap: dir.snap + "/" + n.Name})
			r.maybeFlush(ctx)
			return
		}
	}
	fs := &fileState{dir: dir, name: n.Name, tmpName: partialName(t, n.Name), node: n}
	r.dirFDs.queued(dir)
	if linked && r.links[key] == nil {
		r.links[key] = fs
	}
	if r.opts.SkipIdentical && r.keepIdentical(dir, n) {
		fs.ok, fs.size = true, int64(n.Size)
		r.dirFDs.fileDone(dir)
		return
	}
	if n.Error != "" {
		fs.missing = true
		fs.setErr(fmt.Errorf("content was not backed up: the file could not be read during backup (%s)", n.Error))
	}
	b := r.batch
	var off int64
	for i, id := range n.Content {
		bj := b.blobs[id]
		if bj == nil {
			loc, alts, err := r.places(ctx, id)
			if err != nil {
				fs.setErr(fmt.Errorf("blob %d of %d (%s) %w; the rest of the file is missing", i+1, len(n.Content), id.Short(), err))
				break
			}
			bj = &blobJob{id: id, loc: loc, alts: alts, seq: len(b.blobs)}
			b.blobs[id] = bj
		}
		loc := bj.loc
		if len(bj.targets) > 0 && bj.targets[len(bj.targets)-1].f == fs {
			fs.repeats = true
		}
		bj.targets = append(bj.targets, target{f: fs, off: off})
		fs.remaining++
		b.uses++
		off += int64(loc.RawLength) // at most 2^26 per blob, 2^21 blobs per tree: no overflow
	}
	fs.size = off
	if fs.err == nil && uint64(off) != n.Size {
		fs.setErr(fmt.Errorf("the snapshot records %d bytes but the file's content is %d bytes", n.Size, off))
	}
	b.files = append(b.files, fs)
	r.maybeFlush(ctx)
}

// maybeFlush starts restoring the current batch when it is full, or when
// nothing is being restored and it holds enough to be worth a start: the
// walk goes on planning the next batch meanwhile, so contents are written
// from the first files on instead of after the walk of a whole batch.
func (r *restorer) maybeFlush(ctx context.Context) {
	n := len(r.batch.files) + len(r.batch.links)
	if n >= maxBatchFiles || r.batch.uses >= maxBatchBlobs {
		r.flush(ctx)
		return
	}
	if n >= max(minBatchFiles, r.earlyMin) && !r.flushRunning() {
		r.earlyMin = min(2*n, maxBatchFiles)
		r.flush(ctx)
	}
}

// flush starts restoring the current batch, after the one before it is
// done (one batch at a time: budgets and hard links to earlier files rely
// on it), and returns while it runs. waitFlush waits for it.
func (r *restorer) flush(ctx context.Context) {
	b := r.batch
	if len(b.files) == 0 && len(b.links) == 0 {
		return
	}
	r.batch = newBatch()
	r.waitFlush()
	done := make(chan struct{})
	r.flushDone = done
	go func() {
		defer close(done)
		r.restoreBatch(ctx, b)
	}()
}

// waitFlush waits for the batch being restored, if any.
func (r *restorer) waitFlush() {
	if r.flushDone != nil {
		<-r.flushDone
		r.flushDone = nil
	}
}

func (r *restorer) flushRunning() bool {
	if r.flushDone == nil {
		return false
	}
	select {
	case <-r.flushDone:
		return false
	default:
		return true
	}
}

// rangeJob is a stretch of one pack holding blobs the batch needs.
type rangeJob struct {
	pack   crypto.ID
	off    int64
	length int64
	seq    int // the earliest first use of its blobs
	blobs  []*blobJob
}

// planRanges groups the batch's blobs by pack and cuts each pack's blobs
// into ranges read with one Load each. Ranges are ordered by the first use
// of their blobs, that is in the order of the walk (which is, mostly, the
// order the backup wrote them in): files are then written front to back
// and directory by directory, instead of in the random order of pack ids.
func planRanges(blobs map[crypto.ID]*blobJob) []*rangeJob {
	byPack := make(map[crypto.ID][]*blobJob)
	for _, bj := range blobs {
		byPack[bj.loc.Pack] = append(byPack[bj.loc.Pack], bj)
	}
	var out []*rangeJob
	for pack, bl := range byPack {
		slices.SortFunc(bl, func(a, b *blobJob) int { return cmp.Compare(a.loc.Offset, b.loc.Offset) })
		var cur *rangeJob
		for _, bj := range bl {
			start, end := int64(bj.loc.Offset), int64(bj.loc.Offset)+int64(bj.loc.Length)
			if cur != nil && start-(cur.off+cur.length) <= maxGap && max(end, cur.off+cur.length)-cur.off <= maxRange {
				cur.length = max(end, cur.off+cur.length) - cur.off
				cur.seq = min(cur.seq, bj.seq)
				cur.blobs = append(cur.blobs, bj)
				continue
			}
			cur = &rangeJob{pack: pack, off: start, length: end - start, seq: bj.seq, blobs: []*blobJob{bj}}
			out = append(out, cur)
		}
	}
	slices.SortFunc(out, func(a, b *rangeJob) int {
		if c := cmp.Compare(a.seq, b.seq); c != 0 {
			return c
		}
		if c := slices.Compare(a.pack[:], b.pack[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.off, b.off)
	})
	return out
}

// task is one unit of worker work: decode a few neighbouring blobs of one
// loaded range and write each everywhere it is used, or finish a file that
// has no blob to wait for. Small blobs go in groups (up to maxTaskBlobs or
// maxTaskBytes of content), so that handing work to a worker does not cost
// more than the work.
type task struct {
	blobs  []*blobJob
	buf    []byte // the loaded bytes holding the blobs
	base   int64  // pack offset of buf[0]
	rng    *rangeRef
	finish *fileState
}

const (
	maxTaskBlobs = 64
	maxTaskBytes = 512 << 10
)

// rangeRef releases a loaded range's budget (and its buffer, if it was
// read into one of r's) once all its blobs are decoded.
type rangeRef struct {
	mu   sync.Mutex
	left int
	size int64
	bud  *budget
	buf  []byte
	r    *restorer
}

func (rr *rangeRef) done() {
	if rr == nil {
		return
	}
	rr.mu.Lock()
	rr.left--
	last := rr.left == 0
	rr.mu.Unlock()
	if last {
		if rr.r != nil {
			rr.r.putRangeBuf(rr.buf)
		}
		rr.bud.release(rr.size)
	}
}

// loadRangeBytes reads a range, into a reused buffer when the backend can
// (see backend.LoaderInto). It returns the range's bytes and the buffer to
// give back with putRangeBuf once they are used (nil: none).
func (r *restorer) loadRangeBytes(ctx context.Context, h backend.Handle, off, length int64) (data, buf []byte, err error) {
	li, ok := r.be.(backend.LoaderInto)
	if !ok || length > maxRange {
		data, err := r.be.Load(ctx, h, off, length)
		return data, nil, err
	}
	select {
	case buf = <-r.rangeBufs:
	default:
		buf = make([]byte, rangeBufSize)
	}
	data, err = li.LoadInto(ctx, h, off, length, buf)
	if err != nil {
		r.putRangeBuf(buf)
		return nil, nil, err
	}
	return data, buf, nil
}

// rangeBufSize is the size of a reused range buffer: the largest range and
// the room a backend may need around it (backend.LoadIntoSlack).
const rangeBufSize = maxRange + backend.LoadIntoSlack

// putRangeBuf keeps a range buffer for the next range (at most a few: the
// sealed budget bounds how many are in use).
func (r *restorer) putRangeBuf(buf []byte) {
	if cap(buf) != rangeBufSize {
		return // not one of ours
	}
	select {
	case r.rangeBufs <- buf[:cap(buf)]:
	default:
	}
}

// restoreBatch restores every file of batch b, then its hard links. It runs
// while the walker plans the next batch: it touches nothing of the walker's
// but the index (locked), the directory descriptors (locked) and the files
// of b and of batches before it.
func (r *restorer) restoreBatch(ctx context.Context, b *batch) {
	ranges := planRanges(b.blobs)
	b.blobs = nil

	stopWake := context.AfterFunc(ctx, func() { r.sealedBud.wake(); r.rawBud.wake() })
	defer stopWake()

	tasks := make(chan task, r.workers)
	rangeCh := make(chan *rangeJob)
	var producers, workers sync.WaitGroup

	producers.Add(1)
	go func() {
		defer producers.Done()
		defer close(rangeCh)
		for _, f := range b.files {
			if f.remaining == 0 {
				select {
				case tasks <- task{finish: f}:
				case <-ctx.Done():
					return
				}
			}
		}
		for _, rj := range ranges {
			select {
			case rangeCh <- rj:
			case <-ctx.Done():
				return
			}
		}
	}()
	for range min(r.loaders, max(len(ranges), 1)) {
		producers.Add(1)
		go func() {
			defer producers.Done()
			for rj := range rangeCh {
				r.loadRange(ctx, rj, tasks)
			}
		}()
	}
	for range r.workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for t := range tasks {
				r.work(ctx, t)
			}
		}()
	}
	producers.Wait()
	close(tasks)
	workers.Wait()
	if ctx.Err() != nil {
		// Files never finished hold their directories open; otherwise the
		// last file of each directory closed it.
		r.dirFDs.closeAll()
	}

	for _, l := range b.links {
		if ctx.Err() != nil {
			return
		}
		r.restoreLink(ctx, l)
	}
}

// loadRange reads one range and queues its blobs. If the range cannot be
// read in one piece, each blob is tried alone, so one bad spot fails only
// the files that need it.
func (r *restorer) loadRange(ctx context.Context, rj *rangeJob, tasks chan<- task) {
	h := backend.Handle{Type: backend.PackFile, Name: rj.pack.String()}
	got, err := r.sealedBud.acquire(ctx, rj.length)
	if err != nil {
		r.failBlobs(ctx, rj.blobs, err)
		return
	}
	data, buf, err := r.loadRangeBytes(ctx, h, rj.off, rj.length)
	if err == nil && int64(len(data)) != rj.length {
		err = fmt.Errorf("backend returned %d bytes, asked for %d", len(data), rj.length)
	}
	if err != nil {
		r.putRangeBuf(buf)
		r.sealedBud.release(got)
		if ctx.Err() != nil {
			r.failBlobs(ctx, rj.blobs, ctx.Err())
			return
		}
		for i, bj := range rj.blobs {
			got, err := r.sealedBud.acquire(ctx, int64(bj.loc.Length))
			if err != nil {
				r.failBlobs(ctx, rj.blobs[i:], err)
				return
			}
			rr := &rangeRef{left: 1, size: got, bud: r.sealedBud}
			sealed, err := r.be.Load(ctx, h, int64(bj.loc.Offset), int64(bj.loc.Length))
			if err == nil && len(sealed) != int(bj.loc.Length) {
				err = fmt.Errorf("backend returned %d bytes, asked for %d", len(sealed), bj.loc.Length)
			}
			if err != nil {
				rr.done()
				r.failOrRetry(ctx, bj, fmt.Errorf("read blob %s from pack %s: %w", bj.id.Short(), rj.pack.Short(), err))
				continue
			}
			select {
			case tasks <- task{blobs: rj.blobs[i : i+1], buf: sealed, base: int64(bj.loc.Offset), rng: rr}:
			case <-ctx.Done():
				rr.done()
				r.failBlobs(ctx, rj.blobs[i:], ctx.Err())
				return
			}
		}
		return
	}
	rr := &rangeRef{left: len(rj.blobs), size: got, bud: r.sealedBud, buf: buf, r: r}
	for i := 0; i < len(rj.blobs); {
		j, raw := i+1, int64(rj.blobs[i].loc.RawLength)
		for j < len(rj.blobs) && j-i < maxTaskBlobs && raw+int64(rj.blobs[j].loc.RawLength) <= maxTaskBytes {
			raw += int64(rj.blobs[j].loc.RawLength)
			j++
		}
		select {
		case tasks <- task{blobs: rj.blobs[i:j], buf: data, base: rj.off, rng: rr}:
		case <-ctx.Done():
			for range rj.blobs[i:] {
				rr.done()
			}
			r.failBlobs(ctx, rj.blobs[i:], ctx.Err())
			return
		}
		i = j
	}
}

// errNotContent says every place of a blob is listed as a tree blob.
var errNotContent = errors.New("is listed as a directory tree, not file content")

// places returns where to read a data blob: the place to try first and the
// others, best first (see repository.Index.LookupAll). Only places listed as
// data blobs count. File offsets are planned from the blob's raw length
// before anything is read, so every place returned must agree on it. Places
// disagree only when an index file is damaged or forged; then the blob is
// read once (repository.LoadBlob tries every place and marks the ones that
// fail verification), and only places of the verified length are kept.
// Called by the walker only.
func (r *restorer) places(ctx context.Context, id crypto.ID) (repository.Location, []repository.Location, error) {
	all := r.idx.LookupAll(id, r.locBuf[:0])
	r.locBuf = all[:0]
	if len(all) == 0 {
		return repository.Location{}, nil, repository.ErrBlobNotFound
	}
	if len(all) == 1 { // the common case: nothing to choose
		if all[0].Type != repository.DataBlob {
			return repository.Location{}, nil, errNotContent
		}
		return all[0], nil, nil
	}
	data := all[:0:0]
	for _, l := range all {
		if l.Type == repository.DataBlob {
			data = append(data, l)
		}
	}
	if len(data) == 0 {
		return repository.Location{}, nil, errNotContent
	}
	agree := true
	for _, l := range data[1:] {
		agree = agree && l.RawLength == data[0].RawLength
	}
	if !agree {
		raw, ok := r.rawLens[id]
		if !ok {
			blob, err := r.repo.LoadBlob(ctx, id, nil)
			if err != nil {
				return repository.Location{}, nil, fmt.Errorf("cannot be read: %w", err)
			}
			raw = uint32(len(blob))
			r.rawLens[id] = raw
		}
		kept := data[:0]
		for _, l := range r.idx.Locations(id) { // again: LoadBlob put the bad ones last
			if l.Type == repository.DataBlob && l.RawLength == raw {
				kept = append(kept, l)
			}
		}
		data = kept
	}
	if len(data) == 0 {
		return repository.Location{}, nil, errNotContent
	}
	return data[0], data[1:], nil
}

// retry reads a blob from its other places after reading it at bj.loc
// failed with firstErr, and writes it everywhere it is used; when no place
// works, every use fails with an error naming each place tried. The caller
// holds no budget.
func (r *restorer) retry(ctx context.Context, bj *blobJob, firstErr error) {
	locs := []repository.Location{bj.loc}
	errs := []error{firstErr}
	for _, loc := range bj.alts {
		got, err := r.rawBud.acquire(ctx, int64(loc.RawLength)+2*int64(loc.Length))
		if err != nil {
			r.failBlobs(ctx, []*blobJob{bj}, err)
			return
		}
		sealed, err := r.be.Load(ctx, backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}, int64(loc.Offset), int64(loc.Length))
		if err == nil && len(sealed) != int(loc.Length) {
			err = fmt.Errorf("backend returned %d bytes, asked for %d", len(sealed), loc.Length)
		}
		if err != nil {
			err = fmt.Errorf("read blob %s from pack %s: %w", bj.id.Short(), loc.Pack.Short(), err)
		}
		var data []byte
		if err == nil {
			data, err = r.repo.DecodeBlob(bj.id, loc, sealed, nil)
		}
		if err == nil {
			for _, tg := range bj.targets {
				r.write(ctx, tg.f, tg.off, data)
			}
			r.rawBud.release(got)
			return
		}
		r.rawBud.release(got)
		if ctx.Err() != nil {
			r.failBlobs(ctx, []*blobJob{bj}, ctx.Err())
			return
		}
		r.markBad(bj.id, loc, err)
		locs, errs = append(locs, loc), append(errs, err)
	}
	r.failBlobs(ctx, []*blobJob{bj}, repository.PlacesError(bj.id, locs, errs))
}

// markBad tells the index that a place of a blob failed verification or is
// gone, so later lookups try the other places first. Transient read errors
// do not count.
func (r *restorer) markBad(id crypto.ID, loc repository.Location, err error) {
	if errors.Is(err, repository.ErrDamagedBlob) || errors.Is(err, backend.ErrNotExist) {
		r.idx.MarkBad(id, loc)
	}
}

// failOrRetry fails the blob's uses with err, or tries its other places.
func (r *restorer) failOrRetry(ctx context.Context, bj *blobJob, err error) {
	if len(bj.alts) == 0 || ctx.Err() != nil {
		r.failBlobs(ctx, []*blobJob{bj}, err)
		return
	}
	r.markBad(bj.id, bj.loc, err)
	r.retry(ctx, bj, err)
}

// failBlobs marks every use of the blobs as failed.
func (r *restorer) failBlobs(ctx context.Context, blobs []*blobJob, err error) {
	for _, bj := range blobs {
		for _, tg := range bj.targets {
			r.writeDone(ctx, tg.f, fmt.Errorf("bytes %d-%d: %w", tg.off, tg.off+int64(bj.loc.RawLength), err))
		}
	}
}

func (r *restorer) work(ctx context.Context, t task) {
	if t.finish != nil {
		r.finishFile(ctx, t.finish, pfile{}, false)
		return
	}
	for k, bj := range t.blobs {
		need := int64(bj.loc.RawLength) // the decoded data, if compressed (the plaintext is opened in place)
		got, err := r.rawBud.acquire(ctx, need)
		if err != nil {
			for range t.blobs[k:] {
				t.rng.done()
			}
			r.failBlobs(ctx, t.blobs[k:], err)
			return
		}
		bufp, _ := r.bufs.Get().(*[]byte)
		if bufp == nil {
			bufp = new([]byte)
		}
		getBuf := func(n int) []byte {
			if cap(*bufp) < n {
				*bufp = make([]byte, 0, n)
			}
			return *bufp
		}
		// Each blob of a loaded range is decoded once, so its bytes may be
		// decrypted in place.
		s, n := int64(bj.loc.Offset)-t.base, int64(bj.loc.Length)
		data, err := r.repo.DecodeBlobInPlace(bj.id, bj.loc, t.buf[s:s+n:s+n], getBuf)
		if err != nil && len(bj.alts) > 0 {
			t.rng.done()
			// Release this blob's budget before retry takes its own.
			r.bufs.Put(bufp)
			r.rawBud.release(got)
			r.failOrRetry(ctx, bj, err)
			continue
		}
		if err != nil {
			r.failBlobs(ctx, t.blobs[k:k+1], err)
		} else {
			for _, tg := range bj.targets {
				r.write(ctx, tg.f, tg.off, data)
			}
		}
		t.rng.done() // only now: data may be a slice of the range (blobs stored uncompressed)
		if cap(*bufp) <= 8<<20 {
			r.bufs.Put(bufp)
		}
		r.rawBud.release(got)
	}
}

// write writes one blob into f's partial file at off.
func (r *restorer) write(ctx context.Context, f *fileState, off int64, data []byte) {
	f.mu.Lock()
	if !f.open && f.ioErr == nil {
		var err error
		if !f.created {
			if f.remaining == 1 { // written in one go
				f.fh, f.anon, err = r.createAnonFile(f)
			}
			if !f.anon && err == nil {
				f.fh, err = r.createPartialFile(f)
			}
			f.created = err == nil
		} else {
			f.fh, err = r.openPartialFile(f)
		}
		if err != nil {
			f.ioErr = err
		}
		f.open = err == nil
	}
	fh, open := f.fh, f.open
	if open {
		f.active++
	}
	f.mu.Unlock()
	if !open {
		r.blobDone(ctx, f, nil, false, 0)
		return
	}
	end, err := writeSparse(fh, off, data)
	if err == nil {
		r.prog.Add(ui.Counts{Bytes: int64(len(data))})
	} else {
		err = fmt.Errorf("write %s: %w", f.tmpPath(), err)
	}
	r.blobDone(ctx, f, err, true, end)
}

// writeDone records the end of one blob use that wrote nothing (err: why
// it failed) and finishes the file after its last one.
func (r *restorer) writeDone(ctx context.Context, f *fileState, err error) {
	r.blobDone(ctx, f, err, false, 0)
}

// blobDone records the end of one blob use: err is why it failed, wrote
// says it ran as one of f's active writes, end is the offset written up to.
// The write that finishes f hands the still open partial file to
// finishFile, which applies the metadata through it; other writes close it
// when no write is running, so at most Workers files are open at once,
// whatever the batch holds.
func (r *restorer) blobDone(ctx context.Context, f *fileState, err error, wrote bool, end int64) {
	f.mu.Lock()
	if wrote {
		f.active--
		f.end = max(f.end, end)
	}
	if err != nil {
		f.setErr(err)
	}
	f.remaining--
	last := f.remaining == 0
	var fh pfile
	handed := false
	if f.open && f.active == 0 {
		if last {
			fh, handed = f.fh, true
		} else if cerr := f.fh.close(); cerr != nil {
			f.setErr(fmt.Errorf("write %s: %w", f.tmpPath(), cerr))
		}
		f.open = false
	}
	f.mu.Unlock()
	if last {
		r.finishFile(ctx, f, fh, handed)
	}
}

// finishFile is called once every blob of f has been written (or failed),
// with the partial file still open (open set) if the last write handed it
// over: it sets the file's size where the writes fell short of it, applies
// the metadata through the open file, closes it and renames it into place,
// or leaves it under the partial name and reports why.
func (r *restorer) finishFile(ctx context.Context, f *fileState, fh pfile, open bool) {
	defer r.dirFDs.fileDone(f.dir)
	if ctx.Err() != nil {
		if open {
			fh.close()
		}
		return // interrupted: what was written keeps the partial name
	}
	if !open && f.ioErr == nil {
		var err error
		if !f.created {
			fh, err = r.createPartialFile(f)
			f.created = err == nil
		} else {
			fh, err = r.openPartialFile(f)
		}
		switch {
		case err != nil && !f.created:
			r.report(f.snapPath(), fmt.Errorf("cannot create %s: %w", f.tmpPath(), err))
			return
		case err != nil && f.err != nil:
			r.report(f.snapPath(), fmt.Errorf("not restored: %w; what could be restored is in %s (which cannot be opened again to set its size and metadata: %v)", f.err, f.tmpPath(), err))
			return
		case err != nil:
			r.report(f.snapPath(), fmt.Errorf("not restored: cannot open %s again: %w", f.tmpPath(), err))
			return
		}
		open = true
	}
	if f.ioErr != nil {
		if open {
			fh.close()
		}
		r.report(f.snapPath(), fmt.Errorf("not restored: cannot write %s: %w", f.tmpPath(), f.ioErr))
		return
	}
	if err := fh.flush(); err != nil {
		f.setErr(fmt.Errorf("write %s: %w", f.tmpPath(), err))
	}
	if f.end < f.size || f.allocated > f.size {
		// A hole at the end (zeroes, or blobs that failed): the writes did
		// not reach the file's size; or it was preallocated to a whole block.
		if err := fh.truncate(f.size); err != nil {
			f.setErr(fmt.Errorf("set the size of %s: %w", f.tmpPath(), err))
		}
	}
	merr, cerr := r.closePartialFile(f, fh)
	if cerr != nil {
		f.setErr(fmt.Errorf("write %s: %w", f.tmpPath(), cerr))
	}
	switch {
	case f.err != nil && f.missing && f.size == 0:
		r.report(f.snapPath(), fmt.Errorf("not restored: %w; an empty placeholder with its metadata is at %s", f.err, f.tmpPath()))
		return
	case f.err != nil:
		r.report(f.snapPath(), fmt.Errorf("not restored: %w; what could be restored is in %s (missing parts read as zeroes)", f.err, f.tmpPath()))
		return
	}
	if err := r.movePartialFile(f); err != nil {
		r.report(f.snapPath(), fmt.Errorf("restored to %s but cannot move it into place: %w", f.tmpPath(), err))
		return
	}
	f.ok = true
	r.files.Add(1)
	r.bytes.Add(f.size)
	r.prog.Add(ui.Counts{Files: 1})
	r.prog.Item(f.snapPath())
	if merr != nil {
		r.report(f.snapPath(), fmt.Errorf("content restored, but not all metadata: %w", merr))
	}
}

// budget is a counting semaphore for bytes of memory.
type budget struct {
	mu    sync.Mutex
	cond  sync.Cond
	avail int64
	max   int64
}

func newBudget(n int64) *budget {
	b := &budget{avail: n, max: n}
	b.cond.L = &b.mu
	return b
}

// acquire takes n bytes (at most the whole budget) and returns how many it
// took, waiting for them to be released by others.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(max(n, 0), b.max)
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.avail < n {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		b.cond.Wait()
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.avail -= n
	return n, nil
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	b.avail += n
	b.mu.Unlock()
	b.cond.Broadcast()
}

// wake lets waiters notice a cancelled context.
func (b *budget) wake() {
	b.mu.Lock()
	b.mu.Unlock()
	b.cond.Broadcast()
}

package repository

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/bufpool"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/hugepage"
)

// Index files are written during a long backup, not only at its end, so a
// killed backup loses little: at least every indexEveryPacks packs or
// indexEvery, whichever comes first.
const (
	indexEveryPacks = 32
	indexEvery      = time.Minute
	uploaders       = 2
	// packHeaderRoom is the room left in a pack buffer for the header:
	// enough for 8 MiB of 1 KiB blobs.
	packHeaderRoom = 1 << 19
)

// Writer adds blobs to the repository. It deduplicates against the index and
// against blobs in flight, seals blobs into packs, uploads full packs in the
// background, and writes index files naming uploaded packs. Safe for
// concurrent use. Finish with Commit (or Abort).
type Writer struct {
	r      *Repository
	ctx    context.Context
	cancel context.CancelCauseFunc

	mu       sync.Mutex
	inflight map[crypto.ID]struct{}
	open     [3]*packBuilder // by BlobType
	pending  []IndexPack     // uploaded, not yet in an index file
	lastIdx  time.Time
	stats    WriterStats
	idxMu    sync.Mutex // serialises index writes
	uploads  chan *packBuilder
	wg       sync.WaitGroup
	packBufs *bufpool.Pool
	sealBufs *bufpool.Pool // scratch for blobs larger than SmallBlob
	// smallBufs is scratch for blobs of at most SmallBlob bytes: a
	// backup's small files are saved by as many goroutines as read them
	// (see archiver), and a scratch buffer sized for the largest chunk
	// for each would cost megabytes per goroutine for a few KiB of data.
	smallBufs *bufpool.Pool
	closed    bool
	// active counts SaveBlobID calls under way; Commit and Abort wait for
	// them before closing uploads.
	active sync.WaitGroup
	// backlog counts packs sent to the uploaders and not yet stored;
	// backlogDown is closed (and replaced) whenever it goes down. See
	// WaitBacklog.
	backlogMu   sync.Mutex
	backlog     int
	backlogDown chan struct{}
}

// WriterStats counts what a writer added.
type WriterStats struct {
	DataBlobs, TreeBlobs int64
	DataBytes            int64 // raw bytes of new blobs
	PackedBytes          int64 // stored bytes of new blobs
	Packs                int64
	IndexFiles           int64
}

// NewWriter starts a writer; its uploads run until Commit or Abort.
func (r *Repository) NewWriter(ctx context.Context) *Writer {
	wctx, cancel := context.WithCancelCause(ctx)
	w := &Writer{r: r, ctx: wctx, cancel: cancel, inflight: make(map[crypto.ID]struct{}),
		uploads: make(chan *packBuilder), lastIdx: time.Now(), backlogDown: make(chan struct{})}
	// Packs get their full size at once: blobs are sealed into them in
	// place, so they must never be reallocated. PackSize (or one largest
	// chunk) plus room for the header; pages a small tree pack never
	// touches cost no memory.
	// Pack buffers are filled to PackSize before they are stored: in huge
	// pages, their first fill takes 4 page faults per 8 MiB instead of
	// 2,048 (each a trip to the host on a virtual machine). Initial backup
	// of the bench corpus: 9 of 10 alternating pairs faster, −3.1%, peak
	// RSS unchanged (docs/benchmarks.md).
	w.packBufs = bufpool.NewPrepared(max(r.cfg.PackSize, r.cfg.Chunker.Max+crypto.Overhead+1)+packHeaderRoom, uploaders+2,
		func(b []byte) { hugepage.Advise(b, r.cfg.PackSize) })
	// Scratch for one compressed blob: zstd's bound for the largest chunk,
	// or for SmallBlob.
	w.sealBufs = bufpool.New(scratchSize(r.cfg.Chunker.Max), runtime.GOMAXPROCS(0)+1)
	w.smallBufs = bufpool.New(scratchSize(SmallBlob), 2*runtime.GOMAXPROCS(0)+1)
	for range uploaders {
		w.wg.Add(1)
		go w.uploadLoop()
	}
	return w
}

// SmallBlob is the largest blob given scratch from Writer.smallBufs: a
// caller may save blobs up to this size from many goroutines at once
// without each holding a scratch buffer for the largest chunk.
const SmallBlob = 256 << 10

// scratchSize is the scratch a blob of n bytes needs: zstd's worst case
// (n + n/256 + a little) and the codec byte, rounded up generously.
func scratchSize(n int) int { return n + n/128 + 1<<12 }

// SaveBlob stores data unless an identical blob is already stored or in
// flight, and returns its id and whether it was added.
func (w *Writer) SaveBlob(ctx context.Context, t BlobType, data []byte) (crypto.ID, bool, error) {
	id := w.r.key.ID(data)
	added, err := w.SaveBlobID(ctx, t, id, data)
	return id, added, err
}

// errWriterFinished is returned for blobs saved after Commit or Abort.
var errWriterFinished = errors.New("writer already finished")

// SaveBlobID is SaveBlob for callers that already computed the id.
//
// The blob is compressed into a scratch buffer, then room for it is reserved
// in the open pack and it is sealed straight into that room, outside the
// lock: compression and encryption run on every caller's goroutine at once,
// and the data is copied once. A pack is uploaded when it is full and the
// last blob sealing into it is done.
func (w *Writer) SaveBlobID(ctx context.Context, t BlobType, id crypto.ID, data []byte) (bool, error) {
	return w.save(ctx, t, id, len(data), func(scratch []byte) []byte { return w.r.comp.encode(scratch, data) })
}

// SaveStoredBlob stores a blob given in its stored form (codec and
// payload, as Repository.LoadBlobStored returns it from another
// repository), with rawLen bytes of data and id computed over them, unless
// it is already stored or in flight. A copy between repositories with
// different keys seals the source's compressed form again instead of
// compressing the data once more; a destination that stores blobs
// uncompressed gets data decoded by the caller through SaveBlobID instead.
// The stored form is trusted: the caller verified it against the data.
func (w *Writer) SaveStoredBlob(ctx context.Context, t BlobType, id crypto.ID, rawLen int, stored []byte) (bool, error) {
	if len(stored) < 1 || stored[0] > codecZstd {
		return false, fmt.Errorf("save blob: stored form with unknown codec")
	}
	return w.save(ctx, t, id, rawLen, func(scratch []byte) []byte { return append(scratch, stored...) })
}

// Compresses reports whether blobs are stored compressed (see
// SaveStoredBlob).
func (w *Writer) Compresses() bool { return !w.r.comp.off }

// save stores a blob of rawLen bytes whose stored form encode appends to a
// scratch buffer, unless it is already stored or in flight.
func (w *Writer) save(ctx context.Context, t BlobType, id crypto.ID, rawLen int, encode func(scratch []byte) []byte) (bool, error) {
	if !t.valid() {
		return false, fmt.Errorf("save blob: invalid type %d", t)
	}
	if rawLen > MaxBlobSize {
		return false, fmt.Errorf("save blob: %d bytes exceeds the %d-byte limit", rawLen, MaxBlobSize)
	}
	if err := w.err(ctx); err != nil {
		return false, err
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false, errWriterFinished
	}
	if _, ok := w.inflight[id]; ok || w.r.idx.Has(id) {
		w.mu.Unlock()
		return false, nil
	}
	w.inflight[id] = struct{}{}
	w.active.Add(1)
	w.mu.Unlock()
	defer w.active.Done()

	scratchPool := w.sealBufs
	if rawLen <= SmallBlob {
		scratchPool = w.smallBufs
	}
	scratch := scratchPool.Get()
	plain := encode(scratch)
	need := crypto.Overhead + len(plain)

	w.mu.Lock()
	// A blob that would take the open pack past PackSize (or its buffer)
	// starts a new pack, so pack buffers never grow while blobs are sealed
	// into them.
	var ship [2]*packBuilder
	pb := w.open[t]
	if pb != nil && len(pb.blobs) > 0 && (len(pb.buf)+need > w.r.cfg.PackSize || len(pb.buf)+need > cap(pb.buf)) {
		ship[0] = w.detach(t)
		pb = nil
	}
	if pb == nil {
		buf := w.packBufs.Get()
		if cap(buf) < need {
			buf = make([]byte, 0, need+packHeaderRoom) // one blob larger than a pack
		}
		pb = &packBuilder{buf: buf}
		w.open[t] = pb
	}
	slot := pb.reserve(t, id, need, rawLen)
	pb.writers++
	if t == DataBlob {
		w.stats.DataBlobs++
	} else {
		w.stats.TreeBlobs++
	}
	w.stats.DataBytes += int64(rawLen)
	w.stats.PackedBytes += int64(need)
	if len(pb.buf) >= w.r.cfg.PackSize {
		w.detach(t) // we are sealing into it: the last writer ships it
	}
	w.mu.Unlock()

	w.r.key.Seal(slot[:0], plain, nil)
	scratchPool.Put(scratch)

	w.mu.Lock()
	pb.writers--
	if pb.detached && pb.writers == 0 {
		ship[1] = pb
	}
	w.mu.Unlock()

	for _, p := range ship {
		if p == nil {
			continue
		}
		if err := w.send(ctx, p); err != nil {
			return false, err
		}
	}
	return true, nil
}

// detach closes the open pack of type t to new blobs and returns it if it
// can be uploaded now (no blob is being sealed into it); otherwise its last
// writer uploads it. Called with w.mu held.
func (w *Writer) detach(t BlobType) *packBuilder {
	pb := w.open[t]
	w.open[t] = nil
	pb.detached = true
	if pb.writers == 0 {
		return pb
	}
	return nil
}

func (w *Writer) err(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.ctx.Err() != nil {
		return context.Cause(w.ctx)
	}
	return nil
}

func (w *Writer) send(ctx context.Context, pb *packBuilder) error {
	w.addBacklog(1)
	select {
	case w.uploads <- pb:
		return nil
	case <-ctx.Done():
		w.addBacklog(-1)
		return ctx.Err()
	case <-w.ctx.Done():
		w.addBacklog(-1)
		return context.Cause(w.ctx)
	}
}

func (w *Writer) addBacklog(d int) {
	w.backlogMu.Lock()
	w.backlog += d
	if d < 0 {
		close(w.backlogDown)
		w.backlogDown = make(chan struct{})
	}
	w.backlogMu.Unlock()
}

// WaitBacklog waits until fewer than n packs wait to be stored or are being
// stored. A reader of data that costs little CPU per byte (media, archives)
// calls it before each chunk, so that it feeds the disk at the disk's pace
// and leaves pack buffers and the CPU to compressible data meanwhile.
func (w *Writer) WaitBacklog(ctx context.Context, n int) error {
	for {
		w.backlogMu.Lock()
		backlog, down := w.backlog, w.backlogDown
		w.backlogMu.Unlock()
		if backlog < n {
			return nil
		}
		select {
		case <-down:
		case <-ctx.Done():
			return ctx.Err()
		case <-w.ctx.Done():
			return context.Cause(w.ctx)
		}
	}
}

func (w *Writer) uploadLoop() {
	defer w.wg.Done()
	for pb := range w.uploads {
		if w.ctx.Err() == nil { // else drain after failure
			if err := w.upload(pb); err != nil {
				w.cancel(err)
			}
		}
		w.addBacklog(-1)
	}
}

func (w *Writer) upload(pb *packBuilder) error {
	data := pb.finish(w.r.key)
	id := crypto.Hash(data)
	err := w.r.be.Save(w.ctx, backend.Handle{Type: backend.PackFile, Name: id.String()}, data)
	if errors.Is(err, backend.ErrExists) {
		err = nil // identical content already stored: same name, same bytes
	}
	if err != nil {
		return fmt.Errorf("save pack %s to %s: %w", id.Short(), w.r.be.Location(), err)
	}
	blobs := pb.blobs
	w.packBufs.Put(pb.buf)
	pb.buf, pb.blobs = nil, nil

	w.mu.Lock()
	w.r.idx.AddPack(id, blobs)
	for _, b := range blobs {
		delete(w.inflight, b.ID)
	}
	w.pending = append(w.pending, IndexPack{ID: id, Blobs: blobs})
	w.stats.Packs++
	flush := len(w.pending) >= indexEveryPacks || time.Since(w.lastIdx) >= indexEvery
	w.mu.Unlock()
	if flush {
		return w.flushIndex(w.ctx)
	}
	return nil
}

// flushIndex writes one index file naming every pending pack. Packs are
// durable before they are named; the snapshot comes after (Commit).
func (w *Writer) flushIndex(ctx context.Context) error {
	w.idxMu.Lock()
	defer w.idxMu.Unlock()
	w.mu.Lock()
	packs := w.pending
	w.pending = nil
	w.lastIdx = time.Now()
	w.mu.Unlock()
	if len(packs) == 0 {
		return nil
	}
	if _, err := w.r.SaveIndexFile(ctx, packs); err != nil {
		w.mu.Lock()
		w.pending = append(packs, w.pending...)
		w.mu.Unlock()
		return err
	}
	w.mu.Lock()
	w.stats.IndexFiles++
	w.mu.Unlock()
	return nil
}

// SaveIndexFile writes one index file naming packs and returns its id.
// The packs must be stored already (write order, docs/format.md); Writer
// calls it itself, and tools that store packs by other means (copying them
// from another repository) call it after them. Readers never trust an
// index file more than the blobs it points at (see Index).
func (r *Repository) SaveIndexFile(ctx context.Context, packs []IndexPack) (crypto.ID, error) {
	data := r.key.Seal(nil, encodeIndexFile(packs), indexAD)
	id := crypto.Hash(data)
	if err := r.be.Save(ctx, backend.Handle{Type: backend.IndexFile, Name: id.String()}, data); err != nil && !errors.Is(err, backend.ErrExists) {
		return id, fmt.Errorf("save index %s: %w", id.Short(), err)
	}
	return id, nil
}

// AdoptPacks indexes packs found without an index (left by a killed backup):
// their headers are read and authenticated, their blobs become available for
// dedup at once, and they are named in this writer's next index file. It
// returns how many packs were adopted; damaged ones are skipped and reported
// through onErr.
func (w *Writer) AdoptPacks(ctx context.Context, packs map[crypto.ID]int64, onErr func(crypto.ID, error)) (int, error) {
	n := 0
	for id, size := range packs {
		blobs, err := w.r.ReadPackHeader(ctx, id, size)
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			if onErr != nil {
				onErr(id, err)
			}
			continue
		}
		w.mu.Lock()
		w.r.idx.AddPack(id, blobs)
		w.pending = append(w.pending, IndexPack{ID: id, Blobs: blobs})
		w.mu.Unlock()
		n++
	}
	return n, nil
}

// Commit uploads partly filled packs, waits for every upload, and writes the
// final index file. When it returns nil, every blob saved is durable and
// indexed, and a snapshot may refer to it.
func (w *Writer) Commit(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return errWriterFinished
	}
	w.closed = true
	w.mu.Unlock()
	// Blobs still being saved finish (and upload full packs) first.
	w.active.Wait()
	w.mu.Lock()
	var rest []*packBuilder
	for t, pb := range w.open {
		if pb != nil && len(pb.blobs) > 0 {
			rest = append(rest, pb)
		}
		w.open[t] = nil
	}
	w.mu.Unlock()
	var sendErr error
	for _, pb := range rest {
		if err := w.send(ctx, pb); err != nil {
			sendErr = err
			break
		}
	}
	close(w.uploads)
	w.wg.Wait()
	if err := w.err(ctx); err != nil {
		return err
	}
	if sendErr != nil {
		return sendErr
	}
	err := w.flushIndex(ctx)
	w.cancel(errors.New("writer committed"))
	return err
}

// Abort stops uploads; packs already stored stay (the next backup adopts them).
func (w *Writer) Abort() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	w.cancel(errors.New("writer aborted"))
	w.active.Wait() // their uploads give up on the cancelled context
	close(w.uploads)
	w.wg.Wait()
}

// Stats returns what the writer has added so far.
func (w *Writer) Stats() WriterStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

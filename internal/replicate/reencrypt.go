package replicate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// reenc is the state of one re-encrypting copy.
//
// Blob ids are keyed per repository, so the same data has another id at the
// destination, and every tree (which names its children by id) must be
// rewritten bottom-up: a tree is saved only once every blob it names has
// been given to the destination writer, and the snapshot only after the
// writer committed (packs, then index).
//
// The destination id of a blob is only known after decrypting it, so
// without help every copy would read the whole snapshot from the source.
// Two things avoid that:
//   - an earlier snapshot already copied (the parent, or the previous one of
//     the dataset) is walked alongside: its source and destination trees
//     have the same shape, so an unchanged subtree (same source id) maps to
//     the destination subtree at the same path without reading anything,
//     and an unchanged blob of a changed file maps to the destination blob
//     at the same position (checked by its length in both indexes);
//   - ids maps source ids to destination ids for what this run handled, so
//     data shared between files is read once. A mapping is trusted only
//     while its destination blob is in the destination index or pending in
//     the current writer.
type reenc struct {
	c        *copier
	src, dst *repository.Repository

	mu      sync.Mutex
	ids     map[crypto.ID]crypto.ID
	pending map[crypto.ID]bool // destination ids given to the current writer
	w       *repository.Writer
	sem     chan struct{}
}

// maxMapped bounds ids (about 100 bytes an entry): past it, blobs are
// still deduplicated by the destination writer, only read again.
const maxMapped = 4 << 20

// pair is a source tree and its copy at the destination.
type pair struct{ src, dst crypto.ID }

func (c *copier) reencrypt(ctx context.Context, srcBe, dstBe backend.Backend) error {
	if len(c.opts.SrcPassword) == 0 || len(c.opts.DstPassword) == 0 {
		return fmt.Errorf("copy from %s to %s: the destination is another repository (other keys), so the copy re-encrypts and needs the passwords of both: %w",
			srcBe.Location(), dstBe.Location(), ErrNeedPassword)
	}
	src, err := c.srcRepo(ctx, srcBe)
	if err != nil {
		return err
	}
	dst, err := repository.Open(ctx, dstBe, c.opts.DstPassword, repository.Options{})
	if err != nil {
		return fmt.Errorf("open destination %s: %w", dstBe.Location(), err)
	}
	// A damaged or forged index file at the source (storage that does not
	// check names, such as S3, accepts garbage from whoever holds its keys)
	// is passed over and reported: the copy uses what the other index files
	// say, and every blob is verified when it is read anyway.
	skipIndex := func(id crypto.ID, err error) {
		c.refuse(backend.Handle{Type: backend.IndexFile, Name: id.String()}.String(), err.Error())
	}
	if err := src.LoadIndex(ctx, skipIndex); err != nil {
		return fmt.Errorf("load index of %s: %w", srcBe.Location(), err)
	}
	if err := dst.LoadIndex(ctx, nil); err != nil {
		return fmt.Errorf("load index of %s: %w", dstBe.Location(), err)
	}
	srcSnaps, err := src.Snapshots(ctx, func(id crypto.ID, err error) {
		if c.wanted(id.String()) {
			c.snapshot(SnapshotResult{ID: id.String(), Status: Failed, Reason: err.Error()})
		}
	})
	if err != nil {
		return fmt.Errorf("list snapshots of %s: %w", srcBe.Location(), err)
	}
	dstSnaps, err := dst.Snapshots(ctx, nil)
	if err != nil {
		return fmt.Errorf("list snapshots of %s: %w", dstBe.Location(), err)
	}
	// A copied snapshot keeps its metadata, so (time, host, dataset, paths)
	// identifies it at the destination although its id differs.
	present := make(map[string]crypto.ID, len(dstSnaps))
	dstTrees := make(map[crypto.ID]crypto.ID, len(dstSnaps))
	for _, s := range dstSnaps {
		present[identity(s.Snapshot)] = s.ID
		dstTrees[s.ID] = s.Tree
	}
	known := make(map[string]bool, len(srcSnaps))
	for _, s := range srcSnaps {
		known[s.ID.String()] = true
	}
	for _, want := range c.opts.Snapshots {
		if !known[want] {
			c.snapshot(SnapshotResult{ID: want, Status: Failed, Reason: "no such snapshot at the source " + srcBe.Location()})
		}
	}

	r := &reenc{c: c, src: src, dst: dst, ids: make(map[crypto.ID]crypto.ID), sem: make(chan struct{}, c.opts.Concurrency)}
	// Resume: packs an interrupted copy stored without an index are adopted,
	// so their blobs are not sent again.
	if err := r.adopt(ctx); err != nil {
		return err
	}
	parents := make(map[crypto.ID]crypto.ID) // source snapshot id -> destination id
	lastCopy := make(map[string]pair)        // dataset+host -> newest copied root trees
	srcTrees := make(map[crypto.ID]crypto.ID, len(srcSnaps))
	for _, s := range srcSnaps {
		srcTrees[s.ID] = s.Tree
	}
	paused := false
	for _, s := range srcSnaps {
		series := s.Dataset + "\x00" + s.Hostname
		wanted := c.wanted(s.ID.String()) && (c.opts.Dataset == "" || s.Dataset == c.opts.Dataset)
		if id, ok := present[identity(s.Snapshot)]; ok {
			// Already there: whether asked for or not, it is a previous
			// copy later snapshots can be mapped through.
			parents[s.ID] = id
			lastCopy[series] = pair{src: s.Tree, dst: dstTrees[id]}
			if wanted {
				c.snapshot(SnapshotResult{ID: s.ID.String(), DestID: id.String(), Status: Skipped})
			}
			continue
		}
		if !wanted {
			continue
		}
		res := SnapshotResult{ID: s.ID.String()}
		if paused || !c.inWindow() {
			paused = true
			c.setPaused()
			res.Status, res.Reason = Paused, errPaused.Error()
			c.snapshot(res)
			continue
		}
		// Map through the parent's copy, else the newest copy of the series.
		var prev *pair
		if s.Parent != nil {
			if pid, ok := parents[*s.Parent]; ok {
				prev = &pair{src: srcTrees[*s.Parent], dst: dstTrees[pid]}
			}
		}
		if p, ok := lastCopy[series]; ok && prev == nil {
			prev = &p
		}
		id, root, err := r.copySnapshot(ctx, s, parents, prev)
		switch {
		case err == nil:
			parents[s.ID] = id
			dstTrees[id] = root
			lastCopy[series] = pair{src: s.Tree, dst: root}
			res.DestID, res.Status = id.String(), Copied
		case errors.Is(err, errPaused):
			paused = true
			c.setPaused()
			res.Status, res.Reason = Paused, errPaused.Error()
		case isDestErr(err):
			res.Status, res.Reason = Failed, err.Error()
			c.snapshot(res)
			return err
		default:
			res.Status, res.Reason = Failed, err.Error()
		}
		c.snapshot(res)
	}
	return nil
}

// identity names a snapshot across repositories.
func identity(sn *repository.Snapshot) string {
	paths := append([]string(nil), sn.Paths...)
	sort.Strings(paths)
	return strconv.FormatInt(sn.Time.UnixNano(), 10) + "\x00" + sn.Hostname + "\x00" + sn.Dataset + "\x00" + strings.Join(paths, "\x00")
}

func (r *reenc) adopt(ctx context.Context) error {
	packs, err := r.dst.UnindexedPacks(ctx)
	if err != nil || len(packs) == 0 {
		return err
	}
	w := r.dst.NewWriter(ctx)
	if _, err := w.AdoptPacks(ctx, packs, nil); err != nil {
		w.Abort()
		return fmt.Errorf("adopt packs of an interrupted copy: %w", err)
	}
	if err := w.Commit(ctx); err != nil {
		return &destError{fmt.Errorf("index adopted packs: %w", err)}
	}
	return nil
}

// copySnapshot copies the blobs of one snapshot, then writes it. On a
// source problem or pause, what was written so far is committed (so it is
// reused next time) and the snapshot is not written.
func (r *reenc) copySnapshot(ctx context.Context, s repository.SnapshotEntry, parents map[crypto.ID]crypto.ID, prev *pair) (id, root crypto.ID, err error) {
	w := r.dst.NewWriter(ctx)
	r.mu.Lock()
	r.w, r.pending = w, make(map[crypto.ID]bool)
	r.mu.Unlock()
	root, walkErr := r.copyTree(ctx, s.Tree, prev, 0)
	if walkErr != nil && isDestErr(walkErr) {
		w.Abort()
		return crypto.ID{}, crypto.ID{}, walkErr
	}
	if err := w.Commit(ctx); err != nil {
		return crypto.ID{}, crypto.ID{}, &destError{fmt.Errorf("commit to %s: %w", r.dst.Backend().Location(), err)}
	}
	st := w.Stats()
	r.c.mu.Lock()
	r.c.res.BlobsNew += st.DataBlobs + st.TreeBlobs
	r.c.mu.Unlock()
	if walkErr != nil {
		return crypto.ID{}, crypto.ID{}, walkErr
	}
	sn := *s.Snapshot
	sn.Tree = root
	sn.Parent = nil
	if s.Parent != nil {
		if p, ok := parents[*s.Parent]; ok {
			sn.Parent = &p
		}
	}
	id, err = r.dst.SaveSnapshot(ctx, &sn)
	if err != nil {
		return crypto.ID{}, crypto.ID{}, &destError{err}
	}
	return id, root, nil
}

// lookup returns the destination id of a source blob if it can be reused.
func (r *reenc) lookup(id crypto.ID) (crypto.ID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.ids[id]
	if !ok || !(r.pending[d] || r.dst.Index().Has(d)) {
		return crypto.ID{}, false
	}
	return d, true
}

func (r *reenc) remember(srcID, dstID crypto.ID) {
	r.mu.Lock()
	if len(r.ids) < maxMapped {
		r.ids[srcID] = dstID
	}
	r.pending[dstID] = true
	r.mu.Unlock()
}

// stored reports whether the destination has (or is being given) blob d.
func (r *reenc) stored(d crypto.ID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pending[d] || r.dst.Index().Has(d)
}

// sameLength reports whether source blob s and destination blob d have the
// same plaintext length: a cheap check, from the two indexes, that a hint
// from the previous copy points at the right blob.
func (r *reenc) sameLength(s, d crypto.ID) bool {
	sl, ok1 := r.src.Index().Lookup(s)
	dl, ok2 := r.dst.Index().Lookup(d)
	return ok1 && ok2 && sl.RawLength == dl.RawLength && sl.Type == dl.Type
}

// hints loads the previous copy of a directory (source and destination
// trees); nil trees when there is none or it cannot be read.
func (r *reenc) hints(ctx context.Context, prev *pair) (*repository.Tree, *repository.Tree) {
	if prev == nil || !r.stored(prev.dst) {
		return nil, nil
	}
	ps, err := r.src.LoadTree(ctx, prev.src)
	if err != nil {
		return nil, nil
	}
	pd, err := r.dst.LoadTree(ctx, prev.dst)
	if err != nil || len(pd.Nodes) != len(ps.Nodes) {
		return nil, nil
	}
	return ps, pd
}

// copyTree rewrites the tree srcID (and everything below it) into the
// destination and returns its destination id. prev is the copy of the same
// directory in an earlier snapshot, if known.
func (r *reenc) copyTree(ctx context.Context, srcID crypto.ID, prev *pair, depth int) (crypto.ID, error) {
	if prev != nil && prev.src == srcID && r.stored(prev.dst) {
		r.c.stored("blobs", 0, true) // unchanged since the previous copy
		return prev.dst, nil
	}
	if d, ok := r.lookup(srcID); ok {
		r.c.stored("blobs", 0, true)
		return d, nil
	}
	if depth > 1024 {
		return crypto.ID{}, fmt.Errorf("tree %s: directories nest more than 1024 deep", srcID.Short())
	}
	if !r.c.inWindow() {
		return crypto.ID{}, errPaused
	}
	tree, err := r.src.LoadTree(ctx, srcID)
	if err != nil {
		if ctx.Err() != nil {
			return crypto.ID{}, ctx.Err()
		}
		return crypto.ID{}, fmt.Errorf("read tree %s from the source: %w", srcID.Short(), err)
	}
	r.c.mu.Lock()
	r.c.res.TreesRead++
	r.c.mu.Unlock()
	prevSrc, prevDst := r.hints(ctx, prev)
	// Data blobs of every file in this directory go in parallel (bounded by
	// sem); subdirectories are walked one after the other.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	setErr := func(err error) {
		mu.Lock()
		if firstErr == nil || (isDestErr(err) && !isDestErr(firstErr)) {
			firstErr = err
		}
		mu.Unlock()
	}
	for _, n := range tree.Nodes {
		var ps, pd *repository.Node
		if prevSrc != nil {
			ps, pd = prevSrc.Find(n.Name), prevDst.Find(n.Name)
			if ps == nil || pd == nil || ps.Type != n.Type || pd.Type != n.Type {
				ps, pd = nil, nil
			}
		}
		switch n.Type {
		case repository.NodeDir:
			var sub *pair
			if ps != nil {
				sub = &pair{src: ps.Subtree, dst: pd.Subtree}
			}
			d, err := r.copyTree(ctx, n.Subtree, sub, depth+1)
			if err != nil {
				setErr(err)
				break
			}
			n.Subtree = d
		case repository.NodeFile:
			var hint map[crypto.ID]crypto.ID
			if ps != nil && len(ps.Content) == len(pd.Content) {
				hint = make(map[crypto.ID]crypto.ID, len(ps.Content))
				for i, id := range ps.Content {
					hint[id] = pd.Content[i]
				}
			}
			for i, id := range n.Content {
				if d, ok := hint[id]; ok && r.stored(d) && r.sameLength(id, d) {
					n.Content[i] = d
					r.c.stored("blobs", 0, true)
					continue
				}
				if d, ok := r.lookup(id); ok {
					n.Content[i] = d
					r.c.stored("blobs", 0, true)
					continue
				}
				select {
				case r.sem <- struct{}{}:
				case <-ctx.Done():
					setErr(ctx.Err())
				}
				if ctx.Err() != nil {
					break
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-r.sem }()
					d, err := r.copyData(ctx, id)
					if err != nil {
						setErr(err)
						return
					}
					n.Content[i] = d
				}()
			}
		}
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop {
			break
		}
	}
	wg.Wait()
	if firstErr != nil {
		return crypto.ID{}, firstErr
	}
	data, err := repository.EncodeTree(tree)
	if err != nil {
		return crypto.ID{}, fmt.Errorf("tree %s: %w", srcID.Short(), err)
	}
	d, added, err := r.w.SaveBlob(ctx, repository.TreeBlob, data)
	if err != nil {
		return crypto.ID{}, &destError{fmt.Errorf("save tree to %s: %w", r.dst.Backend().Location(), err)}
	}
	r.remember(srcID, d)
	r.c.stored("blobs", int64(len(data)), !added)
	return d, nil
}

// copyData copies one data blob: read and verify it at the source, re-key,
// give it to the destination writer (which skips it if already stored).
func (r *reenc) copyData(ctx context.Context, srcID crypto.ID) (crypto.ID, error) {
	if !r.c.inWindow() {
		return crypto.ID{}, errPaused
	}
	data, stored, err := r.src.LoadBlobStored(ctx, srcID)
	if err != nil {
		if ctx.Err() != nil {
			return crypto.ID{}, ctx.Err()
		}
		return crypto.ID{}, fmt.Errorf("read blob %s from the source: %w", srcID.Short(), err)
	}
	r.c.mu.Lock()
	r.c.res.BlobsRead++
	r.c.mu.Unlock()
	d := r.dst.BlobID(data)
	// The source's compressed form is sealed again as it is: compressing
	// is most of a copy's CPU, and the data is the same.
	var added bool
	if r.w.Compresses() {
		added, err = r.w.SaveStoredBlob(ctx, repository.DataBlob, d, len(data), stored)
	} else {
		added, err = r.w.SaveBlobID(ctx, repository.DataBlob, d, data)
	}
	if err != nil {
		return crypto.ID{}, &destError{fmt.Errorf("save blob to %s: %w", r.dst.Backend().Location(), err)}
	}
	r.remember(srcID, d)
	r.c.stored("blobs", int64(len(data)), !added)
	return d, nil
}

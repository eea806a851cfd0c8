package checker

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/bufpool"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/parallel"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// Damage constructors. Callers hold c.mu (or run single-threaded).

func packKey(id crypto.ID) string { return "pack:" + id.String() }

// packDamage is damage to the pack file itself: missing, unreadable
// header, content that does not match its name, blobs that fail to decode.
func (c *checker) packDamage(id crypto.ID) *damage {
	k := packKey(id)
	if d := c.damages[k]; d != nil {
		return d
	}
	_, indexed := c.claims[id]
	d := &damage{kind: "pack", object: id.String(), unindexed: !indexed,
		tail: "restore them from another layer", noFiles: "no snapshot uses the damaged data"}
	if !indexed {
		d.noFiles = "it is in no index and no snapshot uses it; it can be moved out of the repository (" + packPath(id) + ")"
	}
	d.head = func(d *damage) string {
		rs := append([]string(nil), d.reasons...)
		if n := len(d.blobs); n > 0 {
			s := plural(n, "blob is", "blobs are") + " damaged"
			if d.total > 0 {
				s = fmt.Sprintf("%d of its %d blobs %s damaged", n, d.total, isAre(n))
			}
			if d.dupes > 0 {
				s += fmt.Sprintf(" (%d of them also stored in another pack, which may be intact)", d.dupes)
			}
			rs = append(rs, s)
		}
		s := fmt.Sprintf("pack %s is damaged (%s)", id.Short(), joinReasons(rs))
		if cl := c.claims[id]; cl != nil && len(d.blobs) > 0 {
			// Say who placed the blobs here: a pack of garbage listed by
			// a forged index file looks like any damaged pack.
			s += "; " + listIndexes(cl) + " it"
		}
		if d.all && d.maybe {
			s += "; its data was not read: run `lumbung check --read-data` to see which files are really damaged"
		}
		return s
	}
	c.damages[k] = d
	return d
}

// missingPack is a pack that the index names but storage does not hold.
func (c *checker) missingPack(id crypto.ID, cl *claim) *damage {
	d := c.packDamage(id)
	d.all = true
	d.head = func(*damage) string {
		return fmt.Sprintf("pack %s is missing from storage (%s it)", id.Short(), listIndexes(cl))
	}
	d.noFiles = "no snapshot depends on it (every blob a snapshot needs from it has a copy elsewhere); if no maintenance removed it, " +
		"the pack was never stored and the index file was forged by someone who may add files to the repository"
	c.badPack[id] = d
	return d
}

// listIndexes names the index files that list a pack: "index file 1a2b3c4d
// lists", "index files 1a2b3c4d, 5e6f7a8b list".
func listIndexes(cl *claim) string {
	if len(cl.indexes) == 1 {
		return "index file " + cl.indexes[0].Short() + " lists"
	}
	s := "index files "
	for i, id := range cl.indexes {
		if i == maxSnapsInText {
			s += fmt.Sprintf(" and %d more", len(cl.indexes)-i)
			break
		}
		if i > 0 {
			s += ", "
		}
		s += id.Short()
	}
	return s + " list"
}

// mismatch is index entries that disagree with the pack header.
func (c *checker) mismatch(id crypto.ID) *damage {
	k := "mismatch:" + id.String()
	if d := c.damages[k]; d != nil {
		return d
	}
	cl := c.claims[id]
	d := &damage{kind: "index", object: id.String(), tail: "restore them from another layer",
		noFiles: "no snapshot depends on them (every blob a snapshot needs has an intact copy elsewhere)"}
	d.head = func(d *damage) string {
		who := listIndexes(cl) + " that pack"
		if len(d.culprits) > 0 {
			who = listIndexes(&claim{indexes: d.culprits}) + " these entries"
		}
		return fmt.Sprintf("the index places %s in pack %s where the pack's header does not list them, so they cannot be read there (%s; an entry Lumbung never writes: an index file is damaged, or forged by someone who may add files)",
			plural(len(d.blobs), "blob", "blobs"), id.Short(), who)
	}
	c.damages[k] = d
	return d
}

// orphan is blobs that snapshots need, found only in a pack that no index
// lists them in (normally a pack in no index at all).
func (c *checker) orphan(pack crypto.ID) *damage {
	k := "orphan:" + pack.String()
	if d := c.damages[k]; d != nil {
		return d
	}
	_, indexed := c.claims[pack]
	d := &damage{kind: "index", object: pack.String(),
		tail: "run a backup (it indexes such packs again), then check again"}
	where := "pack " + pack.Short() + " (not indexed)"
	if indexed {
		where = "pack " + pack.Short()
		d.tail = "restore them from another layer"
	}
	if c.damages[packKey(pack)] != nil {
		d.tail = "but that pack is damaged too (see its error): restore them from another layer"
	}
	d.head = func(d *damage) string {
		return fmt.Sprintf("%s that snapshots need %s in no index, but %s holds them; restore cannot find them until they are indexed again",
			plural(len(d.blobs), "blob", "blobs"), isAre(len(d.blobs)), where)
	}
	c.damages[k] = d
	return d
}

// missingBlobs is blobs that snapshots need and nothing holds.
func (c *checker) missingBlobs() *damage {
	const k = "missing"
	if d := c.damages[k]; d != nil {
		return d
	}
	d := &damage{kind: "blob", object: "missing", tail: "restore them from another layer"}
	d.head = func(d *damage) string {
		return fmt.Sprintf("%s that snapshots need %s missing: no index lists them and no pack holds them",
			plural(len(d.blobs), "blob", "blobs"), isAre(len(d.blobs)))
	}
	c.damages[k] = d
	return d
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// placeKey names one place of one blob.
type placeKey struct {
	id  crypto.ID
	loc repository.Location
}

// addBadPlace marks blob id as damaged at loc and records it in d. The blob
// stays restorable while another place of it is intact (see status).
func (c *checker) addBadPlace(d *damage, id crypto.ID, loc repository.Location) {
	if _, indexed := c.claims[loc.Pack]; !indexed {
		// An unindexed copy is never read: the indexed one is.
		if _, seen := d.blobs[id]; !seen && len(d.blobs) < maxFilesCounted {
			d.addBlob(id)
		}
		return
	}
	k := placeKey{id, loc}
	if c.badPlace[k] == nil {
		c.badPlace[k] = d
	}
	if _, seen := d.blobs[id]; seen || len(d.blobs) >= maxFilesCounted {
		return
	}
	var buf [4]repository.Location
	if len(c.idx.LookupAll(id, buf[:0])) > 1 {
		d.dupes++
	}
	d.addBlob(id)
}

// loadIndex reads every index file into c.idx, reporting damaged ones.
func (c *checker) loadIndex(ctx context.Context) error {
	files, err := c.list(ctx, backend.IndexFile)
	if err != nil {
		return err
	}
	c.rep.IndexFiles = len(files)
	type result struct {
		packs []repository.IndexPack
		err   error
	}
	err = parallel.Ordered(ctx, len(files), workers(),
		func(ctx context.Context, i int) result {
			packs, err := c.repo.LoadIndexFile(ctx, files[i].id)
			return result{packs, err}
		},
		func(i int, r result) error {
			id := files[i].id
			if r.err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(r.err, backend.ErrNotExist) {
					return nil // removed meanwhile
				}
				c.badIndexFiles++
				c.fail("index", id.String(), "index file %s cannot be read (%s); packs that only it lists are reported as not indexed, and the next backup indexes them again",
					id.Short(), why(r.err, "index "+id.Short()+": ", "index "+id.Short()+" is "))
				return nil
			}
			for _, p := range r.packs {
				cl := c.claims[p.ID]
				if cl == nil {
					cl = &claim{index: id}
					c.claims[p.ID] = cl
				}
				cl.files++
				if len(cl.indexes) < maxIndexesPerPack && !slices.Contains(cl.indexes, id) {
					cl.indexes = append(cl.indexes, id)
				}
				if cl.files == 2 {
					c.dupPacks++
				}
				for _, b := range p.Blobs {
					cl.maxEnd = max(cl.maxEnd, uint64(b.Offset)+uint64(b.Length))
					if loc, ok := c.idx.Lookup(b.ID); ok && loc.Pack != p.ID {
						c.dupBlobs++
					}
				}
				c.idx.AddPack(p.ID, p.Blobs)
			}
			return nil
		})
	if err != nil {
		return err
	}
	c.idx.Each(func(_ crypto.ID, loc repository.Location) {
		if cl := c.claims[loc.Pack]; cl != nil {
			cl.entries++
		}
	})
	c.rep.Blobs = c.idx.Len()
	return nil
}

// packTail is the smallest possible pack trailer: a sealed one-byte header
// and its length.
const packTail = 4 + crypto.Overhead + 1

// checkPacks lists the packs, compares every header with the index, and
// reads the selected packs in full.
func (c *checker) checkPacks(ctx context.Context) error {
	files, err := c.list(ctx, backend.PackFile)
	if err != nil {
		return err
	}
	c.rep.Packs = len(files)
	for _, f := range files {
		c.packs[f.id] = &packInfo{size: f.size}
	}
	// Packs the index names that storage does not hold, in a stable order.
	var missing []crypto.ID
	for id := range c.claims {
		if c.packs[id] == nil {
			missing = append(missing, id)
		}
	}
	sortIDs(missing)
	for _, id := range missing {
		c.missingPack(id, c.claims[id])
	}

	toRead := c.selectPacks(files)
	var total int64
	for _, f := range toRead {
		c.packs[f.id].read = true
		total += f.size
	}
	c.prog.Start("check", ui.Counts{Files: int64(len(files)), Bytes: total})

	rd := newReader(c)
	err = parallel.Each(ctx, files, workers(), func(ctx context.Context, f fileEntry) error {
		return c.checkPack(ctx, rd, f.id)
	})
	if err != nil {
		return fatal(ctx, err)
	}
	if err := c.checkUnlisted(); err != nil {
		return err
	}
	if err := c.blame(ctx); err != nil {
		return err
	}
	err = c.readDeferred(ctx, rd)
	c.rep.PacksRead = int(rd.packs.Load())
	c.rep.BytesRead = rd.bytes.Load()
	return err
}

// selectPacks chooses the packs to read in full.
func (c *checker) selectPacks(files []fileEntry) []fileEntry {
	switch {
	case c.opts.ReadData:
		return files
	case c.opts.ReadDataSubset <= 0 || len(files) == 0:
		return nil
	}
	seed := c.opts.Seed
	for seed == 0 {
		seed = randUint64()
	}
	c.rep.Seed = seed
	n := int(float64(len(files))*c.opts.ReadDataSubset + 0.999999)
	n = max(1, min(n, len(files)))
	type scored struct {
		f     fileEntry
		score uint64
	}
	s := make([]scored, len(files))
	var buf [8 + crypto.IDSize]byte
	binary.LittleEndian.PutUint64(buf[:8], seed)
	for i, f := range files {
		copy(buf[8:], f.id[:])
		h := crypto.Hash(buf[:])
		s[i] = scored{f, binary.LittleEndian.Uint64(h[:8])}
	}
	sortFunc(s, func(a, b scored) int {
		switch {
		case a.score < b.score:
			return -1
		case a.score > b.score:
			return 1
		}
		return compareIDs(a.f.id, b.f.id)
	})
	out := make([]fileEntry, n)
	for i := range out {
		out[i] = s[i].f
	}
	return out
}

// checkPack checks one pack's header against the index and reads it in
// full when selected.
func (c *checker) checkPack(ctx context.Context, rd *reader, id crypto.ID) error {
	info := c.packs[id]
	cl := c.claims[id]
	hdr, err := c.repo.ReadPackHeader(ctx, id, info.size)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.mu.Lock()
		d := c.packDamage(id)
		if errors.Is(err, backend.ErrNotExist) {
			d.addReason("it disappeared while check ran")
		} else {
			d.addReason("its header cannot be read: " + why(err, "pack "+id.Short()+": ", "damaged pack: "))
		}
		if cl != nil && cl.maxEnd > uint64(max(info.size-packTail, 0)) {
			d.addReason(fmt.Sprintf("it is %d bytes, shorter than index file %s says, so it was probably cut off", info.size, cl.index.Short()))
		}
		if cl != nil {
			d.all, d.maybe = true, true
			c.badPack[id] = d
		}
		if info.read {
			c.deferred = append(c.deferred, id)
		}
		c.mu.Unlock()
		if !info.read {
			c.prog.Add(ui.Counts{Files: 1})
		}
		return nil
	}
	if cl != nil {
		c.compareHeader(id, cl, hdr)
	} else {
		c.orphans.AddPack(id, hdr)
		c.mu.Lock()
		c.unindexed = append(c.unindexed, id)
		c.mu.Unlock()
	}
	if !info.read {
		c.prog.Add(ui.Counts{Files: 1})
		return nil
	}
	blobs := make([]blobRef, len(hdr))
	for i, b := range hdr {
		blobs[i] = blobRef{b.ID, repository.Location{Type: b.Type, Pack: id, Offset: b.Offset, Length: b.Length, RawLength: b.RawLength}}
	}
	return rd.read(ctx, id, info.size, blobs, false)
}

// compareHeader checks that every index entry placing a blob in pack id
// matches the pack's authenticated header.
func (c *checker) compareHeader(id crypto.ID, cl *claim, hdr []repository.PackedBlob) {
	matched, wrong, unknown := c.matchHeader(id, hdr)
	if len(unknown) > 0 {
		// Blobs the pack holds but no index lists (never written so by
		// Lumbung): remembered so that a snapshot needing one is told
		// where it is.
		c.orphans.AddPack(id, unknown)
	}
	if len(wrong) == 0 && matched == cl.entries {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(wrong) > 0 {
		d := c.mismatch(id)
		for _, w := range wrong {
			c.addBadPlace(d, w.id, w.loc)
			d.addWrongPlace(w)
		}
	}
	if matched+len(wrong) != cl.entries {
		// Some entries name blobs the header does not list at all: find
		// them once every header has been read (checkUnlisted).
		c.headers[id] = hdr
	}
}

func headerPlace(pack crypto.ID, b repository.PackedBlob) repository.Location {
	return repository.Location{Type: b.Type, Pack: pack, Offset: b.Offset, Length: b.Length, RawLength: b.RawLength}
}

// matchHeader compares the index places in pack id with its header: matched
// counts places the header lists exactly, wrong are places in the pack of
// blobs the header lists but not there, unknown are blobs the header lists
// and no index does. The common pack (each blob listed once, in one place)
// takes one lookup per blob and no allocation.
func (c *checker) matchHeader(id crypto.ID, hdr []repository.PackedBlob) (matched int, wrong []placeKey, unknown []repository.PackedBlob) {
	var buf [4]repository.Location
	simple := true
	for _, b := range hdr {
		locs := c.idx.LookupAll(b.ID, buf[:0])
		if len(locs) == 0 {
			unknown = append(unknown, b)
			continue
		}
		in, exact := 0, 0
		for _, l := range locs {
			if l.Pack == id {
				in++
				if l == headerPlace(id, b) {
					exact++
				}
			}
		}
		switch {
		case in == 0: // a duplicate: the index has copies elsewhere only
		case in == 1 && exact == 1:
			matched++
		default:
			simple = false
		}
	}
	if simple {
		return matched, nil, unknown
	}
	// Several places in this pack for one blob, or a place the header does
	// not list: compare sets.
	listed := make(map[placeKey]bool, len(hdr))
	for _, b := range hdr {
		listed[placeKey{b.ID, headerPlace(id, b)}] = true
	}
	matched = 0
	done := make(map[crypto.ID]bool, len(hdr))
	for _, b := range hdr {
		if done[b.ID] {
			continue
		}
		done[b.ID] = true
		for _, l := range c.idx.LookupAll(b.ID, buf[:0]) {
			switch {
			case l.Pack != id:
			case listed[placeKey{b.ID, l}]:
				matched++
			default:
				wrong = append(wrong, placeKey{b.ID, l})
			}
		}
	}
	return matched, wrong, unknown
}

// checkUnlisted finds index entries that place blobs in a pack whose header
// does not list them.
func (c *checker) checkUnlisted() error {
	if len(c.headers) == 0 {
		return nil
	}
	listed := make(map[placeKey]bool)
	for pack, hdr := range c.headers {
		for _, b := range hdr {
			listed[placeKey{b.ID, headerPlace(pack, b)}] = true
		}
	}
	var found []placeKey
	c.idx.Each(func(id crypto.ID, loc repository.Location) {
		if c.headers[loc.Pack] == nil {
			return
		}
		if k := (placeKey{id, loc}); !listed[k] {
			found = append(found, k)
		}
	})
	for _, b := range found {
		d := c.mismatch(b.loc.Pack)
		c.addBadPlace(d, b.id, b.loc)
		d.addWrongPlace(b)
	}
	c.headers = nil
	return nil
}

// readDeferred reads the selected packs whose header could not be read,
// decoding the blobs where the index places them.
func (c *checker) readDeferred(ctx context.Context, rd *reader) error {
	if len(c.deferred) == 0 {
		return nil
	}
	want := make(map[crypto.ID][]blobRef, len(c.deferred))
	for _, id := range c.deferred {
		want[id] = nil
	}
	c.idx.Each(func(id crypto.ID, loc repository.Location) {
		if refs, ok := want[loc.Pack]; ok {
			want[loc.Pack] = append(refs, blobRef{id, loc})
		}
	})
	sortIDs(c.deferred)
	err := parallel.Each(ctx, c.deferred, workers(), func(ctx context.Context, id crypto.ID) error {
		return rd.read(ctx, id, c.packs[id].size, want[id], true)
	})
	return fatal(ctx, err)
}

// blobRef is one blob to decode.
type blobRef struct {
	id  crypto.ID
	loc repository.Location
}

// overlapping reports whether any two blobs share bytes of the pack.
func overlapping(blobs []blobRef) bool {
	locs := make([]repository.Location, len(blobs))
	for i, b := range blobs {
		locs[i] = b.loc
	}
	slices.SortFunc(locs, func(a, b repository.Location) int { return cmp.Compare(a.Offset, b.Offset) })
	for i := 1; i < len(locs); i++ {
		if uint64(locs[i-1].Offset)+uint64(locs[i-1].Length) > uint64(locs[i].Offset) {
			return true
		}
	}
	return false
}

// reader reads whole packs within a memory budget. A backend that reads
// into a given buffer (the local one, around the page cache) reads into
// buffers kept for the next packs: reading a repository through the page
// cache would fill it with data read once, evicting what the server's own
// services keep there, and fresh buffers per pack cost page faults.
type reader struct {
	c        *checker
	budget   *budget
	maxSize  int64
	bufs     sync.Pool
	into     backend.LoaderInto // nil: the backend has no LoadInto
	packBufs *bufpool.Pool
	packs    atomic.Int64
	bytes    atomic.Int64
}

// Memory for packs read at once. A pack larger than the budget is read
// alone.
const readBudget = 512 << 20

func newReader(c *checker) *reader {
	// The largest pack a writer makes: a full pack plus one more blob and
	// the biggest header.
	maxSize := int64(c.cfg.PackSize) + repository.MaxBlobSize + 1 + crypto.Overhead + 32<<20 + 4
	rd := &reader{c: c, budget: newBudget(readBudget), maxSize: maxSize,
		bufs: sync.Pool{New: func() any { return new([]byte) }}}
	if li, ok := c.be.(backend.LoaderInto); ok {
		// Room for a full pack and one more blob: what almost every pack
		// is. A larger one is read into a buffer of its own.
		rd.into = li
		rd.packBufs = bufpool.New(int(c.cfg.PackSize)+int(c.cfg.Chunker.Max)+1<<16+backend.LoadIntoSlack, workers())
	}
	return rd
}

// load reads pack id whole; done hands its buffer back once the bytes are
// no longer used.
func (rd *reader) load(ctx context.Context, id crypto.ID, size int64) (data []byte, done func(), err error) {
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	if rd.into == nil {
		data, err := rd.c.be.Load(ctx, h, 0, size)
		return data, func() {}, err
	}
	buf := rd.packBufs.Get()
	data, err = rd.into.LoadInto(ctx, h, 0, size, buf)
	return data, func() { rd.packBufs.Put(buf) }, err
}

// read loads pack id whole, checks it against its name and decodes blobs.
// headerBad: the header was unreadable and blobs come from the index.
func (rd *reader) read(ctx context.Context, id crypto.ID, size int64, blobs []blobRef, headerBad bool) error {
	c := rd.c
	defer c.prog.Add(ui.Counts{Files: 1, Bytes: size})
	if size < packTail {
		return nil // nothing to read; the header check said so
	}
	if size > rd.maxSize {
		c.mu.Lock()
		c.packDamage(id).addReason(fmt.Sprintf("it is %d bytes, larger than any pack Lumbung writes, and was not read", size))
		c.mu.Unlock()
		return nil
	}
	n, err := rd.budget.acquire(ctx, size)
	if err != nil {
		return err
	}
	defer rd.budget.release(n)
	data, done, err := rd.load(ctx, id, size)
	defer done()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.mu.Lock()
		d := c.packDamage(id)
		if errors.Is(err, backend.ErrNotExist) {
			d.addReason("it disappeared while check ran")
		} else {
			d.addReason("it cannot be read: " + err.Error())
		}
		if !d.unindexed && c.badPack[id] == nil {
			d.all, d.maybe = true, true
			c.badPack[id] = d
		}
		c.mu.Unlock()
		return nil
	}
	rd.packs.Add(1)
	rd.bytes.Add(int64(len(data)))

	// The name is checked first: blobs are then opened over their own
	// bytes (the pack is read for this alone), unless the header or index
	// lists blobs that overlap, where that would damage a neighbour.
	nameOK := crypto.Hash(data) == id
	inPlace := !overlapping(blobs)
	bufp := rd.bufs.Get().(*[]byte)
	defer rd.bufs.Put(bufp)
	getBuf := func(n int) []byte {
		if cap(*bufp) < n {
			*bufp = make([]byte, 0, n)
		}
		return (*bufp)[:0]
	}
	var bad []blobRef
	for _, b := range blobs {
		end := uint64(b.loc.Offset) + uint64(b.loc.Length)
		if end > uint64(len(data)) {
			bad = append(bad, b)
			continue
		}
		sealed := data[b.loc.Offset:end:end]
		var err error
		if inPlace {
			_, err = c.repo.DecodeBlobInPlace(b.id, b.loc, sealed, getBuf)
		} else {
			var out []byte
			if out, err = c.repo.DecodeBlob(b.id, b.loc, sealed, (*bufp)[:0]); err == nil {
				*bufp = out[:0]
			}
		}
		if err != nil {
			bad = append(bad, b)
		}
	}
	if cap(*bufp) > 2*int(c.cfg.Chunker.Max)+1<<20 {
		*bufp = nil // a rare huge blob grew it: not kept
	}
	if nameOK && len(bad) == 0 && !headerBad {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.packDamage(id)
	if !nameOK {
		d.addReason("content does not match its name")
	}
	if headerBad {
		// The blobs were read where the index places them: now the
		// damage is known exactly.
		d.all, d.maybe = false, false
		delete(c.badPack, id)
	}
	d.total = len(blobs)
	if len(bad) > maxBadPerPack && !d.unindexed {
		// Badly damaged: treat the whole pack as lost rather than
		// remembering every blob.
		d.all = true
		c.badPack[id] = d
		for _, b := range bad {
			if len(d.blobs) < maxFilesCounted {
				d.addBlob(b.id)
			}
		}
	} else {
		for _, b := range bad {
			c.addBadPlace(d, b.id, b.loc)
		}
	}
	if d.unindexed && len(bad) > 0 && !headerBad {
		d.noFiles = "it is in no index and no snapshot uses it, but the next backup would adopt its damaged blobs: move " + packPath(id) + " out of the repository before the next backup"
		d.tail = "restore them from another layer; the next backup would adopt the damaged blobs of this pack, which is in no index, unless " + packPath(id) + " is moved out of the repository first"
	}
	return nil
}

// maxBadPerPack is how many damaged blobs of one pack are tracked one by
// one; beyond, the whole pack counts as lost.
const maxBadPerPack = 1024

// budget is a counting semaphore over bytes.
type budget struct {
	mu    sync.Mutex
	free  int64
	total int64
	wake  chan struct{}
}

func newBudget(total int64) *budget {
	return &budget{free: total, total: total, wake: make(chan struct{})}
}

// acquire waits until n bytes (at most the whole budget) are free, takes
// them and returns how many it took.
func (b *budget) acquire(ctx context.Context, n int64) (int64, error) {
	n = max(0, min(n, b.total))
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return n, nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

func (b *budget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.free += n
	close(b.wake)
	b.wake = make(chan struct{})
}

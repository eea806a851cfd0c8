package repository

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/lumbung-id/lumbung/internal/crypto"
)

// Index maps blob ids to their places in packs. It is built from every index
// file at open and grows as packs are written.
//
// Memory matters (a regional repository holds tens of millions of blobs), so
// entries live in fixed-size blocks (no copying on growth) and lookups go
// through an open-addressing table of 32-bit entry numbers: about 60 bytes
// per blob in all (52-byte entry plus 4-8 bytes of table), against 150+ for
// a Go map of structs.
//
// A blob may be listed in more than one place: two writers raced, or
// someone who holds the key but may only add files (an attacker with the
// agent's append-only credential) wrote an index file claiming real blob
// ids live somewhere else. No order among index files can be trusted, so
// every place is kept and readers try them in turn until one decrypts and
// matches the blob's keyed id (Repository.LoadBlob). The first place is the
// entry itself; further places go to a side map that only duplicated blobs
// use: nothing for the common blob, about 100 bytes for a blob with extra
// places plus 20 per extra place.
//
// Places are also judged while the process runs: a place whose pack storage
// does not hold (markMissing, done when the index is loaded) or whose blob
// failed verification (MarkBad) is not usable. Has reports only usable
// places, so a writer stores a blob again rather than deduplicating
// against a place that cannot be read.
type Index struct {
	mu        sync.RWMutex
	packs     []crypto.ID
	packNum   map[crypto.ID]uint32
	packFlags []uint8 // by pack number: packMissing, packSuspect
	blocks    [][]indexEntry
	n         int
	table     []uint32 // entry number + 1; 0 is empty
	extra     map[crypto.ID][]altLoc
}

type indexEntry struct {
	id        crypto.ID
	pack      uint32
	offset    uint32
	length    uint32
	rawLength uint32
	typ       BlobType
	flags     uint8 // locBad, entryHasAlt: fits in the padding, costs nothing
}

// altLoc is a further place of a blob listed in more than one place.
type altLoc struct {
	pack, offset, length, rawLength uint32
	typ                             BlobType
	flags                           uint8 // locBad
}

// Flags of entries and places.
const (
	locBad      = 1 << 0 // failed verification in this process
	entryHasAlt = 1 << 1 // the blob has places in Index.extra
)

// Flags of packs.
const (
	packMissing = 1 << 0 // storage does not hold it
	packSuspect = 1 << 1 // a blob in it failed verification
)

const blockShift = 12 // 4096 entries per block

// Location is where a blob is stored.
type Location struct {
	Type      BlobType
	Pack      crypto.ID
	Offset    uint32
	Length    uint32
	RawLength uint32
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{packNum: make(map[crypto.ID]uint32), table: make([]uint32, 1024)}
}

func (x *Index) entry(i int) *indexEntry { return &x.blocks[i>>blockShift][i&(1<<blockShift-1)] }

func slotOf(id *crypto.ID, mask int) int {
	return int(binary.LittleEndian.Uint64(id[:8])) & mask
}

// find returns the entry number for id, or -1.
func (x *Index) find(id *crypto.ID) int {
	mask := len(x.table) - 1
	for s := slotOf(id, mask); ; s = (s + 1) & mask {
		e := x.table[s]
		if e == 0 {
			return -1
		}
		if x.entry(int(e-1)).id == *id {
			return int(e - 1)
		}
	}
}

// usable reports whether a place with these flags in pack pn may hold the blob.
func (x *Index) usable(pn uint32, flags uint8) bool {
	return flags&locBad == 0 && x.packFlags[pn]&packMissing == 0
}

// Has reports whether the blob has a usable place: one in a pack that
// storage holds and that has not failed verification. Writers deduplicate
// against it.
func (x *Index) Has(id crypto.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	i := x.find(&id)
	if i < 0 {
		return false
	}
	e := x.entry(i)
	if x.usable(e.pack, e.flags) {
		return true
	}
	if e.flags&entryHasAlt != 0 {
		for _, a := range x.extra[id] {
			if x.usable(a.pack, a.flags) {
				return true
			}
		}
	}
	return false
}

// Lookup returns where the blob is stored: its preferred place (see
// LookupAll). ok is false only when no index lists the blob; a blob whose
// every place is unusable still returns one, so that reading it fails with
// the real reason.
func (x *Index) Lookup(id crypto.ID) (Location, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	i := x.find(&id)
	if i < 0 {
		return Location{}, false
	}
	e := x.entry(i)
	if e.flags&entryHasAlt == 0 {
		return x.loc(e.pack, e.offset, e.length, e.rawLength, e.typ), true
	}
	var buf [4]Location
	return x.lookupAll(i, buf[:0])[0], true
}

// LookupAll appends every place of the blob to dst, best first: usable
// places in packs that have not failed verification, then other usable
// places, then unusable ones (missing pack, failed verification); in the
// order they were added within each group. It appends nothing for a blob
// no index lists.
func (x *Index) LookupAll(id crypto.ID, dst []Location) []Location {
	x.mu.RLock()
	defer x.mu.RUnlock()
	i := x.find(&id)
	if i < 0 {
		return dst
	}
	return x.lookupAll(i, dst)
}

// Locations returns every place of the blob, best first (see LookupAll).
func (x *Index) Locations(id crypto.ID) []Location { return x.LookupAll(id, nil) }

func (x *Index) loc(pn, off, length, raw uint32, t BlobType) Location {
	return Location{Type: t, Pack: x.packs[pn], Offset: off, Length: length, RawLength: raw}
}

func (x *Index) lookupAll(i int, dst []Location) []Location {
	e := x.entry(i)
	type place struct {
		l    Location
		rank int
	}
	rank := func(pn uint32, flags uint8) int {
		switch {
		case !x.usable(pn, flags):
			return 2
		case x.packFlags[pn]&packSuspect != 0:
			return 1
		}
		return 0
	}
	if e.flags&entryHasAlt == 0 {
		return append(dst, x.loc(e.pack, e.offset, e.length, e.rawLength, e.typ))
	}
	alts := x.extra[e.id]
	all := make([]place, 0, 1+len(alts))
	all = append(all, place{x.loc(e.pack, e.offset, e.length, e.rawLength, e.typ), rank(e.pack, e.flags)})
	for _, a := range alts {
		all = append(all, place{x.loc(a.pack, a.offset, a.length, a.rawLength, a.typ), rank(a.pack, a.flags)})
	}
	for r := 0; r <= 2; r++ {
		for _, p := range all {
			if p.rank == r {
				dst = append(dst, p.l)
			}
		}
	}
	return dst
}

// MarkBad records that the blob could not be read or verified at loc: it is
// no longer usable (Has ignores it, LookupAll puts it last), and its pack
// is suspect (its other blobs are tried after places in other packs). Only
// this process's view changes; nothing is written.
func (x *Index) MarkBad(id crypto.ID, loc Location) {
	x.mu.Lock()
	defer x.mu.Unlock()
	i := x.find(&id)
	pn, ok := x.packNum[loc.Pack]
	if i < 0 || !ok {
		return
	}
	x.packFlags[pn] |= packSuspect
	e := x.entry(i)
	if e.pack == pn && e.offset == loc.Offset && e.length == loc.Length && e.rawLength == loc.RawLength && e.typ == loc.Type {
		e.flags |= locBad
	}
	alts := x.extra[id]
	for k := range alts {
		a := &alts[k]
		if a.pack == pn && a.offset == loc.Offset && a.length == loc.Length && a.rawLength == loc.RawLength && a.typ == loc.Type {
			a.flags |= locBad
		}
	}
}

// AddPack records the blobs of one pack. A blob already indexed elsewhere
// gets this place as a further one; a place already recorded is not added
// twice.
func (x *Index) AddPack(pack crypto.ID, blobs []PackedBlob) {
	x.mu.Lock()
	defer x.mu.Unlock()
	pn, ok := x.packNum[pack]
	if !ok {
		pn = uint32(len(x.packs))
		x.packs = append(x.packs, pack)
		x.packFlags = append(x.packFlags, 0)
		x.packNum[pack] = pn
	}
	for _, b := range blobs {
		if i := x.find(&b.ID); i >= 0 {
			x.addAlt(x.entry(i), pn, b)
			continue
		}
		if (x.n+1)*4 > len(x.table)*3 {
			x.grow()
		}
		if x.n>>blockShift >= len(x.blocks) {
			x.blocks = append(x.blocks, make([]indexEntry, 1<<blockShift))
		}
		*x.entry(x.n) = indexEntry{id: b.ID, pack: pn, offset: b.Offset, length: b.Length, rawLength: b.RawLength, typ: b.Type}
		x.insert(&b.ID, x.n)
		x.n++
	}
}

// addAlt records a further place of the blob of entry e, unless it has it.
func (x *Index) addAlt(e *indexEntry, pn uint32, b PackedBlob) {
	if e.pack == pn && e.offset == b.Offset && e.length == b.Length && e.rawLength == b.RawLength && e.typ == b.Type {
		return
	}
	alts := x.extra[b.ID]
	for _, a := range alts {
		if a.pack == pn && a.offset == b.Offset && a.length == b.Length && a.rawLength == b.RawLength && a.typ == b.Type {
			return
		}
	}
	if x.extra == nil {
		x.extra = make(map[crypto.ID][]altLoc)
	}
	x.extra[b.ID] = append(alts, altLoc{pack: pn, offset: b.Offset, length: b.Length, rawLength: b.RawLength, typ: b.Type})
	e.flags |= entryHasAlt
}

func (x *Index) insert(id *crypto.ID, n int) {
	mask := len(x.table) - 1
	s := slotOf(id, mask)
	for x.table[s] != 0 {
		s = (s + 1) & mask
	}
	x.table[s] = uint32(n + 1)
}

func (x *Index) grow() {
	x.table = make([]uint32, 2*len(x.table))
	for i := 0; i < x.n; i++ {
		x.insert(&x.entry(i).id, i)
	}
}

// Len is the number of distinct blobs.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.n
}

// HasPack reports whether any index names the pack.
func (x *Index) HasPack(id crypto.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	_, ok := x.packNum[id]
	return ok
}

// Packs returns every indexed pack id.
func (x *Index) Packs() []crypto.ID {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]crypto.ID(nil), x.packs...)
}

// MissingPacks returns the indexed packs that storage did not hold when the
// index was loaded.
func (x *Index) MissingPacks() []crypto.ID {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []crypto.ID
	for pn, f := range x.packFlags {
		if f&packMissing != 0 {
			out = append(out, x.packs[pn])
		}
	}
	return out
}

// markMissing marks every indexed pack for which stored reports false as
// missing (and clears the mark of the others). stored is called under the
// index lock and must not call back into the index.
func (x *Index) markMissing(stored func(pn uint32) bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for pn := range x.packFlags {
		if stored(uint32(pn)) {
			x.packFlags[pn] &^= packMissing
		} else {
			x.packFlags[pn] |= packMissing
		}
	}
}

// packNumber returns the internal number of an indexed pack.
func (x *Index) packNumber(id crypto.ID) (uint32, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	pn, ok := x.packNum[id]
	return pn, ok
}

// packCount is the number of indexed packs.
func (x *Index) packCount() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.packs)
}

// Each calls fn for every place of every indexed blob (a blob listed in
// several places is visited once per place), under the read lock: fn must
// not call back into the index.
func (x *Index) Each(fn func(id crypto.ID, loc Location)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for i := 0; i < x.n; i++ {
		e := x.entry(i)
		fn(e.id, x.loc(e.pack, e.offset, e.length, e.rawLength, e.typ))
		if e.flags&entryHasAlt != 0 {
			for _, a := range x.extra[e.id] {
				fn(e.id, x.loc(a.pack, a.offset, a.length, a.rawLength, a.typ))
			}
		}
	}
}

// IndexPack is one pack as listed in an index file.
type IndexPack struct {
	ID    crypto.ID
	Blobs []PackedBlob
}

const indexFileVersion = 1

var indexAD = []byte("lumbung/index")

// encodeIndexFile returns the plaintext of an index file.
func encodeIndexFile(packs []IndexPack) []byte {
	n := 1 + binary.MaxVarintLen64
	for _, p := range packs {
		n += crypto.IDSize + binary.MaxVarintLen64 + len(p.Blobs)*(1+crypto.IDSize+3*binary.MaxVarintLen32)
	}
	buf := make([]byte, 0, n)
	buf = append(buf, indexFileVersion)
	buf = binary.AppendUvarint(buf, uint64(len(packs)))
	for _, p := range packs {
		buf = append(buf, p.ID[:]...)
		buf = binary.AppendUvarint(buf, uint64(len(p.Blobs)))
		for _, b := range p.Blobs {
			buf = append(buf, byte(b.Type))
			buf = append(buf, b.ID[:]...)
			buf = binary.AppendUvarint(buf, uint64(b.Offset))
			buf = binary.AppendUvarint(buf, uint64(b.Length))
			buf = binary.AppendUvarint(buf, uint64(b.RawLength))
		}
	}
	return buf
}

// decodeIndexFile parses an index file plaintext. Counts are checked against
// the remaining bytes before anything is allocated, so a hostile file cannot
// make the reader allocate more than its own size.
func decodeIndexFile(buf []byte) ([]IndexPack, error) {
	if len(buf) < 1 || buf[0] != indexFileVersion {
		return nil, fmt.Errorf("index: unknown version")
	}
	p := buf[1:]
	readUvarint := func(what string) (uint64, error) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, fmt.Errorf("index: bad %s", what)
		}
		p = p[n:]
		return v, nil
	}
	npacks, err := readUvarint("pack count")
	if err != nil {
		return nil, err
	}
	if npacks > uint64(len(p)/(crypto.IDSize+1)) {
		return nil, fmt.Errorf("index: pack count %d exceeds file size", npacks)
	}
	packs := make([]IndexPack, 0, npacks)
	for i := uint64(0); i < npacks; i++ {
		if len(p) < crypto.IDSize {
			return nil, fmt.Errorf("index: truncated")
		}
		var ip IndexPack
		copy(ip.ID[:], p)
		p = p[crypto.IDSize:]
		nblobs, err := readUvarint("blob count")
		if err != nil {
			return nil, err
		}
		if nblobs > uint64(len(p)/(1+crypto.IDSize+3)) {
			return nil, fmt.Errorf("index: blob count %d exceeds file size", nblobs)
		}
		ip.Blobs = make([]PackedBlob, 0, nblobs)
		for j := uint64(0); j < nblobs; j++ {
			if len(p) < 1+crypto.IDSize {
				return nil, fmt.Errorf("index: truncated")
			}
			b := PackedBlob{Type: BlobType(p[0])}
			if !b.Type.valid() {
				return nil, fmt.Errorf("index: unknown blob type %d", p[0])
			}
			copy(b.ID[:], p[1:])
			p = p[1+crypto.IDSize:]
			var vals [3]uint64
			for k := range vals {
				if vals[k], err = readUvarint("blob position"); err != nil {
					return nil, err
				}
			}
			if vals[0] > maxPackOffset || vals[1] > maxSealedBlob || vals[2] > MaxBlobSize || vals[1] < minSealedBlob {
				return nil, fmt.Errorf("index: blob position out of range")
			}
			b.Offset, b.Length, b.RawLength = uint32(vals[0]), uint32(vals[1]), uint32(vals[2])
			ip.Blobs = append(ip.Blobs, b)
		}
		packs = append(packs, ip)
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("index: %d trailing bytes", len(p))
	}
	return packs, nil
}

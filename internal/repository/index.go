package repository

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/lumbung-id/lumbung/internal/crypto"
)

// Index maps blob ids to their place in a pack. It is built from every index
// file at open and grows as packs are written.
//
// Memory matters (a regional repository holds tens of millions of blobs), so
// entries live in fixed-size blocks (no copying on growth) and lookups go
// through an open-addressing table of 32-bit entry numbers: about 60 bytes
// per blob in all (52-byte entry plus 4-8 bytes of table), against 150+ for
// a Go map of structs.
type Index struct {
	mu      sync.RWMutex
	packs   []crypto.ID
	packNum map[crypto.ID]uint32
	blocks  [][]indexEntry
	n       int
	table   []uint32 // entry number + 1; 0 is empty
}

type indexEntry struct {
	id        crypto.ID
	pack      uint32
	offset    uint32
	length    uint32
	rawLength uint32
	typ       BlobType
}

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

// Has reports whether the blob is indexed.
func (x *Index) Has(id crypto.ID) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.find(&id) >= 0
}

// Lookup returns where the blob is stored.
func (x *Index) Lookup(id crypto.ID) (Location, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	i := x.find(&id)
	if i < 0 {
		return Location{}, false
	}
	e := x.entry(i)
	return Location{Type: e.typ, Pack: x.packs[e.pack], Offset: e.offset, Length: e.length, RawLength: e.rawLength}, true
}

// AddPack records the blobs of one pack. Blobs already indexed (in another
// pack) keep their first location.
func (x *Index) AddPack(pack crypto.ID, blobs []PackedBlob) {
	x.mu.Lock()
	defer x.mu.Unlock()
	pn, ok := x.packNum[pack]
	if !ok {
		pn = uint32(len(x.packs))
		x.packs = append(x.packs, pack)
		x.packNum[pack] = pn
	}
	for _, b := range blobs {
		if x.find(&b.ID) >= 0 {
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

// Each calls fn for every indexed blob, under the read lock: fn must not
// call back into the index.
func (x *Index) Each(fn func(id crypto.ID, loc Location)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for i := 0; i < x.n; i++ {
		e := x.entry(i)
		fn(e.id, Location{Type: e.typ, Pack: x.packs[e.pack], Offset: e.offset, Length: e.length, RawLength: e.rawLength})
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

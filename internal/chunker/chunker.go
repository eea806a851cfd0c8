// Package chunker splits byte streams into content-defined chunks, the unit
// of deduplication in a Lumbung repository.
//
// Boundaries are found with a FastCDC-style gear hash: the hash is not
// computed over the first Min bytes of a chunk (cut-point skipping), and
// normalized chunking (level 2) uses a stricter mask before Avg bytes and a
// looser one after it, so chunk sizes cluster around Avg. The gear table is
// derived from a per-repository secret seed (see NewTable). Without the seed,
// the boundaries, and therefore the chunk sizes visible in storage, cannot be
// computed from known content. That makes it much harder to tell whether a
// repository holds a given file. It is not a cryptographic guarantee: an
// attacker who can make the repository store data of their choice and then
// observe chunk sizes can still learn things about the table.
//
// Chunk boundaries are part of the on-disk format. For a given seed and
// Params, this package must never change where it cuts a stream. That covers
// the table derivation, the masks, the skipping rule and the Min/Max handling.
// A change would not corrupt existing repositories, but every new backup
// would stop deduplicating against the old data. TestGolden pins the
// behaviour. If the algorithm ever has to change, add a new, versioned variant
// and record which one a repository uses in its config. Never edit this one.
package chunker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/zeebo/blake3"
)

// Params are the chunk size bounds. They are recorded in the repository
// config; changing them for an existing repository changes all boundaries.
type Params struct {
	Min, Avg, Max int // Avg must be a power of two
}

// DefaultParams are the chunk size bounds of new repositories.
var DefaultParams = Params{Min: 512 << 10, Avg: 1 << 20, Max: 4 << 20}

// Limits enforced by Params.Validate. The small lower bounds exist so tests
// and fuzzing can run with small chunks; real repositories use DefaultParams.
const (
	minMin = 64        // smallest allowed Min
	minAvg = 64        // smallest allowed Avg
	maxMax = 256 << 20 // largest allowed Max (bounds the internal buffer)
)

// Validate reports whether p can be used for chunking: it requires
// 64 <= Min < Avg < Max <= 256 MiB and Avg a power of two.
func (p Params) Validate() error {
	switch {
	case p.Min < minMin:
		return fmt.Errorf("chunker: Min %d is below %d", p.Min, minMin)
	case p.Avg < minAvg || p.Avg&(p.Avg-1) != 0:
		return fmt.Errorf("chunker: Avg %d is not a power of two >= %d", p.Avg, minAvg)
	case p.Min >= p.Avg:
		return fmt.Errorf("chunker: Min %d is not below Avg %d", p.Min, p.Avg)
	case p.Max <= p.Avg:
		return fmt.Errorf("chunker: Max %d is not above Avg %d", p.Max, p.Avg)
	case p.Max > maxMax:
		return fmt.Errorf("chunker: Max %d is above %d", p.Max, maxMax)
	}
	return nil
}

// masks returns the normalized-chunking masks (normalization level 2) for
// p.Avg = 2^n: maskS has n+2 bits and is used while the chunk is shorter than
// Avg; maskL has n-2 bits and is used from Avg on. A cut is made after the
// byte at which hash&mask == 0. The masks take the top bits of the hash,
// which depend on the most recent 64 bytes (the lowest bit depends on one
// byte only).
func (p Params) masks() (maskS, maskL uint64) {
	n := bits.TrailingZeros64(uint64(p.Avg))
	return ^uint64(0) << (64 - (n + 2)), ^uint64(0) << (64 - (n - 2))
}

// tableContext separates the gear table from anything else derived from
// the same seed. Part of the on-disk format: never change it.
const tableContext = "lumbung chunker gear table v1"

// Table is the 256-entry gear table derived from a 32-byte secret seed.
type Table [256]uint64

// NewTable derives the gear table from a secret seed. The seed should be a
// per-repository secret that is used for nothing else.
//
// Derivation (part of the on-disk format, must never change): BLAKE3 in
// keyed mode with key = seed, input = the ASCII string
// "lumbung chunker gear table v1", extended output (XOF) of 2048 bytes;
// entry i is bytes [8i, 8i+8) read as a little-endian uint64.
func NewTable(seed [32]byte) *Table {
	h, err := blake3.NewKeyed(seed[:])
	if err != nil {
		panic("chunker: " + err.Error()) // unreachable: the key is 32 bytes
	}
	_, _ = h.WriteString(tableContext)
	var raw [len(Table{}) * 8]byte
	_, _ = h.Digest().Read(raw[:]) // always fills raw, never fails
	t := new(Table)
	for i := range t {
		t[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	return t
}

// maxEmptyReads is how many consecutive (0, nil) reads are tolerated before
// giving up with io.ErrNoProgress.
const maxEmptyReads = 100

// minBufSize is the smallest internal buffer, so that tiny test Params do
// not cause tiny reads.
const minBufSize = 64 << 10

// Chunker splits a stream into content-defined chunks. It is not safe for
// concurrent use.
type Chunker struct {
	rd           io.Reader
	table        *Table
	p            Params
	maskS, maskL uint64

	buf      []byte // read buffer, len(buf) >= 2*p.Max
	pos, end int    // unconsumed data is buf[pos:end]
	eof      bool   // rd returned io.EOF
	err      error  // sticky read error
}

// New returns a Chunker that splits rd using table and p. It panics if
// table is nil or p is invalid; check p with Validate first.
func New(rd io.Reader, table *Table, p Params) *Chunker {
	if table == nil {
		panic("chunker: nil table")
	}
	if err := p.Validate(); err != nil {
		panic(err)
	}
	c := &Chunker{
		table: table,
		p:     p,
		// Max and a quarter: a cut needs at most Max bytes ahead, and each
		// refill moves what is left to the front. Twice Max cost 3 MiB more
		// per file reader for no speed (peak RSS 155 → 140 MiB in a backup).
		buf: make([]byte, max(p.Max+p.Max/4, minBufSize)),
	}
	c.maskS, c.maskL = p.masks()
	c.Reset(rd)
	return c
}

// Reset makes c split rd from its start, reusing the table, the params and
// the internal buffer. Any unconsumed data of the previous reader is dropped.
func (c *Chunker) Reset(rd io.Reader) {
	c.rd = rd
	c.pos, c.end = 0, 0
	c.eof = false
	c.err = nil
}

// Next returns the next chunk. The chunk is copied into buf[:0] (any previous
// contents of buf are overwritten), growing it if its capacity is too small:
// pass buf[:0] of a pooled buffer of capacity Max to avoid allocations. The
// returned slice is valid until buf is reused.
//
// Every chunk is at most Max bytes long and at least Min bytes long, except
// the last one of a stream. At the end of the stream Next returns (nil,
// io.EOF); an empty stream gives io.EOF immediately. A read error is returned
// wrapped (use errors.Is) and is sticky: later calls return it again.
func (c *Chunker) Next(buf []byte) ([]byte, error) {
	for {
		if c.err != nil {
			return nil, c.err
		}
		data := c.buf[c.pos:c.end]
		n, found := c.cut(data)
		// The search is sequential, so a cut found in a prefix of the
		// stream is the cut of the whole stream: only an unfinished search
		// needs more data.
		if found || n == c.p.Max || c.eof {
			if n == 0 {
				return nil, io.EOF
			}
			c.pos += n
			return append(buf[:0], data[:n]...), nil
		}
		c.fill()
	}
}

// cut returns the length of the chunk at the start of data. found is true if
// the cut was chosen by the hash. Otherwise n is min(len(data), Max). If
// n < Max, the chunk may continue past the end of data.
func (c *Chunker) cut(data []byte) (n int, found bool) {
	minSize, avgSize, maxSize := c.p.Min, c.p.Avg, c.p.Max
	if len(data) <= minSize {
		return len(data), false
	}
	limit := min(len(data), maxSize)
	normal := min(avgSize, limit)
	i, h := scan(c.table, data[minSize:normal], 0, c.maskS)
	if i >= 0 {
		return minSize + i + 1, true
	}
	i, _ = scan(c.table, data[normal:limit], h, c.maskL)
	if i >= 0 {
		return normal + i + 1, true
	}
	return limit, false
}

// scan feeds data into the gear hash h, h = h<<1 + t[b] for each byte b, and
// returns the index of the first byte after which h&mask == 0 together with
// the hash at that point, or -1 and the final hash if there is none.
//
// The main loop looks at four bytes per iteration. It computes the four
// intermediate hashes from h independently, e.g. h2 = h<<3 + (t[b0]<<2 +
// t[b1]<<1 + t[b2]), so the loop-carried dependency is one shift and one add
// per four bytes instead of per byte. On a match it leaves the resolution to
// the byte-wise loop, so the result is exactly that of the byte-wise loop.
func scan(t *Table, data []byte, h, mask uint64) (int, uint64) {
	i := 0
	for ; i+4 <= len(data); i += 4 {
		d := data[i : i+4 : i+4]
		g0, g1, g2, g3 := t[d[0]], t[d[1]], t[d[2]], t[d[3]]
		g01 := g0<<1 + g1
		g012 := g01<<1 + g2
		h0 := h<<1 + g0
		h1 := h<<2 + g01
		h2 := h<<3 + g012
		h3 := h<<4 + (g012<<1 + g3)
		if h0&mask == 0 || h1&mask == 0 || h2&mask == 0 || h3&mask == 0 {
			break
		}
		h = h3
	}
	for ; i < len(data); i++ {
		h = h<<1 + t[data[i]]
		if h&mask == 0 {
			return i, h
		}
	}
	return -1, h
}

// fill moves the unconsumed data to the front of the buffer and reads until
// the buffer is full, the reader is at EOF, or a read fails.
func (c *Chunker) fill() {
	if c.pos > 0 {
		c.end = copy(c.buf, c.buf[c.pos:c.end])
		c.pos = 0
	}
	empty := 0
	for c.end < len(c.buf) {
		n, err := c.rd.Read(c.buf[c.end:])
		if n < 0 || n > len(c.buf)-c.end {
			c.err = errors.New("chunker: reader returned an invalid count")
			return
		}
		c.end += n
		switch {
		case err == io.EOF: // Read must return io.EOF itself, not wrapped
			c.eof = true
			return
		case err != nil:
			c.err = fmt.Errorf("chunker: read: %w", err)
			return
		case n == 0:
			empty++
			if empty >= maxEmptyReads {
				c.err = fmt.Errorf("chunker: read: %w", io.ErrNoProgress)
				return
			}
		default:
			empty = 0
		}
	}
}

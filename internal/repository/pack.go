package repository

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// A pack file is: sealed blobs back to back, then the sealed pack header,
// then the header's sealed length as a little-endian uint32. The header lists
// every blob (type, id, stored length, raw length) in order, so a pack can be
// re-indexed from itself alone. See docs/format.md.

const packHeaderVersion = 1

var packHeaderAD = []byte("lumbung/pack-header")

// PackedBlob is one blob inside a pack.
type PackedBlob struct {
	Type      BlobType
	ID        crypto.ID
	Offset    uint32
	Length    uint32 // stored (sealed) length
	RawLength uint32 // length of the data after decoding
}

// packBuilder accumulates sealed blobs for one pack file.
type packBuilder struct {
	buf   []byte
	blobs []PackedBlob
	// writers counts blobs being sealed into reserved room; a detached
	// pack takes no more blobs and is uploaded when writers reaches zero.
	// Both are guarded by the Writer's mutex.
	writers  int
	detached bool
}

// reserve adds a blob of n stored bytes to the header and returns the room
// for it in buf. The caller guarantees cap(buf) has the room, so buf is
// never reallocated under blobs being sealed into it.
func (p *packBuilder) reserve(t BlobType, id crypto.ID, n, rawLen int) []byte {
	off := len(p.buf)
	p.blobs = append(p.blobs, PackedBlob{Type: t, ID: id, Offset: uint32(off), Length: uint32(n), RawLength: uint32(rawLen)})
	p.buf = p.buf[:off+n]
	return p.buf[off : off+n : off+n]
}

// finish appends the sealed header and its length; the result is the file.
func (p *packBuilder) finish(key *crypto.Key) []byte {
	hdr := make([]byte, 0, 1+len(p.blobs)*(1+crypto.IDSize+10))
	hdr = append(hdr, packHeaderVersion)
	for _, b := range p.blobs {
		hdr = append(hdr, byte(b.Type))
		hdr = append(hdr, b.ID[:]...)
		hdr = binary.AppendUvarint(hdr, uint64(b.Length))
		hdr = binary.AppendUvarint(hdr, uint64(b.RawLength))
	}
	start := len(p.buf)
	p.buf = key.Seal(p.buf, hdr, packHeaderAD)
	return binary.LittleEndian.AppendUint32(p.buf, uint32(len(p.buf)-start))
}

// ErrDamagedPack marks a pack whose structure or header is invalid.
var ErrDamagedPack = errors.New("damaged pack")

// maxPackHeaderSize bounds the header read from storage.
const maxPackHeaderSize = 32 << 20

// parsePackHeader decodes a header plaintext, checking that blobs tile the
// data area of a pack of packSize bytes exactly.
func parsePackHeader(hdr []byte, dataLen int64) ([]PackedBlob, error) {
	if len(hdr) < 1 || hdr[0] != packHeaderVersion {
		return nil, fmt.Errorf("%w: unknown header version", ErrDamagedPack)
	}
	p := hdr[1:]
	var blobs []PackedBlob
	var off uint64
	for len(p) > 0 {
		if len(p) < 1+crypto.IDSize {
			return nil, fmt.Errorf("%w: header truncated", ErrDamagedPack)
		}
		b := PackedBlob{Type: BlobType(p[0])}
		if !b.Type.valid() {
			return nil, fmt.Errorf("%w: blob of unknown type %d", ErrDamagedPack, p[0])
		}
		copy(b.ID[:], p[1:1+crypto.IDSize])
		p = p[1+crypto.IDSize:]
		length, n := binary.Uvarint(p)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad blob length", ErrDamagedPack)
		}
		p = p[n:]
		raw, n := binary.Uvarint(p)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad blob raw length", ErrDamagedPack)
		}
		p = p[n:]
		if length < minSealedBlob || length > maxSealedBlob || raw > MaxBlobSize {
			return nil, fmt.Errorf("%w: blob length %d/%d out of range", ErrDamagedPack, length, raw)
		}
		b.Offset, b.Length, b.RawLength = uint32(off), uint32(length), uint32(raw)
		off += length
		if off > uint64(dataLen) {
			return nil, fmt.Errorf("%w: blobs extend past the data area", ErrDamagedPack)
		}
		blobs = append(blobs, b)
	}
	if off != uint64(dataLen) {
		return nil, fmt.Errorf("%w: blobs cover %d of %d data bytes", ErrDamagedPack, off, dataLen)
	}
	return blobs, nil
}

// ReadPackHeader loads and authenticates the header of the pack with the
// given id and size, and lists its blobs.
func (r *Repository) ReadPackHeader(ctx context.Context, id crypto.ID, size int64) ([]PackedBlob, error) {
	h := backend.Handle{Type: backend.PackFile, Name: id.String()}
	if size < 4+crypto.Overhead+1 {
		return nil, fmt.Errorf("pack %s: %w: only %d bytes", id.Short(), ErrDamagedPack, size)
	}
	tailLen := min(size, 64<<10)
	tail, err := r.be.Load(ctx, h, size-tailLen, tailLen)
	if err != nil {
		return nil, fmt.Errorf("pack %s: read header: %w", id.Short(), err)
	}
	hlen := int64(binary.LittleEndian.Uint32(tail[len(tail)-4:]))
	if hlen < crypto.Overhead+1 || hlen > maxPackHeaderSize || hlen > size-4 {
		return nil, fmt.Errorf("pack %s: %w: header length %d invalid for a %d-byte pack", id.Short(), ErrDamagedPack, hlen, size)
	}
	var sealed []byte
	if hlen <= tailLen-4 {
		sealed = tail[tailLen-4-hlen : tailLen-4]
	} else {
		sealed, err = r.be.Load(ctx, h, size-4-hlen, hlen)
		if err != nil {
			return nil, fmt.Errorf("pack %s: read header: %w", id.Short(), err)
		}
	}
	hdr, err := r.key.Open(nil, sealed, packHeaderAD)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w: header: %v", id.Short(), ErrDamagedPack, err)
	}
	blobs, err := parsePackHeader(hdr, size-4-hlen)
	if err != nil {
		return nil, fmt.Errorf("pack %s: %w", id.Short(), err)
	}
	return blobs, nil
}

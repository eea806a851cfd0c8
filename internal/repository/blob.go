package repository

import (
	"fmt"

	"github.com/klauspost/compress/zstd"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/zstdenc"
)

// BlobType tells file content from directory trees.
type BlobType uint8

// Blob types, as stored in pack headers and index files.
const (
	DataBlob BlobType = 1
	TreeBlob BlobType = 2
)

func (t BlobType) String() string {
	switch t {
	case DataBlob:
		return "data"
	case TreeBlob:
		return "tree"
	}
	return fmt.Sprintf("blobtype(%d)", uint8(t))
}

func (t BlobType) valid() bool { return t == DataBlob || t == TreeBlob }

// Codec bytes: the first plaintext byte of every sealed blob.
const (
	codecRaw  = 0
	codecZstd = 1
)

// MaxBlobSize bounds a blob's plaintext; the chunker's maximum and the largest
// tree must fit. Decoders refuse larger claims from storage.
const MaxBlobSize = 64 << 20

// Bounds on stored blobs and positions, checked on everything read back.
const (
	minSealedBlob = 1 + crypto.Overhead
	maxSealedBlob = MaxBlobSize + 1 + crypto.Overhead
	maxPackOffset = 1 << 31
)

// compressor decides per blob whether compression pays and does it.
type compressor struct {
	enc *zstdenc.Encoder
	dec *zstd.Decoder
	off bool
}

func newCompressor(cfg *Config) (*compressor, error) {
	c := &compressor{off: cfg.Compression == "none" || cfg.CompressionLevel == 0}
	if !c.off {
		enc, err := zstdenc.New(cfg.CompressionLevel)
		if err != nil {
			return nil, err
		}
		c.enc = enc
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxBlobSize), zstd.WithDecoderConcurrency(0))
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	c.dec = dec
	return c, nil
}

// sampleSize is how much of a large blob is trial-compressed to decide
// whether compressing the whole blob is worth the CPU.
const sampleSize = 32 << 10

// encode appends the blob plaintext (codec byte + payload) to dst.
// Incompressible data (media, archives, encrypted files) is stored raw after a
// cheap trial on a sample, so it costs almost no CPU.
func (c *compressor) encode(dst, data []byte) []byte {
	if c.off || len(data) < 64 {
		return append(append(dst, codecRaw), data...)
	}
	if len(data) > 4*sampleSize {
		mid := len(data)/2 - sampleSize/2
		// The trial goes into dst's spare room (the real output overwrites
		// it), not into a new buffer per blob.
		trial, ok := c.enc.EncodeAll(data[mid:mid+sampleSize], dst[len(dst):len(dst):cap(dst)])
		if !ok || len(trial) > sampleSize*15/16 {
			return append(append(dst, codecRaw), data...)
		}
	}
	start := len(dst)
	dst = append(dst, codecZstd)
	dst, ok := c.enc.EncodeAll(data, dst)
	if !ok || len(dst)-start-1 >= len(data)-len(data)/32 {
		dst = append(dst[:start], codecRaw)
		return append(dst, data...)
	}
	return dst
}

// decode turns a blob plaintext back into data, appended to dst. rawLen is the
// length the index promises; anything else is damage.
func (c *compressor) decode(dst, plain []byte, rawLen int) ([]byte, error) {
	if len(plain) < 1 {
		return nil, fmt.Errorf("blob plaintext is empty")
	}
	if rawLen < 0 || rawLen > MaxBlobSize {
		return nil, fmt.Errorf("blob length %d out of range", rawLen)
	}
	switch plain[0] {
	case codecRaw:
		if len(plain)-1 != rawLen {
			return nil, fmt.Errorf("blob is %d bytes, index says %d", len(plain)-1, rawLen)
		}
		return append(dst, plain[1:]...), nil
	case codecZstd:
		if cap(dst)-len(dst) < rawLen {
			nd := make([]byte, len(dst), len(dst)+rawLen)
			copy(nd, dst)
			dst = nd
		}
		start := len(dst)
		out, err := c.dec.DecodeAll(plain[1:], dst)
		if err != nil {
			return nil, fmt.Errorf("decompress blob: %w", err)
		}
		if len(out)-start != rawLen {
			return nil, fmt.Errorf("blob decompressed to %d bytes, index says %d", len(out)-start, rawLen)
		}
		return out, nil
	}
	return nil, fmt.Errorf("blob has unknown codec %d", plain[0])
}

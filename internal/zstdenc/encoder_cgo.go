//go:build cgo && !lumbung_purego

package zstdenc

import (
	"sync"

	"github.com/DataDog/zstd"
)

// Implementation names the encoder this build uses.
const Implementation = "libzstd 1.5.7 (cgo, github.com/DataDog/zstd)"

// cLevels maps config levels to libzstd's.
var cLevels = [MaxLevel + 1]int{1: 1, 2: 3, 3: 7, 4: 11}

// Encoder compresses with libzstd. Safe for concurrent use: each call
// borrows a compression context (a few MiB of C memory at the fastest
// level) from a pool.
type Encoder struct {
	level int
	ctxs  sync.Pool
}

// New returns an encoder for a config level (MinLevel..MaxLevel).
func New(level int) (*Encoder, error) {
	if err := checkLevel(level); err != nil {
		return nil, err
	}
	e := &Encoder{level: cLevels[level]}
	e.ctxs.New = func() any { return zstd.NewCtx() }
	return e, nil
}

// EncodeAll appends one zstd frame holding src to dst and returns it. It
// compresses into dst's spare capacity when it has room for the worst case
// (no copy); ok is false if libzstd failed (out of memory), in which case
// dst is returned unchanged.
func (e *Encoder) EncodeAll(src, dst []byte) (out []byte, ok bool) {
	bound := zstd.CompressBound(len(src))
	if cap(dst)-len(dst) < bound {
		grown := make([]byte, len(dst), len(dst)+bound)
		copy(grown, dst)
		dst = grown
	}
	ctx := e.ctxs.Get().(zstd.Ctx)
	frame, err := ctx.CompressLevel(dst[len(dst):len(dst)+bound], src, e.level)
	e.ctxs.Put(ctx)
	if err != nil {
		return dst, false
	}
	// CompressLevel wrote into the room it was given.
	return dst[:len(dst)+len(frame)], true
}

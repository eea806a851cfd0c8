//go:build !cgo || lumbung_purego

package zstdenc

import (
	"github.com/klauspost/compress/zstd"
)

// Implementation names the encoder this build uses.
const Implementation = "klauspost/compress (pure Go)"

var goLevels = [MaxLevel + 1]zstd.EncoderLevel{1: zstd.SpeedFastest, 2: zstd.SpeedDefault, 3: zstd.SpeedBetterCompression, 4: zstd.SpeedBestCompression}

// Encoder compresses with klauspost/compress. Safe for concurrent use.
type Encoder struct {
	enc *zstd.Encoder
}

// New returns an encoder for a config level (MinLevel..MaxLevel).
func New(level int) (*Encoder, error) {
	if err := checkLevel(level); err != nil {
		return nil, err
	}
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(goLevels[level]),
		zstd.WithEncoderCRC(false), // the AEAD already authenticates every byte
		zstd.WithZeroFrames(true),
		zstd.WithWindowSize(1<<20), // chunks average 1 MiB: a larger window finds nothing more and costs memory
	)
	if err != nil {
		return nil, err
	}
	return &Encoder{enc: enc}, nil
}

// EncodeAll appends one zstd frame holding src to dst and returns it; ok is
// always true.
func (e *Encoder) EncodeAll(src, dst []byte) (out []byte, ok bool) {
	return e.enc.EncodeAll(src, dst), true
}

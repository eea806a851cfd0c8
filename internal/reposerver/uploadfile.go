package reposerver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/zeebo/blake3"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// copyBufferSize is the buffer of one chunk's copy from the request to
// the session file: larger than io.Copy's 32 KiB, for fewer system calls
// per 16 MiB chunk.
const copyBufferSize = 256 << 10

// hashingWriter appends to a session's file and hashes exactly the bytes
// the file took, so that a short write leaves the hash following the file.
type hashingWriter struct {
	f  *os.File
	ss *session
}

func (w hashingWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if w.ss.hash != nil && n > 0 {
		_, _ = w.ss.hash.Write(p[:n]) // never fails
		w.ss.hashed += int64(n)
	}
	return n, err
}

// keepHash drops the running hash when it does not cover exactly the
// session's bytes (the file's size disagreed with what was written).
// Called with ss.mu held.
func (ss *session) keepHash() {
	if ss.hash != nil && ss.hashed != ss.size {
		ss.hash, ss.hashed = nil, 0
	}
}

// sum returns the BLAKE3-256 of the session's size bytes: from the running
// hash when it covers exactly them, otherwise by reading the file once.
// Called with ss.mu held.
func (ss *session) sum(ctx context.Context, size int64) ([32]byte, error) {
	var out [32]byte
	if ss.hash != nil && ss.hashed == size {
		ss.hash.Sum(out[:0])
		return out, nil
	}
	f, err := os.Open(ss.path)
	if err != nil {
		return out, fmt.Errorf("hash upload: %w", err)
	}
	defer f.Close()
	h := blake3.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx, f}, make([]byte, copyBufferSize))
	if err != nil {
		return out, fmt.Errorf("hash upload: %w", err)
	}
	if n != size {
		return out, fmt.Errorf("hash upload: the file has %d bytes, the session %d", n, size)
	}
	h.Sum(out[:0])
	return out, nil
}

// ctxReader stops a long read when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// saveFile stores the finished session file path as h: handed over whole
// when the storage takes files (FileSaver), else read and saved, holding
// an in-flight slot for the memory that takes.
func (s *Server) saveFile(ctx context.Context, be backend.Backend, h backend.Handle, path string) error {
	if fs, ok := fileSaverOf(be); ok {
		err := fs.SaveFile(ctx, h, path)
		if !errors.Is(err, ErrSaveFileUnsupported) {
			return err
		}
		s.opts.Log.Debug("storing an upload by copy", "handle", h.String(), "why", err)
	}
	if !s.acquire(ctx) {
		return ctx.Err()
	}
	defer s.releaseSlot()
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read upload: %w", err)
	}
	return be.Save(ctx, h, data)
}

// sameAsFile reports whether the stored h has exactly path's bytes.
func (s *Server) sameAsFile(ctx context.Context, be backend.Backend, h backend.Handle, path string) (bool, error) {
	fi, err := be.Stat(ctx, h)
	if err != nil {
		return false, err
	}
	want, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	if fi.Size != want.Size() {
		return false, nil
	}
	if !s.acquire(ctx) {
		return false, ctx.Err()
	}
	defer s.releaseSlot()
	stored, err := be.Load(ctx, h, 0, 0)
	if err != nil {
		return false, err
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, copyBufferSize)
	for off := 0; off < len(stored); {
		n, err := io.ReadFull(f, buf[:min(len(buf), len(stored)-off)])
		if err != nil {
			return false, err
		}
		if !bytes.Equal(buf[:n], stored[off:off+n]) {
			return false, nil
		}
		off += n
	}
	return true, nil
}

// Package mem is an in-memory backend for unit tests.
//
// It gives the same guarantees as every backend (no overwrite, read after
// write, ErrNotExist for missing files, context honoured, invalid handles
// refused) so that tests written against it hold for real storage. It must
// never share memory with its callers: data is copied in on Save and out on
// Load. It is not for production: nothing survives the process.
package mem

import (
	"context"
	"fmt"
	"io"
	"sync"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// Mem is a backend.Backend holding files in a map. It is safe for concurrent
// use.
type Mem struct {
	mu    sync.Mutex
	files map[backend.Handle][]byte
}

var _ backend.Backend = (*Mem)(nil)

// New returns an empty in-memory backend.
func New() *Mem {
	return &Mem{files: make(map[backend.Handle][]byte)}
}

// key validates h and normalises it (the config's name is ignored).
func key(h backend.Handle) (backend.Handle, error) {
	if err := h.Valid(); err != nil {
		return h, err
	}
	if h.Type == backend.ConfigFile {
		h.Name = ""
	}
	return h, nil
}

func infoName(h backend.Handle) string {
	if h.Type == backend.ConfigFile {
		return "config"
	}
	return h.Name
}

// Location returns "mem".
func (m *Mem) Location() string { return "mem" }

// Save stores a copy of data under h.
func (m *Mem) Save(ctx context.Context, h backend.Handle, data []byte) error {
	k, err := key(h)
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	buf := make([]byte, len(data))
	copy(buf, data)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[k]; ok {
		return fmt.Errorf("save %v: already stored (stored files are never overwritten): %w", h, backend.ErrExists)
	}
	m.files[k] = buf
	return nil
}

// Load returns a copy of length bytes of h from offset (length 0: to the end).
func (m *Mem) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	k, err := key(h)
	if err != nil {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("load %v: invalid offset %d or length %d", h, offset, length)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	m.mu.Lock()
	data, ok := m.files[k]
	m.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("load %v: %w", h, backend.ErrNotExist)
	}
	// Stored slices are never modified, so they can be read unlocked.
	size := int64(len(data))
	if length == 0 {
		if offset > size {
			return nil, fmt.Errorf("load %v: file is %d bytes, offset %d is past its end: %w", h, size, offset, io.ErrUnexpectedEOF)
		}
		length = size - offset
	} else if offset > size || length > size-offset {
		return nil, fmt.Errorf("load %v: file is %d bytes, shorter than the %d requested at offset %d: %w", h, size, length, offset, io.ErrUnexpectedEOF)
	}
	buf := make([]byte, length)
	copy(buf, data[offset:offset+length])
	return buf, nil
}

// Stat returns the size of h. The config's FileInfo.Name is "config".
func (m *Mem) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	k, err := key(h)
	if err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	m.mu.Lock()
	data, ok := m.files[k]
	m.mu.Unlock()
	if !ok {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, backend.ErrNotExist)
	}
	return backend.FileInfo{Name: infoName(k), Size: int64(len(data))}, nil
}

// List calls fn for every file of type t. It lists a snapshot taken at the
// start and calls fn without holding the lock, so fn may use the backend.
func (m *Mem) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := (backend.Handle{Type: t, Name: "0"}).Valid(); err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	var infos []backend.FileInfo
	m.mu.Lock()
	for k, data := range m.files {
		if k.Type == t {
			infos = append(infos, backend.FileInfo{Name: infoName(k), Size: int64(len(data))})
		}
	}
	m.mu.Unlock()
	for _, fi := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list %v: %w", t, err)
		}
		if err := fn(fi); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes h; a missing file is an error matching backend.ErrNotExist.
func (m *Mem) Remove(ctx context.Context, h backend.Handle) error {
	k, err := key(h)
	if err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[k]; !ok {
		return fmt.Errorf("remove %v: %w", h, backend.ErrNotExist)
	}
	delete(m.files, k)
	return nil
}

// Close does nothing; the files stay readable.
func (m *Mem) Close() error { return nil }

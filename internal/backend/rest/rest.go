package rest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// maxLoad bounds what one Load accepts from the server, so that a hostile
// server cannot make the client allocate without limit (index files, the
// largest objects, are at most 1 GiB).
const maxLoad = 1<<30 + 1<<20

// Backend is a backend.Backend on a repository of a Lumbung server.
type Backend struct {
	c    *client
	repo string // URL path of the repository, "/v1/repos/<name>"
}

var _ backend.Backend = (*Backend)(nil)

// New returns a client for the repository in opts without contacting the
// server.
func New(opts Options) (*Backend, error) {
	c, err := newClient(opts)
	if err != nil {
		return nil, err
	}
	return &Backend{c: c, repo: "/v1/repos/" + c.opts.Repo}, nil
}

// Open connects to an existing repository: it fails with an error matching
// backend.ErrNotExist when the server has none (no config) under the name.
func Open(ctx context.Context, opts Options) (*Backend, error) {
	b, err := New(opts)
	if err != nil {
		return nil, err
	}
	if _, err := b.Stat(ctx, backend.Handle{Type: backend.ConfigFile}); err != nil {
		b.Close()
		if errors.Is(err, backend.ErrNotExist) {
			return nil, fmt.Errorf("no repository at %s: %w", b.Location(), backend.ErrNotExist)
		}
		return nil, fmt.Errorf("open %s: %w", b.Location(), err)
	}
	return b, nil
}

// Create makes the repository on the server (an append or admin token may)
// and returns a client for it. The caller then writes the key and, last,
// the config. A repository that already has a config is refused with an
// error matching backend.ErrExists.
func Create(ctx context.Context, opts Options) (*Backend, error) {
	b, err := New(opts)
	if err != nil {
		return nil, err
	}
	err = b.c.retry(ctx, func(ctx context.Context, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(0))
		defer cancel()
		resp, err := b.c.do(ctx, http.MethodPost, b.repo, nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode/100 != 2 {
			return statusError(resp, "create repository")
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("create repository at %s: %w", b.Location(), err)
	}
	return b, nil
}

// Location returns the rest: location (with the pin, never the token).
func (b *Backend) Location() string { return b.c.opts.Location() }

// objectPath is the URL path of h.
func (b *Backend) objectPath(h backend.Handle) string {
	if h.Type == backend.ConfigFile {
		return b.repo + "/config"
	}
	return b.repo + "/" + h.Type.Dir() + "/" + h.Name
}

func (b *Backend) start(ctx context.Context, op string, h backend.Handle) error {
	if err := h.Valid(); err != nil {
		return fmt.Errorf("%s %v: %w", op, h, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %v: %w", op, h, err)
	}
	return nil
}

// Save stores data under h: one PUT, or an upload session for large data.
// The server answers success for a name that exists with the same bytes (a
// retried upload) and 409 (ErrExists) for different bytes.
func (b *Backend) Save(ctx context.Context, h backend.Handle, data []byte) error {
	if err := b.start(ctx, "save", h); err != nil {
		return err
	}
	var err error
	if len(data) > b.c.opts.SessionThreshold {
		err = b.saveSession(ctx, h, data)
	} else {
		err = b.c.retry(ctx, func(ctx context.Context, _ int) error {
			ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(len(data)))
			defer cancel()
			hdr := http.Header{"Content-Type": {"application/octet-stream"}}
			resp, err := b.c.do(ctx, http.MethodPut, b.objectPath(h), nonNil(data), hdr)
			if err != nil {
				return err
			}
			if resp.StatusCode/100 != 2 {
				return statusError(resp, "store")
			}
			resp.Body.Close()
			return nil
		})
	}
	if err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	return nil
}

// nonNil makes an empty body explicit (Content-Length: 0).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Load returns length bytes of h from offset (0: to the end) with a Range
// request. The server refuses ranges past the end (416), which becomes
// io.ErrUnexpectedEOF.
func (b *Backend) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	if err := b.start(ctx, "load", h); err != nil {
		return nil, err
	}
	if offset < 0 || length < 0 {
		return nil, fmt.Errorf("load %v: invalid offset %d or length %d", h, offset, length)
	}
	if length > 0 && offset > math.MaxInt64-length {
		if _, err := b.Stat(ctx, h); err != nil {
			return nil, fmt.Errorf("load %v: %w", h, err)
		}
		return nil, fmt.Errorf("load %v: offset %d plus length %d is past any end: %w", h, offset, length, io.ErrUnexpectedEOF)
	}
	hdr := http.Header{}
	switch {
	case length > 0:
		hdr.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		hdr.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	var out []byte
	err := b.c.retry(ctx, func(ctx context.Context, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(int(min(length, maxLoad))+(16<<20)))
		defer cancel()
		resp, err := b.c.do(ctx, http.MethodGet, b.objectPath(h), nil, hdr)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && length == 0 {
			// "bytes=N-" of an N-byte file: an empty read at the end.
			if size, ok := rangeSize(resp.Header.Get("Content-Range")); ok && size == offset {
				resp.Body.Close()
				out = []byte{}
				return nil
			}
		}
		want := http.StatusOK
		if hdr.Get("Range") != "" {
			want = http.StatusPartialContent
		}
		if resp.StatusCode != want {
			if resp.StatusCode/100 == 2 {
				resp.Body.Close()
				return fmt.Errorf("load: server answered %d to a range request, want %d", resp.StatusCode, want)
			}
			return statusError(resp, "load")
		}
		defer resp.Body.Close()
		n := resp.ContentLength
		if n < 0 || n > maxLoad || (length > 0 && n != length) {
			return fmt.Errorf("load: server sent %d bytes, asked for %d", n, length)
		}
		if want == http.StatusPartialContent {
			first, last, _, ok := parseContentRange(resp.Header.Get("Content-Range"))
			if !ok || first != offset || last-first+1 != n {
				return fmt.Errorf("load: server sent range %q, asked for %q", resp.Header.Get("Content-Range"), hdr.Get("Range"))
			}
		}
		data, err := io.ReadAll(io.LimitReader(resp.Body, n+1))
		if err != nil || int64(len(data)) != n {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return temporary{fmt.Errorf("load: transfer cut short after %d of %d bytes: %v", len(data), n, err)}
		}
		out = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	return out, nil
}

// rangeSize reads the size from "bytes */SIZE".
func rangeSize(v string) (int64, bool) {
	s, ok := strings.CutPrefix(v, "bytes */")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n >= 0
}

// parseContentRange reads "bytes FIRST-LAST/SIZE".
func parseContentRange(v string) (first, last, size int64, ok bool) {
	s, ok := strings.CutPrefix(v, "bytes ")
	r, sz, ok2 := strings.Cut(s, "/")
	a, z, ok3 := strings.Cut(r, "-")
	if !ok || !ok2 || !ok3 {
		return 0, 0, 0, false
	}
	var e1, e2, e3 error
	first, e1 = strconv.ParseInt(a, 10, 64)
	last, e2 = strconv.ParseInt(z, 10, 64)
	size, e3 = strconv.ParseInt(sz, 10, 64)
	return first, last, size, e1 == nil && e2 == nil && e3 == nil && first >= 0 && last >= first && size > last
}

// Stat returns the size of h (a HEAD request).
func (b *Backend) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := b.start(ctx, "stat", h); err != nil {
		return backend.FileInfo{}, err
	}
	var fi backend.FileInfo
	err := b.c.retry(ctx, func(ctx context.Context, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(0))
		defer cancel()
		resp, err := b.c.do(ctx, http.MethodHead, b.objectPath(h), nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return statusError(resp, "stat")
		}
		resp.Body.Close()
		if resp.ContentLength < 0 {
			return fmt.Errorf("stat: server sent no size")
		}
		fi = backend.FileInfo{Name: h.Name, Size: resp.ContentLength}
		if h.Type == backend.ConfigFile {
			fi.Name = "config"
		}
		return nil
	})
	if err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	return fi, nil
}

// listEntry mirrors the server's listing lines.
type listEntry struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	End   bool   `json:"end"`
	Count int64  `json:"count"`
	Error string `json:"error"`
}

// List streams the files of type t. A listing the server cut short is an
// error, never a shorter list: maintenance must not act on half a listing.
func (b *Backend) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := (backend.Handle{Type: t, Name: "0"}).Valid(); err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	if t == backend.ConfigFile {
		fi, err := b.Stat(ctx, backend.Handle{Type: t})
		if errors.Is(err, backend.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list %v: %w", t, err)
		}
		return fn(fi)
	}
	var fnErr error
	err := b.c.retry(ctx, func(ctx context.Context, _ int) error {
		ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(1<<30))
		defer cancel()
		resp, err := b.c.do(ctx, http.MethodGet, b.repo+"/"+t.Dir()+"/", nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return statusError(resp, "list")
		}
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		var count int64
		for {
			var e listEntry
			if err := dec.Decode(&e); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				err = fmt.Errorf("listing cut short after %d entries: %v", count, err)
				if count == 0 {
					return temporary{err}
				}
				return err
			}
			switch {
			case e.Error != "":
				return fmt.Errorf("listing failed on the server: %s", sanitize(e.Error))
			case e.End:
				if e.Count != count {
					return fmt.Errorf("listing sent %d entries but announced %d", count, e.Count)
				}
				return nil
			}
			count++
			if (backend.Handle{Type: t, Name: e.Name}).Valid() != nil || e.Size < 0 {
				return fmt.Errorf("listing has an invalid entry %q (size %d)", sanitize(e.Name), e.Size)
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(backend.FileInfo{Name: e.Name, Size: e.Size}); err != nil {
				fnErr = err
				return err
			}
		}
	})
	if err != nil {
		if fnErr != nil && errors.Is(err, fnErr) {
			return err
		}
		return fmt.Errorf("list %v: %w", t, err)
	}
	return nil
}

// Remove deletes h; the server allows it to admin tokens, and to append
// tokens for their own locks. A 404 after an attempt whose answer was lost
// means that attempt removed it.
func (b *Backend) Remove(ctx context.Context, h backend.Handle) error {
	if err := b.start(ctx, "remove", h); err != nil {
		return err
	}
	lostAnswer := false
	err := b.c.retry(ctx, func(ctx context.Context, attempt int) error {
		ctx, cancel := context.WithTimeout(ctx, b.c.timeoutFor(0))
		defer cancel()
		resp, err := b.c.do(ctx, http.MethodDelete, b.objectPath(h), nil, nil)
		if err != nil {
			lostAnswer = true
			return err
		}
		if resp.StatusCode == http.StatusNotFound && lostAnswer {
			resp.Body.Close()
			return nil
		}
		if resp.StatusCode/100 != 2 {
			return statusError(resp, "remove")
		}
		resp.Body.Close()
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	return nil
}

// Close releases idle connections.
func (b *Backend) Close() error {
	b.c.close()
	return nil
}

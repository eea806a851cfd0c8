package reposerver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/zeebo/blake3"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// get serves GET and HEAD of one object, with a single "bytes=a-b" or
// "bytes=a-" Range. Unlike plain HTTP, a range reaching past the end is
// refused (416), not shortened: Backend.Load treats it as an error.
func (s *Server) get(q *request, h backend.Handle) {
	be, ok := s.openRepo(q)
	if !ok {
		return
	}
	ctx := q.r.Context()
	fi, err := be.Stat(ctx, h)
	if errors.Is(err, backend.ErrNotExist) {
		writeError(q.w, http.StatusNotFound, fmt.Sprintf("%v is not stored in repository %q", h, q.repo))
		return
	}
	if err != nil {
		s.internal(q, "stat", err)
		return
	}
	offset, length, partial, err := parseRange(q.r.Header.Get("Range"), fi.Size)
	if err != nil {
		q.w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", fi.Size))
		writeError(q.w, http.StatusRequestedRangeNotSatisfiable, fmt.Sprintf("%v: %v", h, err))
		return
	}
	hdr := q.w.Header()
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("Accept-Ranges", "bytes")
	hdr.Set("Content-Length", strconv.FormatInt(length, 10))
	status := http.StatusOK
	if partial {
		hdr.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", offset, offset+length-1, fi.Size))
		status = http.StatusPartialContent
	}
	if q.r.Method == http.MethodHead {
		q.w.WriteHeader(status)
		return
	}
	var data []byte
	if length > 0 {
		if !s.acquire(ctx) {
			return
		}
		data, err = be.Load(ctx, h, offset, length)
		s.releaseSlot()
		if err != nil {
			hdr.Del("Content-Length")
			hdr.Del("Content-Range")
			s.internal(q, "load", err)
			return
		}
	}
	q.w.WriteHeader(status)
	_, _ = q.w.Write(data)
}

// parseRange parses the Range header against a file of size bytes.
func parseRange(v string, size int64) (offset, length int64, partial bool, err error) {
	if v == "" {
		return 0, size, false, nil
	}
	spec, ok := strings.CutPrefix(v, "bytes=")
	a, b, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 || strings.Contains(spec, ",") {
		return 0, 0, false, fmt.Errorf("unsupported Range %q: send one \"bytes=FIRST-LAST\" or \"bytes=FIRST-\"", v)
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 {
		return 0, 0, false, fmt.Errorf("invalid Range %q", v)
	}
	if first >= size {
		return 0, 0, false, fmt.Errorf("range starts at %d, the file is %d bytes", first, size)
	}
	if b == "" {
		return first, size - first, true, nil
	}
	last, err := strconv.ParseInt(b, 10, 64)
	if err != nil || last < first {
		return 0, 0, false, fmt.Errorf("invalid Range %q", v)
	}
	if last >= size {
		return 0, 0, false, fmt.Errorf("range ends at %d, the file is %d bytes", last, size)
	}
	return first, last - first + 1, true, nil
}

func (s *Server) acquire(ctx context.Context) bool {
	select {
	case s.inflight <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) releaseSlot() { <-s.inflight }

// put stores the request body under h.
func (s *Server) put(q *request, h backend.Handle) {
	be, ok := s.openRepo(q)
	if !ok {
		return
	}
	if q.r.ContentLength > s.opts.MaxPutSize {
		writeError(q.w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes is over the single-PUT limit of %d; use an upload session (POST /v1/repos/%s/uploads)", q.r.ContentLength, s.opts.MaxPutSize, q.repo))
		return
	}
	ctx := q.r.Context()
	if !s.acquire(ctx) {
		return
	}
	defer s.releaseSlot()
	data, err := readBody(http.MaxBytesReader(q.w, q.r.Body, s.opts.MaxPutSize), q.r.ContentLength, s.opts.MaxPutSize)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(q.w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body is over the single-PUT limit of %d bytes; use an upload session", s.opts.MaxPutSize))
			return
		}
		writeError(q.w, http.StatusBadRequest, fmt.Sprintf("read body: %v", err))
		return
	}
	status, msg := s.store(ctx, q, be, h, data)
	if status >= 300 {
		writeError(q.w, status, msg)
		return
	}
	writeJSON(q.w, status, map[string]any{"stored": status == http.StatusCreated, "size": len(data)})
}

// readBody reads a PUT's body into one buffer sized from its
// Content-Length (known for every body the client sends), so that a
// 4 MiB object is not copied through io.ReadAll's growing buffers. max
// bounds the allocation whatever the header says; a body of unknown
// length is read with io.ReadAll.
func readBody(r io.Reader, contentLength, max int64) ([]byte, error) {
	if contentLength < 0 {
		return io.ReadAll(r)
	}
	buf := make([]byte, min(contentLength, max))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, err
	}
	// Anything past Content-Length (a body longer than declared, from a
	// caller other than net/http's server) is read too, not dropped.
	rest, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return append(buf, rest...), nil
}

// store checks and saves data under h for q's token and returns the status
// and, for failures, the message.
func (s *Server) store(ctx context.Context, q *request, be backend.Backend, h backend.Handle, data []byte) (int, string) {
	return s.storePayload(ctx, q, be, h, payload{
		size: int64(len(data)),
		sum:  func(context.Context) ([32]byte, error) { return blake3.Sum256(data), nil },
		save: func(ctx context.Context) error { return be.Save(ctx, h, data) },
		same: func(ctx context.Context) (bool, error) {
			stored, err := be.Load(ctx, h, 0, 0)
			return err == nil && bytes.Equal(stored, data), err
		},
	})
}

// payload is an object's bytes as storePayload sees them: in memory (a
// PUT) or in a finished upload session's file, so that neither has to be
// turned into the other.
type payload struct {
	size int64
	// sum returns the BLAKE3-256 of the bytes; called only when the name
	// is checked.
	sum func(ctx context.Context) ([32]byte, error)
	// save stores the bytes under the handle (Backend.Save's rules).
	save func(ctx context.Context) error
	// same reports whether the stored object equals the bytes.
	same func(ctx context.Context) (bool, error)
}

// storePayload checks and saves p under h for q's token and returns the
// status and, for failures, the message. It never changes a stored byte: a
// name that exists succeeds only when the stored bytes are the same.
func (s *Server) storePayload(ctx context.Context, q *request, be backend.Backend, h backend.Handle, p payload) (int, string) {
	n := p.size
	if h.Type != backend.ConfigFile && !s.opts.SkipNameCheck {
		sum, err := p.sum(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) {
				return 499, "cancelled"
			}
			s.opts.Log.Error("hash upload", "repo", q.repo, "handle", h.String(), "err", err)
			return http.StatusInternalServerError, fmt.Sprintf("checking %v failed on the server; retry later", h)
		}
		if got := fmt.Sprintf("%x", sum[:]); got != h.Name {
			reason := fmt.Sprintf("%v: the name is not the BLAKE3-256 of the %d-byte body (%s); the upload was damaged or is not a Lumbung object", h, n, got)
			s.audit.refused(q.r, q.tok.Name, http.StatusUnprocessableEntity, reason)
			return http.StatusUnprocessableEntity, reason
		}
	}
	if !s.state.reserve(q.tok, n) {
		reason := fmt.Sprintf("token %q has used %d of its %d-byte quota; storing %d more bytes would pass it: ask the server's admin for a larger quota", q.tok.Name, s.state.usage(q.tok.ID), q.tok.Quota, n)
		s.audit.refused(q.r, q.tok.Name, http.StatusInsufficientStorage, reason)
		return http.StatusInsufficientStorage, reason
	}
	owned := false
	if h.Type == backend.LockFile {
		var err error
		if owned, err = s.state.claimLock(q.repo, h.Name, lockOwner{Token: q.tok.ID, Size: n}); err != nil {
			s.state.release(q.tok.ID, n)
			s.opts.Log.Error("record lock owner", "err", err)
			return http.StatusInternalServerError, "the server could not record the lock's owner; retry later"
		}
	}
	err := p.save(ctx)
	if err == nil {
		return http.StatusCreated, ""
	}
	s.state.release(q.tok.ID, n)
	if owned {
		if ferr := s.state.setLockOwner(q.repo, h.Name, nil); ferr != nil {
			s.opts.Log.Error("forget lock owner", "err", ferr)
		}
	}
	if !errors.Is(err, backend.ErrExists) {
		if errors.Is(err, context.Canceled) {
			return 499, "cancelled"
		}
		s.opts.Log.Error("save", "repo", q.repo, "handle", h.String(), "err", err)
		if storageStatus(err) == http.StatusInsufficientStorage {
			return http.StatusInsufficientStorage, "the server's storage is full; its admin must free or add space"
		}
		return http.StatusInternalServerError, fmt.Sprintf("save %v failed on the server; retry later", h)
	}
	// The name exists: the same bytes make a retried or repeated upload
	// succeed; anything else is an attempt to overwrite.
	same, serr := p.same(ctx)
	if same {
		return http.StatusOK, ""
	}
	if serr != nil {
		return http.StatusConflict, fmt.Sprintf("%v is already stored (stored files are never overwritten)", h)
	}
	reason := fmt.Sprintf("%v is already stored with different content; stored files are never overwritten", h)
	s.audit.refused(q.r, q.tok.Name, http.StatusConflict, reason)
	return http.StatusConflict, reason
}

// remove deletes h: admins anything, append tokens only the locks they
// wrote themselves.
func (s *Server) remove(q *request, h backend.Handle) {
	if q.tok.Repo != AllRepos && q.tok.Repo != q.repo {
		s.allow(q, ScopeAdmin, "deleting")
		return
	}
	owner, hasOwner := s.state.lockOwner(q.repo, h.Name)
	if !q.tok.Scope.Includes(ScopeAdmin) {
		switch {
		case !q.tok.Scope.Includes(ScopeAppend):
			s.refuse(q, fmt.Sprintf("token %q has scope %s; deleting needs scope admin", q.tok.Name, q.tok.Scope))
			return
		case h.Type != backend.LockFile:
			s.refuse(q, fmt.Sprintf("token %q has scope append, which never deletes %v; only an admin token may (maintenance)", q.tok.Name, h))
			return
		}
	}
	be, ok := s.openRepo(q)
	if !ok {
		return
	}
	ctx := q.r.Context()
	if _, err := be.Stat(ctx, h); errors.Is(err, backend.ErrNotExist) {
		writeError(q.w, http.StatusNotFound, fmt.Sprintf("%v is not stored in repository %q", h, q.repo))
		return
	} else if err != nil {
		s.internal(q, "stat", err)
		return
	}
	if !q.tok.Scope.Includes(ScopeAdmin) && (!hasOwner || owner.Token != q.tok.ID) {
		s.refuse(q, fmt.Sprintf("%v was not written by token %q; an append token may remove only its own locks", h, q.tok.Name))
		return
	}
	if err := be.Remove(ctx, h); err != nil {
		if errors.Is(err, backend.ErrNotExist) {
			writeError(q.w, http.StatusNotFound, fmt.Sprintf("%v is not stored in repository %q", h, q.repo))
			return
		}
		s.internal(q, "remove", err)
		return
	}
	if h.Type == backend.LockFile && hasOwner {
		s.state.release(owner.Token, owner.Size)
		if err := s.state.setLockOwner(q.repo, h.Name, nil); err != nil {
			s.opts.Log.Error("forget lock owner", "err", err)
		}
	}
	q.w.WriteHeader(http.StatusNoContent)
}

// listEntry is one line of a listing; the last line has End set (so a
// listing cut short is detectable) or Error.
type listEntry struct {
	Name  string `json:"name,omitempty"`
	Size  int64  `json:"size"`
	End   bool   `json:"end,omitempty"`
	Count int64  `json:"count,omitempty"`
	Error string `json:"error,omitempty"`
}

// list streams the files of type t as JSON lines.
func (s *Server) list(q *request, t backend.FileType) {
	if !s.allow(q, ScopeRead, "listing") {
		return
	}
	be, ok := s.openRepo(q)
	if !ok {
		return
	}
	q.w.Header().Set("Content-Type", "application/x-ndjson")
	q.w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(q.w)
	var count int64
	err := be.List(q.r.Context(), t, func(fi backend.FileInfo) error {
		count++
		return enc.Encode(listEntry{Name: fi.Name, Size: fi.Size})
	})
	if err != nil {
		if q.r.Context().Err() == nil {
			s.opts.Log.Error("list", "repo", q.repo, "type", t.String(), "err", err)
			_ = enc.Encode(listEntry{Error: fmt.Sprintf("listing failed on the server after %d entries; retry later", count)})
		}
		return
	}
	_ = enc.Encode(listEntry{End: true, Count: count})
}

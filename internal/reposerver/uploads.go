package reposerver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/zeebo/blake3"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// OffsetHeader carries the offset of an upload session: the client sends
// where its chunk starts, the server answers where the session ends.
const OffsetHeader = "Upload-Offset"

// uploads holds the upload sessions: a large object is sent in chunks to a
// temporary file, so that a dropped connection resumes at the server's
// offset instead of sending everything again. Sessions belong to the token
// that opened them, expire when idle, and do not survive a restart (their
// files are removed at start).
type uploads struct {
	dir         string
	ttl         time.Duration
	maxPerToken int
	now         func() time.Time

	mu       sync.Mutex
	sessions map[string]*session
}

type session struct {
	id, token, repo, path string

	mu       sync.Mutex // held while a request writes or finishes
	size     int64
	lastUsed time.Time
	done     bool

	// hash is the BLAKE3 state of the file's first hashed bytes, kept up
	// as chunks arrive so that finish need not read the file back. It is
	// nil once it no longer follows the file (a write the file and the
	// count disagree on); finish then hashes the file once.
	hash   *blake3.Hasher
	hashed int64
}

func newUploads(dir string, ttl time.Duration, maxPerToken int, now func() time.Time) (*uploads, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clean upload sessions: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create upload directory: %w", err)
	}
	return &uploads{dir: dir, ttl: ttl, maxPerToken: maxPerToken, now: now, sessions: map[string]*session{}}, nil
}

func (u *uploads) create(tok Token, repo string) (*session, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, s := range u.sessions {
		if s.token == tok.ID {
			n++
		}
	}
	if n >= u.maxPerToken {
		return nil, fmt.Errorf("token %q has %d open upload sessions, the limit; finish or abort some, or wait for them to expire", tok.Name, n)
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	id := hex.EncodeToString(raw[:])
	path := filepath.Join(u.dir, id)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	f.Close()
	s := &session{id: id, token: tok.ID, repo: repo, path: path, lastUsed: u.now(), hash: blake3.New()}
	u.sessions[id] = s
	return s, nil
}

// get returns the session id of tok in repo; other tokens' sessions do not
// exist for it.
func (u *uploads) get(id string, tok Token, repo string) (*session, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.sessions[id]
	if !ok || s.token != tok.ID || s.repo != repo {
		return nil, false
	}
	return s, true
}

func (u *uploads) drop(s *session) {
	u.mu.Lock()
	delete(u.sessions, s.id)
	u.mu.Unlock()
	s.done = true
	os.Remove(s.path)
}

// run expires idle sessions every minute.
func (u *uploads) run(ctx context.Context) error {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			u.expire()
		}
	}
}

func (u *uploads) expire() {
	cutoff := u.now().Add(-u.ttl)
	u.mu.Lock()
	var old []*session
	for _, s := range u.sessions {
		if s.mu.TryLock() {
			if s.lastUsed.Before(cutoff) {
				old = append(old, s)
			} else {
				s.mu.Unlock()
			}
		}
	}
	u.mu.Unlock()
	for _, s := range old {
		u.drop(s)
		s.mu.Unlock()
	}
}

func (u *uploads) closeAll() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sessions = map[string]*session{}
	entries, err := os.ReadDir(u.dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		os.Remove(filepath.Join(u.dir, e.Name()))
	}
	return nil
}

// sessionInfo is the JSON answer of the session endpoints.
type sessionInfo struct {
	ID     string `json:"id"`
	Offset int64  `json:"offset"`
}

// uploadRoute serves /v1/repos/<repo>/uploads[/<id>[/finish]].
func (s *Server) uploadRoute(q *request, segs []string) {
	if !s.allow(q, ScopeAppend, "uploading") {
		return
	}
	m := q.r.Method
	switch {
	case len(segs) == 0 && m == http.MethodPost:
		if _, ok := s.openRepo(q); !ok {
			return
		}
		ss, err := s.uploads.create(q.tok, q.repo)
		if err != nil {
			writeError(q.w, http.StatusTooManyRequests, err.Error())
			return
		}
		writeJSON(q.w, http.StatusCreated, sessionInfo{ID: ss.id})
		return
	case len(segs) == 1 || (len(segs) == 2 && segs[1] == "finish"):
	default:
		writeError(q.w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s %s", m, q.r.URL.Path))
		return
	}
	ss, ok := s.uploads.get(segs[0], q.tok, q.repo)
	if !ok {
		writeError(q.w, http.StatusNotFound, "no such upload session (it expired, the server restarted, or it belongs to another token); start a new one")
		return
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.done {
		writeError(q.w, http.StatusNotFound, "the upload session has ended; start a new one")
		return
	}
	ss.lastUsed = s.opts.Now()
	switch {
	case len(segs) == 2 && m == http.MethodPost:
		s.finishUpload(q, ss)
	case len(segs) == 1 && (m == http.MethodGet || m == http.MethodHead):
		q.w.Header().Set(OffsetHeader, strconv.FormatInt(ss.size, 10))
		writeJSON(q.w, http.StatusOK, sessionInfo{ID: ss.id, Offset: ss.size})
	case len(segs) == 1 && m == http.MethodPatch:
		s.appendUpload(q, ss)
	case len(segs) == 1 && m == http.MethodDelete:
		s.uploads.drop(ss)
		q.w.WriteHeader(http.StatusNoContent)
	default:
		s.methodNotAllowed(q, "GET, HEAD, PATCH, DELETE; POST .../finish")
	}
}

// appendUpload writes the body at the session's end. The bytes that arrive
// before a dropped connection are kept, so the client resumes after them.
func (s *Server) appendUpload(q *request, ss *session) {
	off, err := strconv.ParseInt(q.r.Header.Get(OffsetHeader), 10, 64)
	if err != nil || off != ss.size {
		size := ss.size
		q.w.Header().Set(OffsetHeader, strconv.FormatInt(size, 10))
		writeErrorBody(q.w, http.StatusConflict, apiError{Error: fmt.Sprintf("chunk offset %q does not match the session's %d bytes; resume at %d", q.r.Header.Get(OffsetHeader), size, size), Offset: &size})
		return
	}
	room := s.opts.MaxObjectSize - ss.size
	if q.r.ContentLength > room {
		writeError(q.w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the object would be over the server's limit of %d bytes", s.opts.MaxObjectSize))
		return
	}
	if q.tok.Quota > 0 && q.r.ContentLength > 0 && s.state.usage(q.tok.ID)+ss.size+q.r.ContentLength > q.tok.Quota {
		reason := fmt.Sprintf("token %q has used %d of its %d-byte quota; this upload would pass it: ask the server's admin for a larger quota", q.tok.Name, s.state.usage(q.tok.ID), q.tok.Quota)
		s.audit.refused(q.r, q.tok.Name, http.StatusInsufficientStorage, reason)
		writeError(q.w, http.StatusInsufficientStorage, reason)
		return
	}
	f, err := os.OpenFile(ss.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		s.internal(q, "open upload", err)
		return
	}
	ss.keepHash()
	n, cerr := io.CopyBuffer(hashingWriter{f, ss}, http.MaxBytesReader(q.w, q.r.Body, room), make([]byte, copyBufferSize))
	if err := f.Close(); err != nil && cerr == nil {
		cerr = err
	}
	// Trust the file, not the count: it is what finish will read.
	if fi, err := os.Stat(ss.path); err == nil {
		ss.size = fi.Size()
	} else {
		ss.size += n
	}
	ss.keepHash()
	q.w.Header().Set(OffsetHeader, strconv.FormatInt(ss.size, 10))
	if cerr != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(cerr, &tooLarge) {
			writeError(q.w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the object would be over the server's limit of %d bytes", s.opts.MaxObjectSize))
			return
		}
		size := ss.size
		writeErrorBody(q.w, http.StatusBadRequest, apiError{Error: fmt.Sprintf("chunk cut short after %d bytes (%v); resume at %d", n, cerr, size), Offset: &size})
		return
	}
	writeJSON(q.w, http.StatusOK, sessionInfo{ID: ss.id, Offset: ss.size})
}

// finishRequest names the object an upload session becomes.
type finishRequest struct {
	Type string `json:"type"` // a backend.FileType.Dir(), or "config"
	Name string `json:"name"`
}

func (s *Server) finishUpload(q *request, ss *session) {
	var fr finishRequest
	if err := json.NewDecoder(io.LimitReader(q.r.Body, 4096)).Decode(&fr); err != nil {
		writeError(q.w, http.StatusBadRequest, fmt.Sprintf("finish: %v; send JSON {\"type\",\"name\"}", err))
		return
	}
	var h backend.Handle
	if fr.Type == "config" {
		h = backend.Handle{Type: backend.ConfigFile}
	} else if t, ok := typeByDir[fr.Type]; ok {
		h = backend.Handle{Type: t, Name: fr.Name}
	} else {
		writeError(q.w, http.StatusBadRequest, fmt.Sprintf("finish: unknown type %q: use config, keys, data, index, snapshots or locks", fr.Type))
		return
	}
	if err := h.Valid(); err != nil {
		writeError(q.w, http.StatusBadRequest, "finish: "+err.Error())
		return
	}
	be, ok := s.openRepo(q)
	if !ok {
		return
	}
	ctx := q.r.Context()
	fi, err := os.Stat(ss.path)
	if err != nil {
		s.internal(q, "read upload", err)
		return
	}
	size := fi.Size()
	status, msg := s.storePayload(ctx, q, be, h, payload{
		size: size,
		sum:  func(ctx context.Context) ([32]byte, error) { return ss.sum(ctx, size) },
		save: func(ctx context.Context) error { return s.saveFile(ctx, be, h, ss.path) },
		same: func(ctx context.Context) (bool, error) { return s.sameAsFile(ctx, be, h, ss.path) },
	})
	if status >= 500 && status != http.StatusInsufficientStorage {
		writeError(q.w, status, msg) // keep the session: finish can be retried
		return
	}
	s.uploads.drop(ss)
	if status >= 300 {
		writeError(q.w, status, msg)
		return
	}
	writeJSON(q.w, status, map[string]any{"stored": status == http.StatusCreated, "size": size})
}

package reposerver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// state is what the server remembers besides the repositories: bytes added
// per token (for quotas) and which token wrote each lock object (an append
// token may remove only its own locks). It lives in DATA/server/state.json.
//
// Lock ownership is written through at once, because losing it would stop a
// writer from releasing its lock. Usage is flushed by a background job and
// on Close: a crash can lose a few seconds of accounting, never data.
type state struct {
	path string

	mu    sync.Mutex
	data  stateFile
	dirty bool
}

type stateFile struct {
	Usage map[string]int64     `json:"usage"` // token id -> bytes added
	Locks map[string]lockOwner `json:"locks"` // "repo/name" -> writer
}

type lockOwner struct {
	Token string `json:"token"` // token id
	Size  int64  `json:"size"`
}

func openState(path string) (*state, error) {
	s := &state{path: path, data: stateFile{Usage: map[string]int64{}, Locks: map[string]lockOwner{}}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read server state: %w", err)
	}
	if err := json.Unmarshal(data, &s.data); err != nil {
		return nil, fmt.Errorf("read server state %s: %w (move it away to start with empty usage and lock records)", path, err)
	}
	if s.data.Usage == nil {
		s.data.Usage = map[string]int64{}
	}
	if s.data.Locks == nil {
		s.data.Locks = map[string]lockOwner{}
	}
	return s, nil
}

// ReadUsage returns the bytes each token (by Token.ID) has added, as the
// server last wrote them to DATA/server/state.json (at most a few seconds
// behind a running server).
func ReadUsage(dataDir string) (map[string]int64, error) {
	st, err := openState(filepath.Join(dataDir, "server", "state.json"))
	if err != nil {
		return nil, err
	}
	return st.data.Usage, nil
}

// reserve adds n bytes to the usage of tok unless that passes its quota.
func (s *state) reserve(tok Token, n int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	used := s.data.Usage[tok.ID]
	if tok.Quota > 0 && used+n > tok.Quota {
		return false
	}
	s.data.Usage[tok.ID] = used + n
	s.dirty = true
	return true
}

// release takes n bytes back from the usage of token id.
func (s *state) release(id string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data.Usage[id] = max(0, s.data.Usage[id]-n)
	s.dirty = true
}

func (s *state) usage(id string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data.Usage[id]
}

// lockOwner returns the writer of lock name in repo.
func (s *state) lockOwner(repo, name string) (lockOwner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.data.Locks[repo+"/"+name]
	return o, ok
}

// setLockOwner records (or, with owner nil, forgets) the writer of a lock
// and writes the state through.
func (s *state) setLockOwner(repo, name string, owner *lockOwner) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if owner == nil {
		delete(s.data.Locks, repo+"/"+name)
	} else {
		s.data.Locks[repo+"/"+name] = *owner
	}
	s.dirty = true
	return s.flushLocked()
}

// claimLock records owner as the writer of lock name in repo unless a
// writer is recorded already; it reports whether it did.
func (s *state) claimLock(repo, name string, owner lockOwner) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.data.Locks[repo+"/"+name]; ok {
		return false, nil
	}
	s.data.Locks[repo+"/"+name] = owner
	s.dirty = true
	if err := s.flushLocked(); err != nil {
		delete(s.data.Locks, repo+"/"+name)
		return false, err
	}
	return true, nil
}

// flush writes the state if it changed.
func (s *state) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *state) flushLocked() error {
	if !s.dirty {
		return nil
	}
	data, err := json.Marshal(s.data)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.path, data); err != nil {
		return fmt.Errorf("write server state: %w", err)
	}
	s.dirty = false
	return nil
}

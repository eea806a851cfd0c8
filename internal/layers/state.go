package layers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// StateFileName is the name of the state file in its directory.
const StateFileName = "lumbung-state.json"

// StatePath returns where the state file lives: in stateDir when given,
// else next to the config file.
func StatePath(stateDir, configPath string) string {
	if stateDir != "" {
		return filepath.Join(stateDir, StateFileName)
	}
	return filepath.Join(filepath.Dir(configPath), StateFileName)
}

// State keeps what status shows without re-reading every byte: the last
// verification of every layer and the last replication to it. It is small
// JSON, replaced atomically; every change is a read-modify-write under an
// exclusive file lock, so two processes recording at the same moment (a
// check and a backup's replication, say) both keep their record.
type State struct {
	path string
	mu   sync.Mutex
	data stateData
}

type stateData struct {
	Version int `json:"version"`
	// Verifications by "dataset/layer".
	Verifications map[string]Verification `json:"verifications"`
	// Replications by dataset, then layer.
	Replications map[string]map[string]Replication `json:"replications,omitempty"`
}

// maxStateSize bounds the state file read.
const maxStateSize = 16 << 20

// OpenState reads the state file at path; a missing file is an empty state.
func OpenState(path string) (*State, error) {
	s := &State{path: path}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *State) load() error {
	s.data = stateData{Version: 1, Verifications: map[string]Verification{}, Replications: map[string]map[string]Replication{}}
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state file: %w", err)
	}
	if len(b) > maxStateSize {
		return fmt.Errorf("state file %s is larger than %d bytes: remove it (only verification and replication history is lost)", s.path, maxStateSize)
	}
	var d stateData
	if err := json.Unmarshal(b, &d); err != nil {
		return fmt.Errorf("state file %s is damaged (%v): remove it (only verification and replication history is lost)", s.path, err)
	}
	if d.Verifications == nil {
		d.Verifications = map[string]Verification{}
	}
	if d.Replications == nil {
		d.Replications = map[string]map[string]Replication{}
	}
	s.data = d
	return nil
}

func stateKey(dataset, layer string) string { return dataset + "/" + layer }

// Last returns the last verification of a layer, or nil.
func (s *State) Last(dataset, layer string) *Verification {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data.Verifications[stateKey(dataset, layer)]
	if !ok {
		return nil
	}
	return &v
}

// LastReplication returns the last replication to a layer, or nil.
func (s *State) LastReplication(dataset, layer string) *Replication {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.data.Replications[dataset][layer]
	if !ok {
		return nil
	}
	return &r
}

// Record stores a verification result and writes the file.
func (s *State) Record(dataset, layer string, v Verification) error {
	return s.update(func(d *stateData) {
		d.Verifications[stateKey(dataset, layer)] = v
	})
}

// RecordReplications stores the last replication to each layer of
// dataset (by layer name) and writes the file.
func (s *State) RecordReplications(dataset string, rs map[string]Replication) error {
	if len(rs) == 0 {
		return nil
	}
	return s.update(func(d *stateData) {
		m := d.Replications[dataset]
		if m == nil {
			m = map[string]Replication{}
			d.Replications[dataset] = m
		}
		for layer, r := range rs {
			m[layer] = r
		}
	})
}

// update applies change to the newest content of the file and writes it
// back, holding the state lock throughout so that no other process's
// record made in between is lost.
func (s *State) update(change func(*stateData)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	unlock, err := lockState(s.path)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.load(); err != nil {
		return err
	}
	change(&s.data)
	b, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	return writeFileAtomic(s.path, append(b, '\n'))
}

// writeFileAtomic writes data to path so that readers see the old or the
// new content, never a mix: a synced temporary file renamed into place.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	ok = true
	// Make the rename durable; not every platform can sync a directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

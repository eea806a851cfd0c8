package reposerver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/replicate"
)

// Pull results, in PullStatus.Result.
const (
	PullOK         = "ok"         // every source snapshot is here, every object checked
	PullIncomplete = "incomplete" // some object was refused; snapshots needing it were not copied
	PullPaused     = "paused"     // the window closed; the next run continues
	PullFailed     = "failed"     // the run could not complete (source unreachable, disk full…)
)

// maxRefusedKept bounds the refused objects remembered per job, so that a
// badly damaged source cannot grow the state file without bound.
const maxRefusedKept = 20

// PullStatus is what the server remembers of one pull job, in
// DATA/server/pull-state.json and at GET /v1/admin/pull.
type PullStatus struct {
	Name           string `json:"name"`
	From           string `json:"from"`
	To             string `json:"to"`
	Every          string `json:"every"`
	Window         string `json:"window,omitempty"`
	BytesPerSecond int64  `json:"bytes_per_second,omitempty"`

	Running   bool      `json:"running"`
	LastStart time.Time `json:"last_start,omitzero"`
	LastEnd   time.Time `json:"last_end,omitzero"`
	// Result of the last finished run: ok, incomplete, paused or failed.
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
	// What the last run stored here (objects, bytes) and found here already.
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Reused  int64 `json:"reused"`
	// Snapshots of the source in the last run: newly copied, already here,
	// and not copied (their reasons are in the log).
	SnapshotsCopied    int                 `json:"snapshots_copied"`
	SnapshotsPresent   int                 `json:"snapshots_present"`
	SnapshotsNotCopied int                 `json:"snapshots_not_copied"`
	Refused            []replicate.Refused `json:"refused,omitempty"`
	RefusedCount       int                 `json:"refused_count,omitempty"`
	// LastOK is the start of the newest run that ended ok: the copy here is
	// at least as recent as the source was then.
	LastOK  time.Time `json:"last_ok,omitzero"`
	NextRun time.Time `json:"next_run,omitzero"`
}

// pullStates is the status of every pull job, written through to its file
// after every change that matters (a run's start and end).
type pullStates struct {
	path string

	mu   sync.Mutex
	jobs map[string]*PullStatus
}

func openPullStates(path string) (*pullStates, error) {
	ps := &pullStates{path: path, jobs: map[string]*PullStatus{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ps, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pull state: %w", err)
	}
	var list []*PullStatus
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("read pull state %s: %w (move it away to start the pull jobs' history afresh)", path, err)
	}
	for _, st := range list {
		if st != nil && st.Name != "" {
			st.Running = false // a run in progress died with the old process
			ps.jobs[st.Name] = st
		}
	}
	return ps, nil
}

// ReadPullStatus returns the pull jobs' status as the server last wrote it
// to DATA/server/pull-state.json.
func ReadPullStatus(dataDir string) ([]PullStatus, error) {
	ps, err := openPullStates(pullStatePath(dataDir))
	if err != nil {
		return nil, err
	}
	return ps.list(), nil
}

// update changes the status of job name (created if new) and writes the
// file.
func (ps *pullStates) update(name string, fn func(*PullStatus)) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	st := ps.jobs[name]
	if st == nil {
		st = &PullStatus{Name: name}
		ps.jobs[name] = st
	}
	fn(st)
	return ps.writeLocked()
}

func (ps *pullStates) get(name string) (PullStatus, bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	st, ok := ps.jobs[name]
	if !ok {
		return PullStatus{}, false
	}
	return *st, true
}

// list returns every job's status by name. Jobs no longer configured keep
// their last status (the history stays visible after a job is removed).
func (ps *pullStates) list() []PullStatus {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	out := make([]PullStatus, 0, len(ps.jobs))
	for _, st := range ps.jobs {
		out = append(out, *st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (ps *pullStates) writeLocked() error {
	list := make([]*PullStatus, 0, len(ps.jobs))
	for _, st := range ps.jobs {
		list = append(list, st)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(ps.path, data); err != nil {
		return fmt.Errorf("write pull state: %w", err)
	}
	return nil
}

package reposerver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/replicate"
)

// Pull jobs: this server copies repositories from lower layers' servers on
// its own schedule (the pattern of Proxmox Backup Server sync jobs). The
// puller holds a read token for the source and no repository key: it
// mirrors ciphertext with replicate.Copy in mirror mode, which checks every
// object against its name (BLAKE3 of its bytes) before storing it and
// stores packs, then index files, then snapshots, each group complete
// before the next. So a snapshot only arrives here when every pack and
// index file of the source arrived intact; an object that fails the check
// is refused, reported, and holds back every new snapshot of that run.

// Errors of PullNow.
var (
	ErrNoPullJob = errors.New("no such pull job")
	ErrPullBusy  = errors.New("the pull job is running already")
)

func pullStatePath(dataDir string) string {
	return filepath.Join(dataDir, "server", "pull-state.json")
}

// puller runs one pull job.
type puller struct {
	s    *Server
	spec PullSpec
	// run is held for the whole of a run, so a job never overlaps itself
	// (a scheduled run, an admin's "run now" and a test's PullNow alike).
	run  sync.Mutex
	kick chan struct{}
}

// AddPull adds a pull job; call it before Run. Each job has its own name
// and its own target repository (two jobs filling one repository would
// overlap).
func (s *Server) AddPull(spec PullSpec) error {
	if err := spec.validate(); err != nil {
		return fmt.Errorf("pull job %s: %w", spec.Name, err)
	}
	p := &puller{s: s, spec: spec, kick: make(chan struct{}, 1)}
	s.jobsMu.Lock()
	for _, o := range s.pullers {
		if o.spec.Name == spec.Name {
			s.jobsMu.Unlock()
			return fmt.Errorf("two pull jobs are named %s; give each its own name=", spec.Name)
		}
		if o.spec.To == spec.To {
			s.jobsMu.Unlock()
			return fmt.Errorf("pull jobs %s and %s both fill repository %s; give each its own to=", o.spec.Name, spec.Name, spec.To)
		}
	}
	s.pullers = append(s.pullers, p)
	s.jobs = append(s.jobs, p)
	s.jobsMu.Unlock()
	return s.pulls.update(spec.Name, func(st *PullStatus) {
		st.From, st.To, st.Every, st.BytesPerSecond = spec.From, spec.To, spec.Every.String(), spec.BytesPerSecond
		st.Window = ""
		if spec.Window != nil {
			st.Window = spec.Window.String()
		}
	})
}

// PullStatus returns the status of every pull job, configured or
// remembered from the state file.
func (s *Server) PullStatus() []PullStatus { return s.pulls.list() }

// PullNow runs pull job name once, now, and returns its status. It fails
// with ErrPullBusy when the job is running already (it never overlaps
// itself) and ErrNoPullJob when there is no such job. What the run did,
// failure included, is in the status.
func (s *Server) PullNow(ctx context.Context, name string) (PullStatus, error) {
	p := s.puller(name)
	if p == nil {
		return PullStatus{}, fmt.Errorf("pull job %q: %w", name, ErrNoPullJob)
	}
	if !p.run.TryLock() {
		return PullStatus{}, fmt.Errorf("pull job %q: %w", name, ErrPullBusy)
	}
	defer p.run.Unlock()
	return p.once(ctx, false), nil
}

func (s *Server) puller(name string) *puller {
	s.jobsMu.Lock()
	defer s.jobsMu.Unlock()
	for _, p := range s.pullers {
		if p.spec.Name == name {
			return p
		}
	}
	return nil
}

// Name is the job's name in the server log.
func (p *puller) Name() string { return "pull " + p.spec.Name }

// Run runs the job on its schedule until ctx ends: first at start (or,
// after a restart, when the last run's interval is over), then every
// interval from the start of the previous run, only inside the window. A
// failed run is retried at the next one. A job with no interval (Every 0)
// runs only when asked (POST /v1/admin/pull/<name>).
func (p *puller) Run(ctx context.Context) error {
	var next time.Time
	if p.spec.Every > 0 {
		next = intoWindow(p.s.opts.Now(), p.spec.Window)
		if st, ok := p.s.pulls.get(p.spec.Name); ok && !st.LastStart.IsZero() {
			if n := nextPull(st.LastStart, p.spec.Every, p.spec.Window); n.After(next) {
				next = n
			}
		}
	}
	for {
		p.setNext(next)
		var due <-chan time.Time
		timer := time.NewTimer(max(0, next.Sub(p.s.opts.Now())))
		if !next.IsZero() {
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-due:
		case <-p.kick:
		}
		timer.Stop()
		if ctx.Err() != nil {
			return nil
		}
		p.run.Lock()
		st := p.once(ctx, true)
		p.run.Unlock()
		if ctx.Err() != nil {
			return nil
		}
		next = st.NextRun
	}
}

func (p *puller) setNext(t time.Time) {
	if err := p.s.pulls.update(p.spec.Name, func(st *PullStatus) { st.NextRun = t }); err != nil {
		p.s.opts.Log.Error("pull job state", "job", p.spec.Name, "err", err)
	}
}

// once runs the job once; the caller holds p.run. A scheduled run also
// sets the time of the next one, in the same update of the status.
func (p *puller) once(ctx context.Context, scheduled bool) PullStatus {
	log := p.s.opts.Log.With("job", p.spec.Name, "from", p.spec.From, "to", p.spec.To)
	start := p.s.opts.Now()
	if err := p.s.pulls.update(p.spec.Name, func(st *PullStatus) { st.Running, st.LastStart = true, start }); err != nil {
		log.Error("pull job state", "err", err)
	}
	log.Info("pull started")
	res, err := p.pull(ctx)
	result, why := outcome(ctx, res, err)
	var out PullStatus
	if uerr := p.s.pulls.update(p.spec.Name, func(st *PullStatus) {
		st.Running, st.LastEnd, st.Result, st.Error = false, p.s.opts.Now(), result, why
		st.Objects, st.Bytes, st.Reused = 0, 0, 0
		st.SnapshotsCopied, st.SnapshotsPresent, st.SnapshotsNotCopied = 0, 0, 0
		st.Refused, st.RefusedCount = nil, 0
		if res != nil {
			st.Objects, st.Bytes, st.Reused = res.Objects, res.Bytes, res.Reused
			c := res.Counts()
			st.SnapshotsCopied, st.SnapshotsPresent = c[replicate.Copied], c[replicate.Skipped]
			st.SnapshotsNotCopied = len(res.Snapshots) - st.SnapshotsCopied - st.SnapshotsPresent
			st.RefusedCount = len(res.Refused)
			st.Refused = append([]replicate.Refused(nil), res.Refused[:min(len(res.Refused), maxRefusedKept)]...)
		}
		if result == PullOK {
			st.LastOK = start
		}
		if scheduled && p.spec.Every > 0 {
			st.NextRun = nextPull(start, p.spec.Every, p.spec.Window)
		} else if scheduled {
			st.NextRun = time.Time{}
		}
		out = *st
	}); uerr != nil {
		log.Error("pull job state", "err", uerr)
	}
	attrs := []any{"result", result, "objects", out.Objects, "bytes", out.Bytes, "reused", out.Reused,
		"snapshots_copied", out.SnapshotsCopied, "snapshots_not_copied", out.SnapshotsNotCopied,
		"duration", p.s.opts.Now().Sub(start).Round(time.Millisecond)}
	if res != nil {
		for _, r := range res.Refused[:min(len(res.Refused), maxRefusedKept)] {
			log.Warn("pull refused an object", "object", r.Object, "reason", r.Reason)
		}
	}
	switch result {
	case PullOK, PullPaused:
		log.Info("pull finished", attrs...)
	default:
		log.Error("pull finished", append(attrs, "err", why)...)
	}
	return out
}

// pull copies what the source has and this server lacks.
func (p *puller) pull(ctx context.Context) (*replicate.Result, error) {
	src, err := p.spec.open(ctx)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst, err := p.s.pullTarget(ctx, p.spec.To)
	if err != nil {
		return nil, fmt.Errorf("open repository %s on this server: %w", p.spec.To, err)
	}
	res, err := replicate.Copy(ctx, src, noRemove{dst}, replicate.Options{
		Mode:           replicate.ModeMirror,
		BytesPerSecond: p.spec.BytesPerSecond,
		Window:         p.spec.Window,
		Now:            p.s.opts.Now,
	})
	if errors.Is(err, replicate.ErrDifferentRepository) {
		// Without a key a pull can only mirror; re-encryption is no way out.
		err = fmt.Errorf("repository %s on this server is not a copy of %s (their configs differ), so the pull cannot add to it; give the job another to= (a new name starts a fresh mirror): %w", p.spec.To, p.spec.From, err)
	}
	return res, err
}

// outcome sums up a run in a result and, unless ok, a message an admin can
// act on.
func outcome(ctx context.Context, res *replicate.Result, err error) (string, string) {
	switch {
	case err != nil && ctx.Err() != nil:
		return PullFailed, "interrupted (the server is stopping, or the run was cancelled); the next run continues, reusing what was stored"
	case err != nil:
		return PullFailed, err.Error() + "; the next run retries"
	case res.Paused:
		return PullPaused, "the time window closed; the next run inside it continues"
	case len(res.Refused) > 0:
		r := res.Refused[0]
		return PullIncomplete, fmt.Sprintf("%d object(s) of the source were refused (first: %s: %s), so %d new snapshot(s) were not copied; "+
			"run `lumbung check --read-data` on the source repository; the next run retries",
			len(res.Refused), r.Object, r.Reason, len(res.Snapshots)-res.Counts()[replicate.Copied]-res.Counts()[replicate.Skipped])
	case !res.OK():
		for _, s := range res.Snapshots {
			if s.Status != replicate.Copied && s.Status != replicate.Skipped {
				return PullIncomplete, fmt.Sprintf("snapshot %s was not copied: %s; the next run retries", s.ID, s.Reason)
			}
		}
		return PullIncomplete, "some snapshots were not copied; the next run retries"
	}
	return PullOK, ""
}

// pullTarget returns the repository a pull fills, through the server's own
// store (so a pulled repository is served like any other), creating it on
// the first run.
func (s *Server) pullTarget(ctx context.Context, name string) (backend.Backend, error) {
	be, err := s.repo(ctx, name)
	if err == nil || !errors.Is(err, backend.ErrNotExist) {
		return be, err
	}
	if _, err := s.createRepo(ctx, name); err != nil && !errors.Is(err, backend.ErrExists) {
		return nil, err
	}
	return s.repo(ctx, name)
}

package layers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/s3"
)

// Retainer is the part of a backend whose objects carry Object Lock
// retention (the s3 backend). Maintenance and status need nothing more, so
// they work with the agent's own keys: reading and extending retention is
// all they ask of the storage.
type Retainer interface {
	ObjectRetention(ctx context.Context, h backend.Handle) (s3.Retention, error)
	ExtendObjectRetention(ctx context.Context, h backend.Handle, until time.Time) (extended bool, err error)
}

var _ Retainer = (*s3.Backend)(nil)

// ErrNoRetention means the storage has no per-object retention to read or
// extend (a local directory, a repository server, a disk).
var ErrNoRetention = errors.New("this storage has no object retention (only s3: locations with Object Lock have one)")

// ExtendOptions control ExtendRetention.
type ExtendOptions struct {
	// Duration is how long from now every object must stay locked.
	Duration time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is called after every object (never
	// concurrently).
	Progress func(RetentionProgress)
	// Workers is how many objects are handled at once; 0 means 4.
	Workers int
}

// RetentionProgress is how far an ExtendRetention has come.
type RetentionProgress struct {
	Total      int `json:"total"`
	Checked    int `json:"checked"`
	Extended   int `json:"extended"`
	LongEnough int `json:"long_enough"`
	Failed     int `json:"failed"`
}

// RetentionResult is the outcome of an ExtendRetention.
type RetentionResult struct {
	RetentionProgress
	// Until is the retain-until date every checked object now has at
	// least (unless it failed).
	Until time.Time `json:"until"`
	// Errors are the first failures (at most maxRetentionErrors).
	Errors []string `json:"errors,omitempty"`
}

const (
	maxRetentionErrors = 10
	// giveUpAfter consecutive failures with nothing extended means the
	// storage refuses every object (no Object Lock on the bucket, keys
	// without s3:PutObjectRetention): going on would only repeat it.
	giveUpAfter = 20
)

// retainedTypes are the file types maintenance keeps locked: everything but
// locks, which are removed when their process ends (the backend writes them
// without retention for the same reason).
var retainedTypes = []backend.FileType{backend.KeyFile, backend.IndexFile, backend.SnapshotFile, backend.PackFile}

// ExtendRetention makes every object of the repository in be (config, keys,
// indexes, snapshots, packs: no prune exists, so all are in use) stay under
// COMPLIANCE Object Lock until at least now + opts.Duration. It never
// shortens: an object already retained that long is counted as long
// enough and left alone. A failure on one object is counted and the rest
// go on; the error is non-nil when any object failed, the context ended,
// or the repository could not be listed.
func ExtendRetention(ctx context.Context, be backend.Backend, opts ExtendOptions) (*RetentionResult, error) {
	r, ok := be.(Retainer)
	if !ok {
		return nil, fmt.Errorf("%s: %w", be.Location(), ErrNoRetention)
	}
	if opts.Duration <= 0 {
		return nil, errors.New("extend retention: the duration must be positive")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	handles, err := retainedHandles(ctx, be)
	if err != nil {
		return nil, err
	}
	res := &RetentionResult{Until: now().Add(opts.Duration).UTC()}
	res.Total = len(handles)

	var (
		mu          sync.Mutex
		consecutive int // failures in a row with nothing extended yet
	)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan backend.Handle)
	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for h := range work {
				extended, err := r.ExtendObjectRetention(wctx, h, res.Until)
				mu.Lock()
				res.Checked++
				switch {
				case err != nil:
					res.Failed++
					consecutive++
					if len(res.Errors) < maxRetentionErrors {
						res.Errors = append(res.Errors, err.Error())
					}
					if consecutive >= giveUpAfter && res.Extended == 0 && res.LongEnough == 0 {
						cancel()
					}
				case extended:
					res.Extended++
					consecutive = 0
				default:
					res.LongEnough++
					consecutive = 0
				}
				if opts.Progress != nil {
					opts.Progress(res.RetentionProgress)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, h := range handles {
		select {
		case work <- h:
		case <-wctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()

	switch {
	case ctx.Err() != nil:
		return res, fmt.Errorf("extend retention on %s: %w", be.Location(), ctx.Err())
	case res.Failed > 0 && res.Extended == 0 && res.LongEnough == 0:
		return res, fmt.Errorf("extend retention on %s: no object could be extended (%d failed, first: %s); check that the bucket has Object Lock enabled and the keys may s3:GetObjectRetention and s3:PutObjectRetention (docs/s3.md)", be.Location(), res.Failed, firstError(res.Errors))
	case res.Failed > 0:
		return res, fmt.Errorf("extend retention on %s: %d of %d objects failed (first: %s); run it again: objects already extended are skipped", be.Location(), res.Failed, res.Total, firstError(res.Errors))
	}
	return res, nil
}

func firstError(errs []string) string {
	if len(errs) == 0 {
		return "unknown"
	}
	return errs[0]
}

// retainedHandles lists the config and every object of retainedTypes.
func retainedHandles(ctx context.Context, be backend.Backend) ([]backend.Handle, error) {
	cfg := backend.Handle{Type: backend.ConfigFile}
	if _, err := be.Stat(ctx, cfg); err != nil {
		return nil, fmt.Errorf("extend retention on %s: read config: %w", be.Location(), err)
	}
	hs := []backend.Handle{cfg}
	for _, t := range retainedTypes {
		err := be.List(ctx, t, func(fi backend.FileInfo) error {
			hs = append(hs, backend.Handle{Type: t, Name: fi.Name})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("extend retention on %s: list %v: %w", be.Location(), t, err)
		}
	}
	return hs, nil
}

// ConfiguredRetention is how long objects written to a layer stay locked:
// its immutable_days, else the retention= of its s3: location; 0 when
// neither says.
func ConfiguredRetention(l *Layer) time.Duration {
	if l.ImmutableDays > 0 {
		return time.Duration(l.ImmutableDays) * 24 * time.Hour
	}
	return LocationRetention(l.Repository)
}

// LocationRetention is the retention= of an s3: location; 0 for any other
// location or none given.
func LocationRetention(loc string) time.Duration {
	rest, ok := strings.CutPrefix(loc, "s3:")
	if !ok {
		return 0
	}
	cfg, err := s3.ParseLocation(rest)
	if err != nil {
		return 0
	}
	return cfg.Retention
}

// IsS3 reports whether a repository location is on object storage, the only
// kind with per-object retention.
func IsS3(loc string) bool { return strings.HasPrefix(loc, "s3:") }

// objectImmutableUntil reads the retention of the newest snapshot's object
// when be has object retention: read says whether it could be read, until
// is nil when that object is not under COMPLIANCE lock (GOVERNANCE can be
// bypassed, so it does not make a copy immutable).
func objectImmutableUntil(ctx context.Context, be backend.Backend, newest *SnapshotRef) (until *time.Time, read bool) {
	r, ok := be.(Retainer)
	if !ok || newest == nil {
		return nil, false
	}
	ret, err := r.ObjectRetention(ctx, backend.Handle{Type: backend.SnapshotFile, Name: newest.ID})
	if err != nil {
		return nil, false
	}
	if ret.Mode != "COMPLIANCE" || ret.Until.IsZero() {
		return nil, true
	}
	u := ret.Until
	return &u, true
}

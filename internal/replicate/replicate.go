package replicate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/bufpool"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// Mode is how a copy is made.
type Mode string

// Copy modes.
const (
	// ModeAuto picks ModeMirror when the destination is empty or holds the
	// same repository (identical config), ModeReencrypt otherwise.
	ModeAuto Mode = ""
	// ModeMirror copies files byte for byte; no key is needed.
	ModeMirror Mode = "mirror"
	// ModeReencrypt copies blobs into another repository with its own keys.
	ModeReencrypt Mode = "re-encrypt"
)

// Status is what happened to one snapshot.
type Status string

// Snapshot outcomes.
const (
	Copied  Status = "copied"  // now stored at the destination
	Skipped Status = "skipped" // the destination already had it
	Failed  Status = "failed"  // not copied; Reason says why
	Paused  Status = "paused"  // not copied because the time window closed
)

// Options control one copy. The zero value copies every snapshot with no
// limit, in ModeAuto.
type Options struct {
	Mode Mode
	// Snapshots are the full ids of the source snapshots to copy; empty
	// means all (of Dataset, when set).
	Snapshots []string
	// Dataset restricts the copy to snapshots of this dataset. It needs
	// SrcPassword (snapshots are sealed).
	Dataset string
	// RequireSnapshots makes a mirror copy that finds no snapshot to copy
	// fail with ErrNoSnapshots before it copies anything (an export of a
	// dataset that was never backed up is a mistake, not an empty disk).
	RequireSnapshots bool
	// SrcPassword and DstPassword open the repositories. Mirror copies need
	// none (but use SrcPassword for Dataset); re-encrypt copies need both.
	SrcPassword, DstPassword []byte
	// BytesPerSecond limits the bytes copied per second: the files loaded
	// from the source in mirror mode, the packs saved to the destination in
	// re-encrypt mode; 0 means no limit.
	BytesPerSecond int64
	// Window, when set, confines the copy to a daily time window: outside
	// it the copy stops cleanly between objects and reports Paused.
	Window *Window
	// Now is the clock for Window; nil means time.Now.
	Now func() time.Time
	// Concurrency bounds the objects (mirror) or blobs (re-encrypt) copied
	// at once; 0 means 4.
	Concurrency int
	// Progress, when set, is called after every object stored or found
	// present, never concurrently.
	Progress func(Progress)
}

// Progress counts what a copy has done so far.
type Progress struct {
	Phase   string `json:"phase"`   // "keys", "packs", "index", "snapshots", "blobs"
	Objects int64  `json:"objects"` // objects (files or blobs) stored at the destination
	Bytes   int64  `json:"bytes"`   // bytes stored at the destination
}

// SnapshotResult is the outcome for one source snapshot.
type SnapshotResult struct {
	ID     string `json:"id"`                // source snapshot id
	DestID string `json:"dest_id,omitempty"` // id at the destination (differs in re-encrypt mode)
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Refused is an object that failed verification and was not stored.
type Refused struct {
	Object string `json:"object"` // e.g. "data/1f2e…"
	Reason string `json:"reason"`
}

// Result says what a copy did.
type Result struct {
	Mode      Mode             `json:"mode"`
	Snapshots []SnapshotResult `json:"snapshots"`
	// Objects and Bytes count what was stored at the destination: files and
	// their bytes in mirror mode, new blobs and their plaintext bytes in
	// re-encrypt mode. Reused counts objects found already there.
	Objects int64 `json:"objects"`
	Bytes   int64 `json:"bytes"`
	Reused  int64 `json:"reused"`
	// BlobsNew counts blobs written in re-encrypt mode (data and trees);
	// BlobsRead and TreesRead count the data blobs and directory trees
	// read and rewritten from the source (not counting the earlier copy's
	// trees read for hints).
	BlobsNew  int64     `json:"blobs_new,omitempty"`
	BlobsRead int64     `json:"blobs_read,omitempty"`
	TreesRead int64     `json:"trees_read,omitempty"`
	Refused   []Refused `json:"refused,omitempty"`
	// Paused is set when the time window closed before the copy finished.
	Paused bool `json:"paused,omitempty"`
}

// Counts returns how many snapshots ended in each status.
func (r *Result) Counts() map[Status]int {
	m := make(map[Status]int)
	for _, s := range r.Snapshots {
		m[s.Status]++
	}
	return m
}

// OK reports whether every snapshot was copied or already present.
func (r *Result) OK() bool {
	for _, s := range r.Snapshots {
		if s.Status != Copied && s.Status != Skipped {
			return false
		}
	}
	return len(r.Refused) == 0 && !r.Paused
}

// Errors callers can test with errors.Is.
var (
	// ErrDifferentRepository: a mirror copy was asked for but the
	// destination holds another repository.
	ErrDifferentRepository = errors.New("the destination holds a different repository")
	// ErrNeedPassword: the copy needs a key that was not given.
	ErrNeedPassword = errors.New("password needed")
	// ErrNoSnapshots: RequireSnapshots was set and the source holds no
	// snapshot to copy.
	ErrNoSnapshots = errors.New("no snapshot to copy")
	// errPaused stops work when the window closes.
	errPaused = errors.New("paused by window")
)

// timeNow is the default clock.
var timeNow = time.Now

// Copy copies snapshots from src to dst (see the package doc for the modes).
// It returns an error only when the copy cannot run at all (storage
// unreachable, wrong password, cancelled); what happened to each snapshot
// is in the Result, which is returned with what was reached also on error.
func Copy(ctx context.Context, src, dst backend.Backend, opts Options) (*Result, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Now == nil {
		opts.Now = timeNow
	}
	mode, err := chooseMode(ctx, src, dst, opts.Mode)
	if err != nil {
		return nil, err
	}
	c := &copier{opts: opts, res: &Result{Mode: mode}, packBufs: bufpool.New(packBufSize, max(opts.Concurrency, 1))}
	// The limit is charged once per byte that crosses the link. A mirror
	// copy saves exactly what it loads, so it pays on the source side,
	// before the bytes travel, which throttles a pull from a remote source
	// and a push to a remote destination alike. A re-encrypting copy reads
	// every blob but writes only the new ones: it pays on the destination
	// side, for what actually travels there.
	lim := newLimiter(opts.BytesPerSecond)
	if mode == ModeMirror {
		src = limit(src, lim, true, false)
	} else {
		dst = limit(dst, lim, false, true)
	}
	switch mode {
	case ModeMirror:
		err = c.mirror(ctx, src, dst)
	default:
		err = c.reencrypt(ctx, src, dst)
	}
	return c.res, err
}

// chooseMode compares the two configs.
func chooseMode(ctx context.Context, src, dst backend.Backend, want Mode) (Mode, error) {
	if want != ModeAuto && want != ModeMirror && want != ModeReencrypt {
		return "", fmt.Errorf("unknown copy mode %q (want mirror or re-encrypt)", want)
	}
	if err := repository.CheckFormat(ctx, src); err != nil {
		return "", fmt.Errorf("source %s: %w", src.Location(), err)
	}
	if want == ModeReencrypt {
		return want, nil
	}
	srcCfg, err := loadBounded(ctx, src, backend.Handle{Type: backend.ConfigFile}, maxSize(backend.ConfigFile))
	if err != nil {
		return "", fmt.Errorf("read config of %s: %w", src.Location(), err)
	}
	dstCfg, err := loadBounded(ctx, dst, backend.Handle{Type: backend.ConfigFile}, maxSize(backend.ConfigFile))
	switch {
	case errors.Is(err, backend.ErrNotExist):
		return ModeMirror, nil
	case err != nil:
		return "", fmt.Errorf("read config of %s: %w", dst.Location(), err)
	case bytes.Equal(srcCfg, dstCfg):
		return ModeMirror, nil
	case want == ModeMirror:
		return "", fmt.Errorf("mirror %s to %s: %w (its config differs); copy with re-encryption instead", src.Location(), dst.Location(), ErrDifferentRepository)
	}
	return ModeReencrypt, nil
}

// copier holds the state of one Copy.
type copier struct {
	opts Options

	mu  sync.Mutex // guards res and the progress callback
	res *Result

	src *repository.Repository // the source, opened once (srcRepo)

	// packBufs holds buffers for packs read with backend.LoaderInto (a
	// local source reads them around the page cache: a copy reads each
	// pack once, and filling the cache with them would evict what the
	// server's own services keep there).
	packBufs *bufpool.Pool
}

// packBufSize fits every pack of the default size (8 MiB and one more
// blob); a larger one is read into a buffer of its own.
const packBufSize = 13<<20 + backend.LoadIntoSlack

// srcRepo returns the source repository opened with SrcPassword, opening
// it on first use: the key derivation costs tenths of a second and tens of
// MiB, so one copy does it at most once.
func (c *copier) srcRepo(ctx context.Context, be backend.Backend) (*repository.Repository, error) {
	if c.src == nil {
		repo, err := repository.Open(ctx, be, c.opts.SrcPassword, repository.Options{})
		if err != nil {
			return nil, fmt.Errorf("open source %s: %w", be.Location(), err)
		}
		c.src = repo
	}
	return c.src, nil
}

// inWindow reports whether work may continue now.
func (c *copier) inWindow() bool {
	return c.opts.Window == nil || c.opts.Window.Contains(c.opts.Now())
}

// stored records n bytes stored at the destination (or found there, when
// reused) and reports progress.
func (c *copier) stored(phase string, n int64, reused bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if reused {
		c.res.Reused++
	} else {
		c.res.Objects++
		c.res.Bytes += n
	}
	if c.opts.Progress != nil {
		c.opts.Progress(Progress{Phase: phase, Objects: c.res.Objects, Bytes: c.res.Bytes})
	}
}

func (c *copier) refuse(obj, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Refused = append(c.res.Refused, Refused{Object: obj, Reason: reason})
}

func (c *copier) snapshot(r SnapshotResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.res.Snapshots = append(c.res.Snapshots, r)
}

// wanted reports whether the source snapshot id was asked for.
func (c *copier) wanted(id string) bool {
	if len(c.opts.Snapshots) == 0 {
		return true
	}
	for _, s := range c.opts.Snapshots {
		if s == id {
			return true
		}
	}
	return false
}

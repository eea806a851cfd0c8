package replicate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// object is one file to copy.
type object struct {
	h    backend.Handle
	size int64
}

// mirror copies missing files byte for byte: keys, config, packs, index
// files, snapshots, each group complete and durable before the next. Without
// a key it cannot tell which snapshots need which pack, so when any pack
// cannot be copied (or the window closes) no index file or snapshot is
// copied in this run; the packs that were stored are kept and reused next
// time. With the source password it can tell, and copies what is complete
// (mirrorPartial).
func (c *copier) mirror(ctx context.Context, src, dst backend.Backend) error {
	// List in the reverse of the source's write order (snapshots, index,
	// packs): a backup running meanwhile then cannot give us a snapshot
	// whose index or packs were not listed.
	srcSnaps, err := list(ctx, src, backend.SnapshotFile)
	if err != nil {
		return err
	}
	srcIdx, err := list(ctx, src, backend.IndexFile)
	if err != nil {
		return err
	}
	srcPacks, err := list(ctx, src, backend.PackFile)
	if err != nil {
		return err
	}
	srcKeys, err := list(ctx, src, backend.KeyFile)
	if err != nil {
		return err
	}
	dstHas := make(map[backend.FileType]map[string]int64)
	for _, t := range []backend.FileType{backend.KeyFile, backend.PackFile, backend.IndexFile, backend.SnapshotFile} {
		if dstHas[t], err = list(ctx, dst, t); err != nil {
			return err
		}
	}
	selected, err := c.selectSnapshots(ctx, src, srcSnaps)
	if err != nil {
		return err
	}
	if c.opts.RequireSnapshots && len(selected) == 0 {
		what := "the source " + src.Location() + " holds no snapshot"
		if c.opts.Dataset != "" {
			what = fmt.Sprintf("the source %s holds no snapshot of dataset %q", src.Location(), c.opts.Dataset)
		}
		return fmt.Errorf("%s: %w", what, ErrNoSnapshots)
	}

	// Keys, then the config: like `init`, the config's presence marks a
	// usable repository.
	if incomplete, err := c.copyGroup(ctx, src, dst, "keys", c.missing(backend.KeyFile, srcKeys, dstHas[backend.KeyFile])); err != nil || incomplete {
		return c.stopBeforeSnapshots(selected, dstHas[backend.SnapshotFile], "some key files", err)
	}
	if err := c.copyConfig(ctx, src, dst); err != nil {
		return err
	}
	for _, phase := range []struct {
		name string
		t    backend.FileType
		from map[string]int64
	}{{"packs", backend.PackFile, srcPacks}, {"index", backend.IndexFile, srcIdx}} {
		incomplete, err := c.copyGroup(ctx, src, dst, phase.name, c.missing(phase.t, phase.from, dstHas[phase.t]))
		if err == nil && incomplete && phase.t == backend.PackFile && len(c.opts.SrcPassword) > 0 && !c.isPaused() {
			return c.mirrorPartial(ctx, src, dst, srcIdx, srcSnaps, selected, dstHas[backend.SnapshotFile])
		}
		if err != nil || incomplete {
			return c.stopBeforeSnapshots(selected, dstHas[backend.SnapshotFile], "some "+phase.name, err)
		}
	}

	// Snapshots last, one by one, each with its own result.
	for _, name := range selected {
		r := SnapshotResult{ID: name, DestID: name}
		switch _, have := dstHas[backend.SnapshotFile][name]; {
		case have:
			r.Status = Skipped
			c.stored("snapshots", 0, true)
		case !c.inWindow():
			c.setPaused()
			r.Status, r.Reason = Paused, errPaused.Error()
		default:
			err := c.copyObject(ctx, src, dst, "snapshots", object{h: backend.Handle{Type: backend.SnapshotFile, Name: name}, size: srcSnaps[name]})
			if err != nil && isDestErr(err) {
				c.snapshot(SnapshotResult{ID: name, Status: Failed, Reason: err.Error()})
				return err
			}
			r.Status = Copied
			if err != nil {
				r.DestID, r.Status, r.Reason = "", Failed, err.Error()
			}
		}
		c.snapshot(r)
	}
	return nil
}

// stopBeforeSnapshots records every selected snapshot the destination lacks
// as not copied, because an earlier group is incomplete.
func (c *copier) stopBeforeSnapshots(selected []string, dstSnaps map[string]int64, what string, err error) error {
	c.mu.Lock()
	paused := c.res.Paused
	nRefused := len(c.res.Refused)
	c.mu.Unlock()
	for _, name := range selected {
		r := SnapshotResult{ID: name}
		switch _, have := dstSnaps[name]; {
		case have:
			r.DestID, r.Status = name, Skipped
		case err != nil:
			r.Status, r.Reason = Failed, fmt.Sprintf("not copied: %v", err)
		case paused:
			r.Status, r.Reason = Paused, errPaused.Error()
		default:
			r.Status = Failed
			r.Reason = fmt.Sprintf("not copied: %s could not be copied (%d object(s) refused, see the list); "+
				"without the source password a mirror copy cannot tell which snapshots need them, so none is copied until every object arrives intact (give the password to copy the complete ones)", what, nRefused)
		}
		c.snapshot(r)
	}
	return err
}

func (c *copier) isPaused() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.res.Paused
}

func (c *copier) setPaused() {
	c.mu.Lock()
	c.res.Paused = true
	c.mu.Unlock()
}

// selectSnapshots returns the source snapshot names to copy, oldest name
// order, and records requested snapshots that do not exist.
func (c *copier) selectSnapshots(ctx context.Context, src backend.Backend, srcSnaps map[string]int64) ([]string, error) {
	for _, want := range c.opts.Snapshots {
		if _, ok := srcSnaps[want]; !ok {
			c.snapshot(SnapshotResult{ID: want, Status: Failed, Reason: "no such snapshot at the source " + src.Location()})
		}
	}
	var names []string
	for name := range srcSnaps {
		if c.wanted(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if c.opts.Dataset == "" {
		return names, nil
	}
	if len(c.opts.SrcPassword) == 0 {
		return nil, fmt.Errorf("choose the snapshots of dataset %q: snapshots are encrypted: %w for the source", c.opts.Dataset, ErrNeedPassword)
	}
	repo, err := c.srcRepo(ctx, src)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range names {
		id, err := crypto.ParseID(name)
		if err != nil {
			continue
		}
		sn, err := repo.LoadSnapshot(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.snapshot(SnapshotResult{ID: name, Status: Failed, Reason: err.Error()})
			continue
		}
		switch {
		case sn.Dataset == c.opts.Dataset:
			out = append(out, name)
		case len(c.opts.Snapshots) > 0:
			c.snapshot(SnapshotResult{ID: name, Status: Failed, Reason: fmt.Sprintf("belongs to dataset %q, not %q", sn.Dataset, c.opts.Dataset)})
		}
	}
	return out, nil
}

// copyConfig copies the config if the destination has none. Its header was
// checked by chooseMode; a destination config that differs was refused there.
func (c *copier) copyConfig(ctx context.Context, src, dst backend.Backend) error {
	h := backend.Handle{Type: backend.ConfigFile}
	if _, err := dst.Stat(ctx, h); err == nil {
		c.stored("config", 0, true)
		return nil
	} else if !errors.Is(err, backend.ErrNotExist) {
		return fmt.Errorf("stat config at %s: %w", dst.Location(), err)
	}
	data, err := loadBounded(ctx, src, h, maxSize(backend.ConfigFile))
	if err != nil {
		return fmt.Errorf("read config of %s: %w", src.Location(), err)
	}
	if err := dst.Save(ctx, h, data); err != nil && !errors.Is(err, backend.ErrExists) {
		return fmt.Errorf("copy config to %s: %w", dst.Location(), err)
	}
	c.stored("config", int64(len(data)), false)
	return nil
}

// destError marks a failure of the destination, which stops the copy (the
// next object would fail the same way); source failures only skip the
// object.
type destError struct{ err error }

func (e *destError) Error() string { return e.err.Error() }
func (e *destError) Unwrap() error { return e.err }

func isDestErr(err error) bool {
	var d *destError
	return errors.As(err, &d) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// copyGroup copies objs with bounded concurrency. incomplete is set when
// some object was refused or the window closed; err when the destination
// failed or ctx ended.
func (c *copier) copyGroup(ctx context.Context, src, dst backend.Backend, phase string, objs []object) (incomplete bool, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, c.opts.Concurrency)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	bad := false
	for _, o := range objs {
		if ctx.Err() != nil {
			break
		}
		if !c.inWindow() {
			c.setPaused()
			mu.Lock()
			bad = true
			mu.Unlock()
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := c.copyObject(ctx, src, dst, phase, o)
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if isDestErr(err) {
				if firstErr == nil {
					firstErr = err
				}
				cancel(err)
				return
			}
			bad = true
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = context.Cause(ctx)
	}
	return bad, firstErr
}

// maxSize bounds each kind of file a mirror copy will load, from the limits
// of docs/format.md with room to spare, so a hostile source cannot make the
// copy allocate without bound by listing an absurd size.
func maxSize(t backend.FileType) int64 {
	switch t {
	case backend.ConfigFile, backend.KeyFile:
		return 64 << 10
	case backend.PackFile:
		return 256 << 20 // pack_size ≤ 128 MiB, or one 64 MiB blob, plus a 32 MiB header
	case backend.IndexFile:
		return 1 << 30
	case backend.SnapshotFile:
		return 64 << 20
	}
	return 64 << 20
}

// loadBounded loads a whole file after checking its size against limit.
func loadBounded(ctx context.Context, be backend.Backend, h backend.Handle, limit int64) ([]byte, error) {
	fi, err := be.Stat(ctx, h)
	if err != nil {
		return nil, err
	}
	if fi.Size > limit {
		return nil, fmt.Errorf("%v is %d bytes, more than any valid one (%d)", h, fi.Size, limit)
	}
	return be.Load(ctx, h, 0, fi.Size)
}

// copyObject copies one file after checking it against its name. Source
// problems are recorded as refused and returned plain; destination problems
// are returned as *destError.
func (c *copier) copyObject(ctx context.Context, src, dst backend.Backend, phase string, o object) error {
	// Asking for the listed size lets a rate limit pay before the bytes
	// travel; a file of another size then fails the hash check below.
	var data []byte
	var err error
	li, into := src.(backend.LoaderInto)
	switch {
	case o.size > maxSize(o.h.Type) || o.size <= 0:
		err = fmt.Errorf("listed as %d bytes, not a valid size for a %v file", o.size, o.h.Type)
	case into && o.h.Type == backend.PackFile:
		buf := c.packBufs.Get()
		defer c.packBufs.Put(buf) // Save has returned by then: no backend keeps the bytes
		data, err = li.LoadInto(ctx, o.h, 0, o.size, buf)
	default:
		data, err = src.Load(ctx, o.h, 0, o.size)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.refuse(o.h.String(), "could not read it: "+err.Error())
		return fmt.Errorf("read from %s: %w", src.Location(), err)
	}
	if got := crypto.Hash(data).String(); got != o.h.Name {
		reason := fmt.Sprintf("content does not match its name (BLAKE3 %s…): damaged or tampered with at the source", got[:16])
		c.refuse(o.h.String(), reason)
		return fmt.Errorf("%v from %s: %s", o.h, src.Location(), reason)
	}
	err = dst.Save(ctx, o.h, data)
	if errors.Is(err, backend.ErrExists) {
		c.stored(phase, 0, true)
		return nil
	}
	if err != nil {
		return &destError{fmt.Errorf("copy to %s: %w", dst.Location(), err)}
	}
	c.stored(phase, int64(len(data)), false)
	return nil
}

// list returns the valid names of stored files of type t with their sizes.
func list(ctx context.Context, be backend.Backend, t backend.FileType) (map[string]int64, error) {
	out := make(map[string]int64)
	err := be.List(ctx, t, func(fi backend.FileInfo) error {
		if _, err := crypto.ParseID(fi.Name); err == nil {
			out[fi.Name] = fi.Size
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", be.Location(), err)
	}
	return out, nil
}

// missing returns the objects of have not in dst, in name order.
func (c *copier) missing(t backend.FileType, have, dst map[string]int64) []object {
	var out []object
	there := 0
	for name, size := range have {
		if _, ok := dst[name]; !ok {
			out = append(out, object{h: backend.Handle{Type: t, Name: name}, size: size})
		} else {
			there++
		}
	}
	c.mu.Lock()
	c.res.Reused += int64(there) // already there: an earlier copy, or an interrupted one, stored them
	c.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].h.Name < out[j].h.Name })
	return out
}

package layers

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/replicate"
)

// CopyOptions control copies between the layers of a dataset.
type CopyOptions struct {
	// Snapshots are source snapshot ids; empty means every snapshot of the
	// dataset.
	Snapshots []string
	// SnapshotsChecked says the caller opened the source and made sure each
	// of Snapshots belongs to the dataset, so the copy does not derive the
	// source key a second time to check it again.
	SnapshotsChecked bool
	// Progress, when set, receives the progress of each copy with the
	// destination layer's name.
	Progress    func(layer string, p replicate.Progress)
	Concurrency int
	// Now is the clock for time windows; nil means time.Now.
	Now func() time.Time
}

// LayerCopy is the outcome of copying to one layer.
type LayerCopy struct {
	Layer  string            `json:"layer"`
	Result *replicate.Result `json:"result,omitempty"`
	// Error is why the copy could not run or stopped.
	Error string `json:"error,omitempty"`
	// Skipped says why nothing was attempted (offline layers are written
	// by export, not by replication).
	Skipped string `json:"skipped,omitempty"`
}

// OK reports whether the layer received everything asked for.
func (c LayerCopy) OK() bool {
	return c.Skipped != "" || (c.Error == "" && c.Result != nil && c.Result.OK())
}

// ReplicateDataset copies the dataset's snapshots from its first layer to
// every other layer except offline ones, one layer after the other. A
// failing layer does not stop the others; each has its own LayerCopy.
func ReplicateDataset(ctx context.Context, d *Dataset, opts CopyOptions) []LayerCopy {
	var out []LayerCopy
	if len(d.Layers) == 0 {
		return out
	}
	for _, l := range d.Layers[1:] {
		if l.Role == RoleOffline {
			out = append(out, LayerCopy{Layer: l.Name, Skipped: "offline layer: written by export"})
			continue
		}
		res, err := CopyBetween(ctx, d, d.Layers[0], l, opts)
		lc := LayerCopy{Layer: l.Name, Result: res}
		if err != nil {
			lc.Error = err.Error()
		}
		out = append(out, lc)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

// CopyBetween copies snapshots of d from one of its layers to another, with
// the destination's bandwidth limit and window. The copy mirrors when the
// destination is the same repository (or empty) and re-encrypts when it has
// its own keys (then both layers need a password).
func CopyBetween(ctx context.Context, d *Dataset, from, to *Layer, opts CopyOptions) (*replicate.Result, error) {
	if from == to {
		return nil, errors.New("copy: source and destination are the same layer")
	}
	src, err := from.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dstPW, err := to.PasswordBytes()
	if err != nil {
		return nil, err
	}
	ro := to.ReplicateOptions()
	dst, err := to.Open(ctx)
	if errors.Is(err, backend.ErrNotExist) && dstPW == nil {
		// A new layer without keys of its own becomes a mirror. Outside
		// its window nothing is made there yet.
		if w := ro.Window; w != nil && !w.Contains(clock(opts)) {
			res := &replicate.Result{Mode: replicate.ModeMirror, Paused: true}
			for _, id := range opts.Snapshots {
				res.Snapshots = append(res.Snapshots, replicate.SnapshotResult{ID: id, Status: replicate.Paused, Reason: "paused by window"})
			}
			return res, nil
		}
		dst, err = to.create(ctx)
		if errors.Is(err, backend.ErrExists) {
			// An earlier first copy stopped before the config: continue
			// into what it left.
			dst, err = to.resume(ctx, src)
		}
	}
	if errors.Is(err, backend.ErrNotExist) && dstPW != nil {
		return nil, fmt.Errorf("%w; layer %s has a password of its own, so it is a repository of its own: create it once with `lumbung init --repo %s` and that password (or remove its password to make it a mirror of layer %s)", err, to.Name, to.Repository, from.Name)
	}
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	ro.DstPassword = dstPW
	ro.Snapshots, ro.Concurrency, ro.Now = opts.Snapshots, opts.Concurrency, opts.Now
	if ro.SrcPassword, err = from.PasswordBytes(); err != nil {
		return nil, err
	}
	// Choosing the dataset's snapshots needs the source key; without it (a
	// pull with a read token) the whole repository is mirrored, which is
	// the dataset when it has a repository of its own.
	if ro.SrcPassword != nil && !(opts.SnapshotsChecked && len(opts.Snapshots) > 0) {
		ro.Dataset = d.Name
	}
	if opts.Progress != nil {
		ro.Progress = func(p replicate.Progress) { opts.Progress(to.Name, p) }
	}
	res, err := replicate.Copy(ctx, src, dst, ro)
	if err != nil {
		return res, fmt.Errorf("copy %s from layer %s to layer %s: %w", d.Name, from.Name, to.Name, err)
	}
	return res, nil
}

// clock is the time now by opts's clock.
func clock(opts CopyOptions) time.Time {
	if opts.Now != nil {
		return opts.Now()
	}
	return time.Now()
}

// ExportLayer writes an offline layer: an export of d's snapshots from its
// first layer into the layer's directory.
func ExportLayer(ctx context.Context, d *Dataset, to *Layer, version string, progress func(replicate.Progress)) (*ExportResult, error) {
	if to.Role != RoleOffline {
		return nil, fmt.Errorf("layer %s is not offline (role %s): replicate to it instead", to.Name, to.Role)
	}
	src, err := d.Layers[0].Open(ctx)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	pw, err := d.Layers[0].PasswordBytes()
	if err != nil {
		return nil, err
	}
	return Export(ctx, src, to.Repository, ExportOptions{Dataset: d.Name, Password: pw, Version: version, Progress: progress})
}

// location is where the layer's repository is: for an offline layer, the
// export's repository directory inside the layer's directory.
func (l *Layer) location() string {
	if l.Role == RoleOffline {
		return filepath.Join(l.Repository, ExportRepoDir)
	}
	return l.Repository
}

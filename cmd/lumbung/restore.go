package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/lumbung-id/lumbung/internal/hugepage"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
	"github.com/lumbung-id/lumbung/internal/ui"
)

func runRestore(ctx context.Context, e *env, args []string) error {
	f := newFlags("restore")
	var rd readFlags
	rd.register(f, "restore")
	target := f.String("target", "", "restore into this `DIR` (created if missing)")
	var includes stringList
	f.Var(&includes, "include", "restore only this `PATH` of the snapshot (repeatable), e.g. /srv/data/siak")
	skipIdentical := f.Bool("skip-identical", false, "keep files already in the target whose content is the snapshot's (read and compared, not judged by size and time); for a restore run again after an interruption")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 1 {
		return usagef("usage: lumbung restore --repo R SNAPSHOT --target DIR, or --config C --dataset D [--layer auto] SNAPSHOT --target DIR (SNAPSHOT is an id or \"latest\")")
	}
	if *target == "" {
		return usagef("--target DIR is required: say where to restore")
	}
	// A restore's heap peaks at 60–110 MiB (its range and blob budgets, a
	// batch of files, the index). Readied for huge pages with the key
	// derivation's memory, it takes ~2,000 page faults instead of ~10,000,
	// each a trip to the host on a virtual machine (docs/benchmarks.md).
	hugepage.ExpectWorkingSet(128 << 20)
	src, err := rd.open(ctx, e, f.args[0])
	if err != nil {
		return err
	}
	defer src.unlock()
	repo, from, sn := src.repo, src.from, src.sn
	prog := ui.Choose(f.json, e.stdout, e.stderr)
	res, err := restorer.Restore(ctx, repo, sn.Tree, restorer.Options{Target: *target, Include: includes, Progress: prog, SkipIdentical: *skipIdentical})
	prog.Finish()
	if res != nil {
		out := map[string]any{"message_type": "summary", "snapshot_id": sn.ID.String(), "target": *target,
			"files_restored": res.Files, "files_kept": res.Kept, "dirs_restored": res.Dirs, "bytes_restored": res.Bytes, "errors": res.Errors}
		if from != nil {
			out["layer"], out["skipped_layers"] = from.layer.Name, from.skipped
		}
		_ = f.printer(e).Result(out, func(w io.Writer) {
			via := ""
			if from != nil {
				via = " from layer " + from.layer.Name
			}
			fmt.Fprintf(w, "restored snapshot %s%s to %s: %d files, %d directories, %s\n", sn.ID.Short(), via, *target, res.Files, res.Dirs, ui.FormatBytes(res.Bytes))
			if res.Kept > 0 {
				fmt.Fprintf(w, "%d of the files were already there with the snapshot's content and were kept\n", res.Kept)
			}
			for _, fe := range res.Errors {
				fmt.Fprintf(w, "error: %s: %s\n", fe.Path, fe.Err)
			}
		})
	}
	return err
}

// readFlags are the flags of commands that read one snapshot (restore,
// dump): where it is, which one "latest" means, and locking.
type readFlags struct {
	rf     repoFlags
	lf     layerFlags
	host   *string
	noLock *bool
}

func (r *readFlags) register(f *flags, verb string) {
	r.rf.register(f)
	r.lf.register(f, "with --dataset: "+verb+" from this `LAYER`, or \"auto\": the nearest layer that has the snapshot")
	r.host = f.String("host", "", "with \"latest\": the newest snapshot of this host")
	r.noLock = f.Bool("no-lock", false, "take no lock (for a repository on read-only storage; only while no maintenance runs)")
}

// open finds snapshot ref (see openSnapshot).
func (r *readFlags) open(ctx context.Context, e *env, ref string) (*snapshotSource, error) {
	if r.lf.layer != "" && !r.lf.used() {
		return nil, usagef("--layer needs --dataset (and --config or LUMBUNG_CONFIG)")
	}
	return openSnapshot(ctx, e, &r.rf, &r.lf, ref, repository.SnapshotFilter{Hostname: *r.host}, r.noLock)
}

// snapshotSource is a snapshot to read, in its repository: opened, locked
// (unlock releases both) and with its index loaded.
type snapshotSource struct {
	repo   *repository.Repository
	unlock func()
	from   *layerChoice // the layer chosen, with --dataset; nil with --repo
	sn     repository.SnapshotEntry
}

// openSnapshot finds snapshot ref for a command that reads it (restore,
// dump): in the repository of --repo, or with --config/--dataset in the
// nearest layer that has it (chooseLayer).
func openSnapshot(ctx context.Context, e *env, rf *repoFlags, lf *layerFlags, ref string, filter repository.SnapshotFilter, noLock *bool) (*snapshotSource, error) {
	if lf.used() {
		if rf.repo != "" {
			return nil, usagef("give either --repo or --config/--dataset, not both")
		}
		from, err := chooseLayer(ctx, e, lf, ref, filter, noLock)
		if err != nil {
			return nil, err
		}
		return &snapshotSource{repo: from.repo, unlock: from.unlock, from: from, sn: from.snapshot}, nil
	}
	repo, err := rf.open(ctx, e, false)
	if err != nil {
		return nil, err
	}
	unlock, err := lockShared(ctx, e, repo, noLock)
	if err != nil {
		return nil, err
	}
	if err := loadRepoIndex(ctx, e, repo); err != nil {
		unlock()
		return nil, err
	}
	sn, warnings, err := repo.ResolveSnapshot(ctx, ref, filter)
	for _, w := range warnings {
		fmt.Fprintf(e.stderr, "warning: %s\n", w)
	}
	if err != nil {
		unlock()
		return nil, err
	}
	return &snapshotSource{repo: repo, unlock: unlock, sn: sn}, nil
}

// layerChoice is the layer a restore reads from, opened, locked, with its
// index loaded and the snapshot found.
type layerChoice struct {
	layer    *layers.Layer
	repo     *repository.Repository
	unlock   func()
	snapshot repository.SnapshotEntry
	// skipped says, for each nearer layer passed over, why.
	skipped []skippedLayer
}

type skippedLayer struct {
	Layer  string `json:"layer"`
	Reason string `json:"reason"`
}

// chooseLayer finds the layer to restore from: the one --layer names, or
// with "auto" (the default) the layers in config order, nearest first, and
// the first that can be opened and has the snapshot. Each layer passed
// over is reported on standard error with the reason, so the admin knows
// which copies are in trouble.
func chooseLayer(ctx context.Context, e *env, lf *layerFlags, ref string, filter repository.SnapshotFilter, noLock *bool) (*layerChoice, error) {
	_, d, err := lf.loadDataset(e)
	if err != nil {
		return nil, err
	}
	filter.Dataset = d.Name
	candidates := d.Layers
	if lf.layer != "" && lf.layer != "auto" {
		l, err := findLayer(d, lf.layer)
		if err != nil {
			return nil, err
		}
		candidates = []*layers.Layer{l}
	}
	var skipped []skippedLayer
	for _, l := range candidates {
		c, err := tryLayer(ctx, e, d, l, ref, filter, noLock)
		if err == nil {
			c.skipped = skipped
			for _, s := range skipped {
				fmt.Fprintf(e.stderr, "skipped layer %s: %s\n", s.Layer, s.Reason)
			}
			fmt.Fprintf(e.stderr, "restoring from layer %s (%s)\n", l.Name, l.Role)
			return c, nil
		}
		if ctx.Err() != nil || len(candidates) == 1 {
			return nil, err
		}
		skipped = append(skipped, skippedLayer{Layer: l.Name, Reason: err.Error()})
	}
	reasons := make([]string, len(skipped))
	for i, s := range skipped {
		reasons[i] = s.Layer + ": " + s.Reason
	}
	return nil, fmt.Errorf("no layer of dataset %s can restore %q (%s); `lumbung status` shows the layers", d.Name, ref, strings.Join(reasons, "; "))
}

// tryLayer opens one layer and resolves the snapshot there.
func tryLayer(ctx context.Context, e *env, d *layers.Dataset, l *layers.Layer, ref string, filter repository.SnapshotFilter, noLock *bool) (*layerChoice, error) {
	repo, err := openLayer(ctx, e, d, l)
	if err != nil {
		return nil, err
	}
	unlock, err := lockShared(ctx, e, repo, noLock)
	if err != nil {
		repo.Backend().Close()
		return nil, err
	}
	fail := func(err error) (*layerChoice, error) {
		unlock()
		repo.Backend().Close()
		return nil, err
	}
	if err := loadRepoIndex(ctx, e, repo); err != nil {
		return fail(err)
	}
	sn, warnings, err := repo.ResolveSnapshot(ctx, ref, filter)
	for _, w := range warnings {
		fmt.Fprintf(e.stderr, "warning: layer %s: %s\n", l.Name, w)
	}
	if err != nil {
		return fail(err)
	}
	if sn.Dataset != d.Name {
		return fail(fmt.Errorf("%w: snapshot %s belongs to dataset %q, not %q", repository.ErrNoSnapshot, sn.ID.Short(), sn.Dataset, d.Name))
	}
	closeAll := func() {
		unlock()
		repo.Backend().Close()
	}
	return &layerChoice{layer: l, repo: repo, unlock: closeAll, snapshot: sn}, nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// runCopy copies snapshots of a dataset from one layer to another: the
// explicit form of the replication a dataset backup does, to retry a layer
// that failed, fill a new one, or copy between two upper layers.
func runCopy(ctx context.Context, e *env, args []string) error {
	f := newFlags("copy")
	var lf layerFlags
	lf.register(f, "")
	from := f.String("from", "", "copy from this `LAYER` (default: the dataset's first layer)")
	to := f.String("to", "", "copy to this `LAYER`")
	ignoreWindow := f.Bool("ignore-window", false, "copy now even outside the destination's replication window (its bandwidth limit still applies)")
	if err := f.parse(args); err != nil {
		return err
	}
	if *to == "" {
		return usagef("say where to copy: --to LAYER (`lumbung status` lists the layers)")
	}
	_, d, err := lf.loadDataset(e)
	if err != nil {
		return err
	}
	src := d.Layers[0]
	if *from != "" {
		if src, err = findLayer(d, *from); err != nil {
			return err
		}
	}
	dst, err := findLayer(d, *to)
	if err != nil {
		return err
	}
	if src == dst {
		return usagef("--from and --to name the same layer %s", src.Name)
	}
	if dst.Role == layers.RoleOffline {
		return usagef("layer %s is offline: write it with `lumbung export --dataset %s --layer %s`", dst.Name, d.Name, dst.Name)
	}
	if *ignoreWindow {
		l := *dst
		l.ReplicationWindow = nil
		dst = &l
	}
	ids, checked, err := resolveSnapshotIDs(ctx, e, d, src, f.args)
	if err != nil {
		return err
	}
	opts := layers.CopyOptions{Snapshots: ids, SnapshotsChecked: checked}
	if !f.json && ui.IsTerminal(e.stderr) {
		pl := newProgressLine(e.stderr)
		defer pl.finish()
		opts.Progress = func(layer string, p replicate.Progress) { pl.update(layer, p) }
	}
	res, cerr := layers.CopyBetween(ctx, d, src, dst, opts)
	c := layers.LayerCopy{Layer: dst.Name, Result: res}
	if cerr != nil {
		c.Error = cerr.Error()
	}
	p := f.printer(e)
	if res != nil {
		_ = p.Result(map[string]any{"message_type": "copy", "from": src.Name, "to": dst.Name, "result": res}, func(w io.Writer) {
			for _, s := range res.Snapshots {
				line := fmt.Sprintf("snapshot %s: %s", shortID(s.ID), s.Status)
				if s.DestID != "" && s.DestID != s.ID {
					line += " as " + shortID(s.DestID)
				}
				if s.Reason != "" {
					line += " (" + s.Reason + ")"
				}
				fmt.Fprintln(w, line)
			}
			fmt.Fprintf(w, "%s mode: %d objects (%s) stored, %d already there\n", res.Mode, res.Objects, ui.FormatBytes(res.Bytes), res.Reused)
		})
	}
	err = printReplication(p, src.Name, []layers.LayerCopy{c})
	if src == d.Layers[0] {
		recordReplication(e, lf.path(e), d.Name, []layers.LayerCopy{c})
	}
	if err != nil {
		// Nothing else was saved: this command's failure is a plain one.
		return fmt.Errorf("copy to layer %s failed: %s", dst.Name, copyStatus(c).Reason)
	}
	return nil
}

// resolveSnapshotIDs turns the arguments (ids, id prefixes, "latest") into
// full snapshot ids of the dataset. Full ids alone need no key and are
// returned unchecked (the copy checks their dataset); anything else opens
// the source once, and then every argument is resolved and checked there,
// so the copy need not open it again (checked).
func resolveSnapshotIDs(ctx context.Context, e *env, d *layers.Dataset, src *layers.Layer, args []string) (ids []string, checked bool, err error) {
	allFull := true
	for _, a := range args {
		if id, err := crypto.ParseID(strings.ToLower(a)); err == nil {
			ids = append(ids, id.String())
		} else {
			allFull = false
		}
	}
	if allFull {
		return ids, false, nil
	}
	repo, err := openLayer(ctx, e, d, src)
	if err != nil {
		return nil, false, fmt.Errorf("resolve snapshots %q: %w", strings.Join(args, " "), err)
	}
	defer repo.Backend().Close()
	ids = ids[:0]
	for _, a := range args {
		sn, warnings, err := repo.ResolveSnapshot(ctx, a, repository.SnapshotFilter{Dataset: d.Name})
		for _, w := range warnings {
			fmt.Fprintf(e.stderr, "warning: %s\n", w)
		}
		if err != nil {
			return nil, false, err
		}
		if sn.Dataset != d.Name {
			return nil, false, fmt.Errorf("snapshot %s belongs to dataset %q, not %q", sn.ID.Short(), sn.Dataset, d.Name)
		}
		ids = append(ids, sn.ID.String())
	}
	return ids, true, nil
}

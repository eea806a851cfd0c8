package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// errExportDamaged: export --verify found problems.
var errExportDamaged = errors.New("the export does not verify")

// runExport writes the offline copy of a dataset (a self-contained
// repository plus manifest, typically on a removable disk), or with
// --verify proves that one restores.
func runExport(ctx context.Context, e *env, args []string) error {
	f := newFlags("export")
	var lf layerFlags
	lf.register(f, "write this offline `LAYER` of the dataset (default: its only offline layer)")
	to := f.String("to", "", "write the export into this `DIR` instead of an offline layer of the config")
	verify := f.String("verify", "", "verify the export in `DIR`: re-hash every file against the manifest and read every blob")
	var rf repoFlags
	f.StringVar(&rf.passwordFile, "password-file", "", "with --verify and no config: read the export's password from this file (or LUMBUNG_PASSWORD_FILE, LUMBUNG_PASSWORD)")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) > 0 {
		return usagef("export takes no arguments (got %q)", f.args)
	}
	if *verify != "" {
		if *to != "" || lf.layer != "" {
			return usagef("--verify DIR takes no --to or --layer")
		}
		return runExportVerify(ctx, e, f, &lf, &rf, *verify)
	}
	if *to != "" && lf.layer != "" {
		return usagef("give --to DIR or --layer LAYER, not both")
	}
	_, d, err := lf.loadDataset(e)
	if err != nil {
		return err
	}
	dir := *to
	var layer *layers.Layer
	if dir == "" {
		if layer, err = offlineLayer(d, lf.layer); err != nil {
			return err
		}
		dir = layer.Repository
	}
	var progress func(replicate.Progress)
	if !f.json && ui.IsTerminal(e.stderr) {
		pl := newProgressLine(e.stderr)
		defer pl.finish()
		progress = func(p replicate.Progress) { pl.update("export", p) }
	}
	var res *layers.ExportResult
	if layer != nil {
		res, err = layers.ExportLayer(ctx, d, layer, version, progress)
		c := layers.LayerCopy{Layer: layer.Name}
		if res != nil {
			c.Result = res.Copy
		}
		if err != nil {
			c.Error = err.Error()
		}
		recordReplication(e, lf.path(e), d.Name, []layers.LayerCopy{c})
	} else {
		res, err = exportTo(ctx, d, dir, progress)
	}
	if res != nil && res.Copy != nil {
		_ = f.printer(e).Result(map[string]any{"message_type": "export", "dataset": d.Name, "result": res}, func(w io.Writer) {
			for _, s := range res.Copy.Snapshots {
				if s.Status == replicate.Failed || s.Status == replicate.Paused {
					fmt.Fprintf(w, "snapshot %s: %s (%s)\n", shortID(s.ID), s.Status, s.Reason)
				}
			}
			fmt.Fprintf(w, "copied %d objects (%s), %d already there\n", res.Copy.Objects, ui.FormatBytes(res.Copy.Bytes), res.Copy.Reused)
			if res.Manifest != nil {
				fmt.Fprintf(w, "exported %d snapshots of %s to %s; check it with: lumbung export --verify %s\n", len(res.Manifest.Snapshots), d.Name, dir, dir)
			}
		})
	}
	return err
}

// offlineLayer returns the named layer, which must be offline, or the
// dataset's only offline layer.
func offlineLayer(d *layers.Dataset, name string) (*layers.Layer, error) {
	if name != "" {
		l, err := findLayer(d, name)
		if err != nil {
			return nil, err
		}
		if l.Role != layers.RoleOffline {
			return nil, usagef("layer %s has role %s, not offline: `lumbung copy --to %s` replicates to it", l.Name, l.Role, l.Name)
		}
		return l, nil
	}
	var found []*layers.Layer
	for _, l := range d.Layers {
		if l.Role == layers.RoleOffline {
			found = append(found, l)
		}
	}
	switch len(found) {
	case 0:
		return nil, usagef("dataset %s has no offline layer: give --to DIR (e.g. a mounted removable disk)", d.Name)
	case 1:
		return found[0], nil
	}
	return nil, usagef("dataset %s has several offline layers: choose one with --layer", d.Name)
}

// exportTo exports the dataset from its first layer into dir.
func exportTo(ctx context.Context, d *layers.Dataset, dir string, progress func(replicate.Progress)) (*layers.ExportResult, error) {
	first := d.Layers[0]
	pw, err := first.PasswordBytes()
	if err != nil {
		return nil, err
	}
	if pw == nil {
		return nil, fmt.Errorf("layer %s has no password configured: an export chooses the dataset's snapshots with it", first.Name)
	}
	src, err := first.Open(ctx)
	if err != nil {
		return nil, openError{err}
	}
	defer src.Close()
	return layers.Export(ctx, src, dir, layers.ExportOptions{Dataset: d.Name, Password: pw, Version: version, Progress: progress})
}

// runExportVerify verifies the export in dir. With a config (--config,
// --dataset or LUMBUNG_CONFIG) the password is the dataset's first layer's
// and the result is recorded for status when dir is one of its offline
// layers; without one, the password comes like --repo commands'.
func runExportVerify(ctx context.Context, e *env, f *flags, lf *layerFlags, rf *repoFlags, dir string) error {
	var d *layers.Dataset
	var pw []byte
	var err error
	if lf.used() || e.getenv("LUMBUNG_CONFIG") != "" {
		cfg, err := lf.load(e)
		if err != nil {
			return err
		}
		if lf.dataset == "" {
			m, err := layers.ReadManifest(dir)
			if err != nil {
				return err
			}
			lf.dataset = m.Dataset
		}
		if d, err = lf.pick(cfg); err != nil {
			return err
		}
		if pw, err = layerPassword(d, d.Layers[0]); err != nil {
			return err
		}
	} else if pw, err = rf.password(e, "Kata sandi repositori / repository password: ", false); err != nil {
		return err
	}
	start := time.Now()
	rep, err := layers.VerifyExport(ctx, dir, pw)
	if err != nil {
		return err
	}
	if rep.Dataset != "" && d != nil && rep.Dataset != d.Name {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the export holds dataset %q, not %q", rep.Dataset, d.Name))
	}
	if d != nil {
		recordExportVerification(e, lf, d, dir, rep, start)
	}
	_ = f.printer(e).Result(map[string]any{"message_type": "export_verification", "ok": rep.OK(), "report": rep}, func(w io.Writer) {
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "error: %s\n", p)
		}
		fmt.Fprintf(w, "export of %s made %s: %d files (%s) match the manifest, %d snapshots\n",
			rep.Dataset, rep.CreatedAt.Local().Format("2006-01-02 15:04"), rep.Files, ui.FormatBytes(rep.Bytes), len(rep.Snapshots))
		if rep.OK() {
			fmt.Fprintln(w, "the export restores: every file matches and every blob was read and verified")
		}
	})
	if !rep.OK() {
		return fmt.Errorf("%w: %d problem(s) in %s, the first: %s; export again to a sound disk", errExportDamaged, len(rep.Problems), dir, rep.Problems[0])
	}
	return nil
}

// recordExportVerification stores the result for status when dir is an
// offline layer of d.
func recordExportVerification(e *env, lf *layerFlags, d *layers.Dataset, dir string, rep *layers.ExportReport, at time.Time) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	for _, l := range d.Layers {
		la, err := filepath.Abs(l.Repository)
		if l.Role != layers.RoleOffline || err != nil || la != abs {
			continue
		}
		st, err := layers.OpenState(statePath(e, lf.path(e)))
		if err == nil {
			err = st.Record(d.Name, l.Name, rep.Verification(at))
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "warning: cannot record the verification for status: %v\n", err)
		}
	}
}

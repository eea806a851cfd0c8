package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/checker"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// errCheckFailed: check found damage. checkFailed says where the details
// are and what to do.
var errCheckFailed = errors.New("the repository has errors")

func checkFailed(errs int, json bool) error {
	where := "listed above"
	if json {
		where = "listed in report.errors of the summary on standard output"
	}
	return fmt.Errorf("%w: %d found (%s); restore the affected files from another layer, see \"When check reports errors\" in docs/operations.md",
		errCheckFailed, errs, where)
}

func runCheck(ctx context.Context, e *env, args []string) error {
	f := newFlags("check")
	var rf repoFlags
	rf.register(f)
	readData := f.Bool("read-data", false, "read and verify every byte of every pack")
	subset := f.String("read-data-subset", "", "read and verify this share of packs, e.g. 10%")
	seed := f.Uint64("seed", 0, "with --read-data-subset: choose packs with this seed (repeat an earlier run)")
	noLock := f.Bool("no-lock", false, "take no lock (for a repository on read-only storage; only while no maintenance runs)")
	var lf layerFlags
	lf.register(f, "with --dataset: check this `LAYER` (default: the first); a full --read-data check is recorded for status")
	if err := f.parse(args); err != nil {
		return err
	}
	if lf.layer != "" && !lf.used() {
		return usagef("--layer needs --dataset (and --config or LUMBUNG_CONFIG)")
	}
	opts := checker.Options{ReadData: *readData, Seed: *seed}
	if *subset != "" {
		v, err := parsePercent(*subset)
		if err != nil {
			return usagef("--read-data-subset %q: %v", *subset, err)
		}
		opts.ReadDataSubset = v
	}
	var (
		repo  *repository.Repository
		d     *layers.Dataset
		layer *layers.Layer
		err   error
	)
	if lf.used() {
		if rf.repo != "" {
			return usagef("give either --repo or --config/--dataset, not both")
		}
		if _, d, err = lf.loadDataset(e); err != nil {
			return err
		}
		layer = d.Layers[0]
		if lf.layer != "" {
			if layer, err = findLayer(d, lf.layer); err != nil {
				return err
			}
		}
		repo, err = openLayer(ctx, e, d, layer)
	} else {
		repo, err = rf.open(ctx, e, false)
	}
	if err != nil {
		return err
	}
	start := time.Now()
	unlock, err := lockShared(ctx, e, repo, noLock)
	if err != nil {
		return err
	}
	defer unlock()
	prog := ui.Choose(f.json, e.stdout, e.stderr)
	opts.Progress = prog
	rep, err := checker.Check(ctx, repo, opts)
	prog.Finish()
	if err != nil {
		return err
	}
	if layer != nil && *readData {
		recordCheck(ctx, e, &lf, repo, d, layer, rep, start)
	}
	out := map[string]any{"message_type": "summary", "ok": rep.OK(), "report": rep}
	_ = f.printer(e).Result(out, func(w io.Writer) {
		for _, p := range rep.Warnings {
			fmt.Fprintf(w, "warning: %s\n", p.Message)
		}
		for _, p := range rep.Errors {
			fmt.Fprintf(w, "error: %s\n", p.Message)
			for _, file := range p.Files {
				fmt.Fprintf(w, "    affected: %s\n", quotePath(file))
			}
		}
		fmt.Fprintf(w, "checked %d snapshots, %d trees, %d packs, %d index files", rep.Snapshots, rep.Trees, rep.Packs, rep.IndexFiles)
		if rep.BytesRead > 0 {
			fmt.Fprintf(w, ", read %s of %d packs", ui.FormatBytes(rep.BytesRead), rep.PacksRead)
			if opts.ReadDataSubset > 0 {
				fmt.Fprintf(w, " (--seed %d repeats this choice)", rep.Seed)
			}
		}
		fmt.Fprintln(w)
		if len(rep.Restorable) > 0 {
			fmt.Fprintf(w, "restorable snapshots (%d): %s\n", len(rep.Restorable), shortIDs(rep.Restorable))
		}
		if len(rep.Damaged) > 0 {
			fmt.Fprintf(w, "damaged snapshots (%d): %s\n", len(rep.Damaged), shortIDs(rep.Damaged))
		}
		if rep.OK() {
			fmt.Fprintln(w, "no errors were found")
		}
	})
	if !rep.OK() {
		return checkFailed(len(rep.Errors), f.json)
	}
	return nil
}

// shortIDs lists snapshot ids in their short form.
func shortIDs(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = shortID(id)
	}
	return strings.Join(out, " ")
}

// recordCheck records a full check of a dataset's layer in the layers
// state, for status's "0 errors" rule. The newest snapshot of the dataset
// the check covered is recorded with it (for an offline layer it stands in
// for the unplugged disk).
func recordCheck(ctx context.Context, e *env, lf *layerFlags, repo *repository.Repository, d *layers.Dataset, l *layers.Layer, rep *checker.Report, at time.Time) {
	var problems []string
	for _, p := range rep.Errors {
		problems = append(problems, p.Message)
	}
	var newest *layers.SnapshotRef
	if all, err := repo.Snapshots(ctx, nil); err == nil {
		for _, s := range all {
			if s.Dataset == d.Name && (newest == nil || s.Time.After(newest.Time)) {
				newest = &layers.SnapshotRef{ID: s.ID.String(), Time: s.Time}
			}
		}
	}
	st, err := layers.OpenState(statePath(e, lf.path(e)))
	if err == nil {
		err = st.Record(d.Name, l.Name, layers.VerificationFromCheck(at, problems, newest))
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: cannot record the check for status: %v\n", err)
	}
}

func parsePercent(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || v <= 0 || v > 100 {
		return 0, fmt.Errorf("want a percentage between 0 and 100, e.g. 10%%")
	}
	return v / 100, nil
}

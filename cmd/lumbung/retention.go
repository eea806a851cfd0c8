package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// maxRetentionDays bounds --days like the retention= of an s3: location: a
// typo would lock storage (and its bill) for years, and COMPLIANCE
// retention can never be shortened by anyone.
const maxRetentionDays = 10 * 366

// retentionJSON is the --json line of one layer's retention extension.
type retentionJSON struct {
	MessageType string `json:"message_type"` // "retention_extended"
	Layer       string `json:"layer,omitempty"`
	Repository  string `json:"repository"`
	Days        int    `json:"days"`
	*layers.RetentionResult
}

// retentionSkipJSON is the --json line of a layer that has no retention.
type retentionSkipJSON struct {
	MessageType string `json:"message_type"` // "retention_skipped"
	Layer       string `json:"layer"`
	Repository  string `json:"repository"`
	Reason      string `json:"reason"`
}

func runRetention(ctx context.Context, e *env, args []string) error {
	f := newFlags("retention extend")
	var lf layerFlags
	lf.register(f, "extend only this `LAYER` (default: every s3 layer of the dataset)")
	repo := f.String("repo", "", "an s3: repository location, instead of --config (credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)")
	days := f.Int("days", 0, "keep every object locked until at least now + `N` days (default: the layer's immutable_days, else the retention= of its location)")
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case len(f.args) == 0:
		return usagef("retention needs a subcommand: lumbung retention extend --dataset D [--days N]")
	case f.args[0] != "extend":
		return usagef("retention: unknown subcommand %q (known: extend)", f.args[0])
	case len(f.args) > 1:
		return usagef("retention extend takes no arguments (got %q)", f.args[1:])
	case *days < 0 || *days > maxRetentionDays:
		return usagef("--days %d: want 1 to %d days (COMPLIANCE retention can never be shortened, so a typo would lock storage for years)", *days, maxRetentionDays)
	case *repo != "" && (lf.used() || lf.layer != ""):
		return usagef("give either --repo or --config/--dataset/--layer, not both")
	}
	p := f.printer(e)
	if *repo != "" {
		return extendRepo(ctx, e, p, "", *repo, *days, func(ctx context.Context) (backend.Backend, error) {
			return openBackend(ctx, e, *repo)
		}, layers.LocationRetention(*repo))
	}
	_, d, err := lf.loadDataset(e)
	if err != nil {
		return err
	}
	todo := d.Layers
	if lf.layer != "" {
		l, err := findLayer(d, lf.layer)
		if err != nil {
			return err
		}
		if !layers.IsS3(l.Repository) {
			return fmt.Errorf("layer %s (%s) is not on object storage: it has no retention to extend (only s3: layers with Object Lock have one)", l.Name, l.Repository)
		}
		todo = []*layers.Layer{l}
	}
	var errs error
	extended := 0
	for _, l := range todo {
		if !layers.IsS3(l.Repository) {
			reason := "not on object storage: no retention to extend"
			if err := p.Result(retentionSkipJSON{MessageType: "retention_skipped", Layer: l.Name, Repository: l.Repository, Reason: reason}, func(w io.Writer) {
				fmt.Fprintf(w, "%s: skipped, %s\n", l.Name, reason)
			}); err != nil {
				return err
			}
			continue
		}
		extended++
		err := extendRepo(ctx, e, p, l.Name, l.Repository, *days, l.Open, layers.ConfiguredRetention(l))
		if ctx.Err() != nil {
			return err
		}
		errs = joinErrors(errs, err)
	}
	if extended == 0 {
		return fmt.Errorf("dataset %s has no s3: layer: no retention to extend (only object storage with Object Lock has one)", d.Name)
	}
	return errs
}

// extendRepo extends the retention of every object at loc (layer name, when
// from the config) and prints the outcome.
func extendRepo(ctx context.Context, e *env, p *ui.Printer, name, loc string, days int, open func(context.Context) (backend.Backend, error), configured time.Duration) error {
	what := loc
	if name != "" {
		what = "layer " + name
	}
	if !layers.IsS3(loc) {
		return fmt.Errorf("%s is not on object storage: it has no retention to extend (only s3: locations with Object Lock have one)", loc)
	}
	dur := time.Duration(days) * 24 * time.Hour
	if days == 0 {
		dur = configured
		days = int((configured + 24*time.Hour - 1) / (24 * time.Hour))
	}
	if dur <= 0 {
		return usagef("%s: no retention configured (neither immutable_days nor retention= in its location): give --days N", what)
	}
	be, err := open(ctx)
	if err != nil {
		if errors.Is(err, backend.ErrNotExist) {
			return openError{err}
		}
		return err
	}
	defer be.Close()
	var line *retentionLine
	if !p.JSON() && ui.IsTerminal(e.stderr) {
		line = &retentionLine{w: e.stderr, name: what}
	}
	res, err := layers.ExtendRetention(ctx, be, layers.ExtendOptions{Duration: dur, Progress: line.update})
	line.finish()
	if res != nil {
		if perr := p.Result(retentionJSON{MessageType: "retention_extended", Layer: name, Repository: loc, Days: days, RetentionResult: res}, func(w io.Writer) {
			fmt.Fprintf(w, "%s: %d objects checked: %d extended to %s, %d already locked long enough, %d failed\n",
				what, res.Checked, res.Extended, res.Until.Format(time.RFC3339), res.LongEnough, res.Failed)
		}); perr != nil {
			return perr
		}
	}
	if err != nil && name != "" {
		return fmt.Errorf("layer %s: %w", name, err) // err names the location
	}
	return err
}

// retentionLine shows the progress of a retention extension on a terminal;
// a nil *retentionLine shows nothing.
type retentionLine struct {
	w     *os.File
	name  string
	last  time.Time
	shown bool
}

func (r *retentionLine) update(pr layers.RetentionProgress) {
	if r == nil {
		return
	}
	now := time.Now()
	if now.Sub(r.last) < 250*time.Millisecond && pr.Checked < pr.Total {
		return
	}
	r.last, r.shown = now, true
	fmt.Fprintf(r.w, "\r\x1b[K%s: %d/%d objects checked, %d extended, %d failed", r.name, pr.Checked, pr.Total, pr.Extended, pr.Failed)
}

func (r *retentionLine) finish() {
	if r != nil && r.shown {
		fmt.Fprint(r.w, "\r\x1b[K")
	}
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// layerFlags are the flags of commands that work on the datasets and
// layers of a config file (docs/layers.md) instead of one --repo.
type layerFlags struct {
	config  string
	dataset string
	layer   string
}

// register adds --config and --dataset, and --layer when layerHelp (its
// help text) is not empty.
func (l *layerFlags) register(f *flags, layerHelp string) {
	f.StringVar(&l.config, "config", "", "config `FILE` naming datasets and layers (or LUMBUNG_CONFIG; default "+defaultConfigPath(nil)+")")
	f.StringVar(&l.dataset, "dataset", "", "work on this `DATASET` of the config")
	if layerHelp != "" {
		f.StringVar(&l.layer, "layer", "", layerHelp)
	}
}

// used reports whether the command was asked to work from the config.
func (l *layerFlags) used() bool { return l.config != "" || l.dataset != "" }

// defaultConfigPath is where the config is looked for when neither --config
// nor LUMBUNG_CONFIG says: the system-wide place of each platform.
func defaultConfigPath(getenv func(string) string) string {
	if runtime.GOOS == "windows" {
		base := `C:\ProgramData`
		if getenv != nil && getenv("ProgramData") != "" {
			base = getenv("ProgramData")
		}
		return filepath.Join(base, "lumbung", "lumbung.yaml")
	}
	return "/etc/lumbung/lumbung.yaml"
}

// path returns the config file to read.
func (l *layerFlags) path(e *env) string {
	if l.config != "" {
		return l.config
	}
	if p := e.getenv("LUMBUNG_CONFIG"); p != "" {
		return p
	}
	return defaultConfigPath(e.getenv)
}

// load reads and validates the config. A config with several problems is
// reported on one line, the problems separated by "; ".
func (l *layerFlags) load(e *env) (*layers.Config, error) {
	path := l.path(e)
	cfg, err := layers.LoadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no config file at %s: give --config FILE or set LUMBUNG_CONFIG (docs/lumbung.example.yaml shows one): %w", path, err)
	}
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	// {env: NAME} secrets come from this command's environment.
	cfg.SetGetenv(e.getenv)
	return cfg, nil
}

// pick returns the dataset named by --dataset; with none given, the only
// dataset of the config.
func (l *layerFlags) pick(cfg *layers.Config) (*layers.Dataset, error) {
	if l.dataset == "" {
		if len(cfg.Order) == 1 {
			return cfg.Datasets[cfg.Order[0]], nil
		}
		return nil, usagef("the config has several datasets (%s): choose one with --dataset", strings.Join(cfg.Order, ", "))
	}
	d, err := cfg.Dataset(l.dataset)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return d, nil
}

// loadDataset loads the config and picks the dataset.
func (l *layerFlags) loadDataset(e *env) (*layers.Config, *layers.Dataset, error) {
	cfg, err := l.load(e)
	if err != nil {
		return nil, nil, err
	}
	d, err := l.pick(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, d, nil
}

// statePath is the layers state file (last verifications and replications)
// of the config at cfgPath: in LUMBUNG_STATE_DIR when set, else next to the
// config.
func statePath(e *env, cfgPath string) string {
	return layers.StatePath(e.getenv("LUMBUNG_STATE_DIR"), cfgPath)
}

// layerPassword is the password that opens layer l of d: its own, or, for a
// mirror without one, the first layer's (a mirror has the same keys).
func layerPassword(d *layers.Dataset, l *layers.Layer) ([]byte, error) {
	pw, err := d.PasswordFor(l)
	if err != nil || pw != nil {
		return pw, err
	}
	return nil, fmt.Errorf("layer %s has no password configured (the first layer of a dataset needs one: add password: {file: ...} to it)", l.Name)
}

// openLayer opens the repository of layer l of d with its password.
func openLayer(ctx context.Context, e *env, d *layers.Dataset, l *layers.Layer) (*repository.Repository, error) {
	pw, err := layerPassword(d, l)
	if err != nil {
		return nil, err
	}
	be, err := l.Open(ctx)
	if err != nil {
		if errors.Is(err, backend.ErrNotExist) {
			return nil, openError{fmt.Errorf("%w (create it with `lumbung init --repo %s`)", err, l.Repository)}
		}
		return nil, openError{err}
	}
	repo, err := repository.Open(ctx, be, pw, repoOptions(e))
	if err != nil {
		be.Close()
		if errors.Is(err, crypto.ErrWrongPassword) {
			return nil, fmt.Errorf("%w: the password of layer %s does not open any key of %s; check its password: in the config", crypto.ErrWrongPassword, l.Name, l.Repository)
		}
		return nil, openError{fmt.Errorf("open layer %s (%s): %w", l.Name, l.Repository, err)}
	}
	return repo, nil
}

// findLayer returns the layer of d named name.
func findLayer(d *layers.Dataset, name string) (*layers.Layer, error) {
	l, err := d.Layer(name)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	return l, nil
}

// formatAge says how long ago t was, shortly: "3m", "5h", "2d".
func formatAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0m"
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}

// shortID returns the first 8 characters of a snapshot id.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// joinErrors joins two errors, either possibly nil, into one line that
// matches both with errors.Is.
func joinErrors(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%w; %w", a, b)
}

// recordReplication stores the outcome of copies of dataset in the layers
// state for status; failing to is a warning, not a failed backup.
func recordReplication(e *env, cfgPath, dataset string, copies []layers.LayerCopy) {
	if len(copies) == 0 {
		return
	}
	st, err := layers.OpenState(statePath(e, cfgPath))
	if err == nil {
		err = st.RecordCopies(dataset, copies, time.Now())
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "warning: cannot record the replication for status: %v\n", err)
	}
}

// progressLine shows the progress of a copy on a terminal, on one line
// rewritten at most a few times a second.
type progressLine struct {
	w     io.Writer
	last  time.Time
	shown bool
}

func newProgressLine(w io.Writer) *progressLine { return &progressLine{w: w} }

// update is called after every object copied (never concurrently).
func (p *progressLine) update(layer string, pr replicate.Progress) {
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last, p.shown = now, true
	fmt.Fprintf(p.w, "\r\x1b[K%s: %s, %d objects, %s", layer, pr.Phase, pr.Objects, ui.FormatBytes(pr.Bytes))
}

// finish ends the progress line.
func (p *progressLine) finish() {
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}

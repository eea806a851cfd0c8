package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/layers"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

func runBackup(ctx context.Context, e *env, args []string) error {
	f := newFlags("backup")
	var rf repoFlags
	rf.register(f)
	var excludes, tags stringList
	f.Var(&excludes, "exclude", "skip files matching `PATTERN` (repeatable; '*.tmp' matches names, '/srv/x/cache' whole paths)")
	var excludeFiles, filesFrom stringList
	f.Var(&excludeFiles, "exclude-file", "read exclude patterns from `FILE`, one per line ('#' starts a comment; repeatable)")
	f.Var(&filesFrom, "files-from", "read the paths to back up from `FILE`, one per line ('#' starts a comment; repeatable), besides those given")
	oneFS := f.Bool("one-file-system", false, "stay on the file systems of the paths given: mount points below them (/proc, /sys, network shares) are saved empty")
	f.Var(&tags, "tag", "add a `TAG` to the snapshot (repeatable)")
	stdin := f.Bool("stdin", false, "back up standard input as one file (e.g. pg_dump output)")
	stdinName := f.String("stdin-filename", "stdin", "file name for --stdin data")
	host := f.String("host", "", "record this host name instead of the machine's")
	force := f.Bool("force", false, "read every file even if unchanged since the parent snapshot")
	var lf layerFlags
	lf.register(f, "")
	if err := f.parse(args); err != nil {
		return err
	}
	for _, name := range excludeFiles {
		ps, err := readListFile("--exclude-file", name, validPattern)
		if err != nil {
			return err
		}
		excludes = append(excludes, ps...)
	}
	for _, name := range filesFrom {
		ps, err := readListFile("--files-from", name, nil)
		if err != nil {
			return err
		}
		if len(ps) == 0 {
			return usagef("--files-from %s names no path: refusing to save an empty snapshot", name)
		}
		f.args = append(f.args, ps...)
	}
	if lf.used() {
		if *stdin || len(f.args) > 0 || rf.repo != "" {
			return usagef("with --config/--dataset the paths (or command) and repository come from the config: give no paths, --stdin or --repo")
		}
		return runDatasetBackup(ctx, e, f, &lf, datasetBackupFlags{excludes: excludes, tags: tags, host: *host, force: *force, oneFS: *oneFS})
	}
	if *stdin && len(f.args) > 0 {
		return usagef("--stdin takes no paths")
	}
	if !*stdin && len(f.args) == 0 {
		return usagef("give the paths to back up, e.g. `lumbung backup --repo R /srv/data`, or --stdin")
	}
	if *stdin && repository.ValidName(*stdinName) != nil {
		return usagef("--stdin-filename %q: must be a plain file name without '/'", *stdinName)
	}
	for _, p := range excludes {
		if _, err := filepath.Match(p, ""); err != nil {
			return usagef("--exclude %q: %v", p, err)
		}
	}
	repo, err := rf.open(ctx, e, false)
	if err != nil {
		return err
	}
	unlock, err := lockShared(ctx, e, repo, nil)
	if err != nil {
		return err
	}
	defer unlock()
	if err := loadRepoIndex(ctx, e, repo); err != nil {
		return err
	}

	prog := ui.Choose(f.json, e.stdout, e.stderr)
	cleanTemp(repo.Backend(), prog.Warn)
	opts := archiver.Options{Excludes: excludes, OneFileSystem: *oneFS, Skip: repoSkip(repo.Backend()), Tags: tags, Hostname: *host,
		ProgramVersion: "lumbung " + version, Progress: prog, Scan: f.json || ui.IsTerminal(e.stderr)}
	var res *archiver.Result
	if *stdin {
		res, err = archiver.BackupReader(ctx, repo, e.stdin, *stdinName, opts)
	} else {
		if !*force {
			setParent(ctx, repo, &opts, f.args, prog.Warn)
		}
		res, err = archiver.Backup(ctx, repo, f.args, opts)
	}
	if res == nil {
		return err
	}
	printBackup(f.printer(e), res)
	return err
}

// tempMaxAge is how old a temporary file of a local repository must be
// before a backup removes it. A Save writes its temporary file in one go and
// then links it under its final name, so a file untouched this long belongs
// to a process that was killed (or is stuck; its Save then fails and nothing
// half-written becomes visible).
const tempMaxAge = time.Hour

// cleanTemp removes the temporary files that killed backups left in a local
// repository's tmp/ directory. Failing to is only worth a warning: the
// files waste space but never affect the repository's content.
func cleanTemp(be backend.Backend, warn func(path string, err error)) {
	l, ok := be.(*local.Local)
	if !ok {
		return
	}
	if err := l.CleanTemp(tempMaxAge); err != nil {
		warn(filepath.Join(l.Dir(), "tmp"), err)
	}
}

// repoSkip is what a backup leaves out so that it never saves the
// repository it writes to: a local repository's directory.
func repoSkip(be backend.Backend) []string {
	if l, ok := be.(*local.Local); ok {
		return []string{l.Dir()}
	}
	return nil
}

// readListFile reads the file of a list flag (--exclude-file,
// --files-from): one entry per line; blank lines and lines starting with
// '#' are skipped, surrounding spaces trimmed. check, if not nil, vets
// each entry.
func readListFile(flag, name string, check func(string) error) ([]string, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("%s: %v", flag, err)
	}
	var list []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if check != nil {
			if err := check(line); err != nil {
				return nil, usagef("%s %s line %d: %q: %v", flag, name, i+1, line, err)
			}
		}
		list = append(list, line)
	}
	return list, nil
}

func validPattern(p string) error {
	_, err := filepath.Match(p, "")
	return err
}

// setParent picks the newest trustworthy snapshot of the same host, paths
// (and dataset) as parent, passing warn what ResolveSnapshot passed over
// (a snapshot dated in the future must not become every backup's parent
// unnoticed).
func setParent(ctx context.Context, repo *repository.Repository, opts *archiver.Options, paths []string, warn func(string, error)) {
	abs, err := archiver.AbsPaths(paths)
	if err != nil {
		return
	}
	host := opts.Hostname
	if host == "" {
		host = hostname()
	}
	sn, warnings, err := repo.ResolveSnapshot(ctx, "latest", repository.SnapshotFilter{Hostname: host, Paths: abs, Dataset: opts.Dataset})
	for _, w := range warnings {
		warn("", errors.New(w))
	}
	if err == nil {
		opts.Parent, opts.ParentID = sn.Snapshot, sn.ID
	}
}

type backupSummary struct {
	MessageType string                      `json:"message_type"`
	SnapshotID  string                      `json:"snapshot_id"`
	Parent      string                      `json:"parent,omitempty"`
	Duration    float64                     `json:"total_duration"`
	Adopted     int                         `json:"packs_adopted,omitempty"`
	Unreadable  []repository.UnreadableFile `json:"unreadable,omitempty"`
	Changed     []string                    `json:"changed_while_read,omitempty"`
	*repository.Summary
}

func printBackup(p *ui.Printer, res *archiver.Result) {
	sn := res.Snapshot
	s := sn.Summary
	out := backupSummary{MessageType: "summary", SnapshotID: res.ID.String(), Duration: s.End.Sub(s.Start).Seconds(),
		Adopted: res.Adopted, Unreadable: sn.Unreadable, Changed: sn.ChangedWhileRead, Summary: s}
	if sn.Parent != nil {
		out.Parent = sn.Parent.String()
	}
	_ = p.Result(out, func(w io.Writer) {
		fmt.Fprintf(w, "Files: %d new, %d changed, %d unchanged\n", s.FilesNew, s.FilesChanged, s.FilesUnchanged)
		fmt.Fprintf(w, "Dirs:  %d new, %d changed, %d unchanged\n", s.DirsNew, s.DirsChanged, s.DirsUnchanged)
		fmt.Fprintf(w, "Added: %s (%s stored after compression)\n", ui.FormatBytes(s.DataAdded), ui.FormatBytes(s.DataAddedPack))
		if res.Adopted > 0 {
			fmt.Fprintf(w, "Reused %d packs left by an interrupted backup\n", res.Adopted)
		}
		if s.Skipped > 0 {
			fmt.Fprintf(w, "Skipped %d special files (devices, fifos, sockets)\n", s.Skipped)
		}
		for _, u := range sn.Unreadable {
			fmt.Fprintf(w, "unreadable: %s: %s\n", u.Path, u.Error)
		}
		printChanged(w, res.ID, sn)
		fmt.Fprintf(w, "processed %d files, %s in %s\n", s.TotalFiles, ui.FormatBytes(s.TotalBytes), ui.FormatDuration(s.End.Sub(s.Start).Round(time.Millisecond)))
		fmt.Fprintf(w, "snapshot %s saved\n", res.ID.Short())
	})
}

// printChanged names (a screenful of) the files that changed while they
// were read, and says what that means.
func printChanged(w io.Writer, id crypto.ID, sn *repository.Snapshot) {
	n := sn.Summary.FilesChangedWhileRead
	if n == 0 {
		return
	}
	const shown = 20
	for i, p := range sn.ChangedWhileRead {
		if i == shown {
			fmt.Fprintf(w, "changed while read: ... and %d more (`lumbung cat snapshot %s` lists up to 1000)\n", n-shown, id.Short())
			break
		}
		fmt.Fprintf(w, "changed while read: %s\n", p)
	}
	fmt.Fprintf(w, "files changed while read: %d; each is saved as read, which may mix old and new contents:\n"+
		"back up live databases from a dump (pg_dump ... | lumbung backup --stdin) or a file-system snapshot\n", n)
}

// datasetBackupFlags are the backup flags that still apply with --dataset:
// they add to what the config says.
type datasetBackupFlags struct {
	excludes, tags stringList
	host           string
	force, oneFS   bool
}

// runDatasetBackup backs up a dataset of the config into its first layer,
// then replicates to every other layer (docs/layers.md). A failing layer
// does not stop the others; the snapshot saved in the first layer stands
// and the exit code says some layers failed (exitLayers).
func runDatasetBackup(ctx context.Context, e *env, f *flags, lf *layerFlags, df datasetBackupFlags) error {
	_, d, err := lf.loadDataset(e)
	if err != nil {
		return err
	}
	first := d.Layers[0]
	repo, err := openLayer(ctx, e, d, first)
	if err != nil {
		return err
	}
	defer repo.Backend().Close()
	unlock, err := lockShared(ctx, e, repo, nil)
	if err != nil {
		return err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	if err := loadRepoIndex(ctx, e, repo); err != nil {
		return err
	}
	prog := ui.Choose(f.json, e.stdout, e.stderr)
	cleanTemp(repo.Backend(), prog.Warn)
	opts := archiver.Options{Excludes: append(append([]string(nil), d.Excludes...), df.excludes...), Tags: df.tags,
		OneFileSystem: d.OneFileSystem || df.oneFS, Skip: repoSkip(repo.Backend()),
		Hostname: df.host, Dataset: d.Name, ProgramVersion: "lumbung " + version, Progress: prog,
		Scan: f.json || ui.IsTerminal(e.stderr)}
	var res *archiver.Result
	if len(d.Command) > 0 {
		res, err = layers.BackupCommand(ctx, repo, d, opts)
	} else {
		if !df.force {
			setParent(ctx, repo, &opts, d.Paths, prog.Warn)
		}
		res, err = archiver.Backup(ctx, repo, d.Paths, opts)
	}
	if res == nil {
		return err
	}
	p := f.printer(e)
	printBackup(p, res)
	// Release the first layer before copying from it: replication opens it
	// on its own and may run for hours.
	unlock()
	locked = false
	if ctx.Err() != nil {
		return joinErrors(err, ctx.Err())
	}
	var copyOpts layers.CopyOptions
	var pl *progressLine
	if !f.json && ui.IsTerminal(e.stderr) {
		pl = newProgressLine(e.stderr)
		copyOpts.Progress = pl.update
	}
	copies := layers.ReplicateDataset(ctx, d, copyOpts)
	if pl != nil {
		pl.finish()
	}
	rerr := printReplication(p, first.Name, copies)
	recordReplication(e, lf.path(e), d.Name, copies)
	return joinErrors(err, rerr)
}

// errLayersFailed: the backup was saved in the first layer, but copying it
// to some other layer failed (exitLayers).
var errLayersFailed = errors.New("backup saved, but some layers did not receive it")

// replicationJSON is the --json message after a dataset backup or copy.
type replicationJSON struct {
	MessageType string             `json:"message_type"`
	From        string             `json:"from"`
	Layers      []layerCopyJSON    `json:"layers"`
	Raw         []layers.LayerCopy `json:"details"`
}

type layerCopyJSON struct {
	Layer  string `json:"layer"`
	Status string `json:"status"` // ok, failed, paused, skipped
	Reason string `json:"reason,omitempty"`
}

// copyStatus sums up one layer's copy as ok, failed (with the reason),
// paused (the time window closed) or skipped.
func copyStatus(c layers.LayerCopy) layerCopyJSON {
	r := c.Summary(time.Now())
	return layerCopyJSON{Layer: c.Layer, Status: r.Outcome, Reason: r.Error}
}

// printReplication prints one line per layer and returns errLayersFailed
// when any layer failed (a paused layer did not fail: it waits for its
// window).
func printReplication(p *ui.Printer, from string, copies []layers.LayerCopy) error {
	out := replicationJSON{MessageType: "replication", From: from, Layers: []layerCopyJSON{}, Raw: copies}
	var failed []string
	for _, c := range copies {
		s := copyStatus(c)
		out.Layers = append(out.Layers, s)
		if s.Status == "failed" {
			failed = append(failed, s.Layer)
		}
	}
	_ = p.Result(out, func(w io.Writer) {
		for _, s := range out.Layers {
			switch s.Status {
			case "ok":
				fmt.Fprintf(w, "layer %s: ok\n", s.Layer)
			case "paused":
				fmt.Fprintf(w, "layer %s: paused by window (%s)\n", s.Layer, s.Reason)
			default:
				fmt.Fprintf(w, "layer %s: %s: %s\n", s.Layer, s.Status, s.Reason)
			}
		}
	})
	if len(failed) > 0 {
		return fmt.Errorf("%w: %s (see the lines above; `lumbung copy --to LAYER` retries, `lumbung status` shows the layers)", errLayersFailed, strings.Join(failed, ", "))
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/local"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

func runBackup(ctx context.Context, e *env, args []string) error {
	f := newFlags("backup")
	var rf repoFlags
	rf.register(f)
	var excludes, tags stringList
	f.Var(&excludes, "exclude", "skip files matching `PATTERN` (repeatable; '*.tmp' matches names, '/srv/x/cache' whole paths)")
	f.Var(&tags, "tag", "add a `TAG` to the snapshot (repeatable)")
	stdin := f.Bool("stdin", false, "back up standard input as one file (e.g. pg_dump output)")
	stdinName := f.String("stdin-filename", "stdin", "file name for --stdin data")
	host := f.String("host", "", "record this host name instead of the machine's")
	force := f.Bool("force", false, "read every file even if unchanged since the parent snapshot")
	if err := f.parse(args); err != nil {
		return err
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
	opts := archiver.Options{Excludes: excludes, Tags: tags, Hostname: *host, ProgramVersion: "lumbung " + version, Progress: prog,
		Scan: f.json || ui.IsTerminal(e.stderr)}
	var res *archiver.Result
	if *stdin {
		res, err = archiver.BackupReader(ctx, repo, e.stdin, *stdinName, opts)
	} else {
		if !*force {
			setParent(ctx, repo, &opts, f.args)
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

// setParent picks the newest snapshot of the same host and paths as parent.
func setParent(ctx context.Context, repo *repository.Repository, opts *archiver.Options, paths []string) {
	abs, err := archiver.AbsPaths(paths)
	if err != nil {
		return
	}
	host := opts.Hostname
	if host == "" {
		host = hostname()
	}
	sn, err := repo.FindSnapshot(ctx, "latest", repository.SnapshotFilter{Hostname: host, Paths: abs})
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
	*repository.Summary
}

func printBackup(p *ui.Printer, res *archiver.Result) {
	sn := res.Snapshot
	s := sn.Summary
	out := backupSummary{MessageType: "summary", SnapshotID: res.ID.String(), Duration: s.End.Sub(s.Start).Seconds(),
		Adopted: res.Adopted, Unreadable: sn.Unreadable, Summary: s}
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
		fmt.Fprintf(w, "processed %d files, %s in %s\n", s.TotalFiles, ui.FormatBytes(s.TotalBytes), ui.FormatDuration(s.End.Sub(s.Start).Round(time.Millisecond)))
		fmt.Fprintf(w, "snapshot %s saved\n", res.ID.Short())
	})
}

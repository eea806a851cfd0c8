package main

import (
	"context"
	"fmt"
	"io"

	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
	"github.com/lumbung-id/lumbung/internal/ui"
)

func runRestore(ctx context.Context, e *env, args []string) error {
	f := newFlags("restore")
	var rf repoFlags
	rf.register(f)
	target := f.String("target", "", "restore into this `DIR` (created if missing)")
	var includes stringList
	f.Var(&includes, "include", "restore only this `PATH` of the snapshot (repeatable), e.g. /srv/data/siak")
	host := f.String("host", "", "with \"latest\": the newest snapshot of this host")
	noLock := f.Bool("no-lock", false, "take no lock (for a repository on read-only storage; only while no maintenance runs)")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 1 {
		return usagef("usage: lumbung restore --repo R SNAPSHOT --target DIR (SNAPSHOT is an id or \"latest\")")
	}
	if *target == "" {
		return usagef("--target DIR is required: say where to restore")
	}
	repo, err := rf.open(ctx, e, false)
	if err != nil {
		return err
	}
	unlock, err := lockShared(ctx, e, repo, noLock)
	if err != nil {
		return err
	}
	defer unlock()
	if err := loadRepoIndex(ctx, e, repo); err != nil {
		return err
	}
	sn, err := repo.FindSnapshot(ctx, f.args[0], repository.SnapshotFilter{Hostname: *host})
	if err != nil {
		return err
	}
	prog := ui.Choose(f.json, e.stdout, e.stderr)
	res, err := restorer.Restore(ctx, repo, sn.Tree, restorer.Options{Target: *target, Include: includes, Progress: prog})
	prog.Finish()
	if res != nil {
		out := map[string]any{"message_type": "summary", "snapshot_id": sn.ID.String(), "target": *target,
			"files_restored": res.Files, "dirs_restored": res.Dirs, "bytes_restored": res.Bytes, "errors": res.Errors}
		_ = f.printer(e).Result(out, func(w io.Writer) {
			fmt.Fprintf(w, "restored snapshot %s to %s: %d files, %d directories, %s\n", sn.ID.Short(), *target, res.Files, res.Dirs, ui.FormatBytes(res.Bytes))
			for _, fe := range res.Errors {
				fmt.Fprintf(w, "error: %s: %s\n", fe.Path, fe.Err)
			}
		})
	}
	return err
}

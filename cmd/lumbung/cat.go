package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lumbung-id/lumbung/internal/repository"
)

func runCat(ctx context.Context, e *env, args []string) error {
	f := newFlags("cat")
	var rf repoFlags
	rf.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) < 1 {
		return usagef("usage: lumbung cat --repo R config | snapshot ID")
	}
	repo, err := rf.open(ctx, e, false)
	if err != nil {
		return err
	}
	var v any
	switch f.args[0] {
	case "config":
		v = repo.Config()
	case "snapshot":
		if len(f.args) != 2 {
			return usagef("usage: lumbung cat --repo R snapshot ID")
		}
		sn, err := repo.FindSnapshot(ctx, f.args[1], repository.SnapshotFilter{})
		if err != nil {
			return err
		}
		v = snapshotJSON{ID: sn.ID.String(), ShortID: sn.ID.Short(), Snapshot: sn.Snapshot}
	default:
		return usagef("cat knows config and snapshot, not %q", f.args[0])
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if f.json {
		out, _ = json.Marshal(v)
	}
	fmt.Fprintln(e.stdout, string(out))
	return nil
}

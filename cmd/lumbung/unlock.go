package main

import (
	"context"
	"fmt"
	"io"
)

func runUnlock(ctx context.Context, e *env, args []string) error {
	f := newFlags("unlock")
	var rf repoFlags
	rf.register(f)
	all := f.Bool("remove-all", false, "remove every lock, even live ones (only when you are sure nothing runs)")
	if err := f.parse(args); err != nil {
		return err
	}
	repo, err := rf.open(ctx, e, false)
	if err != nil {
		return err
	}
	n, err := repo.RemoveStaleLocks(ctx, *all)
	if err != nil {
		return err
	}
	return f.printer(e).Result(map[string]any{"message_type": "unlocked", "removed": n}, func(w io.Writer) {
		fmt.Fprintf(w, "removed %d stale locks\n", n)
	})
}

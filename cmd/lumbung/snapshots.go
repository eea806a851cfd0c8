package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// snapshotJSON is the --json form of a snapshot in listings.
type snapshotJSON struct {
	ID      string `json:"id"`
	ShortID string `json:"short_id"`
	*repository.Snapshot
}

func runSnapshots(ctx context.Context, e *env, args []string) error {
	f := newFlags("snapshots")
	var rf repoFlags
	rf.register(f)
	host := f.String("host", "", "only snapshots of this host")
	var tags stringList
	f.Var(&tags, "tag", "only snapshots with this `TAG` (repeatable)")
	if err := f.parse(args); err != nil {
		return err
	}
	repo, err := rf.open(ctx, e, false)
	if err != nil {
		return err
	}
	all, err := repo.Snapshots(ctx, func(id crypto.ID, err error) {
		fmt.Fprintf(e.stderr, "warning: snapshot %s is unreadable: %v\n", id.Short(), err)
	})
	if err != nil {
		return err
	}
	filter := repository.SnapshotFilter{Hostname: *host, Tags: tags}
	list := make([]snapshotJSON, 0, len(all))
	for _, s := range all {
		if filter.Match(s.Snapshot) {
			list = append(list, snapshotJSON{ID: s.ID.String(), ShortID: s.ID.Short(), Snapshot: s.Snapshot})
		}
	}
	return f.printer(e).Result(list, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTime\tHost\tTags\tPaths\tSize")
		for _, s := range list {
			size := ""
			if s.Summary != nil {
				size = ui.FormatBytes(s.Summary.TotalBytes)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ShortID, s.Time.Local().Format(time.DateTime), s.Hostname,
				strings.Join(s.Tags, ","), strings.Join(s.Paths, ", "), size)
		}
		tw.Flush()
		fmt.Fprintf(w, "%d snapshots\n", len(list))
	})
}

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
	var sel selectFlags
	sel.register(f, "only")
	if err := f.parse(args); err != nil {
		return err
	}
	repo, err := rf.open(ctx, e, false)
	if err != nil {
		return err
	}
	matching, err := sel.matching(ctx, e, repo)
	if err != nil {
		return err
	}
	list := make([]snapshotJSON, 0, len(matching))
	for _, s := range matching {
		list = append(list, snapshotJSON{ID: s.ID.String(), ShortID: s.ID.Short(), Snapshot: s.Snapshot})
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

// selectFlags are --host and --tag, which choose snapshots.
type selectFlags struct {
	host string
	tags stringList
}

// register adds the flags; verb starts their help ("only", "search only").
func (s *selectFlags) register(f *flags, verb string) {
	f.StringVar(&s.host, "host", "", verb+" snapshots of this host")
	f.Var(&s.tags, "tag", verb+" snapshots with this `TAG` (repeatable)")
}

// matching lists the repository's snapshots the flags choose, warning about
// each one that cannot be read.
func (s *selectFlags) matching(ctx context.Context, e *env, repo *repository.Repository) ([]repository.SnapshotEntry, error) {
	all, err := repo.Snapshots(ctx, func(id crypto.ID, err error) {
		fmt.Fprintf(e.stderr, "warning: snapshot %s is unreadable: %v\n", id.Short(), err)
	})
	if err != nil {
		return nil, err
	}
	filter := repository.SnapshotFilter{Hostname: s.host, Tags: s.tags}
	var list []repository.SnapshotEntry
	for _, sn := range all {
		if filter.Match(sn.Snapshot) {
			list = append(list, sn)
		}
	}
	return list, nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// findMatch is the --json form of one entry found.
type findMatch struct {
	MessageType  string    `json:"message_type"`
	SnapshotID   string    `json:"snapshot_id"`
	SnapshotTime time.Time `json:"snapshot_time"`
	lsEntry
}

// runFind looks for entries by name or path in every snapshot (or the
// ones given), for "which backups still hold anggaran.xlsx, and which
// version": the answer names the snapshot to restore from.
func runFind(ctx context.Context, e *env, args []string) error {
	f := newFlags("find")
	var rf repoFlags
	rf.register(f)
	var snaps stringList
	f.Var(&snaps, "snapshot", "search only this `SNAPSHOT` (id or latest; repeatable)")
	var sel selectFlags
	sel.register(f, "search only")
	ignoreCase := f.Bool("i", false, "ignore upper and lower case")
	long := f.Bool("l", false, "long listing with mode, owner, size and time")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) == 0 {
		return usagef("usage: lumbung find --repo R PATTERN... ('*.xlsx' matches names, '/srv/data/*/laporan*' whole paths)")
	}
	m, err := newMatcher(f.args, *ignoreCase)
	if err != nil {
		return err
	}
	repo, err := rf.open(ctx, e, true)
	if err != nil {
		return err
	}
	var list []repository.SnapshotEntry
	if len(snaps) > 0 {
		for _, ref := range snaps {
			sn, err := repo.FindSnapshot(ctx, ref, repository.SnapshotFilter{Hostname: sel.host})
			if err != nil {
				return err
			}
			list = append(list, sn)
		}
	} else {
		if list, err = sel.matching(ctx, e, repo); err != nil {
			return err
		}
	}
	s := &treeSearch{repo: repo, match: m, memo: map[treeAt][]foundEntry{}}
	counter := repository.NewTreeCounter(repo) // shared: each distinct tree loaded once
	found, holding, failed := 0, 0, 0
	for _, sn := range list {
		err := checkTrees(ctx, counter, sn.Tree)
		var entries []foundEntry
		if err == nil {
			entries, err = s.search(ctx, sn.Tree, "/", 0)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// A damaged snapshot does not hide what the others hold.
			failed++
			fmt.Fprintf(e.stderr, "error: snapshot %s could not be searched: %v\n", sn.ID.Short(), err)
			continue
		}
		if len(entries) == 0 {
			continue
		}
		found += len(entries)
		holding++
		if !f.json {
			fmt.Fprintf(e.stdout, "snapshot %s of %s (%s):\n", sn.ID.Short(), sn.Time.Local().Format(time.DateTime), strings.Join(sn.Paths, ", "))
		}
		for _, fe := range entries {
			if f.json {
				_ = f.printer(e).Result(findMatch{MessageType: "match", SnapshotID: sn.ID.String(), SnapshotTime: sn.Time, lsEntry: newLsEntry(fe.path, fe.node)}, nil)
				continue
			}
			io.WriteString(e.stdout, "  ")
			printNode(e.stdout, false, *long, fe.path, fe.node)
		}
	}
	if !f.json {
		fmt.Fprintf(e.stdout, "%d entries found, in %d of the %d snapshots searched\n", found, holding, len(list))
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d snapshots could not be searched (named above): run `lumbung check`", failed, len(list))
	}
	return nil
}

// matcher holds find's patterns: without '/' matched against names, with
// one against whole snapshot paths (as --exclude does).
type matcher struct {
	names, paths []string
	fold         bool
}

func newMatcher(patterns []string, fold bool) (*matcher, error) {
	m := &matcher{fold: fold}
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return nil, usagef("pattern %q: %v", p, err)
		}
		if fold {
			p = strings.ToLower(p)
		}
		if strings.Contains(p, "/") {
			m.paths = append(m.paths, p)
		} else {
			m.names = append(m.names, p)
		}
	}
	return m, nil
}

func (m *matcher) match(p string) bool {
	if m.fold {
		p = strings.ToLower(p)
	}
	name := path.Base(p)
	for _, pat := range m.names {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	for _, pat := range m.paths {
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

type foundEntry struct {
	path string
	node *repository.Node
}

// treeAt is a tree at a place: the same directory in many snapshots is
// one tree, searched once.
type treeAt struct {
	tree crypto.ID
	dir  string
}

type treeSearch struct {
	repo  *repository.Repository
	match *matcher
	memo  map[treeAt][]foundEntry
}

func (s *treeSearch) search(ctx context.Context, tree crypto.ID, dir string, depth int) ([]foundEntry, error) {
	if depth > repository.MaxTreeDepth {
		return nil, fmt.Errorf("tree below %s is nested more than %d levels: damaged or hostile repository", dir, repository.MaxTreeDepth)
	}
	key := treeAt{tree, dir}
	if found, ok := s.memo[key]; ok {
		return found, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := s.repo.LoadTree(ctx, tree)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", dir, err)
	}
	var found []foundEntry
	for _, n := range t.Nodes {
		p := path.Join(dir, n.Name)
		if s.match.match(p) {
			found = append(found, foundEntry{p, n})
		}
		if n.Type == repository.NodeDir {
			sub, err := s.search(ctx, n.Subtree, p, depth+1)
			if err != nil {
				return nil, err
			}
			found = append(found, sub...)
		}
	}
	s.memo[key] = found
	return found, nil
}

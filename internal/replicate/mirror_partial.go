package replicate

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// mirrorPartial finishes a mirror copy in which some packs could not be
// copied, when the source password is known: with the key, index files and
// trees can be read, so the copy can tell exactly which snapshots need the
// missing packs. It copies the index files whose packs all arrived, then
// every selected snapshot whose every blob is named by such an index file;
// the others are reported failed, naming a missing pack.
func (c *copier) mirrorPartial(ctx context.Context, src, dst backend.Backend, srcIdx, srcSnaps map[string]int64, selected []string, dstSnaps map[string]int64) error {
	repo, err := c.srcRepo(ctx, src)
	if err != nil {
		return err
	}
	// Blob -> pack of the whole source index, for messages and tree reads.
	if err := repo.LoadIndex(ctx, func(crypto.ID, error) {}); err != nil {
		return fmt.Errorf("load index of %s: %w", src.Location(), err)
	}
	present, err := list(ctx, dst, backend.PackFile)
	if err != nil {
		return err
	}
	available := make(map[crypto.ID]bool) // blobs the destination can serve
	blocked := make(map[crypto.ID]string) // other blobs -> a pack that is missing
	names := make([]string, 0, len(srcIdx))
	for name := range srcIdx {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		id, err := crypto.ParseID(name)
		if err != nil {
			continue
		}
		packs, err := repo.LoadIndexFile(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			c.refuse("index/"+name, "could not read it: "+err.Error())
			continue
		}
		var absent string
		for _, p := range packs {
			if _, ok := present[p.ID.String()]; !ok {
				absent = p.ID.String()
				break
			}
		}
		if absent != "" {
			// Its blobs stay unindexed at the destination (harmless) until
			// the missing pack arrives.
			for _, p := range packs {
				for _, b := range p.Blobs {
					blocked[b.ID] = absent
				}
			}
			continue
		}
		if err := c.copyObject(ctx, src, dst, "index", object{h: backend.Handle{Type: backend.IndexFile, Name: name}, size: srcIdx[name]}); err != nil {
			if isDestErr(err) {
				return c.stopBeforeSnapshots(selected, dstSnaps, "some index files", err)
			}
			continue
		}
		for _, p := range packs {
			for _, b := range p.Blobs {
				available[b.ID] = true
			}
		}
	}

	checked := make(map[crypto.ID]string) // tree -> "" if complete, else why not
	for _, name := range selected {
		r := SnapshotResult{ID: name}
		if _, have := dstSnaps[name]; have {
			r.DestID, r.Status = name, Skipped
			c.snapshot(r)
			continue
		}
		why := c.snapshotComplete(ctx, repo, name, available, blocked, checked)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if why != "" {
			r.Status, r.Reason = Failed, why
			c.snapshot(r)
			continue
		}
		err := c.copyObject(ctx, src, dst, "snapshots", object{h: backend.Handle{Type: backend.SnapshotFile, Name: name}, size: srcSnaps[name]})
		switch {
		case err != nil && isDestErr(err):
			r.Status, r.Reason = Failed, err.Error()
			c.snapshot(r)
			return err
		case err != nil:
			r.Status, r.Reason = Failed, err.Error()
		default:
			r.DestID, r.Status = name, Copied
		}
		c.snapshot(r)
	}
	return nil
}

// snapshotComplete returns "" when every blob the snapshot needs is
// available at the destination, else the reason in words.
func (c *copier) snapshotComplete(ctx context.Context, repo *repository.Repository, name string, available map[crypto.ID]bool, blocked, checked map[crypto.ID]string) string {
	id, err := crypto.ParseID(name)
	if err != nil {
		return err.Error()
	}
	sn, err := repo.LoadSnapshot(ctx, id)
	if err != nil {
		return err.Error()
	}
	missing := func(blob crypto.ID) string {
		if pack, ok := blocked[blob]; ok {
			return fmt.Sprintf("not copied: it needs blob %s, indexed with pack %s, which could not be copied intact", blob.Short(), pack)
		}
		return fmt.Sprintf("not copied: it needs blob %s, which is in no index file that could be copied intact", blob.Short())
	}
	var walk func(tree crypto.ID, depth int) string
	walk = func(tree crypto.ID, depth int) string {
		if why, ok := checked[tree]; ok {
			return why
		}
		why := ""
		switch {
		case depth > 1024:
			why = "not copied: its trees nest absurdly deep"
		case !available[tree]:
			why = missing(tree)
		default:
			t, err := repo.LoadTree(ctx, tree)
			if err != nil {
				why = "not copied: " + err.Error()
				break
			}
		nodes:
			for _, n := range t.Nodes {
				for _, b := range n.Content {
					if !available[b] {
						why = missing(b)
						break nodes
					}
				}
				if n.Type == repository.NodeDir {
					if w := walk(n.Subtree, depth+1); w != "" {
						why = w
						break
					}
				}
			}
		}
		checked[tree] = why
		return why
	}
	return strings.TrimSpace(walk(sn.Tree, 0))
}

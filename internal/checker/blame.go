package checker

import (
	"context"
	"slices"
	"strings"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// Finding the index files behind wrong index entries.
//
// An index entry that a pack's header contradicts is never written by
// Lumbung: an index file is damaged, or was forged by someone who may add
// files (DESIGN.md, threat model 1). The report should name that file, not
// every index file listing the pack (a forged file naming a real pack
// shares it with the real one). The claims remember which index files
// list each pack; when more than one does, those files are read again and
// searched for the wrong entries. Only packs with wrong entries cost
// anything, and at most maxBlameLoads files are read again.
const (
	maxWrongPlaces = 64 // wrong entries remembered per pack
	maxBlameLoads  = 32 // index files read again in all
)

// addWrongPlace remembers an index entry the pack's header contradicts.
func (d *damage) addWrongPlace(p placeKey) {
	if len(d.wrongPlaces) < maxWrongPlaces && !slices.Contains(d.wrongPlaces, p) {
		d.wrongPlaces = append(d.wrongPlaces, p)
	}
}

// blame sets the culprits of every damage with wrong index entries.
func (c *checker) blame(ctx context.Context) error {
	// Index file -> the damages whose pack it lists.
	suspects := map[crypto.ID][]*damage{}
	var order []crypto.ID
	var keys []string
	for k, d := range c.damages {
		if len(d.wrongPlaces) > 0 && strings.HasPrefix(k, "mismatch:") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		d := c.damages[k]
		cl := c.claims[d.wrongPlaces[0].loc.Pack]
		if cl == nil || cl.files > len(cl.indexes) {
			continue // not every index file naming the pack is known
		}
		if len(cl.indexes) == 1 {
			d.culprits = cl.indexes
			continue
		}
		for _, ix := range cl.indexes {
			if suspects[ix] == nil {
				order = append(order, ix)
			}
			suspects[ix] = append(suspects[ix], d)
		}
	}
	for i, ix := range order {
		if i == maxBlameLoads {
			break
		}
		packs, err := c.repo.LoadIndexFile(ctx, ix)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // removed meanwhile, or reported already as unreadable
		}
		for _, d := range suspects[ix] {
			if holds(packs, d.wrongPlaces) && !slices.Contains(d.culprits, ix) {
				d.culprits = append(d.culprits, ix)
			}
		}
	}
	return nil
}

// holds reports whether an index file's packs contain any of the places.
func holds(packs []repository.IndexPack, places []placeKey) bool {
	want := make(map[placeKey]bool, len(places))
	for _, w := range places {
		want[w] = true
	}
	for _, p := range packs {
		for _, b := range p.Blobs {
			if want[placeKey{b.ID, headerPlace(p.ID, b)}] {
				return true
			}
		}
	}
	return false
}

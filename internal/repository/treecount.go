package repository

import (
	"context"
	"errors"
	"fmt"

	"github.com/lumbung-id/lumbung/internal/crypto"
)

// TreeLoader loads trees by id.
type TreeLoader interface {
	LoadTree(ctx context.Context, id crypto.ID) (*Tree, error)
}

// ErrTreeBomb marks a snapshot whose trees contain themselves, or refer to
// the same subtree so often that walking it would not end: only a forged
// or damaged repository has one.
var ErrTreeBomb = errors.New("the snapshot's directory trees never end (a tree inside itself, or one subtree repeated at every level): damaged or forged repository")

// Bounds of a snapshot's trees that readers walking them enforce
// (docs/format.md, "Trees that never end"): nesting, and the entries a
// snapshot may expand to.
const (
	MaxTreeDepth   = 4096
	MaxTreeEntries = 1 << 31
)

// TreeCounter counts the entries below trees, loading each distinct tree
// once across calls, so that a walk (ls, find, dump) can refuse a tree
// bomb before it starts instead of running forever.
type TreeCounter struct {
	load  TreeLoader
	limit int64
	memo  map[crypto.ID]int64 // entries below each tree counted
	open  map[crypto.ID]bool  // trees on the current path (a cycle)
}

// NewTreeCounter counts with l; a tree expanding to more than
// MaxTreeEntries entries is ErrTreeBomb.
func NewTreeCounter(l TreeLoader) *TreeCounter {
	return &TreeCounter{load: l, limit: MaxTreeEntries, memo: map[crypto.ID]int64{}, open: map[crypto.ID]bool{}}
}

// Count returns how many entries (files, directories, symlinks) lie below
// tree root, all levels.
func (c *TreeCounter) Count(ctx context.Context, root crypto.ID) (int64, error) {
	return c.count(ctx, root, 0)
}

func (c *TreeCounter) count(ctx context.Context, id crypto.ID, depth int) (int64, error) {
	if n, ok := c.memo[id]; ok {
		return n, nil
	}
	if c.open[id] || depth > MaxTreeDepth {
		return 0, ErrTreeBomb
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	t, err := c.load.LoadTree(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("read tree %s: %w", id.Short(), err)
	}
	c.open[id] = true
	defer delete(c.open, id)
	n := int64(len(t.Nodes))
	for _, node := range t.Nodes {
		if node.Type != NodeDir {
			continue
		}
		sub, err := c.count(ctx, node.Subtree, depth+1)
		if err != nil {
			return 0, err
		}
		if n += sub; n > c.limit {
			return 0, fmt.Errorf("%w (more than %d entries)", ErrTreeBomb, c.limit)
		}
	}
	c.memo[id] = n
	return n, nil
}

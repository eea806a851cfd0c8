package checker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// The tree walk runs in two passes.
//
// The first visits every tree reachable from any snapshot exactly once (by
// id, depth first, with an explicit stack), checks that every blob a file
// needs is indexed and undamaged, and marks each tree "tainted" when it or
// anything below it is damaged. It keeps one byte of state per tree, not
// paths, and prefetches subtrees in the background.
//
// Only when damage was found, the second pass walks each snapshot again,
// descending only into tainted trees, and records the paths of the files
// affected. Damage is usually local, so this pass reads few trees, mostly
// from a small cache filled by the first.

// Tree states of the first pass.
const (
	stUnseen  uint8 = iota
	stActive        // on the stack
	stClean         // it and everything below are fine
	stTainted       // it or something below is damaged
)

// maxDepth bounds directory nesting (deeper than any file system allows).
const maxDepth = repository.MaxTreeDepth

// Bounds on the second pass: trees kept from the first (by node count) and
// nodes visited. Past the visit budget, file lists are marked incomplete.
const (
	maxCachedNodes   = 200000
	minAttributeWork = 1000000
)

type frame struct {
	id      crypto.ID
	nodes   []*repository.Node
	i       int
	tainted bool
	// Second pass only: the path, and the damages already named for a
	// directory above.
	path    string
	covered []*damage
}

// status returns the damage that makes blob id unrestorable, or nil. A
// blob listed in several places is restorable while one of them is intact
// (readers try every place); then nil. Only the walking goroutine calls it.
func (c *checker) status(id crypto.ID) *damage {
	if locs := c.idx.LookupAll(id, c.locBuf[:0]); len(locs) > 0 {
		c.locBuf = locs[:0]
		var first *damage
		for _, l := range locs {
			d := c.badPack[l.Pack]
			if d == nil {
				d = c.badPlace[placeKey{id, l}]
			}
			if d == nil {
				return nil
			}
			if first == nil {
				first = d
			}
		}
		return first
	}
	if loc, ok := c.orphans.Lookup(id); ok {
		if d := c.badPack[loc.Pack]; d != nil {
			return d
		}
		d := c.orphan(loc.Pack)
		if len(d.blobs) < maxFilesCounted {
			d.addBlob(id)
		}
		return d
	}
	d := c.missingBlobs()
	if len(d.blobs) < maxFilesCounted {
		d.addBlob(id)
	}
	return d
}

// treeStatus is the damage that makes tree id unreadable or unrestorable.
func (c *checker) treeStatus(id crypto.ID) *damage {
	if d := c.badTree[id]; d != nil {
		return d
	}
	return c.status(id)
}

func (c *checker) treeDamage(id crypto.ID, head string) *damage {
	k := "tree:" + id.String()
	if d := c.damages[k]; d != nil {
		return d
	}
	d := &damage{kind: "tree", object: id.String(), tail: "restore these directories from another layer",
		noFiles: "no snapshot uses it", head: func(*damage) string { return head }}
	c.damages[k] = d
	return d
}

// Kinds of tree loading failure.
const (
	tErrNotIndexed = iota + 1
	tErrRead
	tErrDamaged
	tErrMalformed
)

// placeFail is a failure to read a tree at one of its places.
type placeFail struct {
	kind int
	loc  repository.Location
	err  error
}

type treeErr struct {
	kind int // of the last place tried
	err  error
}

func (e *treeErr) Error() string { return e.err.Error() }
func (e *treeErr) Unwrap() error { return e.err }

// loadTree reads a tree blob from wherever a pack holds it, indexed or not,
// trying every place until one verifies. It returns the places that failed
// on the way (for the walking goroutine to record: loadTree itself changes
// nothing, so it is safe for concurrent use).
func (c *checker) loadTree(ctx context.Context, id crypto.ID) (*repository.Tree, []placeFail, error) {
	locs := c.idx.Locations(id)
	if len(locs) == 0 {
		locs = c.orphans.Locations(id)
	}
	if len(locs) == 0 {
		return nil, nil, &treeErr{kind: tErrNotIndexed, err: repository.ErrBlobNotFound}
	}
	var fails []placeFail
	for _, loc := range locs {
		sealed, err := c.be.Load(ctx, backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}, int64(loc.Offset), int64(loc.Length))
		if err != nil {
			if ctx.Err() != nil {
				return nil, fails, ctx.Err()
			}
			fails = append(fails, placeFail{tErrRead, loc, err})
			continue
		}
		data, err := c.repo.DecodeBlob(id, loc, sealed, nil)
		if err != nil {
			fails = append(fails, placeFail{tErrDamaged, loc, err})
			continue
		}
		t, err := repository.DecodeTree(data)
		if err != nil {
			// The content matched its id: every intact place holds the
			// same bytes, so trying others cannot help.
			return nil, fails, &treeErr{kind: tErrMalformed, err: err}
		}
		return t, fails, nil
	}
	last := fails[len(fails)-1]
	return nil, fails, &treeErr{kind: last.kind, err: repository.PlacesError(id, locs, errsOf(fails))}
}

func errsOf(fails []placeFail) []error {
	out := make([]error, len(fails))
	for i, f := range fails {
		out[i] = f.err
	}
	return out
}

// placeFailed records that tree id could not be read at one place.
func (c *checker) placeFailed(id crypto.ID, f placeFail) {
	if c.badPlace[placeKey{id, f.loc}] != nil {
		return // known already (an index entry the pack's header contradicts)
	}
	switch f.kind {
	case tErrRead:
		if c.badPack[f.loc.Pack] != nil {
			return // missing, or known to be unreadable
		}
		d := c.packDamage(f.loc.Pack)
		if errors.Is(f.err, backend.ErrNotExist) {
			d.addReason("it disappeared while check ran")
		} else {
			d.addReason("it cannot be read: " + f.err.Error())
		}
		c.addBadPlace(d, id, f.loc)
	case tErrDamaged:
		c.addBadPlace(c.packDamage(f.loc.Pack), id, f.loc)
	}
}

// treeFailure records why tree id could not be read and returns the damage.
func (c *checker) treeFailure(id crypto.ID, fails []placeFail, err error) *damage {
	for _, f := range fails {
		c.placeFailed(id, f)
	}
	var te *treeErr
	if !errors.As(err, &te) {
		te = &treeErr{kind: tErrRead, err: err}
	}
	var d *damage
	if te.kind == tErrMalformed {
		d = c.treeDamage(id, fmt.Sprintf("directory tree %s cannot be decoded (%v): everything in the directory is lost", id.Short(), err))
	} else if d = c.status(id); d == nil && len(fails) > 0 {
		// Every place failed, but only in packs in no index.
		d = c.packDamage(fails[0].loc.Pack)
		d.addReason("it cannot be read: " + why(err))
	} else if d == nil {
		d = c.treeDamage(id, fmt.Sprintf("directory tree %s cannot be read (%v): everything in the directory is lost", id.Short(), err))
	}
	c.badTree[id] = d
	return d
}

// walk is the first pass. It reports whether any snapshot is tainted.
func (c *checker) walk(ctx context.Context, snaps []repository.SnapshotEntry) (bool, error) {
	c.state = make(map[crypto.ID]uint8)
	c.cache = make(map[crypto.ID][]*repository.Node)
	ld := newLoader(ctx, c)
	defer ld.stop()

	// enter starts visiting tree id: nil when it cannot be read.
	enter := func(id crypto.ID) (*frame, error) {
		st := c.status(id)
		t, fails, err := ld.get(id)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.treeFailure(id, fails, err)
			c.state[id] = stTainted
			return nil, nil
		}
		for _, f := range fails { // read from another place: record the bad ones
			c.placeFailed(id, f)
		}
		c.rep.Trees++
		c.prog.Add(ui.Counts{Dirs: 1})
		c.state[id] = stActive
		var next []crypto.ID
		for _, n := range t.Nodes {
			if n.Type == repository.NodeDir && c.state[n.Subtree] == stUnseen {
				next = append(next, n.Subtree)
			}
		}
		ld.prefetch(next)
		return &frame{id: id, nodes: t.Nodes, tainted: st != nil}, nil
	}

	found := false
	for _, sn := range snaps {
		switch c.state[sn.Tree] {
		case stClean:
			continue
		case stTainted:
			found = true
			continue
		}
		root, err := enter(sn.Tree)
		if err != nil {
			return false, err
		}
		if root == nil {
			found = true
			continue
		}
		stack := []*frame{root}
		for len(stack) > 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			top := stack[len(stack)-1]
			if top.i == len(top.nodes) {
				stack = stack[:len(stack)-1]
				if top.tainted {
					c.state[top.id] = stTainted
					c.keep(top.id, top.nodes)
					if len(stack) > 0 {
						stack[len(stack)-1].tainted = true
					} else {
						found = true
					}
				} else {
					c.state[top.id] = stClean
				}
				continue
			}
			n := top.nodes[top.i]
			top.i++
			for _, b := range n.Content {
				if c.status(b) != nil {
					top.tainted = true
				}
			}
			if n.Type != repository.NodeDir {
				continue
			}
			s := n.Subtree
			switch c.state[s] {
			case stClean:
			case stTainted:
				top.tainted = true
			case stActive:
				c.badTree[s] = c.treeDamage(s, fmt.Sprintf("directory tree %s contains itself (a loop that no backup writes): the repository was tampered with", s.Short()))
				top.tainted = true
			default:
				if len(stack) >= maxDepth {
					c.badTree[s] = c.treeDamage(s, fmt.Sprintf("directories are nested more than %d levels deep at tree %s (no file system allows that): the repository was tampered with; what lies below was not checked", maxDepth, s.Short()))
					c.state[s] = stTainted
					top.tainted = true
					continue
				}
				f, err := enter(s)
				if err != nil {
					return false, err
				}
				if f == nil {
					top.tainted = true
					continue
				}
				stack = append(stack, f)
			}
		}
	}
	return found, nil
}

// keep caches a tainted tree for the second pass, within a bound.
func (c *checker) keep(id crypto.ID, nodes []*repository.Node) {
	if c.cached+len(nodes) > maxCachedNodes {
		return
	}
	c.cache[id] = nodes
	c.cached += len(nodes)
}

func (c *checker) nodes(ctx context.Context, id crypto.ID) ([]*repository.Node, error) {
	if n, ok := c.cache[id]; ok {
		return n, nil
	}
	t, _, err := c.loadTree(ctx, id)
	if err != nil {
		return nil, err
	}
	return t.Nodes, nil
}

// attribute is the second pass: it names the files each damage affects.
// A directory that a damage makes unreadable is named once; what lies
// below it is not listed again for the same damage.
func (c *checker) attribute(ctx context.Context, snaps []repository.SnapshotEntry) error {
	work := max(minAttributeWork, 4*len(c.state))
	for _, sn := range snaps {
		if c.state[sn.Tree] != stTainted {
			continue
		}
		var covered []*damage
		if d := c.treeStatus(sn.Tree); d != nil {
			d.addFile("/", sn.ID)
			covered = append(covered, d)
		}
		if c.badTree[sn.Tree] != nil {
			continue
		}
		nodes, err := c.nodes(ctx, sn.Tree)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		onStack := map[crypto.ID]bool{sn.Tree: true}
		stack := []*frame{{id: sn.Tree, nodes: nodes, covered: covered}}
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if top.i == len(top.nodes) {
				delete(onStack, top.id)
				stack = stack[:len(stack)-1]
				continue
			}
			if work--; work < 0 {
				for _, d := range c.damages {
					d.incomplete = true
				}
				return nil
			}
			n := top.nodes[top.i]
			top.i++
			p := top.path + "/" + n.Name
			for _, b := range n.Content {
				if d := c.status(b); d != nil && !slices.Contains(top.covered, d) {
					d.addFile(p, sn.ID)
				}
			}
			if n.Type != repository.NodeDir || c.state[n.Subtree] != stTainted {
				continue
			}
			s := n.Subtree
			covered := top.covered
			if d := c.treeStatus(s); d != nil && !slices.Contains(covered, d) {
				d.addFile(p+"/", sn.ID)
				covered = append(slices.Clip(covered), d)
			}
			if c.badTree[s] != nil || onStack[s] || len(stack) >= maxDepth {
				continue
			}
			sub, err := c.nodes(ctx, s)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
			onStack[s] = true
			stack = append(stack, &frame{id: s, nodes: sub, path: p, covered: covered})
		}
	}
	return nil
}

// loader reads trees for the first pass, prefetching subtrees in the
// background so that remote storage is not asked one tree at a time.
type loader struct {
	c       *checker
	ctx     context.Context
	cancel  context.CancelFunc
	sem     chan struct{}
	mu      sync.Mutex
	pending map[crypto.ID]*future
	wg      sync.WaitGroup
}

type future struct {
	done  chan struct{}
	t     *repository.Tree
	fails []placeFail
	err   error
}

// maxPrefetch bounds trees loaded ahead (and held in memory).
const maxPrefetch = 256

func newLoader(ctx context.Context, c *checker) *loader {
	ctx, cancel := context.WithCancel(ctx)
	return &loader{c: c, ctx: ctx, cancel: cancel, sem: make(chan struct{}, workers()), pending: make(map[crypto.ID]*future)}
}

func (l *loader) prefetch(ids []crypto.ID) {
	for _, id := range ids {
		l.mu.Lock()
		if len(l.pending) >= maxPrefetch {
			l.mu.Unlock()
			return
		}
		if _, ok := l.pending[id]; ok {
			l.mu.Unlock()
			continue
		}
		f := &future{done: make(chan struct{})}
		l.pending[id] = f
		l.mu.Unlock()
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			defer close(f.done)
			select {
			case l.sem <- struct{}{}:
			case <-l.ctx.Done():
				f.err = l.ctx.Err()
				return
			}
			f.t, f.fails, f.err = l.c.loadTree(l.ctx, id)
			<-l.sem
		}()
	}
}

func (l *loader) get(id crypto.ID) (*repository.Tree, []placeFail, error) {
	l.mu.Lock()
	f := l.pending[id]
	delete(l.pending, id)
	l.mu.Unlock()
	if f == nil {
		return l.c.loadTree(l.ctx, id)
	}
	select {
	case <-f.done:
		return f.t, f.fails, f.err
	case <-l.ctx.Done():
		return nil, nil, l.ctx.Err()
	}
}

func (l *loader) stop() {
	l.cancel()
	l.wg.Wait()
}

package restorer

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// Trees are read twice: once to count what will be restored (so progress
// has totals and hostile shapes are refused before anything is written) and
// once to restore. The counting pass loads each distinct tree once, in
// parallel, and keeps decoded trees up to treeCacheBudget bytes, so for most
// snapshots the restore pass reads no tree again; beyond that, the restore
// pass reloads trees with a bounded prefetch. The restore pass takes each
// tree out of the cache as it enters the directory, so trees already
// restored do not hold memory while later batches are written.
const (
	treeCacheBudget = 64 << 20 // bytes of tree blobs kept decoded
	maxPrefetch     = 64       // trees loaded ahead of the restore walk
	prefetchWindow  = 16       // subdirectories prefetched ahead, per directory
)

type treeCache struct {
	repo   Repo
	sem    chan struct{}
	mu     sync.Mutex
	kept   map[crypto.ID]*repository.Tree
	budget int64
	ahead  map[crypto.ID]*treeFuture
	wg     sync.WaitGroup
}

type treeFuture struct {
	done chan struct{}
	t    *repository.Tree
	err  error
}

func newTreeCache(repo Repo, loaders int) *treeCache {
	return &treeCache{repo: repo, sem: make(chan struct{}, loaders),
		kept: make(map[crypto.ID]*repository.Tree), budget: treeCacheBudget,
		ahead: make(map[crypto.ID]*treeFuture)}
}

// get returns the tree, from the cache, a prefetch, or the repository.
func (c *treeCache) get(ctx context.Context, id crypto.ID) (*repository.Tree, error) {
	return c.fetch(ctx, id, false)
}

// take is get for the restore pass, which needs each tree once: the tree
// leaves the cache, so its memory is freed once the files queued from it
// are restored. (A tree that occurs again is loaded again.)
func (c *treeCache) take(ctx context.Context, id crypto.ID) (*repository.Tree, error) {
	return c.fetch(ctx, id, true)
}

func (c *treeCache) fetch(ctx context.Context, id crypto.ID, drop bool) (*repository.Tree, error) {
	c.mu.Lock()
	if t := c.kept[id]; t != nil {
		if drop {
			delete(c.kept, id)
			c.budget += c.sizeOf(id)
		}
		c.mu.Unlock()
		return t, nil
	}
	if f := c.ahead[id]; f != nil {
		delete(c.ahead, id)
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.t, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c.mu.Unlock()
	return c.load(ctx, id, !drop)
}

// load reads a tree from the repository and, with keep, caches it while
// the budget allows.
func (c *treeCache) load(ctx context.Context, id crypto.ID, keep bool) (*repository.Tree, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	t, err := c.repo.LoadTree(ctx, id)
	<-c.sem
	if err != nil || !keep {
		return t, err
	}
	size := c.sizeOf(id)
	c.mu.Lock()
	if c.budget >= size {
		c.budget -= size
		c.kept[id] = t
	}
	c.mu.Unlock()
	return t, nil
}

// sizeOf is what a decoded tree is counted as against the cache's budget.
func (c *treeCache) sizeOf(id crypto.ID) int64 {
	size := int64(1 << 10)
	if loc, ok := c.repo.Index().Lookup(id); ok {
		size += int64(loc.RawLength)
	}
	return size
}

// prefetch starts loading id in the background, for take, unless it is
// cached, already coming, or too many trees are waiting.
func (c *treeCache) prefetch(ctx context.Context, id crypto.ID) {
	c.mu.Lock()
	if c.kept[id] != nil || c.ahead[id] != nil || len(c.ahead) >= maxPrefetch {
		c.mu.Unlock()
		return
	}
	f := &treeFuture{done: make(chan struct{})}
	c.ahead[id] = f
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f.t, f.err = c.load(ctx, id, false) // only the restore pass prefetches, and takes each tree once
		close(f.done)
	}()
}

// wait returns once no prefetch is running.
func (c *treeCache) wait() { c.wg.Wait() }

// include is one Options.Include path, as components still to match below
// the current directory.
type include struct {
	idx   int
	comps []string
}

// parseIncludes splits include paths into components. "/" (or "") means
// everything; nil is returned then.
func parseIncludes(paths []string) ([]include, error) {
	var out []include
	for i, p := range paths {
		q := strings.ReplaceAll(p, "\\", "/")
		q = path.Clean("/" + q)
		if q == "/" {
			return nil, nil
		}
		comps := strings.Split(strings.TrimPrefix(q, "/"), "/")
		if v := comps[0]; len(v) == 2 && v[1] == ':' {
			comps[0] = v[:1] // "C:/Users" names the snapshot's "C" directory
		}
		for _, c := range comps {
			if err := repository.ValidName(c); err != nil {
				return nil, fmt.Errorf("include path %q: %w", p, err)
			}
		}
		out = append(out, include{idx: i, comps: comps})
	}
	return out, nil
}

// matchInclude decides what to do with the child called name of a directory
// restored with filter incl (nil: everything). full: restore the child with
// everything below it; sub: restore it only as the parent of these paths;
// neither: skip it. matched, when non-nil, records which includes matched.
func matchInclude(incl []include, name string, matched []bool) (full bool, sub []include) {
	if incl == nil {
		return true, nil
	}
	for _, in := range incl {
		if in.comps[0] != name {
			continue
		}
		if len(in.comps) == 1 {
			full = true
			if matched != nil {
				matched[in.idx] = true
			}
			continue
		}
		sub = append(sub, include{idx: in.idx, comps: in.comps[1:]})
	}
	if full {
		return true, nil
	}
	return false, sub
}

// treeSum is what the counting pass knows about one distinct tree.
type treeSum struct {
	direct ui.Counts // entries of the tree itself (a subdirectory counts as one dir)
	subs   []crypto.ID
	state  uint8 // 0 new, 1 being summed, 2 summed
	total  ui.Counts
}

// scan counts what the restore will write, loading every tree it needs once.
// It fails for include paths missing from the snapshot and for snapshots
// that expand to more than maxEntries entries.
func (r *restorer) scan(ctx context.Context, rootID crypto.ID, rootTree *repository.Tree, incl []include) (ui.Counts, error) {
	var top ui.Counts
	var full []crypto.ID // trees restored whole
	matched := make([]bool, len(r.opts.Include))
	loadFailed := false
	if incl == nil {
		full = append(full, rootID)
	} else {
		// Walk the levels above the included paths (as deep as the longest
		// include, so no cycle or depth guard is needed here).
		var walk func(t *repository.Tree, incl []include)
		walk = func(t *repository.Tree, incl []include) {
			for _, n := range t.Nodes {
				whole, sub := matchInclude(incl, n.Name, matched)
				switch {
				case whole:
					countNode(&top, n)
					if n.Type == repository.NodeDir {
						full = append(full, n.Subtree)
					}
				case len(sub) > 0 && n.Type == repository.NodeDir:
					top.Dirs++
					st, err := r.trees.get(ctx, n.Subtree)
					if err != nil {
						loadFailed = true // reported by the restore pass
						continue
					}
					walk(st, sub)
				}
			}
		}
		walk(rootTree, incl)
		if err := ctx.Err(); err != nil {
			return top, err
		}
		if !loadFailed {
			for i, ok := range matched {
				if !ok {
					return top, fmt.Errorf("restore: %q is not in the snapshot (use `lumbung ls` to see its paths)", r.opts.Include[i])
				}
			}
		}
	}

	sums := r.loadGraph(ctx, full, rootID, rootTree)
	if err := ctx.Err(); err != nil {
		return top, err
	}
	var visit func(id crypto.ID, depth int) ui.Counts
	visit = func(id crypto.ID, depth int) ui.Counts {
		s := sums[id]
		if s == nil || s.state == 1 || depth > maxDepth {
			return ui.Counts{} // unreadable, a cycle, or too deep: the restore pass reports it
		}
		if s.state == 2 {
			return s.total
		}
		s.state = 1
		t := s.direct
		for _, sub := range s.subs {
			addCounts(&t, visit(sub, depth+1))
		}
		s.state, s.total = 2, t
		return t
	}
	total := top
	for _, id := range full {
		addCounts(&total, visit(id, 1))
	}
	if total.Files+total.Dirs > maxEntries || total.Files+total.Dirs < 0 {
		return total, fmt.Errorf("restore: %w: the snapshot expands to more than %d entries (the same directory tree repeated at many levels?); the repository is damaged or hostile", ErrUnsafePath, int64(maxEntries))
	}
	return total, nil
}

func countNode(c *ui.Counts, n *repository.Node) {
	switch n.Type {
	case repository.NodeDir:
		c.Dirs++
	case repository.NodeFile:
		c.Files++
		c.Bytes = satAdd(c.Bytes, int64(min(n.Size, 1<<62)))
	case repository.NodeSymlink:
		c.Files++
	}
}

func addCounts(c *ui.Counts, o ui.Counts) {
	c.Files = satAdd(c.Files, o.Files)
	c.Dirs = satAdd(c.Dirs, o.Dirs)
	c.Bytes = satAdd(c.Bytes, o.Bytes)
}

// satAdd adds non-negative counters without wrapping.
func satAdd(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}

// loadGraph loads every distinct tree reachable from roots, in parallel,
// and summarises each. Unreadable trees are left out (the restore pass
// reports them).
func (r *restorer) loadGraph(ctx context.Context, roots []crypto.ID, rootID crypto.ID, rootTree *repository.Tree) map[crypto.ID]*treeSum {
	sums := make(map[crypto.ID]*treeSum)
	var (
		mu     sync.Mutex
		cond   = sync.NewCond(&mu)
		queue  []crypto.ID
		active int
		loaded = make(map[crypto.ID]*treeSum)
	)
	summarise := func(t *repository.Tree) *treeSum {
		s := &treeSum{}
		for _, n := range t.Nodes {
			countNode(&s.direct, n)
			if n.Type == repository.NodeDir {
				s.subs = append(s.subs, n.Subtree)
			}
		}
		return s
	}
	push := func(id crypto.ID) {
		if _, ok := loaded[id]; ok {
			return
		}
		loaded[id] = nil
		queue = append(queue, id)
	}
	for _, id := range roots {
		if id == rootID {
			s := summarise(rootTree)
			loaded[id] = s
			for _, sub := range s.subs {
				push(sub)
			}
			continue
		}
		push(id)
	}
	var wg sync.WaitGroup
	for range r.loaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			for {
				for len(queue) == 0 && active > 0 {
					cond.Wait()
				}
				if len(queue) == 0 || ctx.Err() != nil {
					cond.Broadcast()
					return
				}
				id := queue[len(queue)-1]
				queue = queue[:len(queue)-1]
				active++
				mu.Unlock()
				t, err := r.trees.get(ctx, id)
				var s *treeSum
				if err == nil {
					s = summarise(t)
				}
				mu.Lock()
				active--
				if s != nil {
					loaded[id] = s
					for _, sub := range s.subs {
						push(sub)
					}
				}
				cond.Broadcast()
			}
		}()
	}
	wg.Wait()
	for id, s := range loaded {
		if s != nil {
			sums[id] = s
		}
	}
	return sums
}

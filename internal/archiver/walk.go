package archiver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// vdir is a directory on the way from the file system root to the paths
// being backed up: only the named children are saved, with the directory's
// own metadata.
type vdir struct {
	path     string
	leaf     bool // a path given by the user: saved whole
	children map[string]*vdir
}

// splitPath returns the components of an absolute path; a Windows volume
// ("C:") becomes a first component "C".
func splitPath(p string) []string {
	vol := filepath.VolumeName(p)
	rest := strings.Trim(filepath.ToSlash(p[len(vol):]), "/")
	var comps []string
	if vol != "" {
		comps = append(comps, strings.TrimSuffix(strings.Trim(filepath.ToSlash(vol), "/"), ":"))
	}
	if rest != "" {
		comps = append(comps, strings.Split(rest, "/")...)
	}
	return comps
}

func (a *archiver) saveRoots(ctx context.Context, paths []string, prev *repository.Tree) (crypto.ID, error) {
	for _, p := range paths {
		if len(splitPath(p)) == 0 {
			return a.saveFileSystemRoot(ctx, p)
		}
	}
	root := &vdir{children: map[string]*vdir{}}
	for _, p := range paths {
		comps := splitPath(p)
		vol := filepath.VolumeName(p)
		cur, curPath := root, vol+string(filepath.Separator)
		for i, c := range comps {
			if i > 0 || vol == "" {
				curPath = filepath.Join(curPath, c)
			}
			next := cur.children[c]
			if next == nil {
				next = &vdir{path: curPath, children: map[string]*vdir{}}
				cur.children[c] = next
			}
			cur = next
		}
		cur.leaf = true
	}
	nodes, err := a.saveVirtualChildren(ctx, root, prev)
	if err != nil {
		return crypto.ID{}, err
	}
	return a.saveTree(ctx, &repository.Tree{Nodes: nodes})
}

// saveFileSystemRoot saves a whole file system ("/"): its root directory's
// tree is the snapshot's root tree, and it holds every other path given.
func (a *archiver) saveFileSystemRoot(ctx context.Context, path string) (crypto.ID, error) {
	meta, err := fsmeta.Lstat(path)
	if err != nil {
		return crypto.ID{}, fmt.Errorf("cannot back up %s: %w", path, err)
	}
	node := a.nodeFromMeta("", meta)
	node.Type = repository.NodeDir
	var prev *repository.Node
	if a.opts.Parent != nil {
		prev = &repository.Node{Type: repository.NodeDir, Subtree: a.opts.Parent.Tree}
	}
	f, err := a.saveDir(ctx, path, node, prev)
	if err != nil {
		return crypto.ID{}, err
	}
	n, err := f.wait(ctx)
	if err != nil {
		return crypto.ID{}, err
	}
	return n.Subtree, nil
}

// saveVirtualChildren saves the children of a virtual directory.
func (a *archiver) saveVirtualChildren(ctx context.Context, v *vdir, prev *repository.Tree) ([]*repository.Node, error) {
	names := make([]string, 0, len(v.children))
	for n := range v.children {
		names = append(names, n)
	}
	sort.Strings(names)
	futs := make([]*future, 0, len(names))
	for _, name := range names {
		child := v.children[name]
		var prevNode *repository.Node
		if prev != nil {
			prevNode = prev.Find(name)
		}
		if child.leaf {
			f, err := a.saveEntry(ctx, nil, child.path, name, prevNode, true, 0)
			if err != nil {
				return nil, err
			}
			futs = append(futs, f)
			continue
		}
		meta, err := fsmeta.Lstat(child.path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", child.path, err)
		}
		node := a.nodeFromMeta(name, meta)
		node.Type = repository.NodeDir
		xs, xerr := fsmeta.XattrsPath(child.path)
		a.setXattrs(node, child.path, xs, xerr)
		sub, err := a.saveVirtualChildren(ctx, child, a.prevSubtree(ctx, prevNode))
		if err != nil {
			return nil, err
		}
		id, err := a.saveTree(ctx, &repository.Tree{Nodes: sub})
		if err != nil {
			return nil, err
		}
		node.Subtree = id
		futs = append(futs, resolved(node))
	}
	return collect(ctx, futs)
}

func collect(ctx context.Context, futs []*future) ([]*repository.Node, error) {
	nodes := make([]*repository.Node, 0, len(futs))
	for _, f := range futs {
		if f == nil {
			continue
		}
		n, err := f.wait(ctx)
		if err != nil {
			return nil, err
		}
		if n != nil {
			nodes = append(nodes, n)
		}
	}
	return nodes, nil
}

func (a *archiver) prevSubtree(ctx context.Context, prev *repository.Node) *repository.Tree {
	if prev == nil || prev.Type != repository.NodeDir || prev.Subtree.IsZero() {
		return nil
	}
	t, err := a.repo.LoadTree(ctx, prev.Subtree)
	if err != nil {
		return nil // read everything below again
	}
	return t
}

// setXattrs records xattrs (read from path) in n; a failure to read them is
// a warning, not a reason to leave the entry out.
func (a *archiver) setXattrs(n *repository.Node, path string, xs []fsmeta.Xattr, err error) {
	if err != nil {
		a.prog.Warn(path, fmt.Errorf("extended attributes (ACLs, labels) not saved: %w", err))
	}
	n.Xattrs = nil
	for _, x := range xs {
		if len(x.Name) > repository.MaxXattrName || len(x.Value) > repository.MaxXattrValue {
			a.prog.Warn(path, fmt.Errorf("extended attribute %q not saved: larger than the repository format allows", x.Name))
			continue
		}
		n.Xattrs = append(n.Xattrs, repository.Xattr{Name: x.Name, Value: x.Value})
	}
}

func (a *archiver) nodeFromMeta(name string, m fsmeta.Meta) *repository.Node {
	n := &repository.Node{Name: name}
	a.setMeta(n, m)
	return n
}

// setMeta sets the metadata of n (all but name, type and content) from m.
func (a *archiver) setMeta(n *repository.Node, m fsmeta.Meta) {
	n.Mode, n.UID, n.GID = m.Mode&0o7777, m.UID, m.GID
	n.User, n.Group = m.User, m.Group
	n.ModTime, n.ChangeTime = m.ModTime, m.ChangeTime
	n.Inode, n.DeviceID, n.Links = m.Inode, m.Device, m.Links
	if n.User == "" {
		n.User = a.names.User(m.UID)
	}
	if n.Group == "" {
		n.Group = a.names.Group(m.GID)
	}
}

// otherFileSystem reports whether an entry on device dev, inside a
// directory on parentDev, is left out by OneFileSystem. Unknown devices
// (zero) never differ.
func (a *archiver) otherFileSystem(parentDev, dev uint64) bool {
	return a.opts.OneFileSystem && parentDev != 0 && dev != 0 && dev != parentDev
}

// saveEntry saves one file system entry. It returns a nil future for entries
// that are skipped (special files, vanished files, entries on another file
// system with OneFileSystem). top marks a path the user named, whose failure
// is an error rather than a warning; parentDev is the device of the
// directory holding the entry (unused with top). dir, when not nil, is the
// open parent directory, so the entry is looked up by name in it.
func (a *archiver) saveEntry(ctx context.Context, dir *os.File, path, name string, prev *repository.Node, top bool, parentDev uint64) (*future, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var meta fsmeta.Meta
	var err error
	if dir != nil {
		meta, err = fsmeta.LstatAt(dir, name, path)
	} else {
		meta, err = fsmeta.Lstat(path)
	}
	if err != nil {
		if top {
			return nil, fmt.Errorf("cannot back up %s: %w", path, err)
		}
		a.warnUnreadable(path, err)
		return nil, nil
	}
	if !top && a.skippedDir(meta) {
		return nil, nil
	}
	node := a.nodeFromMeta(name, meta)
	if !top && a.otherFileSystem(parentDev, meta.Device) {
		if meta.Kind != fsmeta.KindDir {
			return nil, nil
		}
		// A mount point stays, empty, as it is before anything is mounted.
		node.Type = repository.NodeDir
		id, err := a.saveTree(ctx, &repository.Tree{})
		if err != nil {
			return nil, err
		}
		node.Subtree = id
		return resolved(node), nil
	}
	switch meta.Kind {
	case fsmeta.KindFile:
		node.Type = repository.NodeFile
		node.Size = uint64(meta.Size)
		return a.saveFile(ctx, path, node, prev), nil
	case fsmeta.KindSymlink:
		node.Type = repository.NodeSymlink
		var target string
		if dir != nil {
			target, err = fsmeta.ReadlinkAt(dir, name, path)
		} else {
			target, err = os.Readlink(path)
		}
		if err != nil {
			a.warnUnreadable(path, err)
			node.Error = err.Error()
		}
		node.LinkTarget = target
		xs, xerr := fsmeta.XattrsPath(path)
		a.setXattrs(node, path, xs, xerr)
		return resolved(node), nil
	case fsmeta.KindDir:
		node.Type = repository.NodeDir
		return a.walkDir(ctx, path, node, prev)
	default:
		a.mu.Lock()
		a.skipped++
		a.mu.Unlock()
		a.prog.Warn(path, fmt.Errorf("special file (device, fifo or socket) skipped"))
		return nil, nil
	}
}

// walkDir saves a directory: on a goroutine of its own while fewer than
// walkers directories are being listed at once, so stat calls and parent
// tree loads run on every core; otherwise on the caller's goroutine.
func (a *archiver) walkDir(ctx context.Context, path string, node *repository.Node, prev *repository.Node) (*future, error) {
	select {
	case a.walkers <- struct{}{}:
	default:
		return a.saveDir(ctx, path, node, prev)
	}
	f := &future{done: make(chan struct{})}
	a.walking.Add(1)
	go func() {
		defer a.walking.Done()
		defer close(f.done)
		sub, err := a.saveDir(ctx, path, node, prev)
		<-a.walkers
		if err != nil {
			f.err = err
			return
		}
		f.node, f.err = sub.wait(ctx)
	}()
	return f, nil
}

// saveDir lists a directory and saves its entries; the returned future
// completes when its tree is saved.
func (a *archiver) saveDir(ctx context.Context, path string, node *repository.Node, prev *repository.Node) (*future, error) {
	prevTree := a.prevSubtree(ctx, prev)
	var entries []os.DirEntry
	dir, err := fsmeta.OpenDir(path)
	if err == nil {
		defer dir.Close()
		xs, xerr := fsmeta.XattrsFD(int(dir.Fd()), path)
		a.setXattrs(node, path, xs, xerr)
		entries, err = dir.ReadDir(-1)
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	}
	if err != nil {
		// Keep what ReadDir returned before the error; record the failure.
		a.warnUnreadable(path, err)
		node.Error = err.Error()
	}
	futs := make([]*future, 0, len(entries))
	for _, e := range entries {
		childPath := filepath.Join(path, e.Name())
		if a.excluded(childPath) {
			continue
		}
		var prevChild *repository.Node
		if prevTree != nil {
			prevChild = prevTree.Find(e.Name())
		}
		f, err := a.saveEntry(ctx, dir, childPath, e.Name(), prevChild, false, node.DeviceID)
		if err != nil {
			return nil, err
		}
		if f != nil {
			futs = append(futs, f)
		}
	}
	f := &future{done: make(chan struct{})}
	a.background.Add(1)
	go func() {
		defer a.background.Done()
		defer close(f.done)
		nodes, err := collect(ctx, futs)
		if err != nil {
			f.err = err
			return
		}
		id, err := a.saveTree(ctx, &repository.Tree{Nodes: nodes})
		if err != nil {
			f.err = err
			return
		}
		node.Subtree = id
		a.count(func(s *repository.Summary) {
			switch {
			case prev == nil || prev.Type != repository.NodeDir:
				s.DirsNew++
			case prev.Subtree == id:
				s.DirsUnchanged++
			default:
				s.DirsChanged++
			}
		})
		a.prog.Add(ui.Counts{Dirs: 1})
		f.node = node
	}()
	return f, nil
}

func (a *archiver) saveTree(ctx context.Context, t *repository.Tree) (crypto.ID, error) {
	data, err := repository.EncodeTree(t)
	if err != nil {
		return crypto.ID{}, err
	}
	id, _, err := a.w.SaveBlob(ctx, repository.TreeBlob, data)
	if err != nil {
		return crypto.ID{}, fmt.Errorf("save tree: %w", err)
	}
	return id, nil
}

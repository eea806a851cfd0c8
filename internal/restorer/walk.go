package restorer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// meta is the metadata applied to a restored entry.
type meta struct {
	mode        uint32
	uid, gid    uint32
	user, group string
	mtime       time.Time
	atime       time.Time
	xattrs      []repository.Xattr
}

func metaOf(n *repository.Node) meta {
	return meta{mode: n.Mode, uid: n.UID, gid: n.GID, user: n.User, group: n.Group, mtime: n.ModTime, atime: n.AccessTime, xattrs: n.Xattrs}
}

type dirEntry struct {
	path, snap string
	meta       meta
	note       string // why the snapshot's listing of it is incomplete
}

type symlinkEntry struct {
	path, snap string
	target     string
	meta       meta
	note       string
}

// walk restores the entries of tree t, which is the directory dir at rel
// (relative to the target). Directories are created as they are met, files
// are queued into batches, symlinks and directory metadata are kept for the
// end. ancestors holds the tree ids from the root down to t.
func (r *restorer) walk(ctx context.Context, t *repository.Tree, dir *dirRef, rel string, incl []include, depth int, ancestors map[crypto.ID]bool) {
	// Prefetch the first subdirectories; the window slides as the walk
	// enters each one.
	var subdirs []int
	for i, n := range t.Nodes {
		if n.Type == repository.NodeDir {
			if whole, sub := matchInclude(incl, n.Name, nil); whole || len(sub) > 0 {
				subdirs = append(subdirs, i)
			}
		}
	}
	nextDir := 0
	prefetchFrom := func(k int) {
		for j := k; j < min(k+prefetchWindow, len(subdirs)); j++ {
			r.trees.prefetch(ctx, t.Nodes[subdirs[j]].Subtree)
		}
	}
	prefetchFrom(0)

	for _, n := range t.Nodes {
		if ctx.Err() != nil {
			return
		}
		whole, sub := matchInclude(incl, n.Name, nil)
		if !whole && len(sub) == 0 {
			continue
		}
		if err := checkName(n.Name); err != nil {
			r.unsafePath(dir.snap+"/"+n.Name, err.Error())
			continue
		}
		childRel := filepath.Join(rel, n.Name)
		if !filepath.IsLocal(childRel) {
			r.unsafePath(dir.snap+"/"+n.Name, fmt.Sprintf("path %q is not inside the target", childRel))
			continue
		}
		if n.Type == repository.NodeFile {
			// Its paths are made from dir and its name when needed: a
			// batch holds many files.
			if whole {
				r.addFile(ctx, t, n, dir)
			}
			continue
		}
		childSnap := dir.snap + "/" + n.Name
		childPath := filepath.Join(dir.path, n.Name)
		switch n.Type {
		case repository.NodeDir:
			nextDir++
			prefetchFrom(nextDir)
			var childIncl []include
			if !whole {
				childIncl = sub
			}
			r.walkDir(ctx, n, childPath, childRel, childSnap, childIncl, depth+1, ancestors)
		case repository.NodeSymlink:
			if whole {
				r.symlinks = append(r.symlinks, symlinkEntry{path: childPath, snap: childSnap, target: n.LinkTarget, meta: metaOf(n), note: n.Error})
			}
		default:
			if whole {
				r.skipped.Add(1)
				r.prog.Warn(childSnap, fmt.Errorf("%s not restored: special files are never restored", n.Type))
			}
		}
	}
}

// walkDir restores the directory node n and, unless it is refused or cannot
// be created, what it contains.
func (r *restorer) walkDir(ctx context.Context, n *repository.Node, path, rel, snap string, incl []include, depth int, ancestors map[crypto.ID]bool) {
	if depth > maxDepth {
		r.unsafePath(snap, fmt.Sprintf("directories nested more than %d deep", maxDepth))
		return
	}
	if ancestors[n.Subtree] {
		r.unsafePath(snap, fmt.Sprintf("directory contains itself (tree %s is its own ancestor)", n.Subtree.Short()))
		return
	}
	m, err := r.ensureDir(path)
	if err != nil {
		r.report(snap, fmt.Errorf("cannot create directory (nothing below it restored): %w", err))
		return
	}
	r.dirCount.Add(1)
	r.prog.Add(ui.Counts{Dirs: 1})
	d := dirEntry{path: path, snap: snap, meta: metaOf(n)}
	if n.Error != "" {
		d.note = n.Error
	}
	t, err := r.trees.take(ctx, n.Subtree)
	if err != nil {
		if ctx.Err() == nil {
			r.report(snap, fmt.Errorf("cannot read the directory's listing from the repository; restored empty: %w", err))
		}
	} else {
		ancestors[n.Subtree] = true
		r.walk(ctx, t, r.newDirRef(path, snap, m, false), rel, incl, depth, ancestors)
		delete(ancestors, n.Subtree)
	}
	r.dirs = append(r.dirs, d)
}

// restoreSymlinks creates the snapshot's symlinks, after every file and
// directory, so nothing the restorer writes later can pass through one.
func (r *restorer) restoreSymlinks(ctx context.Context) {
	for _, s := range r.symlinks {
		if ctx.Err() != nil {
			return
		}
		if s.target == "" {
			why := "symlink has no target in the snapshot"
			if s.note != "" {
				why += " (it could not be read during backup: " + s.note + ")"
			}
			r.report(s.snap, errors.New(why))
			continue
		}
		err := r.replace(s.path, func() error { return symlinkPath(s.target, s.path) })
		if err != nil {
			r.report(s.snap, fmt.Errorf("cannot create symlink: %w", err))
			continue
		}
		r.syms.Add(1)
		r.prog.Add(ui.Counts{Files: 1})
		if err := r.applyMeta(s.path, s.meta, fsmeta.KindSymlink); err != nil {
			r.report(s.snap, fmt.Errorf("symlink restored, but not its metadata: %w", err))
		}
	}
}

// finishDirs applies directory metadata deepest first, once everything
// inside each directory is in place (creating entries changes a directory's
// mtime; a read-only mode would stop later writes).
func (r *restorer) finishDirs(ctx context.Context) {
	for _, d := range r.dirs {
		if ctx.Err() != nil {
			return
		}
		if err := r.applyMeta(d.path, d.meta, fsmeta.KindDir); err != nil {
			r.report(d.snap, fmt.Errorf("directory restored, but not its metadata: %w", err))
		}
		if d.note != "" {
			r.report(d.snap, fmt.Errorf("the directory could only be listed partly during backup, so some of its entries are missing: %s", d.note))
		}
	}
}

// restoreLink makes path a hard link to the already restored first file of
// the same inode, or a copy where the file system has no hard links.
func (r *restorer) restoreLink(ctx context.Context, l linkJob) {
	first := l.first
	if !first.ok {
		r.report(l.snap, fmt.Errorf("hard link to %s, which could not be restored", first.snapPath()))
		return
	}
	err := r.replace(l.path, func() error { return linkPath(first.pathOf(), l.path) })
	if err != nil {
		var le *os.LinkError
		if !errors.As(err, &le) || errors.Is(err, fs.ErrExist) {
			r.report(l.snap, fmt.Errorf("cannot create hard link to %s: %w", first.snapPath(), err))
			return
		}
		if cerr := r.copyFile(first, l); cerr != nil {
			r.report(l.snap, fmt.Errorf("cannot create hard link to %s (%v), nor a copy: %w", first.snapPath(), err, cerr))
			return
		}
		r.report(l.snap, fmt.Errorf("restored as a copy of %s, not as a hard link: %w", first.snapPath(), err))
	}
	r.files.Add(1)
	r.prog.Add(ui.Counts{Files: 1, Bytes: first.size})
	r.prog.Item(l.snap)
}

// copyFile restores a hard link as a copy of the first file's restored
// content, for file systems without hard links.
func (r *restorer) copyFile(first *fileState, l linkJob) error {
	src, err := openPath(first.pathOf(), os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp := l.tmp
	dst, err := createPartial(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy to %s: %w", tmp, err)
	}
	merr := r.applyMeta(tmp, metaOf(first.node), fsmeta.KindFile)
	if err := r.replace(l.path, func() error { return renamePath(tmp, l.path) }); err != nil {
		return err
	}
	return merr
}

// sameContent reports whether a later node with the same inode really is a
// hard link of the first: same content and no error on either.
func sameContent(first *fileState, n *repository.Node) bool {
	return first.node.Error == "" && n.Error == "" && first.node.Size == n.Size && slices.Equal(first.node.Content, n.Content)
}

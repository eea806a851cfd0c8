// Package dump writes what a snapshot holds as a stream instead of into a
// restore target: one file's content (a database dump straight into psql,
// with no room needed on disk) or a directory as a tar archive. Every blob
// is verified on the way, as in a restore.
package dump

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime"
	"strings"

	"github.com/lumbung-id/lumbung/internal/bufpool"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

// Repo is what a dump reads.
type Repo interface {
	LoadBlob(ctx context.Context, id crypto.ID, buf []byte) ([]byte, error)
	LoadTree(ctx context.Context, id crypto.ID) (*repository.Tree, error)
}

var (
	// ErrNoContent is returned for a file the backup could not read: the
	// snapshot has its metadata but no content.
	ErrNoContent = errors.New("saved without content (it could not be read during the backup)")
	// ErrSomeLeftOut is returned, after a complete archive, when files
	// saved without content were left out of it (each was passed to skip).
	ErrSomeLeftOut = errors.New("archive written, but some files were left out: the backup could not read them")
	// ErrNotInSnapshot is returned by Lookup for a path the snapshot lacks.
	ErrNotInSnapshot = errors.New("not in the snapshot")
)

// checkTree refuses a tree bomb before anything is written.
func checkTree(ctx context.Context, repo Repo, tree crypto.ID) error {
	_, err := repository.NewTreeCounter(repo).Count(ctx, tree)
	return err
}

// Lookup finds the node at snapshot path p below the root tree; the root
// itself ("/") has no node and returns nil.
func Lookup(ctx context.Context, repo Repo, root crypto.ID, p string) (*repository.Node, error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return nil, nil
	}
	tree := root
	var n *repository.Node
	for i, name := range strings.Split(p[1:], "/") {
		if i > 0 && n.Type != repository.NodeDir {
			return nil, fmt.Errorf("%s: %w (%s is a %s)", p, ErrNotInSnapshot, n.Name, n.Type)
		}
		t, err := repo.LoadTree(ctx, tree)
		if err != nil {
			return nil, fmt.Errorf("look up %s: %w", p, err)
		}
		if n = t.Find(name); n == nil {
			return nil, fmt.Errorf("%s: %w", p, ErrNotInSnapshot)
		}
		tree = n.Subtree
	}
	return n, nil
}

// File writes the content of the file node n to w, in order. A blob that
// cannot be loaded or verified stops it with an error naming the blob.
func File(ctx context.Context, repo Repo, n *repository.Node, w io.Writer) error {
	if n.Type != repository.NodeFile {
		return fmt.Errorf("%s is a %s, not a file", n.Name, n.Type)
	}
	if n.Error != "" {
		return fmt.Errorf("%s: %w: %s", n.Name, ErrNoContent, n.Error)
	}
	walk := func(ctx context.Context, emit func(string, *repository.Node) error) error { return emit(n.Name, n) }
	return stream(ctx, repo, walk, func(e *entry) error { return e.copyTo(ctx, w) })
}

// Tar writes node n, found at snapshot path p, and everything below it as
// a tar archive (PAX: nanosecond times, long names, owner names, extended
// attributes as SCHILY.xattr records). Names are relative to the snapshot
// root ("srv/data/a.txt"), as a restore lays them out under its target.
// Hard links among the files become tar links. Files saved without content
// are left out and passed to skip (the archive is completed and
// ErrSomeLeftOut returned); a damaged blob stops the archive with an error,
// and what was written before it is a truncated archive, which tar reports.
func Tar(ctx context.Context, repo Repo, p string, n *repository.Node, w io.Writer, skip func(path string, err error)) error {
	if n.Type == repository.NodeDir {
		if err := checkTree(ctx, repo, n.Subtree); err != nil {
			return err
		}
	}
	return writeTar(ctx, repo, w, skip, func(ctx context.Context, emit func(string, *repository.Node) error) error {
		return walkNode(ctx, repo, path.Clean("/"+p), n, emit, 0)
	})
}

// TarTree is Tar for a whole snapshot: the entries of its root tree.
func TarTree(ctx context.Context, repo Repo, root crypto.ID, w io.Writer, skip func(path string, err error)) error {
	if err := checkTree(ctx, repo, root); err != nil {
		return err
	}
	return writeTar(ctx, repo, w, skip, func(ctx context.Context, emit func(string, *repository.Node) error) error {
		return walkChildren(ctx, repo, "/", root, emit, 0)
	})
}

// walker emits nodes with their snapshot paths, each directory before what
// it holds.
type walker func(ctx context.Context, emit func(p string, n *repository.Node) error) error

func walkNode(ctx context.Context, repo Repo, p string, n *repository.Node, emit func(string, *repository.Node) error, depth int) error {
	if err := emit(p, n); err != nil {
		return err
	}
	if n.Type != repository.NodeDir {
		return nil
	}
	return walkChildren(ctx, repo, p, n.Subtree, emit, depth+1)
}

func walkChildren(ctx context.Context, repo Repo, dir string, tree crypto.ID, emit func(string, *repository.Node) error, depth int) error {
	if depth > repository.MaxTreeDepth {
		return fmt.Errorf("%s: directories nested more than %d levels: damaged or forged repository", dir, repository.MaxTreeDepth)
	}
	t, err := repo.LoadTree(ctx, tree)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", dir, err)
	}
	for _, c := range t.Nodes {
		if err := walkNode(ctx, repo, path.Join(dir, c.Name), c, emit, depth); err != nil {
			return err
		}
	}
	return nil
}

// entry is a node on its way to the output, with the loads of its blobs
// started in order (blobs is nil for nodes without content).
type entry struct {
	path  string
	node  *repository.Node
	blobs chan chan loaded
	done  func([]byte) // releases one loaded blob's window slot and buffer
}

type loaded struct {
	data []byte
	err  error
}

// copyTo writes the entry's content to w as its blobs arrive.
func (e *entry) copyTo(ctx context.Context, w io.Writer) error {
	var written uint64
	i := 0
	for ch := range e.blobs {
		r := <-ch
		if r.err != nil {
			e.done(nil)
			return fmt.Errorf("%s: part %d of %d: %w", e.path, i+1, len(e.node.Content), r.err)
		}
		_, err := w.Write(r.data)
		written += uint64(len(r.data))
		e.done(r.data)
		if err != nil {
			return fmt.Errorf("write %s: %w", e.path, err)
		}
		i++
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if written != e.node.Size {
		return fmt.Errorf("%s: content is %d bytes, the snapshot says %d: damaged or forged tree", e.path, written, e.node.Size)
	}
	return nil
}

// stream runs walk on a goroutine of its own and hands each node to
// consume in order, while the blobs of the files ahead, across file
// boundaries, are loaded on every core: at most window blobs are loading
// or waiting to be written at once, which bounds the memory used.
func stream(ctx context.Context, repo Repo, walk walker, consume func(*entry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	window := min(runtime.GOMAXPROCS(0)+2, 8)
	slots := make(chan struct{}, window)
	bufs := bufpool.New(1<<20, window+2)
	done := func(data []byte) {
		bufs.Put(data)
		<-slots
	}
	entries := make(chan *entry, 256)
	var walkErr error
	go func() {
		defer close(entries)
		loadedLinks := map[[2]uint64]bool{}
		walkErr = walk(ctx, func(p string, n *repository.Node) error {
			e := &entry{path: p, node: n, done: done}
			if n.Type == repository.NodeFile && n.Error == "" {
				// The content of a hard-linked file is loaded for its
				// first name only (later names are links in archives).
				key, linked := linkKey(n)
				if !linked || !loadedLinks[key] {
					loadedLinks[key] = linked
					e.blobs = make(chan chan loaded, len(n.Content))
				}
			}
			select {
			case entries <- e:
			case <-ctx.Done():
				return ctx.Err()
			}
			if e.blobs == nil {
				return nil
			}
			defer close(e.blobs)
			for _, id := range n.Content {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				ch := make(chan loaded, 1)
				go func() {
					data, err := repo.LoadBlob(ctx, id, bufs.Get())
					ch <- loaded{data, err}
				}()
				e.blobs <- ch
			}
			return nil
		})
	}()
	for e := range entries {
		if err := consume(e); err != nil {
			return err
		}
	}
	if walkErr != nil {
		return walkErr
	}
	return ctx.Err()
}

// writeTar writes what walk emits as a tar archive.
func writeTar(ctx context.Context, repo Repo, w io.Writer, skip func(string, error), walk walker) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{} // (device, inode) of files with more than one link → first name
	skipped := 0
	err := stream(ctx, repo, walk, func(e *entry) error {
		hdr, ok := tarHeader(e.node, e.path[1:], links)
		if !ok {
			skipped++
			if skip != nil {
				reason := fmt.Errorf("node type %s is not written to archives", e.node.Type)
				if e.node.Type == repository.NodeFile {
					reason = fmt.Errorf("%w: %s", ErrNoContent, e.node.Error)
				}
				skip(e.path, reason)
			}
			return nil
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar %s: %w", e.path, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil
		}
		return e.copyTo(ctx, tw)
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("tar: %w", err)
	}
	if skipped > 0 {
		return ErrSomeLeftOut
	}
	return nil
}

// linkKey identifies the file of node n among its hard links; linked is
// false for files with one name (or whose inode is unknown).
func linkKey(n *repository.Node) (key [2]uint64, linked bool) {
	return [2]uint64{n.DeviceID, n.Inode}, n.Links > 1 && n.Inode != 0
}

// tarHeader is the tar header of node n named name (relative); ok is false
// for nodes an archive cannot hold. links maps the files with more than one
// link to their first name, so later names become tar hard links.
func tarHeader(n *repository.Node, name string, links map[[2]uint64]string) (hdr *tar.Header, ok bool) {
	hdr = &tar.Header{
		Name: name, Mode: int64(n.Mode & 0o7777), Uid: int(n.UID), Gid: int(n.GID), Uname: n.User, Gname: n.Group,
		ModTime: n.ModTime, AccessTime: n.AccessTime, ChangeTime: n.ChangeTime, Format: tar.FormatPAX,
	}
	for _, x := range n.Xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+x.Name] = string(x.Value)
	}
	switch n.Type {
	case repository.NodeDir:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case repository.NodeSymlink:
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, n.LinkTarget
	case repository.NodeFile:
		if n.Error != "" {
			return nil, false
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, int64(n.Size)
		if key, linked := linkKey(n); linked {
			if first, seen := links[key]; seen {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[key] = name
			}
		}
	default:
		return nil, false
	}
	return hdr, true
}

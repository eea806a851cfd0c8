package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"slices"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
)

type diffChange struct {
	MessageType string `json:"message_type"`
	Path        string `json:"path"`
	// Modifier: "+" added, "-" removed, "M" content changed, "T" type
	// changed, "U" metadata only.
	Modifier string `json:"modifier"`
}

type diffStats struct {
	MessageType string `json:"message_type"`
	Added       int    `json:"added"`
	Removed     int    `json:"removed"`
	Changed     int    `json:"changed"`
	Metadata    int    `json:"metadata_changed"`
}

func runDiff(ctx context.Context, e *env, args []string) error {
	f := newFlags("diff")
	var rf repoFlags
	rf.register(f)
	metadata := f.Bool("metadata", false, "also list files whose metadata changed but not their content")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) != 2 {
		return usagef("usage: lumbung diff --repo R SNAPSHOT1 SNAPSHOT2")
	}
	repo, err := rf.open(ctx, e, true)
	if err != nil {
		return err
	}
	a, err := repo.FindSnapshot(ctx, f.args[0], repository.SnapshotFilter{})
	if err != nil {
		return err
	}
	b, err := repo.FindSnapshot(ctx, f.args[1], repository.SnapshotFilter{})
	if err != nil {
		return err
	}
	if err := checkTrees(ctx, repository.NewTreeCounter(repo), a.Tree, b.Tree); err != nil {
		return err
	}
	p := f.printer(e)
	var st diffStats
	emit := func(mod, pth string) {
		switch mod {
		case "+":
			st.Added++
		case "-":
			st.Removed++
		case "U":
			st.Metadata++
			if !*metadata {
				return
			}
		default:
			st.Changed++
		}
		_ = p.Result(diffChange{MessageType: "change", Path: pth, Modifier: mod}, func(w io.Writer) {
			fmt.Fprintf(w, "%-2s %s\n", mod, quotePath(pth))
		})
	}
	d := differ{ctx: ctx, repo: repo, emit: emit}
	if err := d.trees(a.Tree, b.Tree, "/", 0); err != nil {
		return err
	}
	st.MessageType = "statistics"
	return p.Result(st, func(w io.Writer) {
		fmt.Fprintf(w, "\n%d added, %d removed, %d changed, %d with only metadata changes\n", st.Added, st.Removed, st.Changed, st.Metadata)
	})
}

type differ struct {
	ctx  context.Context
	repo *repository.Repository
	emit func(mod, path string)
}

func (d *differ) trees(a, b crypto.ID, dir string, depth int) error {
	if a == b {
		return nil
	}
	if depth > repository.MaxTreeDepth {
		return fmt.Errorf("tree below %s nested too deep", dir)
	}
	ta, err := d.load(a)
	if err != nil {
		return err
	}
	tb, err := d.load(b)
	if err != nil {
		return err
	}
	i, j := 0, 0
	for i < len(ta.Nodes) || j < len(tb.Nodes) {
		switch {
		case j >= len(tb.Nodes) || (i < len(ta.Nodes) && ta.Nodes[i].Name < tb.Nodes[j].Name):
			if err := d.whole("-", ta.Nodes[i], path.Join(dir, ta.Nodes[i].Name), depth); err != nil {
				return err
			}
			i++
		case i >= len(ta.Nodes) || tb.Nodes[j].Name < ta.Nodes[i].Name:
			if err := d.whole("+", tb.Nodes[j], path.Join(dir, tb.Nodes[j].Name), depth); err != nil {
				return err
			}
			j++
		default:
			if err := d.node(ta.Nodes[i], tb.Nodes[j], path.Join(dir, ta.Nodes[i].Name), depth); err != nil {
				return err
			}
			i++
			j++
		}
	}
	return nil
}

func (d *differ) load(id crypto.ID) (*repository.Tree, error) {
	if id.IsZero() {
		return &repository.Tree{}, nil
	}
	return d.repo.LoadTree(d.ctx, id)
}

func (d *differ) node(a, b *repository.Node, p string, depth int) error {
	if a.Type != b.Type {
		d.emit("T", p)
		return nil
	}
	switch a.Type {
	case repository.NodeDir:
		if metaDiffers(a, b) {
			d.emit("U", p+"/")
		}
		return d.trees(a.Subtree, b.Subtree, p, depth+1)
	case repository.NodeSymlink:
		if a.LinkTarget != b.LinkTarget {
			d.emit("M", p)
		} else if metaDiffers(a, b) {
			d.emit("U", p)
		}
	default:
		if !slices.Equal(a.Content, b.Content) || a.Error != b.Error {
			d.emit("M", p)
		} else if metaDiffers(a, b) {
			d.emit("U", p)
		}
	}
	return nil
}

func metaDiffers(a, b *repository.Node) bool {
	return a.Mode != b.Mode || a.UID != b.UID || a.GID != b.GID || !a.ModTime.Equal(b.ModTime) ||
		!slices.EqualFunc(a.Xattrs, b.Xattrs, func(x, y repository.Xattr) bool { return x.Name == y.Name && bytes.Equal(x.Value, y.Value) })
}

// whole reports an added or removed node and, for directories, everything in it.
func (d *differ) whole(mod string, n *repository.Node, p string, depth int) error {
	if n.Type != repository.NodeDir {
		d.emit(mod, p)
		return nil
	}
	d.emit(mod, p+"/")
	if mod == "+" {
		return d.trees(crypto.ID{}, n.Subtree, p, depth+1)
	}
	return d.trees(n.Subtree, crypto.ID{}, p, depth+1)
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// lsEntry is the --json form of one listed node.
type lsEntry struct {
	MessageType string    `json:"message_type"`
	Path        string    `json:"path"`
	Type        string    `json:"type"`
	Mode        string    `json:"mode"`
	Size        uint64    `json:"size"`
	UID         uint32    `json:"uid"`
	GID         uint32    `json:"gid"`
	User        string    `json:"user,omitempty"`
	Group       string    `json:"group,omitempty"`
	ModTime     time.Time `json:"mtime"`
	LinkTarget  string    `json:"link_target,omitempty"`
	Error       string    `json:"error,omitempty"`
}

func runLs(ctx context.Context, e *env, args []string) error {
	f := newFlags("ls")
	var rf repoFlags
	rf.register(f)
	recursive := f.Bool("recursive", true, "list everything below PATH (false: only PATH's direct entries)")
	long := f.Bool("l", false, "long listing with mode, owner, size and time")
	if err := f.parse(args); err != nil {
		return err
	}
	if len(f.args) < 1 || len(f.args) > 2 {
		return usagef("usage: lumbung ls --repo R SNAPSHOT [PATH]")
	}
	repo, err := rf.open(ctx, e, true)
	if err != nil {
		return err
	}
	sn, err := repo.FindSnapshot(ctx, f.args[0], repository.SnapshotFilter{})
	if err != nil {
		return err
	}
	prefix := "/"
	if len(f.args) == 2 {
		prefix = path.Clean("/" + f.args[1])
	}
	p := f.printer(e)
	if err := checkTrees(ctx, repository.NewTreeCounter(repo), sn.Tree); err != nil {
		return err
	}
	found := false
	err = walkTree(ctx, repo, sn.Tree, "/", func(p string, n *repository.Node) (bool, error) {
		inside := p == prefix || strings.HasPrefix(p, strings.TrimSuffix(prefix, "/")+"/")
		above := strings.HasPrefix(prefix, p+"/") || p == "/"
		if !inside {
			return above, nil
		}
		found = true
		if !*recursive && p != prefix && path.Dir(p) != prefix {
			return false, nil
		}
		printNode(e.stdout, f.json, *long, p, n)
		return true, nil
	})
	if err != nil {
		return err
	}
	_ = p
	if !found && prefix != "/" {
		return fmt.Errorf("%s is not in snapshot %s", prefix, sn.ID.Short())
	}
	return nil
}

// newLsEntry is the --json form of node n at path p.
func newLsEntry(p string, n *repository.Node) lsEntry {
	return lsEntry{MessageType: "node", Path: p, Type: n.Type.String(), Mode: fmt.Sprintf("%04o", n.Mode),
		Size: n.Size, UID: n.UID, GID: n.GID, User: n.User, Group: n.Group, ModTime: n.ModTime, LinkTarget: n.LinkTarget, Error: n.Error}
}

func printNode(w io.Writer, asJSON, long bool, p string, n *repository.Node) {
	if asJSON {
		_ = ui.NewPrinter(w, true).Result(newLsEntry(p, n), nil)
		return
	}
	if !long {
		fmt.Fprintln(w, quotePath(p))
		return
	}
	owner := n.User
	if owner == "" {
		owner = fmt.Sprint(n.UID)
	}
	group := n.Group
	if group == "" {
		group = fmt.Sprint(n.GID)
	}
	line := fmt.Sprintf("%s %-8s %-8s %12d %s %s", modeString(n), owner, group, n.Size, n.ModTime.Local().Format(time.DateTime), quotePath(p))
	if n.Type == repository.NodeSymlink {
		line += " -> " + quotePath(n.LinkTarget)
	}
	fmt.Fprintln(w, line)
}

// quotePath shows names with control characters or invalid UTF-8 safely.
func quotePath(p string) string {
	for _, r := range p {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return fmt.Sprintf("%q", p)
		}
	}
	return p
}

func modeString(n *repository.Node) string {
	var m os.FileMode = os.FileMode(n.Mode & 0o777)
	switch n.Type {
	case repository.NodeDir:
		m |= os.ModeDir
	case repository.NodeSymlink:
		m |= os.ModeSymlink
	}
	if n.Mode&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if n.Mode&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if n.Mode&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m.String()
}

// walkTree visits every node below tree in name order. fn returns whether to
// descend into a directory.
func walkTree(ctx context.Context, repo *repository.Repository, tree crypto.ID, dir string, fn func(string, *repository.Node) (bool, error)) error {
	return walkTreeDepth(ctx, repo, tree, dir, fn, 0)
}

// checkTrees refuses, before any output, snapshots whose trees never end
// (repository.ErrTreeBomb): a forged repository would make the walk endless.
func checkTrees(ctx context.Context, c *repository.TreeCounter, trees ...crypto.ID) error {
	for _, t := range trees {
		if _, err := c.Count(ctx, t); err != nil {
			return err
		}
	}
	return nil
}

func walkTreeDepth(ctx context.Context, repo *repository.Repository, tree crypto.ID, dir string, fn func(string, *repository.Node) (bool, error), depth int) error {
	if depth > repository.MaxTreeDepth {
		return fmt.Errorf("tree below %s is nested more than %d levels: damaged or hostile repository", dir, repository.MaxTreeDepth)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := repo.LoadTree(ctx, tree)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", dir, err)
	}
	for _, n := range t.Nodes {
		p := path.Join(dir, n.Name)
		descend, err := fn(p, n)
		if err != nil {
			return err
		}
		if descend && n.Type == repository.NodeDir {
			if err := walkTreeDepth(ctx, repo, n.Subtree, p, fn, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

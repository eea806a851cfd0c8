package archiver

import (
	"context"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

// TestOneFileSystem: with OneFileSystem a file system mounted below the
// path is saved as an empty directory (with its metadata), without it its
// files are saved.
func TestOneFileSystem(t *testing.T) {
	if !fsmeta.IsRoot() {
		t.Skip("mounting a file system needs root")
	}
	src := t.TempDir()
	testutil.WriteFile(t, filepath.Join(src, "data.txt"), []byte("di sini"))
	mnt := filepath.Join(src, "mnt")
	testutil.WriteFile(t, filepath.Join(mnt, "hidden-by-mount"), []byte("x"))
	if err := unix.Mount("lumbung-test", mnt, "tmpfs", 0, "size=1m,mode=0750"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	inside := filepath.Join(mnt, "inside.txt")
	testutil.WriteFile(t, inside, []byte("di file system lain"))

	for _, one := range []bool{true, false} {
		repo := newRepo(t)
		res, err := Backup(context.Background(), repo, []string{src}, Options{OneFileSystem: one})
		if err != nil {
			t.Fatal(err)
		}
		mp := findNode(t, repo, res.Snapshot.Tree, mnt)
		if mp.Type != repository.NodeDir || mp.Mode&0o777 != 0o750 {
			t.Errorf("OneFileSystem %v: mount point saved as %v mode %o, want the directory with mode 750", one, mp.Type, mp.Mode&0o777)
		}
		sub, err := repo.LoadTree(context.Background(), mp.Subtree)
		if err != nil {
			t.Fatal(err)
		}
		if one && len(sub.Nodes) != 0 {
			t.Errorf("OneFileSystem: mount point holds %d entries, want none", len(sub.Nodes))
		}
		if !one && (len(sub.Nodes) != 1 || sub.Nodes[0].Name != "inside.txt") {
			t.Errorf("without OneFileSystem: mount point holds %d entries, want inside.txt", len(sub.Nodes))
		}
		if findNode(t, repo, res.Snapshot.Tree, filepath.Join(src, "data.txt")).Size != 7 {
			t.Error("the file beside the mount point is missing")
		}
	}
}

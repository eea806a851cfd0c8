//go:build unix

package restorer_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/lumbung-id/lumbung/internal/restorer"
)

// diskBytes is how much disk space path uses.
func diskBytes(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512
}

func TestSparseRestore(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	data := make([]byte, 32<<20)
	copy(data[16<<20:], "a little data in the middle")
	writeFile(t, filepath.Join(src, "disk.img"), data, 0o644)
	root, repo, _ := backup(t, src)
	target := newTarget(t)
	restore(t, repo, root, restorer.Options{Target: target})
	compareTrees(t, src, filepath.Join(target, src))

	// Does this file system make holes at all?
	probe := filepath.Join(target, "probe")
	if err := os.WriteFile(probe, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(probe, 32<<20); err != nil {
		t.Fatal(err)
	}
	if diskBytes(t, probe) > 1<<20 {
		t.Skip("the file system does not make holes")
	}
	if n := diskBytes(t, filepath.Join(target, src, "disk.img")); n > 1<<20 {
		t.Errorf("restored 32 MiB image of zeroes uses %d bytes on disk, want a sparse file", n)
	}
}

package restorer

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lumbung-id/lumbung/internal/fsmeta"
)

// Errors about a path too long for one system call name the path, not the
// /proc/self/fd form it was reached through.
func TestLongPathErrorsNameThePath(t *testing.T) {
	dir := t.TempDir()
	long := dir
	for len(long) < 2*shortPathMax {
		long = filepath.Join(long, strings.Repeat("x", 250))
	}
	// Every level but the last exists, made by the wrappers themselves.
	for p := dir; p != filepath.Dir(long); {
		rest := strings.TrimPrefix(filepath.Dir(long), p+"/")
		p = filepath.Join(p, strings.SplitN(rest, "/", 2)[0])
		if err := mkdirPath(p, 0o700); err != nil {
			t.Fatalf("mkdir at depth %d: %v", len(p), err)
		}
	}
	_, err := lstatPath(long)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("lstat of a missing deep path: %v, want not-exist", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != long {
		t.Errorf("error names %q, want the path itself", err)
	}
	if err := renamePath(long, long+"-baru"); err == nil || strings.Contains(err.Error(), "/proc/self/fd") {
		t.Errorf("rename error %v: want one naming the real paths", err)
	}
	if err := mkdirPath(long, 0o700); err != nil {
		t.Fatal(err)
	}
	if m, err := lstatPath(long); err != nil || m.Kind != fsmeta.KindDir {
		t.Errorf("deep directory: %v, %v", m.Kind, err)
	}
	if err := removeAllPath(filepath.Join(dir, strings.Repeat("x", 250))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(dir, strings.Repeat("x", 250))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tree still there after removeAllPath: %v", err)
	}
}

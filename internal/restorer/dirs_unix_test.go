//go:build unix

package restorer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"golang.org/x/sys/unix"
)

// testFile makes a fileState for name in dir, as addFile would.
func testFile(r *restorer, dir *dirRef, name string) *fileState {
	n := &repository.Node{Name: name, Type: repository.NodeFile, Mode: 0o644, ModTime: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)}
	f := &fileState{dir: dir, name: name, tmpName: name + PartialSuffix, node: n}
	r.dirFDs.queued(dir)
	return f
}

func testRestorer() *restorer {
	r := &restorer{root: fsmeta.IsRoot(), now: time.Now(), usedDirs: make(map[[2]uint64]struct{})}
	r.dirFDs.init()
	return r
}

// TestDirSwappedDuringRestore swaps a symlink to a directory outside the
// target in place of a directory files are being restored into: files
// already under way stay in the real directory (written through its
// descriptor), and a directory opened afresh is refused, not followed.
func TestDirSwappedDuringRestore(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	d := filepath.Join(base, "target", "d")
	for _, p := range []string{outside, d} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r := testRestorer()
	m, err := r.ensureDir(d)
	if err != nil {
		t.Fatal(err)
	}
	dir := newDirRef(d, "/d", m, false)
	f1, f2 := testFile(r, dir, "f1"), testFile(r, dir, "f2")

	p1, err := r.createPartialFile(f1) // opens the directory
	if err != nil {
		t.Fatal(err)
	}
	// The swap: d moves away, a symlink to outside takes its place.
	if err := os.Rename(d, d+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, d); err != nil {
		t.Fatal(err)
	}
	p2, err := r.createPartialFile(f2)
	if err != nil {
		t.Fatal(err)
	}
	for _, fp := range []struct {
		f *fileState
		p pfile
	}{{f1, p1}, {f2, p2}} {
		if err := fp.p.writeAt([]byte("data"), 0); err != nil {
			t.Fatal(err)
		}
		if merr, cerr := r.closePartialFile(fp.f, fp.p); merr != nil || cerr != nil {
			t.Fatalf("close: %v, %v", merr, cerr)
		}
		if err := r.movePartialFile(fp.f); err != nil {
			t.Fatal(err)
		}
		r.dirFDs.fileDone(dir)
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("%d entries written through the symlink", len(ents))
	}
	for _, name := range []string{"f1", "f2"} {
		if got, err := os.ReadFile(filepath.Join(d+".moved", name)); err != nil || string(got) != "data" {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	if len(r.dirFDs.open) != 0 {
		t.Errorf("%d directories still open after their files finished", len(r.dirFDs.open))
	}

	// Opened afresh, the swapped path is refused.
	f3 := testFile(r, dir, "f3")
	if _, err := r.createPartialFile(f3); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("create through the swapped directory: %v", err)
	}
	// So is another real directory put in its place.
	if err := os.Remove(d); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	dir2 := newDirRef(d, "/d", m, false) // identity of the original
	if _, err := r.createPartialFile(testFile(r, dir2, "f4")); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("create in a replaced directory: %v", err)
	}
	if ents, _ := os.ReadDir(d); len(ents) != 0 {
		t.Errorf("%d entries written into the replacement", len(ents))
	}
}

// TestDirCacheBound checks that no more than max directory descriptors
// are open, that idle ones make room, and that files fall back to full
// paths when every descriptor is busy.
func TestDirCacheBound(t *testing.T) {
	base := t.TempDir()
	r := testRestorer()
	r.dirFDs.max = 2
	var dirs []*dirRef
	var files []*fileState
	for i := range 5 {
		p := filepath.Join(base, string(rune('a'+i)))
		m, err := r.ensureDir(p)
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, newDirRef(p, "", m, false))
		files = append(files, testFile(r, dirs[i], "f"))
	}
	for _, f := range files {
		p, err := r.createPartialFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p.close()
		if n := len(r.dirFDs.open); n > 2 || r.dirFDs.n > 2 {
			t.Fatalf("%d (%d) directories open", n, r.dirFDs.n)
		}
	}
	// Both open descriptors busy: the next directory is used by path.
	var busy []*dirRef
	for _, d := range dirs {
		if d.fd.open {
			busy = append(busy, d)
			if _, err := r.dirFDs.acquire(d); err != nil {
				t.Fatal(err)
			}
		}
	}
	var other *dirRef
	for _, d := range dirs {
		if !d.fd.open {
			other = d
		}
	}
	if fd, err := r.dirFDs.acquire(other); err != nil || fd != unix.AT_FDCWD {
		t.Errorf("acquire with every descriptor busy: %d, %v", fd, err)
	}
	r.dirFDs.release(other)
	for _, d := range busy {
		r.dirFDs.release(d)
	}
	for i, f := range files {
		if err := r.movePartialFile(f); err != nil {
			t.Fatal(err)
		}
		r.dirFDs.fileDone(dirs[i])
		if _, err := os.Stat(filepath.Join(dirs[i].path, "f")); err != nil {
			t.Error(err)
		}
	}
	if len(r.dirFDs.open) != 0 || r.dirFDs.n != 0 {
		t.Errorf("%d (%d) directories open at the end", len(r.dirFDs.open), r.dirFDs.n)
	}
}

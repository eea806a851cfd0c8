//go:build unix

package archiver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openAt, mkdirAt, writeAt and symlinkAt work relative to an open
// directory, for trees whose paths are too long for the path-taking calls.
func openAt(dir *os.File, name string) (*os.File, error) {
	if err := unix.Mkdirat(int(dir.Fd()), name, 0o755); err != nil && err != unix.EEXIST {
		return nil, err
	}
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), dir.Name()+"/"+name), nil
}

func writeAt(t *testing.T, dir *os.File, name string, data []byte) {
	t.Helper()
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if _, err := unix.Write(fd, data); err != nil {
		t.Fatal(err)
	}
}

func symlinkAt(t *testing.T, dir *os.File, target, name string) {
	t.Helper()
	if err := unix.Symlinkat(target, int(dir.Fd()), name); err != nil {
		t.Fatal(err)
	}
}

// A tree deeper than the system's longest path (PATH_MAX, 4096 bytes on
// Linux) is backed up whole: directories are listed and files opened one
// directory at a time below the limit.
func TestBackupPathLongerThanPathMax(t *testing.T) {
	src := t.TempDir()
	dir := src
	long := strings.Repeat("d", 200)
	for range 25 { // 25 × 201 bytes: past 4096
		dir = filepath.Join(dir, long)
	}
	mkdirLong(t, src, dir)
	repo := newRepo(t)
	res, err := Backup(context.Background(), repo, []string{src}, Options{})
	if err != nil {
		t.Fatalf("backup of a deep tree: %v", err)
	}
	got := map[string][]byte{}
	readBack(t, repo, res.Snapshot.Tree, "", got)
	want := filepath.ToSlash(filepath.Join(dir, "berkas.txt"))
	if string(got[want]) != "isi di kedalaman\n" {
		t.Fatalf("the deep file is missing or wrong (%d bytes of a %d-byte path)", len(got[want]), len(want))
	}
	if link := findNode(t, repo, res.Snapshot.Tree, filepath.Join(dir, "tautan")); link.LinkTarget != "berkas.txt" {
		t.Errorf("deep symlink target %q, want berkas.txt", link.LinkTarget)
	}
}

// mkdirLong makes dir (below base) and, in it, berkas.txt and a symlink
// tautan to it, one directory at a time, since the path is too long for
// the system calls that take paths.
func mkdirLong(t *testing.T, base, dir string) {
	t.Helper()
	rel, err := filepath.Rel(base, dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { f.Close() }()
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		sub, err := openAt(f, c) // makes c first
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		f = sub
	}
	writeAt(t, f, "berkas.txt", []byte("isi di kedalaman\n"))
	symlinkAt(t, f, "berkas.txt", "tautan")
}

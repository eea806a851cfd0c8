package fsmeta

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func TestKindOf(t *testing.T) {
	tests := []struct {
		mode fs.FileMode
		want Kind
	}{
		{0o644, KindFile},
		{fs.ModeDir | 0o755, KindDir},
		{fs.ModeSymlink | 0o777, KindSymlink},
		{fs.ModeNamedPipe, KindSpecial},
		{fs.ModeSocket, KindSpecial},
		{fs.ModeDevice, KindSpecial},
		{fs.ModeDevice | fs.ModeCharDevice, KindSpecial},
		{fs.ModeIrregular | fs.ModeDir, KindSpecial},
	}
	for _, tt := range tests {
		if got := KindOf(tt.mode); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.mode, got, tt.want)
		}
	}
	if KindDir.String() != "dir" || Kind(99).String() != "unknown" {
		t.Error("Kind.String")
	}
}

func TestModeBits(t *testing.T) {
	if got := modeBits(0o755 | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | fs.ModeDir); got != 0o7755 {
		t.Errorf("modeBits = %o", got)
	}
}

func TestSameFile(t *testing.T) {
	a := Meta{Inode: 5, Device: 1}
	if !SameFile(a, Meta{Inode: 5, Device: 1}) || SameFile(a, Meta{Inode: 5, Device: 2}) ||
		SameFile(a, Meta{Inode: 6, Device: 1}) || SameFile(Meta{}, Meta{}) {
		t.Error("SameFile")
	}
}

// A FileInfo without a platform Sys value still converts.
func TestFromFileInfoNoSys(t *testing.T) {
	mt := time.Date(2024, 8, 17, 10, 0, 0, 5, time.UTC)
	fsys := fstest.MapFS{"a.txt": {Data: []byte("abc"), Mode: 0o640, ModTime: mt}}
	fi, err := fs.Stat(fsys, "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := FromFileInfo(fi)
	want := Meta{Kind: KindFile, Mode: 0o640, Size: 3, ModTime: mt, ChangeTime: mt, AccessTime: mt}
	if m != want {
		t.Errorf("got %+v, want %+v", m, want)
	}
}

func TestLstatBasic(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := Lstat(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != KindFile || m.Size != 5 || m.ModTime.IsZero() || m.ChangeTime.IsZero() {
		t.Errorf("file meta %+v", m)
	}
	if _, err := Lstat(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
	d, err := Lstat(dir)
	if err != nil || d.Kind != KindDir {
		t.Errorf("dir meta %+v, %v", d, err)
	}
}

func TestSetTimesPortable(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	mt := time.Date(2023, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := SetTimes(f, mt, mt, false); err != nil {
		t.Fatal(err)
	}
	m, err := Lstat(f)
	if err != nil {
		t.Fatal(err)
	}
	if !m.ModTime.Equal(mt) {
		t.Errorf("mtime %v, want %v", m.ModTime, mt)
	}
}

func TestNamesConcurrent(t *testing.T) {
	n := NewNames()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				id := uint32((i + j) % 5)
				n.User(id)
				n.Group(id)
				n.UID(fmt.Sprint("no-such-user-", j%3))
				n.GID("root")
			}
		}()
	}
	wg.Wait()
	if _, ok := n.UID(""); ok {
		t.Error("empty name resolved")
	}
	if got := n.User(4294967294); got != n.User(4294967294) {
		t.Error("cached answer differs")
	}
}

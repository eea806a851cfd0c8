package fsmeta

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLstatAtMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), []byte("isi"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", filepath.Join(dir, "link")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name string
		kind Kind
	}{{"file", KindFile}, {"sub", KindDir}, {"link", KindSymlink}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			want, err := Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := LstatAt(d, tc.name, path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != tc.kind {
				t.Errorf("kind %v, want %v", got.Kind, tc.kind)
			}
			if got.Kind != want.Kind || got.Mode != want.Mode || got.Size != want.Size ||
				!got.ModTime.Equal(want.ModTime) || !got.ChangeTime.Equal(want.ChangeTime) ||
				got.UID != want.UID || got.User != want.User || got.Links != want.Links ||
				(want.Inode != 0 && (got.Inode != want.Inode || got.Device != want.Device)) {
				t.Errorf("LstatAt = %+v\nLstat   = %+v", got, want)
			}
		})
	}
	if _, err := LstatAt(d, "missing", filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("missing entry: err %v, want not-exist", err)
	}
}

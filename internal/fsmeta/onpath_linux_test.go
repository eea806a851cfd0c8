package fsmeta

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Path-based calls work on paths far longer than PATH_MAX through OnPath,
// and their errors name the path, not the /proc/self/fd form it was
// reached through.
func TestOnPathLongerThanPathMax(t *testing.T) {
	dir := t.TempDir()
	name := strings.Repeat("x", 250)
	long := dir
	for len(long) < 3*shortPathMax {
		long = filepath.Join(long, name)
	}
	// Every level but the last, made through OnPath itself.
	for p := filepath.Join(dir, name); p != long; p = filepath.Join(p, name) {
		if err := OnPath(p, func(s string) error { return os.Mkdir(s, 0o700) }); err != nil {
			t.Fatalf("mkdir at %d bytes: %v", len(p), err)
		}
	}
	lstat := func(p string) (m Meta, err error) {
		err = OnPath(p, func(s string) (err error) { m, err = Lstat(s); return err })
		return m, err
	}
	_, err := lstat(long)
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || pe.Path != long {
		t.Fatalf("lstat of a missing deep path: %v; want not-exist naming the path", err)
	}
	err = OnPath(long, func(a string) error {
		return OnPath(long+"-baru", func(b string) error { return os.Rename(a, b) })
	})
	var le *os.LinkError
	if !errors.As(err, &le) || le.Old != long || le.New != long+"-baru" {
		t.Errorf("rename error %v: want one naming the real paths", err)
	}
	if err := OnPath(long, func(s string) error { return os.WriteFile(s, []byte("isi"), 0o600) }); err != nil {
		t.Fatal(err)
	}
	if m, err := lstat(long); err != nil || m.Kind != KindFile || m.Size != 3 {
		t.Errorf("deep file: %v %d, %v", m.Kind, m.Size, err)
	}
	top := filepath.Join(dir, name)
	if err := OnPath(top, os.RemoveAll); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(top); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("tree still there: %v", err)
	}
}

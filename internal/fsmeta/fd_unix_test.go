//go:build unix

package fsmeta

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestFDHelpers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	mode := uint32(0o2750)
	if !IsRoot() {
		mode = 0o750
	}
	if err := ChmodFD(fd, path, mode); err != nil {
		t.Fatal(err)
	}
	if m := mustLstat(t, path); m.Mode != mode {
		t.Errorf("mode %o, want %o", m.Mode, mode)
	}
	if IsRoot() {
		if err := ChownFD(fd, path, 1234, 5678, "", "", false); err != nil {
			t.Fatal(err)
		}
		if m := mustLstat(t, path); m.UID != 1234 || m.GID != 5678 {
			t.Errorf("owner %d:%d", m.UID, m.GID)
		}
	}

	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	at := time.Date(2021, 5, 6, 7, 8, 9, 123456789, time.UTC)
	mt := time.Date(2020, 1, 2, 3, 4, 5, 987654321, time.UTC)
	if err := SetTimesAt(int(d.Fd()), "f", path, at, mt); err != nil {
		t.Fatal(err)
	}
	if m := mustLstat(t, path); !m.ModTime.Equal(mt) || !m.AccessTime.Equal(at) {
		t.Errorf("times %v %v", m.AccessTime, m.ModTime)
	}
	// A zero time is left as it is; AT_FDCWD takes a path.
	if err := SetTimesAt(unix.AT_FDCWD, path, path, time.Time{}, mt.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if m := mustLstat(t, path); !m.ModTime.Equal(mt.Add(time.Second)) || !m.AccessTime.Equal(at) {
		t.Errorf("times %v %v", m.AccessTime, m.ModTime)
	}

	// Never through a final symlink.
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("victim", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	before := mustLstat(t, victim)
	SetTimesAt(int(d.Fd()), "link", filepath.Join(dir, "link"), at, mt)
	if after := mustLstat(t, victim); !after.ModTime.Equal(before.ModTime) {
		t.Errorf("symlink followed: victim mtime %v", after.ModTime)
	}

	err = SetTimesAt(int(d.Fd()), "missing", filepath.Join(dir, "missing"), at, mt)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != filepath.Join(dir, "missing") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

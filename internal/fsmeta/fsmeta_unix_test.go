//go:build unix

package fsmeta

import (
	"errors"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func mustLstat(t *testing.T, path string) Meta {
	t.Helper()
	m, err := Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLstatKinds(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	sub := filepath.Join(dir, "sub")
	link := filepath.Join(dir, "link")
	fifo := filepath.Join(dir, "fifo")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", link); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]Kind{file: KindFile, sub: KindDir, link: KindSymlink, fifo: KindSpecial} {
		if got := mustLstat(t, path).Kind; got != want {
			t.Errorf("%s: kind %v, want %v", filepath.Base(path), got, want)
		}
	}
	if m := mustLstat(t, link); m.Size != int64(len("file")) {
		t.Errorf("symlink size %d: Lstat followed the link?", m.Size)
	}
}

func TestOwnerAndTimes(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := mustLstat(t, f)
	if m.UID != uint32(os.Geteuid()) || m.GID != uint32(os.Getegid()) {
		t.Errorf("uid/gid %d/%d, want %d/%d", m.UID, m.GID, os.Geteuid(), os.Getegid())
	}
	if u, err := user.LookupId(strconv.Itoa(os.Geteuid())); err == nil && m.User != u.Username {
		t.Errorf("user %q, want %q", m.User, u.Username)
	}
	if g, err := user.LookupGroupId(strconv.Itoa(os.Getegid())); err == nil && m.Group != g.Name {
		t.Errorf("group %q, want %q", m.Group, g.Name)
	}
	if m.ChangeTime.IsZero() || m.AccessTime.IsZero() || m.Inode == 0 || m.Links != 1 {
		t.Errorf("meta %+v", m)
	}
	if time.Since(m.ChangeTime) > time.Hour || time.Since(m.ChangeTime) < -time.Hour {
		t.Errorf("ctime %v is not now", m.ChangeTime)
	}
}

func TestFromFileInfoMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), []byte("abc"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		got := FromFileInfo(fi)
		want := mustLstat(t, filepath.Join(dir, e.Name()))
		want.AccessTime = got.AccessTime // Lstat may run after an atime update
		if got != want {
			t.Errorf("%s: FromFileInfo %+v\nLstat %+v", e.Name(), got, want)
		}
	}
}

func TestChmodModeBits(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []uint32{0o640, 0o4755, 0o2750, 0o6700, 0o400, 0o7777 &^ 0o1000} {
		if err := Chmod(f, mode); err != nil {
			t.Fatalf("Chmod(%o): %v", mode, err)
		}
		if got := mustLstat(t, f).Mode; got != mode {
			t.Errorf("mode %o after Chmod(%o)", got, mode)
		}
	}
	if err := Chmod(f, 0o100644); err != nil { // file type bits are masked off
		t.Fatal(err)
	}
	if got := mustLstat(t, f).Mode; got != 0o644 {
		t.Errorf("mode %o, want 644", got)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Chmod(sub, 0o1777); err != nil {
		t.Fatal(err)
	}
	if got := mustLstat(t, sub).Mode; got != 0o1777 {
		t.Errorf("dir mode %o, want 1777", got)
	}

	// On a symlink Chmod does nothing, in particular not to the target.
	link := filepath.Join(dir, "link")
	if err := os.Symlink("f", link); err != nil {
		t.Fatal(err)
	}
	if err := Chmod(link, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := mustLstat(t, f).Mode; got != 0o644 {
		t.Errorf("Chmod on symlink changed the target to %o", got)
	}
	if err := Chmod(filepath.Join(dir, "missing"), 0o644); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestSetTimesNanoseconds(t *testing.T) {
	setters := map[string]func(path string, atime, mtime time.Time) error{
		"by path": func(path string, atime, mtime time.Time) error { return SetTimes(path, atime, mtime, false) },
	}
	if CanSetTimesFD {
		setters["by descriptor"] = func(path string, atime, mtime time.Time) error {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			return SetTimesFD(int(f.Fd()), path, atime, mtime)
		}
	}
	for name, set := range setters {
		t.Run(name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "f")
			if err := os.WriteFile(f, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			atime := time.Unix(1600000000, 987654321)
			mtime := time.Unix(1700000000, 123456789)
			if err := set(f, atime, mtime); err != nil {
				t.Fatal(err)
			}
			m := mustLstat(t, f)
			if !m.ModTime.Equal(mtime) || !m.AccessTime.Equal(atime) {
				t.Errorf("times %v / %v, want %v / %v", m.AccessTime, m.ModTime, atime, mtime)
			}

			// Zero leaves a time unchanged.
			mtime2 := time.Unix(1500000000, 1)
			if err := set(f, time.Time{}, mtime2); err != nil {
				t.Fatal(err)
			}
			m = mustLstat(t, f)
			if !m.ModTime.Equal(mtime2) || !m.AccessTime.Equal(atime) {
				t.Errorf("after zero atime: %v / %v", m.AccessTime, m.ModTime)
			}
			atime2 := time.Unix(1400000000, 5)
			if err := set(f, atime2, time.Time{}); err != nil {
				t.Fatal(err)
			}
			m = mustLstat(t, f)
			if !m.ModTime.Equal(mtime2) || !m.AccessTime.Equal(atime2) {
				t.Errorf("after zero mtime: %v / %v", m.AccessTime, m.ModTime)
			}
			if err := set(f, time.Time{}, time.Time{}); err != nil {
				t.Fatal(err)
			}
			if m2 := mustLstat(t, f); !m2.ModTime.Equal(mtime2) {
				t.Errorf("both zero changed mtime to %v", m2.ModTime)
			}
			// Before 1970 works too.
			old := time.Date(1965, 5, 4, 3, 2, 1, 500, time.UTC)
			if err := set(f, old, old); err != nil {
				t.Fatal(err)
			}
			if m := mustLstat(t, f); !m.ModTime.Equal(old) {
				t.Errorf("mtime %v, want %v", m.ModTime, old)
			}
		})
	}
}

func TestSetTimesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	link := filepath.Join(dir, "link")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tt := time.Unix(1400000000, 42)
	if err := SetTimes(target, tt, tt, false); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("target", link); err != nil {
		t.Fatal(err)
	}
	lt := time.Unix(1650000000, 777)
	if err := SetTimes(link, lt, lt, true); err != nil {
		t.Fatal(err)
	}
	if m := mustLstat(t, link); !m.ModTime.Equal(lt) {
		t.Errorf("symlink mtime %v, want %v", m.ModTime, lt)
	}
	if m := mustLstat(t, target); !m.ModTime.Equal(tt) || !m.AccessTime.Equal(tt) {
		t.Errorf("target times changed to %v / %v", m.AccessTime, m.ModTime)
	}
	// Even when the caller believes it is not a symlink, the link is not followed.
	if err := SetTimes(link, lt.Add(time.Hour), lt.Add(time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if m := mustLstat(t, target); !m.ModTime.Equal(tt) {
		t.Errorf("target mtime changed to %v", m.ModTime)
	}
}

func TestChown(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	uid, gid := uint32(os.Geteuid()), uint32(os.Getegid())
	if err := Chown(f, uid, gid, "", "", false); err != nil {
		t.Fatalf("chown to own ids: %v", err)
	}
	// Unknown names fall back to the numeric ids.
	if err := Chown(f, uid, gid, "no-such-user-lumbung", "no-such-group-lumbung", true); err != nil {
		t.Fatal(err)
	}
	if m := mustLstat(t, f); m.UID != uid || m.GID != gid {
		t.Errorf("owner %d:%d", m.UID, m.GID)
	}
	// Known names win over the stored ids when preferred.
	if u, err := user.LookupId(strconv.Itoa(int(uid))); err == nil && IsRoot() {
		if err := Chown(f, 4242, 4242, u.Username, "", true); err != nil {
			t.Fatal(err)
		}
		if m := mustLstat(t, f); m.UID != uid || m.GID != 4242 {
			t.Errorf("owner %d:%d, want %d:4242", m.UID, m.GID, uid)
		}
	}

	// lchown: a symlink's owner changes, not its target's.
	link := filepath.Join(dir, "link")
	if err := os.Symlink("f", link); err != nil {
		t.Fatal(err)
	}
	if err := Chown(link, uid, gid, "", "", false); err != nil {
		t.Fatal(err)
	}
	if IsRoot() {
		if err := Chown(link, 12345, 23456, "", "", false); err != nil {
			t.Fatal(err)
		}
		if m := mustLstat(t, link); m.UID != 12345 || m.GID != 23456 {
			t.Errorf("link owner %d:%d", m.UID, m.GID)
		}
		if m := mustLstat(t, f); m.UID == 12345 {
			t.Error("Chown followed the symlink")
		}
	} else if err := Chown(f, uid+1, gid, "", "", false); err == nil {
		t.Error("non-root chown to another user succeeded")
	}
}

func TestIsRoot(t *testing.T) {
	if IsRoot() != (os.Geteuid() == 0) {
		t.Error("IsRoot")
	}
}

func TestHardLinks(t *testing.T) {
	dir := t.TempDir()
	a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
	if err := os.WriteFile(a, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(a, b); err != nil {
		t.Fatal(err)
	}
	ma, mb, mc := mustLstat(t, a), mustLstat(t, b), mustLstat(t, c)
	if ma.Links != 2 || mb.Links != 2 || mc.Links != 1 {
		t.Errorf("links %d %d %d, want 2 2 1", ma.Links, mb.Links, mc.Links)
	}
	if !SameFile(ma, mb) || SameFile(ma, mc) {
		t.Error("SameFile on hard links")
	}
}

func TestOpenNoFollow(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("isi berkas"), 0o644); err != nil {
		t.Fatal(err)
	}
	fh, err := OpenNoFollow(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(fh)
	if err != nil || string(data) != "isi berkas" {
		t.Errorf("read %q, %v", data, err)
	}
	if m := fh.Meta(); !SameFile(m, mustLstat(t, f)) || m.Size != int64(len("isi berkas")) || m.Kind != KindFile {
		t.Errorf("opened file is not the stat'ed one: %+v", m)
	}
	if err := fh.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := fh.Read(make([]byte, 4)); !errors.Is(err, os.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	if err := fh.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second close: %v", err)
	}
	if fh, err := OpenNoFollow(dir); !errors.Is(err, ErrNotRegular) {
		if err == nil {
			fh.Close()
		}
		t.Errorf("opening a directory: %v, want ErrNotRegular", err)
	}

	link := filepath.Join(dir, "link")
	if err := os.Symlink("f", link); err != nil {
		t.Fatal(err)
	}
	if fh, err := OpenNoFollow(link); err == nil {
		fh.Close()
		t.Error("OpenNoFollow followed a symlink")
	}

	// A FIFO with no writer must not hang the open; it is refused.
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		fh, err := OpenNoFollow(fifo)
		if err != nil {
			done <- err
			return
		}
		defer fh.Close()
		_, err = io.ReadAll(fh)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("opening a FIFO: %v, want ErrNotRegular", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenNoFollow blocked on a FIFO")
	}
}

// O_NOATIME is refused for files we do not own; OpenNoFollow retries.
func TestOpenNoFollowNotOwner(t *testing.T) {
	for _, p := range []string{"/etc/passwd", "/etc/hostname", "/etc/os-release"} {
		m, err := Lstat(p)
		if err != nil || m.Kind != KindFile || m.UID == uint32(os.Geteuid()) {
			continue
		}
		fh, err := OpenNoFollow(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		fh.Close()
		return
	}
	t.Skip("no readable file owned by another user")
}

// openNew writes a small file in a new directory and opens it with
// OpenNoFollow; it is closed when the test ends.
func openNew(t *testing.T) *File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := OpenNoFollow(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestOpenNoFollowNoatime(t *testing.T) {
	fh := openNew(t)
	flags, err := unix.FcntlInt(uintptr(fh.fd), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if oNoatime != 0 && flags&oNoatime == 0 {
		t.Error("own file opened without O_NOATIME")
	}
}

// OpenNoFollow leaves O_NONBLOCK on; a file system that honours it for a
// regular file (some FUSE ones) makes read return EAGAIN, and Read must
// then wait for the data instead of failing. A pipe stands in for such a
// file.
func TestReadWaitsWhenNonblockIsHonoured(t *testing.T) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil { // Pipe2 is not on every unix (macOS)
		t.Fatal(err)
	}
	if err := unix.SetNonblock(p[0], true); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[1])
	fh := &File{fd: p[0], path: "pipe"}
	defer fh.Close()
	go func() {
		time.Sleep(50 * time.Millisecond)
		unix.Write(p[1], []byte("late"))
	}()
	buf := make([]byte, 8)
	n, err := fh.Read(buf)
	if err != nil || string(buf[:n]) != "late" {
		t.Fatalf("Read = %q, %v; want the data written after 50 ms", buf[:n], err)
	}
}

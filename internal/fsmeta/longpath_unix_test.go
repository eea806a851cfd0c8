//go:build unix

package fsmeta

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// deepDir makes n directories of 200-byte names below base, one at a time,
// and returns the last one's path and an open descriptor of it.
func deepDir(t *testing.T, base string, n int) (string, int) {
	t.Helper()
	fd, err := unix.Open(base, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := base
	name := strings.Repeat("d", 200)
	for range n {
		if err := unix.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.Close(fd)
		fd, path = next, path+"/"+name
	}
	t.Cleanup(func() { unix.Close(fd) })
	return path, fd
}

func TestOpenLongPaths(t *testing.T) {
	base := t.TempDir()
	// The prefix that fits may go through a symlink, as with any path.
	realBase := filepath.Join(base, "asli")
	if err := os.Mkdir(realBase, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("asli", filepath.Join(base, "tautan")); err != nil {
		t.Fatal(err)
	}
	deep, fd := deepDir(t, realBase, 25)
	viaLink := strings.Replace(deep, realBase, filepath.Join(base, "tautan"), 1)
	if len(deep) < 4096 {
		t.Fatalf("test path is only %d bytes", len(deep))
	}
	wfd, err := unix.Openat(fd, "berkas.txt", unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Write(wfd, []byte("dalam sekali"))
	unix.Close(wfd)

	for _, p := range []string{deep, viaLink, deep + "/"} {
		f, err := OpenNoFollow(strings.TrimSuffix(p, "/") + "/berkas.txt")
		if err != nil {
			t.Fatalf("open a file %d bytes deep: %v", len(p), err)
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(data) != "dalam sekali" {
			t.Errorf("read %q, %v", data, err)
		}
		d, err := OpenDir(p)
		if err != nil {
			t.Fatalf("open a directory %d bytes deep: %v", len(p), err)
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil || len(names) != 1 || names[0] != "berkas.txt" {
			t.Errorf("listing: %v, %v", names, err)
		}
	}

	// Below the prefix nothing is reached through a symlink: a deep
	// directory swapped for a symlink makes the open fail.
	gp, gfd := deepDir(t, t.TempDir(), 24)
	if err := unix.Symlinkat(".", gfd, strings.Repeat("d", 200)); err != nil {
		t.Fatal(err)
	}
	// Followed, the link would lead here.
	wfd, err = unix.Openat(gfd, "berkas.txt", unix.O_WRONLY|unix.O_CREAT, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(wfd)
	through := gp + "/" + strings.Repeat("d", 200) + "/berkas.txt"
	if f, err := OpenNoFollow(through); !errors.Is(err, unix.ELOOP) && !errors.Is(err, unix.ENOTDIR) {
		if err == nil {
			f.Close()
		}
		t.Errorf("opened %d bytes through a symlink below the prefix: %v, want ELOOP", len(through), err)
	}
}

package restorer

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func openDirFD(t *testing.T, dir string) int {
	t.Helper()
	dfd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(dfd) })
	return dfd
}

// The probe finds a way to name unnamed files and leaves nothing behind;
// both ways of naming give the file its content, and neither replaces an
// existing name.
func TestAnonFiles(t *testing.T) {
	dir := t.TempDir()
	dfd := openDirFD(t, dir)
	how := probeAnon(dfd, "probe")
	if how == anonOff {
		t.Fatal("no unnamed files on this file system (O_TMPFILE and linkat are expected on Linux's ext4 and tmpfs)")
	}
	if os.Geteuid() == 0 && how != anonEmptyPath {
		t.Errorf("as root the probe chose %d, want linkat with AT_EMPTY_PATH", how)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("the probe left %v", ents)
	}
	for _, way := range []int{anonEmptyPath, anonProc} {
		if way == anonEmptyPath && how != anonEmptyPath {
			continue // not allowed to this user here
		}
		fd, err := openat(dfd, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		name := "named" + string(rune('0'+way))
		if _, err := unix.Pwrite(fd, []byte("isi berkas"), 0); err != nil {
			t.Fatal(err)
		}
		if err := linkAnon(way, fd, dfd, name); err != nil {
			t.Fatalf("way %d: %v", way, err)
		}
		if err := linkAnon(way, fd, dfd, name); err != unix.EEXIST {
			t.Errorf("way %d: linking over an existing name: %v, want EEXIST", way, err)
		}
		unix.Close(fd)
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != "isi berkas" {
			t.Errorf("way %d: %q, %v", way, got, err)
		}
	}
}

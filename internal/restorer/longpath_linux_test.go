package restorer_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lumbung-id/lumbung/internal/restorer"
)

// deepName is one level of a tree deeper than PATH_MAX (4096 bytes).
var deepName = strings.Repeat("d", 200)

const deepLevels = 30 // 30 × 201 bytes: far beyond one system call's path

// openDeep opens the deepest directory below base, level by level.
func openDeep(t *testing.T, base string, create bool) int {
	t.Helper()
	fd, err := unix.Open(base, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range deepLevels {
		if create {
			if err := unix.Mkdirat(fd, deepName, 0o750); err != nil {
				t.Fatal(err)
			}
		}
		next, err := unix.Openat(fd, deepName, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	return fd
}

func writeAt(t *testing.T, dfd int, name string, data []byte, mode uint32, mtime time.Time) {
	t.Helper()
	fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(fd, data); err != nil {
		t.Fatal(err)
	}
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
}

func readAt(t *testing.T, dfd int, name string) ([]byte, unix.Stat_t) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, st
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var out []byte
	buf := make([]byte, 1<<20)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return out, st
		}
		out = append(out, buf[:n]...)
	}
}

// A tree deeper than PATH_MAX is backed up (relative to open directories),
// so it must restore too: files small and large (direct I/O), a symlink, a
// hard link and the directories' modes, twice into the same target (the
// second run replaces what the first left).
func TestRestoreDeeperThanPathMax(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 6, 20, 8, 0, 0, 0, time.UTC)
	small, large := []byte("data kependudukan\n"), randBytes(7, 3<<20+123)
	dfd := openDeep(t, src, true)
	writeAt(t, dfd, "warga.csv", small, 0o640, mtime)
	writeAt(t, dfd, "arsip.bin", large, 0o600, mtime)
	if err := unix.Symlinkat("warga.csv", dfd, "terbaru"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Linkat(dfd, "warga.csv", dfd, "salinan.csv", 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(dfd)

	root, repo, _ := backup(t, src)
	target := newTarget(t)
	for run := 1; run <= 2; run++ {
		res := restore(t, repo, root, restorer.Options{Target: target})
		if res.Failed != 0 {
			t.Fatalf("run %d: %d entries not restored: %v", run, res.Failed, res.Errors)
		}
		got := openDeep(t, filepath.Join(target, src), false)
		for name, want := range map[string][]byte{"warga.csv": small, "arsip.bin": large, "salinan.csv": small} {
			data, st := readAt(t, got, name)
			if !bytes.Equal(data, want) {
				t.Errorf("run %d: %s: %d bytes, want %d identical", run, name, len(data), len(want))
			}
			if st.Mtim.Sec != mtime.Unix() {
				t.Errorf("run %d: %s: mtime %d, want %d", run, name, st.Mtim.Sec, mtime.Unix())
			}
		}
		_, a := readAt(t, got, "warga.csv")
		_, b := readAt(t, got, "salinan.csv")
		if a.Ino != b.Ino {
			t.Errorf("run %d: the hard link was restored as a separate file", run)
		}
		if _, st := readAt(t, got, "arsip.bin"); st.Mode&0o7777 != 0o600 {
			t.Errorf("run %d: arsip.bin mode %o, want 600", run, st.Mode&0o7777)
		}
		buf := make([]byte, 64)
		n, err := unix.Readlinkat(got, "terbaru", buf)
		if err != nil || string(buf[:n]) != "warga.csv" {
			t.Errorf("run %d: symlink: %q, %v", run, buf[:n], err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(got, &st); err != nil || st.Mode&0o7777 != 0o750 {
			t.Errorf("run %d: deepest directory mode %o (%v), want 750", run, st.Mode&0o7777, err)
		}
		unix.Close(got)
	}
}

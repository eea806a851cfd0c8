//go:build unix

package local

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// A real full disk is not cheap to make in a test; check the mapping of the
// errors the kernel returns.
func TestNoSpaceMapping(t *testing.T) {
	l := newLocal(t)
	h := pack("full")
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT} {
		err := l.saveErr(h, &os.PathError{Op: "write", Path: "x", Err: errno})
		if !errors.Is(err, backend.ErrNoSpace) || !errors.Is(err, errno) {
			t.Errorf("%v: %v does not match ErrNoSpace and the cause", errno, err)
		}
		if !strings.Contains(err.Error(), "full") || !strings.Contains(err.Error(), l.dir) {
			t.Errorf("%v: message %q does not say which disk is full", errno, err)
		}
	}
	err := l.saveErr(h, &os.LinkError{Op: "link", Err: syscall.EACCES})
	if !errors.Is(err, backend.ErrPermission) {
		t.Errorf("EACCES: %v does not match ErrPermission", err)
	}
	err = l.saveErr(h, &os.LinkError{Op: "link", Err: syscall.EEXIST})
	if !errors.Is(err, backend.ErrExists) {
		t.Errorf("EEXIST: %v does not match ErrExists", err)
	}
	if !linkUnsupported(&os.LinkError{Op: "link", Err: syscall.EPERM}) || !linkUnsupported(&os.LinkError{Op: "link", Err: syscall.EOPNOTSUPP}) {
		t.Error("EPERM/EOPNOTSUPP from link not taken as unsupported")
	}
}

// Permission errors surface as ErrPermission (not meaningful as root).
func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores permissions")
	}
	l := newLocal(t)
	h := pack("denied")
	dir := l.dir + "/data/" + h.Name[:2]
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if err := l.Save(t.Context(), h, []byte("x")); !errors.Is(err, backend.ErrPermission) {
		t.Errorf("Save into a read-only directory: %v, want ErrPermission", err)
	}
	if got := tmpEntries(t, l); len(got) != 0 {
		t.Errorf("temporary files left: %v", got)
	}
}

// TestNoSpaceReal fills a real small filesystem. It runs only when
// LUMBUNG_TEST_SMALLFS names an empty directory on one, for example as root:
//
//	mount -t tmpfs -o size=1m tmpfs /mnt/small
//	LUMBUNG_TEST_SMALLFS=/mnt/small go test -run NoSpaceReal ./internal/backend/local
func TestNoSpaceReal(t *testing.T) {
	dir := os.Getenv("LUMBUNG_TEST_SMALLFS")
	if dir == "" {
		t.Skip("LUMBUNG_TEST_SMALLFS not set")
	}
	l, err := Create(t.Context(), dir+"/repo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir + "/repo") })
	var saveErr error
	for i := 0; saveErr == nil && i < 10000; i++ {
		saveErr = l.Save(t.Context(), pack(strconv.Itoa(i)), make([]byte, 256<<10))
	}
	if !errors.Is(saveErr, backend.ErrNoSpace) {
		t.Fatalf("filling the disk: %v, want ErrNoSpace", saveErr)
	}
	t.Logf("full disk reported as: %v", saveErr)
	if got := tmpEntries(t, l); len(got) != 0 {
		t.Errorf("temporary files left after ENOSPC: %v", got)
	}
}

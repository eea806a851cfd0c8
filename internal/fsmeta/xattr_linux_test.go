package fsmeta

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Setting attributes: a file system that holds none (or not this kind)
// says so with ErrXattrUnsupported, at the first attribute; other failures
// are errors of their own; without root, attributes only root may set are
// not tried.
func TestSetXattrsErrors(t *testing.T) {
	xs := []Xattr{{Name: "security.selinux", Value: []byte("x")}, {Name: "system.posix_acl_access", Value: []byte{2, 0, 0, 0}}, {Name: "user.a", Value: []byte("b")}}
	for _, tc := range []struct {
		name        string
		root        bool
		fail        error
		wantTried   int
		unsupported bool
	}{
		{"all set as root", true, nil, 3, false},
		{"root-only skipped without root", false, nil, 2, false},
		{"no xattrs on the target", true, unix.ENOTSUP, 1, true},
		{"refused", true, unix.EPERM, 3, false},
	} {
		tried := 0
		err := setXattrs("/t/f", xs, tc.root, func(name string, value []byte) error {
			tried++
			return tc.fail
		})
		if tried != tc.wantTried {
			t.Errorf("%s: %d attributes tried, want %d", tc.name, tried, tc.wantTried)
		}
		if got := errors.Is(err, ErrXattrUnsupported); got != tc.unsupported {
			t.Errorf("%s: %v: unsupported %v, want %v", tc.name, err, got, tc.unsupported)
		}
		if (err != nil) != (tc.fail != nil) {
			t.Errorf("%s: error %v", tc.name, err)
		}
	}
}

// Reading attributes through a descriptor and by path gives the same
// sorted list: none, a few, and so many long names that their list does
// not fit the first buffer (the kernel's ERANGE, then a larger one).
func TestXattrsRead(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		attrs int
	}{{"none", 0}, {"few", 3}, {"many", 20}} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		var want []Xattr
		for i := range tc.attrs {
			// 20 names of 60 bytes: 1.2 KiB of names, past the 1 KiB the
			// first listing reads into (ext4 holds 4 KiB per file).
			name := fmt.Sprintf("user.%02d.%s", i, strings.Repeat("n", 51))
			value := []byte(fmt.Sprint("v", i))
			if i == 0 {
				value = bytes.Repeat([]byte("v"), 300) // past getxattr's first 256 bytes
			}
			if err := unix.Setxattr(path, name, value, 0); err != nil {
				if errors.Is(err, unix.ENOTSUP) {
					t.Fatalf("the test directory's file system holds no extended attributes (%s): run the tests on ext4, xfs or btrfs", path)
				}
				t.Fatal(err)
			}
			want = append(want, Xattr{Name: name, Value: value})
		}
		f, err := OpenNoFollow(path)
		if err != nil {
			t.Fatal(err)
		}
		byFD, err := f.Xattrs()
		f.Close()
		if err != nil {
			t.Fatalf("%s: through the descriptor: %v", tc.name, err)
		}
		byPath, err := XattrsPath(path)
		if err != nil {
			t.Fatalf("%s: by path: %v", tc.name, err)
		}
		for how, got := range map[string][]Xattr{"descriptor": byFD, "path": byPath} {
			if !slices.EqualFunc(got, want, func(a, b Xattr) bool { return a.Name == b.Name && bytes.Equal(a.Value, b.Value) }) {
				t.Errorf("%s through the %s: %d attributes, want %d in order", tc.name, how, len(got), len(want))
			}
		}
	}
}

// A backup asks every file for its attributes: for the usual file, which
// has none, that allocates nothing (it was 1 KiB of garbage per file).
func TestXattrsFDNoneAllocatesNothing(t *testing.T) {
	f := openNew(t)
	if n := testing.AllocsPerRun(100, func() {
		if xs, err := f.Xattrs(); err != nil || xs != nil {
			t.Fatalf("xattrs %v, %v", xs, err)
		}
	}); n != 0 {
		t.Errorf("%v allocations per file without attributes, want 0", n)
	}
}

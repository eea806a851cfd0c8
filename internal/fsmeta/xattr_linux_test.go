package fsmeta

import (
	"errors"
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

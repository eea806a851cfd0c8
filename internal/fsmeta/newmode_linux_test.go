package fsmeta

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestUmask(t *testing.T) {
	for _, mask := range []int{0o022, 0o077, 0o002, 0} {
		old := unix.Umask(mask)
		got, ok := Umask()
		unix.Umask(old)
		if !ok || got != uint32(mask) {
			t.Errorf("umask %03o: read %03o, %v", mask, got, ok)
		}
	}
}

func TestMayHaveDefaultACL(t *testing.T) {
	dir := t.TempDir()
	if MayHaveDefaultACL(dir) {
		t.Errorf("a new directory is said to have a default ACL")
	}
	// user::rwx group::r-x other::--- as Linux stores a default ACL.
	acl := []byte{2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 4, 0, 5, 0, 255, 255, 255, 255, 32, 0, 0, 0, 255, 255, 255, 255}
	if err := unix.Lsetxattr(dir, "system.posix_acl_default", acl, 0); err != nil {
		t.Fatalf("set a default ACL (the test directory's file system must hold ACLs: ext4, xfs, btrfs): %v", err)
	}
	if !MayHaveDefaultACL(dir) {
		t.Errorf("a directory with a default ACL is said to have none")
	}
	if !MayHaveDefaultACL(dir + "/missing") {
		t.Errorf("a directory that cannot be looked at is said to have no default ACL")
	}
}

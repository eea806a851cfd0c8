package fsmeta

import "testing"

func TestXattrSettable(t *testing.T) {
	for _, tc := range []struct {
		name       string
		root, user bool
	}{
		{"user.DOSATTRIB", true, true},
		{"system.posix_acl_access", true, true},
		{"system.posix_acl_default", true, true},
		{"security.capability", true, false},
		{"security.selinux", true, false},
		{"trusted.overlay.opaque", true, false},
	} {
		if got := XattrSettable(tc.name, true); got != tc.root {
			t.Errorf("%s as root: %v, want %v", tc.name, got, tc.root)
		}
		if got := XattrSettable(tc.name, false); got != tc.user {
			t.Errorf("%s without root: %v, want %v", tc.name, got, tc.user)
		}
	}
}

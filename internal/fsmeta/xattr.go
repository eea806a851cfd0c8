package fsmeta

import (
	"errors"
	"strings"
)

// Xattr is one extended attribute: its full name ("user.x",
// "system.posix_acl_access", "security.selinux", "security.capability")
// and its value as the kernel stores it. ACLs and file capabilities are
// extended attributes on Linux, so keeping these keeps them.
type Xattr struct {
	Name  string
	Value []byte
}

// ErrXattrUnsupported says the file system (or system) holds no extended
// attributes: nothing more is to be set on it.
var ErrXattrUnsupported = errors.New("the file system does not support extended attributes")

// XattrSettable reports whether a process with or without root can set an
// attribute of this name: an unprivileged one can set user attributes and
// ACLs of its own files, not security or trusted ones.
func XattrSettable(name string, root bool) bool {
	return root || strings.HasPrefix(name, "user.") || strings.HasPrefix(name, "system.posix_acl_")
}

//go:build !linux

package testservers

import "os/exec"

// dieWithParent does nothing here: only Linux can tie a child's life to its
// parent's. Main still stops the servers when the tests end normally.
func dieWithParent(*exec.Cmd) {}

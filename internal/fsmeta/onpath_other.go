//go:build !linux

package fsmeta

// OnPath runs fn with path. Paths longer than one system call accepts are
// reached this way only on Linux (see onpath_linux.go); Go's os package
// handles them on Windows.
func OnPath(path string, fn func(p string) error) error { return fn(path) }

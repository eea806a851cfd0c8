//go:build !unix

package fsmeta

import "os"

// OpenDir opens the directory path for listing (os.Open: Go makes long
// paths work on Windows itself).
func OpenDir(path string) (*os.File, error) { return os.Open(path) }

// ReadlinkAt reads the target of the symlink at path (name in dir).
func ReadlinkAt(_ *os.File, _, path string) (string, error) { return os.Readlink(path) }

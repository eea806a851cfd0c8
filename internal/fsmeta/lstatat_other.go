//go:build !linux

package fsmeta

import "os"

// LstatAt is Lstat of the entry name in the open directory dir; path is the
// same entry's full path. Here it simply stats path.
func LstatAt(_ *os.File, _, path string) (Meta, error) { return Lstat(path) }

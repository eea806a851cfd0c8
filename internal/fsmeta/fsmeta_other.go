//go:build !unix && !windows

package fsmeta

// Only the fields of fs.FileInfo itself are known here.
func fromSys(any, *Meta)       {}
func lstatExtra(string, *Meta) {}

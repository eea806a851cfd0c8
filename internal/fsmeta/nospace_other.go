//go:build !unix && !windows

package fsmeta

// IsNoSpace reports whether err means the disk is full: unknown here.
func IsNoSpace(error) bool { return false }

//go:build !linux

package fsmeta

// Umask is known on Linux only (see newmode_linux.go).
func Umask() (mask uint32, ok bool) { return 0, false }

// MayHaveDefaultACL is true where it cannot be told (see newmode_linux.go).
func MayHaveDefaultACL(string) bool { return true }

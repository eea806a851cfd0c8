//go:build !linux

package restorer

// onPath runs fn with path: paths longer than the system takes are
// reached only on Linux (see longpath_linux.go).
func onPath(path string, fn func(p string) error) error { return fn(path) }

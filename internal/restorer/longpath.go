package restorer

import (
	"io/fs"
	"os"

	"github.com/lumbung-id/lumbung/internal/fsmeta"
)

// The restore names most entries by full path. A snapshot may hold paths
// longer than a system call accepts (PATH_MAX, 4096 bytes on Linux: backup
// opens deep trees one directory at a time, so they exist); these wrappers
// give such a path to the call in a form it accepts (fsmeta.OnPath).

// onPath is fsmeta.OnPath.
func onPath(path string, fn func(p string) error) error { return fsmeta.OnPath(path, fn) }

func mkdirPath(path string, mode fs.FileMode) error {
	return onPath(path, func(p string) error { return os.Mkdir(p, mode) })
}

func lstatPath(path string) (m fsmeta.Meta, err error) {
	err = onPath(path, func(p string) (err error) {
		m, err = fsmeta.Lstat(p)
		return err
	})
	return m, err
}

func chmodPath(path string, mode uint32) error {
	return onPath(path, func(p string) error { return fsmeta.Chmod(p, mode) })
}

func removePath(path string) error {
	return onPath(path, func(p string) error { return os.Remove(p) })
}

func removeAllPath(path string) error {
	return onPath(path, func(p string) error { return os.RemoveAll(p) })
}

func openPath(path string, flag int, mode fs.FileMode) (f *os.File, err error) {
	err = onPath(path, func(p string) (err error) {
		f, err = os.OpenFile(p, flag, mode)
		return err
	})
	return f, err
}

func symlinkPath(target, path string) error {
	return onPath(path, func(p string) error { return os.Symlink(target, p) })
}

func linkPath(oldPath, newPath string) error {
	return onPaths(oldPath, newPath, os.Link)
}

func renamePath(oldPath, newPath string) error {
	return onPaths(oldPath, newPath, os.Rename)
}

// onPaths is onPath for calls that take two paths.
func onPaths(a, b string, fn func(a, b string) error) error {
	return onPath(a, func(sa string) error {
		return onPath(b, func(sb string) error { return fn(sa, sb) })
	})
}

//go:build !unix && !windows

package local

import "errors"

// syncDir does nothing on systems without a known way to sync a directory.
func syncDir(dir string) error { return nil }

func linkUnsupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }

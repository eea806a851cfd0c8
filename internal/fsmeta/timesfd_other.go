//go:build unix && !linux

package fsmeta

import (
	"errors"
	"time"
)

// CanSetTimesFD says SetTimesFD works here: not on this system, where
// times are set by name (SetTimesAt).
const CanSetTimesFD = false

// SetTimesFD is not available here.
func SetTimesFD(fd int, path string, atime, mtime time.Time) error { return errors.ErrUnsupported }

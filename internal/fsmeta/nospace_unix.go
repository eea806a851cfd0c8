//go:build unix

package fsmeta

import (
	"errors"
	"syscall"
)

// IsNoSpace reports whether err means the disk or the user's quota is full.
func IsNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

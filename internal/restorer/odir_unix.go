//go:build unix && !linux

package restorer

import "golang.org/x/sys/unix"

// oDirOpen opens directories for *at calls.
const oDirOpen = unix.O_RDONLY

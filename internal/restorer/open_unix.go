//go:build unix

package restorer

import "golang.org/x/sys/unix"

// oNoFollow makes opening a symlink fail instead of following it.
const oNoFollow = unix.O_NOFOLLOW

// checkNameOS adds nothing on unix: ValidName already refuses '/' and NUL.
func checkNameOS(string) error { return nil }

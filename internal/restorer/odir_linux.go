package restorer

import "golang.org/x/sys/unix"

// oDirOpen opens directories only as a handle for *at calls (O_PATH): no
// read permission is needed, and nothing is read through it.
const oDirOpen = unix.O_PATH

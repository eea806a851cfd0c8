package fsmeta

import "golang.org/x/sys/unix"

// oNoatime keeps reads from updating the access time (Linux only; the
// kernel allows it to the file's owner and to root).
const oNoatime = unix.O_NOATIME

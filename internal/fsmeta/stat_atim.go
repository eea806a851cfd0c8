//go:build aix || dragonfly || linux || openbsd || solaris

package fsmeta

import (
	"syscall"
	"time"
)

func statTimes(st *syscall.Stat_t) (atime, mtime, ctime time.Time) {
	return timespec(int64(st.Atim.Sec), int64(st.Atim.Nsec)),
		timespec(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
		timespec(int64(st.Ctim.Sec), int64(st.Ctim.Nsec))
}

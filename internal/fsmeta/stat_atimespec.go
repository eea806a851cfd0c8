//go:build darwin || freebsd || netbsd

package fsmeta

import (
	"syscall"
	"time"
)

func statTimes(st *syscall.Stat_t) (atime, mtime, ctime time.Time) {
	return timespec(int64(st.Atimespec.Sec), int64(st.Atimespec.Nsec)),
		timespec(int64(st.Mtimespec.Sec), int64(st.Mtimespec.Nsec)),
		timespec(int64(st.Ctimespec.Sec), int64(st.Ctimespec.Nsec))
}

//go:build unix

package rest_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) this process has used:
// client and server of the benchmarks both run in it, and unlike wall
// time it hardly moves when other work shares the machine.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

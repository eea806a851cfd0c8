package testservers

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill the server when the test binary dies
// (a panic, a timeout, kill -9), so no server outlives its tests.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

package layers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// stateLockWait bounds how long Record waits for another process holding
// the state lock: a record takes milliseconds, so a longer wait means a
// stuck process, and a backup must not hang behind it.
const stateLockWait = 30 * time.Second

// errLockBusy is returned by tryLock when another process holds the lock.
var errLockBusy = errors.New("locked by another process")

// lockState takes the exclusive lock that serialises the read-modify-write
// of the state file at path, across processes. The lock is an OS file lock
// (flock on unix, LockFileEx on Windows) on path+".lock": the system drops
// it when its holder dies, so a killed lumbung never leaves a stale lock.
// The lock file itself is never removed (removing it would let two
// processes lock two different files).
func lockState(path string) (unlock func(), err error) {
	lp := path + ".lock"
	if err := os.MkdirAll(filepath.Dir(lp), 0o700); err != nil {
		return nil, fmt.Errorf("lock state file: %w", err)
	}
	f, err := os.OpenFile(lp, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state file: %w", err)
	}
	deadline := time.Now().Add(stateLockWait)
	delay := time.Millisecond
	for {
		err := tryLock(f)
		if err == nil {
			return func() {
				_ = unlockFile(f)
				f.Close()
			}, nil
		}
		if !errors.Is(err, errLockBusy) {
			f.Close()
			return nil, fmt.Errorf("lock state file %s: %w", lp, err)
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("state file %s is still locked by another lumbung after %v: wait for it to finish (or find the stuck process) and retry", path, stateLockWait)
		}
		time.Sleep(delay)
		delay = min(delay*2, 50*time.Millisecond)
	}
}

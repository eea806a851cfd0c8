package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// Lock timing: a holder refreshes its lock (writes a new one, removes the
// old) every lockRefresh; a lock older than LockStaleAfter belongs to a
// crashed holder and is ignored, so a crash cannot block the repository for
// ever.
const (
	lockRefresh    = 5 * time.Minute
	LockStaleAfter = 30 * time.Minute
)

var lockAD = []byte("lumbung/lock")

// LockInfo is the content of a lock file.
type LockInfo struct {
	Time      time.Time `json:"time"`
	Exclusive bool      `json:"exclusive"`
	Hostname  string    `json:"hostname"`
	Username  string    `json:"username,omitempty"`
	PID       int       `json:"pid"`
}

// Stale reports whether the lock's holder must be presumed dead, so that
// nobody honours the lock: it was not refreshed for LockStaleAfter, or it
// is dated more than MaxClockSkew in the future (no live holder writes
// that; honouring it would let anyone who may add files block the
// repository until that date).
func (l *LockInfo) Stale(now time.Time) bool {
	return now.Sub(l.Time) > LockStaleAfter || l.Time.Sub(now) > MaxClockSkew
}

// FromFuture reports whether the lock is stale because of a time too far
// ahead (see Stale).
func (l *LockInfo) FromFuture(now time.Time) bool {
	return l.Time.Sub(now) > MaxClockSkew
}

// ErrLocked means another process holds a conflicting lock.
var ErrLocked = errors.New("repository is locked")

// Lock is a held lock; Unlock releases it.
type Lock struct {
	r      *Repository
	mu     sync.Mutex
	id     crypto.ID
	info   LockInfo
	cancel context.CancelFunc
	done   chan struct{}
}

// Lock takes a shared (backup, check, restore) or exclusive (prune) lock.
// A shared lock conflicts only with live exclusive locks.
func (r *Repository) Lock(ctx context.Context, exclusive bool) (*Lock, error) {
	info := LockInfo{Time: time.Now().UTC(), Exclusive: exclusive, PID: os.Getpid()}
	info.Hostname, _ = os.Hostname()
	id, err := r.saveJSON(ctx, backend.LockFile, lockAD, info)
	if err != nil {
		return nil, fmt.Errorf("create lock: %w", err)
	}
	l := &Lock{r: r, id: id, info: info}
	if err := r.checkLocks(ctx, id, exclusive); err != nil {
		_ = r.be.Remove(context.WithoutCancel(ctx), backend.Handle{Type: backend.LockFile, Name: id.String()})
		return nil, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel, l.done = cancel, make(chan struct{})
	go l.refreshLoop(rctx)
	return l, nil
}

// checkLocks fails if a live lock other than own conflicts.
func (r *Repository) checkLocks(ctx context.Context, own crypto.ID, exclusive bool) error {
	locks, err := r.Locks(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	for id, l := range locks {
		if id == own || l.Stale(now) {
			continue
		}
		if exclusive || l.Exclusive {
			kind := "shared"
			if l.Exclusive {
				kind = "exclusive"
			}
			return fmt.Errorf("%w: %s lock held by PID %d on %s since %s; wait for it to finish, or if that process is dead run `lumbung unlock`",
				ErrLocked, kind, l.PID, l.Hostname, l.Time.Local().Format(time.DateTime))
		}
	}
	return nil
}

// Locks reads every lock file. Unreadable lock files are skipped: a lock that
// cannot be read cannot be honoured, and check reports it.
func (r *Repository) Locks(ctx context.Context) (map[crypto.ID]*LockInfo, error) {
	ids, err := listIDs(ctx, r.be, backend.LockFile)
	if err != nil {
		return nil, err
	}
	out := make(map[crypto.ID]*LockInfo, len(ids))
	for _, id := range ids {
		plain, err := r.loadSealed(ctx, backend.LockFile, id, lockAD, 1<<16)
		if err != nil {
			continue // removed meanwhile or damaged
		}
		var l LockInfo
		if json.Unmarshal(plain, &l) == nil {
			out[id] = &l
		}
	}
	return out, nil
}

// RemoveStaleLocks deletes locks whose holders are presumed dead (all locks
// when all is true) and returns how many were removed.
func (r *Repository) RemoveStaleLocks(ctx context.Context, all bool) (int, error) {
	locks, err := r.Locks(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	now := time.Now()
	host, _ := os.Hostname()
	for id, l := range locks {
		deadHere := l.Hostname == host && !processAlive(l.PID)
		if all || l.Stale(now) || deadHere {
			if err := r.be.Remove(ctx, backend.Handle{Type: backend.LockFile, Name: id.String()}); err != nil && !errors.Is(err, backend.ErrNotExist) {
				return n, fmt.Errorf("remove lock %s: %w", id.Short(), err)
			}
			n++
		}
	}
	return n, nil
}

func (l *Lock) refreshLoop(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(lockRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.refresh(ctx)
		}
	}
}

func (l *Lock) refresh(ctx context.Context) {
	l.mu.Lock()
	defer l.mu.Unlock()
	info := l.info
	info.Time = time.Now().UTC()
	id, err := l.r.saveJSON(ctx, backend.LockFile, lockAD, info)
	if err != nil {
		return // try again next tick; the old lock stays valid until stale
	}
	// On append-only storage the old lock cannot be removed; it goes stale
	// LockStaleAfter after its time, and stale locks block nobody.
	_ = l.r.be.Remove(ctx, backend.Handle{Type: backend.LockFile, Name: l.id.String()})
	l.id, l.info = id, info
}

// Unlock stops refreshing and removes the lock file.
//
// Storage that refuses removal (backend.ErrPermission: an append-only
// credential, S3 Object Lock) keeps the lock file; that is not an error.
// Every reader ignores a lock LockStaleAfter after its time (Stale), so
// the leftover blocks nothing for long, and an exclusive locker (prune)
// runs with a credential that may remove it.
func (l *Lock) Unlock(ctx context.Context) error {
	if l == nil {
		return nil
	}
	l.cancel()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.r.be.Remove(context.WithoutCancel(ctx), backend.Handle{Type: backend.LockFile, Name: l.id.String()})
	if err != nil && !errors.Is(err, backend.ErrNotExist) && !errors.Is(err, backend.ErrPermission) {
		return fmt.Errorf("remove lock: %w", err)
	}
	return nil
}

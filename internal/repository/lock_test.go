package repository

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
)

// appendOnly refuses every removal, as a repository server does for an
// append token and S3 does under Object Lock.
type appendOnly struct{ *mem.Mem }

func (a appendOnly) Remove(ctx context.Context, h backend.Handle) error {
	return fmt.Errorf("remove %v: %w", h, backend.ErrPermission)
}

func TestLocksOnAppendOnlyStorage(t *testing.T) {
	ctx := context.Background()
	m := mem.New()
	be := appendOnly{m}
	r, err := Init(ctx, be, []byte("pw"), Options{KDF: crypto.TestKDF})
	if err != nil {
		t.Fatal(err)
	}
	l, err := r.Lock(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatalf("Unlock on storage that refuses removal: %v; want the lock left behind and no error", err)
	}
	locks, err := r.Locks(ctx)
	if err != nil || len(locks) != 1 {
		t.Fatalf("locks %v, err %v: want the leftover", locks, err)
	}

	// Leftovers, forged or not, block only while live.
	now := time.Now().UTC()
	cases := []struct {
		name   string
		info   LockInfo
		blocks bool
	}{
		{"live exclusive", LockInfo{Time: now, Exclusive: true, Hostname: "x", PID: 1}, true},
		{"stale exclusive", LockInfo{Time: now.Add(-LockStaleAfter - time.Minute), Exclusive: true, Hostname: "x", PID: 1}, false},
		{"exclusive from 2099", LockInfo{Time: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), Exclusive: true, Hostname: "x", PID: 1}, false},
		{"exclusive a little ahead", LockInfo{Time: now.Add(time.Hour), Exclusive: true, Hostname: "x", PID: 1}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := mem.New()
			r, err := Init(ctx, appendOnly{m}, []byte("pw"), Options{KDF: crypto.TestKDF})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := r.saveJSON(ctx, backend.LockFile, lockAD, tc.info); err != nil {
				t.Fatal(err)
			}
			l, err := r.Lock(ctx, false)
			if blocked := errors.Is(err, ErrLocked); blocked != tc.blocks {
				t.Fatalf("shared lock: err %v, want blocked=%v", err, tc.blocks)
			}
			if err == nil {
				if err := l.Unlock(ctx); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// Package faulty wraps a backend to inject faults for reliability tests:
// failed or lost Saves, failed, corrupted or truncated Loads, a full disk,
// slow calls and calls that hang until their context ends.
//
// It is for tests only and must never be used on a real repository: some
// faults (corrupt or truncated Loads) deliberately break the backend
// guarantees so that tests can check that callers detect the damage.
//
// Knobs may be changed at any time, also while calls are running. All
// randomness comes from a seeded generator (see Seed), so a failing test can
// be replayed — provided calls arrive in the same order.
package faulty

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// ErrInjected is matched (errors.Is) by every error Faulty makes up.
var ErrInjected = errors.New("faulty: injected fault")

// Faulty is a backend.Backend that passes calls to an inner backend and
// injects the faults its knobs select. The zero knobs inject nothing.
type Faulty struct {
	b backend.Backend

	mu             sync.Mutex
	rng            *rand.Rand
	failNthSave    int     // countdown; the Save that brings it to 0 fails
	failSaveP      float64 // probability that a Save fails
	failAfterStore bool    // injected Save failures happen after storing
	failLoadP      float64 // probability that a Load fails
	corrupt        bool
	truncate       bool
	spaceLeft      int64 // bytes Save may still store; < 0 means unlimited
	delay          time.Duration
	hang           bool
	injected       int
}

var _ backend.Backend = (*Faulty)(nil)

// Wrap returns b wrapped with no faults enabled and the generator seeded
// with 1.
func Wrap(b backend.Backend) *Faulty {
	return &Faulty{b: b, rng: newRand(1), spaceLeft: -1}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6c756d62756e67)) }

// Unwrap returns the inner backend.
func (f *Faulty) Unwrap() backend.Backend { return f.b }

// Seed reseeds the generator behind the probabilistic knobs.
func (f *Faulty) Seed(seed uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rng = newRand(seed)
}

// Reset turns every fault off. The generator and the Injected count stay.
func (f *Faulty) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNthSave, f.failSaveP, f.failAfterStore, f.failLoadP = 0, 0, false, 0
	f.corrupt, f.truncate, f.spaceLeft, f.delay, f.hang = false, false, -1, 0, false
}

// FailNthSave makes the n-th Save from now fail (n = 1: the next one), once.
// n <= 0 cancels it.
func (f *Faulty) FailNthSave(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNthSave = max(n, 0)
}

// FailSaves makes every Save fail with probability p (0 off, 1 always).
func (f *Faulty) FailSaves(p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failSaveP = p
}

// FailAfterStore chooses when injected Save failures (FailNthSave, FailSaves)
// happen: false (the default) fails before anything is stored; true stores
// the file first and then reports failure, like a connection lost just after
// the server committed. A retry then meets backend.ErrExists.
func (f *Faulty) FailAfterStore(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failAfterStore = on
}

// FailLoads makes every Load fail with probability p (0 off, 1 always).
func (f *Faulty) FailLoads(p float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failLoadP = p
}

// CorruptLoads makes every non-empty Load return its data with one bit
// flipped: the lowest bit of the byte at index len(data)/2. No error is
// reported; callers must notice through their checksums.
func (f *Faulty) CorruptLoads(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.corrupt = on
}

// TruncateLoads makes every Load return only the first half (rounded down)
// of its data, with no error. Applied before CorruptLoads.
func (f *Faulty) TruncateLoads(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.truncate = on
}

// NoSpaceAfter lets Saves store n more bytes in total; a Save that would go
// beyond fails, storing nothing, with an error matching backend.ErrNoSpace
// (and ErrInjected). n < 0 means unlimited again.
func (f *Faulty) NoSpaceAfter(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.spaceLeft = max(n, -1)
}

// Delay makes every call that takes a context wait d first (or until the
// context ends, which then fails the call).
func (f *Faulty) Delay(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.delay = d
}

// Hang makes every call that takes a context block until the context ends
// and return its error: callers that never cancel will hang, which is the
// point.
func (f *Faulty) Hang(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hang = on
}

// Injected returns how many faults have been injected so far.
func (f *Faulty) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected
}

// wait applies the Hang and Delay knobs.
func (f *Faulty) wait(ctx context.Context) error {
	f.mu.Lock()
	hang, delay := f.hang, f.delay
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Location returns the inner location prefixed with "faulty:".
func (f *Faulty) Location() string { return "faulty:" + f.b.Location() }

// Save stores data through the inner backend unless a fault is selected.
func (f *Faulty) Save(ctx context.Context, h backend.Handle, data []byte) error {
	if err := f.wait(ctx); err != nil {
		return fmt.Errorf("save %v: %w", h, err)
	}
	f.mu.Lock()
	fail := false
	if f.failNthSave > 0 {
		f.failNthSave--
		fail = f.failNthSave == 0
	}
	if f.failSaveP > 0 && f.rng.Float64() < f.failSaveP {
		fail = true
	}
	afterStore := f.failAfterStore
	reserved := int64(-1)
	if f.spaceLeft >= 0 && !(fail && !afterStore) {
		if int64(len(data)) > f.spaceLeft {
			f.injected++
			f.mu.Unlock()
			return fmt.Errorf("save %v: %w: %w", h, ErrInjected, backend.ErrNoSpace)
		}
		reserved = int64(len(data))
		f.spaceLeft -= reserved
	}
	if fail && !afterStore {
		f.injected++
	}
	f.mu.Unlock()

	if fail && !afterStore {
		return fmt.Errorf("save %v: %w", h, ErrInjected)
	}
	err := f.b.Save(ctx, h, data)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil && reserved >= 0 && f.spaceLeft >= 0 {
		f.spaceLeft += reserved // nothing was stored
	}
	if err == nil && fail {
		f.injected++
		return fmt.Errorf("save %v: stored, then %w", h, ErrInjected)
	}
	return err
}

// Load loads through the inner backend and applies the Load faults.
func (f *Faulty) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	if err := f.wait(ctx); err != nil {
		return nil, fmt.Errorf("load %v: %w", h, err)
	}
	f.mu.Lock()
	fail := f.failLoadP > 0 && f.rng.Float64() < f.failLoadP
	if fail {
		f.injected++
	}
	f.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("load %v: %w", h, ErrInjected)
	}
	data, err := f.b.Load(ctx, h, offset, length)
	if err != nil {
		return data, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.truncate {
		data = data[:len(data)/2]
		f.injected++
	}
	if f.corrupt && len(data) > 0 {
		data[len(data)/2] ^= 1
		f.injected++
	}
	return data, nil
}

// Stat passes through after the Hang and Delay knobs.
func (f *Faulty) Stat(ctx context.Context, h backend.Handle) (backend.FileInfo, error) {
	if err := f.wait(ctx); err != nil {
		return backend.FileInfo{}, fmt.Errorf("stat %v: %w", h, err)
	}
	return f.b.Stat(ctx, h)
}

// List passes through after the Hang and Delay knobs.
func (f *Faulty) List(ctx context.Context, t backend.FileType, fn func(backend.FileInfo) error) error {
	if err := f.wait(ctx); err != nil {
		return fmt.Errorf("list %v: %w", t, err)
	}
	return f.b.List(ctx, t, fn)
}

// Remove passes through after the Hang and Delay knobs.
func (f *Faulty) Remove(ctx context.Context, h backend.Handle) error {
	if err := f.wait(ctx); err != nil {
		return fmt.Errorf("remove %v: %w", h, err)
	}
	return f.b.Remove(ctx, h)
}

// Close closes the inner backend.
func (f *Faulty) Close() error { return f.b.Close() }

package replicate

import (
	"context"

	"golang.org/x/time/rate"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// limited wraps a backend so that the bytes of its Loads (source) or Saves
// (destination) pass at no more than a given rate. Regional links are
// shared with public services, so the limit is a promise to the network
// owner, not a hint.
type limited struct {
	backend.Backend
	lim         *rate.Limiter
	loads, save bool
}

// newLimiter returns a limiter for bytesPerSec, or nil for no limit. The
// burst is an eighth of a second of traffic (at least 4 KiB, at most 1 MiB):
// small enough that short copies stay near the limit, large enough that
// waiting does not dominate.
func newLimiter(bytesPerSec int64) *rate.Limiter {
	if bytesPerSec <= 0 {
		return nil
	}
	burst := min(max(bytesPerSec/8, 4<<10), 1<<20)
	l := rate.NewLimiter(rate.Limit(bytesPerSec), int(burst))
	// Start empty: a full bucket would let the first burst through free
	// and overshoot the limit on small copies.
	l.AllowN(timeNow(), int(burst))
	return l
}

// limit wraps b; lim nil means no limit.
func limit(b backend.Backend, lim *rate.Limiter, loads, saves bool) backend.Backend {
	if lim == nil {
		return b
	}
	return &limited{Backend: b, lim: lim, loads: loads, save: saves}
}

// wait takes n bytes' worth of tokens, in burst-sized steps.
func wait(ctx context.Context, lim *rate.Limiter, n int) error {
	for n > 0 {
		step := min(n, lim.Burst())
		if err := lim.WaitN(ctx, step); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		n -= step
	}
	return nil
}

func (l *limited) Save(ctx context.Context, h backend.Handle, data []byte) error {
	if l.save {
		if err := wait(ctx, l.lim, len(data)); err != nil {
			return err
		}
	}
	return l.Backend.Save(ctx, h, data)
}

// LoadInto is Load for a backend that reads into a given buffer (see
// backend.LoaderInto), paying before the bytes travel.
func (l *limited) LoadInto(ctx context.Context, h backend.Handle, offset, length int64, buf []byte) ([]byte, error) {
	li, ok := l.Backend.(backend.LoaderInto)
	if !ok {
		return l.Load(ctx, h, offset, length)
	}
	if l.loads {
		if err := wait(ctx, l.lim, int(length)); err != nil {
			return nil, err
		}
	}
	return li.LoadInto(ctx, h, offset, length, buf)
}

func (l *limited) Load(ctx context.Context, h backend.Handle, offset, length int64) ([]byte, error) {
	if l.loads && length > 0 {
		// The size is known: pay before the bytes travel.
		if err := wait(ctx, l.lim, int(length)); err != nil {
			return nil, err
		}
		return l.Backend.Load(ctx, h, offset, length)
	}
	b, err := l.Backend.Load(ctx, h, offset, length)
	if err == nil && l.loads {
		// Whole-file loads: pay afterwards, which holds the average rate.
		if err := wait(ctx, l.lim, len(b)); err != nil {
			return nil, err
		}
	}
	return b, err
}

package replicate_test

import (
	"context"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/replicate"
	"github.com/lumbung-id/lumbung/internal/testutil"
)

func TestBandwidthLimit(t *testing.T) {
	ctx := context.Background()
	s := newSource(t, mem.New())
	s.backup(t, map[string][]byte{"a.bin": testutil.RandBytes(1, 160<<10)})
	const limit = 200 << 10 // bytes per second
	for _, tc := range []struct {
		name string
		dst  func() backend.Backend
		opts replicate.Options
	}{
		{"mirror", func() backend.Backend { return mem.New() }, replicate.Options{}},
		{"re-encrypt", func() backend.Backend { b := mem.New(); initRepo(t, b, pwB); return b },
			replicate.Options{SrcPassword: pwA, DstPassword: pwB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := tc.dst()
			opts := tc.opts
			opts.BytesPerSecond = limit
			start := time.Now()
			res, err := replicate.Copy(ctx, s.be, dst, opts)
			if err != nil || !res.OK() {
				t.Fatal(err, res)
			}
			elapsed := time.Since(start).Seconds()
			rate := float64(res.Bytes) / elapsed
			t.Logf("%d bytes in %.2fs: %.0f B/s (limit %d)", res.Bytes, elapsed, rate, limit)
			if res.Bytes < 150<<10 {
				t.Fatalf("copied only %d bytes", res.Bytes)
			}
			// Never faster than the limit (10% slack for timer
			// granularity), and not far slower either.
			if rate > 1.1*limit {
				t.Errorf("%.0f B/s exceeds the limit of %d", rate, limit)
			}
			if rate < 0.6*limit {
				t.Errorf("%.0f B/s is far below the limit of %d", rate, limit)
			}
		})
	}
}

func TestWindow(t *testing.T) {
	tests := []struct {
		in      string
		at      string
		inside  bool
		wantErr bool
	}{
		{"19:00-06:00", "23:30", true, false},
		{"19:00-06:00", "05:59", true, false},
		{"19:00-06:00", "06:00", false, false},
		{"19:00-06:00", "12:00", false, false},
		{"08:00-17:00", "08:00", true, false},
		{"08:00-17:00", "17:00", false, false},
		{"00:00-00:00", "12:34", true, false},
		{"25:00-06:00", "", false, true},
		{"19:00", "", false, true},
		{"19:0-06:00", "", false, true},
	}
	for _, tc := range tests {
		w, err := replicate.ParseWindow(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseWindow(%q) error %v", tc.in, err)
			continue
		}
		if tc.wantErr {
			continue
		}
		at, _ := time.Parse("15:04", tc.at)
		if got := w.Contains(at); got != tc.inside {
			t.Errorf("%q contains %s = %v, want %v", tc.in, tc.at, got, tc.inside)
		}
		if w.String() != tc.in {
			t.Errorf("String() = %q, want %q", w.String(), tc.in)
		}
	}
}

func TestOutsideWindowPauses(t *testing.T) {
	ctx := context.Background()
	s := newSource(t, mem.New())
	twoSnapshots(t, s)
	w, _ := replicate.ParseWindow("19:00-06:00")
	noon := func() time.Time { return time.Date(2026, 1, 5, 12, 0, 0, 0, time.Local) }
	for _, mode := range []struct {
		name string
		dst  backend.Backend
		opts replicate.Options
	}{
		{"mirror", mem.New(), replicate.Options{}},
		{"re-encrypt", func() backend.Backend { b := mem.New(); initRepo(t, b, pwB); return b }(), replicate.Options{SrcPassword: pwA, DstPassword: pwB}},
	} {
		opts := mode.opts
		opts.Window, opts.Now = &w, noon
		res, err := replicate.Copy(ctx, s.be, mode.dst, opts)
		if err != nil {
			t.Fatalf("%s: %v", mode.name, err)
		}
		if !res.Paused || res.Counts()[replicate.Paused] != 2 {
			t.Errorf("%s: paused %v, snapshots %+v", mode.name, res.Paused, res.Snapshots)
		}
		// Inside the window the same copy completes.
		opts.Now = func() time.Time { return time.Date(2026, 1, 5, 22, 0, 0, 0, time.Local) }
		res, err = replicate.Copy(ctx, s.be, mode.dst, opts)
		if err != nil || !res.OK() {
			t.Errorf("%s inside the window: %v %+v", mode.name, err, res.Snapshots)
		}
	}
}

package faulty_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/backendtest"
	"github.com/lumbung-id/lumbung/internal/backend/faulty"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
)

// With no knobs set, Faulty is a conforming pass-through.
func TestConformance(t *testing.T) {
	backendtest.RunTests(t, func(t *testing.T) backend.Backend { return faulty.Wrap(mem.New()) })
}

func h(i int) backend.Handle {
	return backend.Handle{Type: backend.PackFile, Name: backendtest.Name(fmt.Sprint(i))}
}

func stored(t *testing.T, b backend.Backend, hd backend.Handle) bool {
	t.Helper()
	_, err := b.Stat(t.Context(), hd)
	if err != nil && !errors.Is(err, backend.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestFailNthSave(t *testing.T) {
	inner := mem.New()
	f := faulty.Wrap(inner)
	f.FailNthSave(3)
	for i := 1; i <= 5; i++ {
		err := f.Save(t.Context(), h(i), []byte("x"))
		if i == 3 {
			if !errors.Is(err, faulty.ErrInjected) {
				t.Fatalf("Save %d: %v, want ErrInjected", i, err)
			}
			if stored(t, inner, h(i)) {
				t.Fatalf("failed Save %d stored the file", i)
			}
		} else if err != nil {
			t.Fatalf("Save %d: %v", i, err)
		}
	}
	if n := f.Injected(); n != 1 {
		t.Errorf("Injected = %d, want 1", n)
	}
}

func TestFailAfterStore(t *testing.T) {
	inner := mem.New()
	f := faulty.Wrap(inner)
	f.FailAfterStore(true)
	f.FailNthSave(1)
	err := f.Save(t.Context(), h(1), []byte("x"))
	if !errors.Is(err, faulty.ErrInjected) {
		t.Fatalf("Save: %v, want ErrInjected", err)
	}
	if !stored(t, inner, h(1)) {
		t.Fatal("file not stored before the injected failure")
	}
	if err := f.Save(t.Context(), h(1), []byte("x")); !errors.Is(err, backend.ErrExists) {
		t.Fatalf("retry: %v, want ErrExists", err)
	}
}

func TestFailSavesSeeded(t *testing.T) {
	pattern := func(seed uint64) []bool {
		f := faulty.Wrap(mem.New())
		f.Seed(seed)
		f.FailSaves(0.5)
		var p []bool
		for i := range 200 {
			err := f.Save(t.Context(), h(i), []byte("x"))
			if err != nil && !errors.Is(err, faulty.ErrInjected) {
				t.Fatal(err)
			}
			p = append(p, err != nil)
		}
		return p
	}
	a, b := pattern(42), pattern(42)
	fails := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different outcome at Save %d", i)
		}
		if a[i] {
			fails++
		}
	}
	if fails < 60 || fails > 140 {
		t.Errorf("%d of 200 Saves failed with p = 0.5", fails)
	}

	f := faulty.Wrap(mem.New())
	f.FailSaves(1)
	if err := f.Save(t.Context(), h(1), nil); !errors.Is(err, faulty.ErrInjected) {
		t.Errorf("p = 1: %v", err)
	}
	f.Reset()
	if err := f.Save(t.Context(), h(1), nil); err != nil {
		t.Errorf("after Reset: %v", err)
	}
}

func TestLoadFaults(t *testing.T) {
	f := faulty.Wrap(mem.New())
	data := backendtest.Data(1, 101)
	if err := f.Save(t.Context(), h(1), data); err != nil {
		t.Fatal(err)
	}

	f.FailLoads(1)
	if _, err := f.Load(t.Context(), h(1), 0, 0); !errors.Is(err, faulty.ErrInjected) {
		t.Errorf("FailLoads(1): %v", err)
	}
	f.FailLoads(0)

	f.CorruptLoads(true)
	for range 2 { // the same bit every time, and the stored data is intact
		got, err := f.Load(t.Context(), h(1), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		want := bytes.Clone(data)
		want[50] ^= 1
		if !bytes.Equal(got, want) {
			t.Errorf("CorruptLoads: not exactly bit 0 of byte 50 flipped")
		}
	}
	f.CorruptLoads(false)

	f.TruncateLoads(true)
	got, err := f.Load(t.Context(), h(1), 0, 0)
	if err != nil || !bytes.Equal(got, data[:50]) {
		t.Errorf("TruncateLoads: %d bytes, %v; want the first 50", len(got), err)
	}
	f.Reset()
	got, err = f.Load(t.Context(), h(1), 0, 0)
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("after Reset: %d bytes, %v", len(got), err)
	}
	// Errors of the inner backend pass through untouched.
	f.CorruptLoads(true)
	if _, err := f.Load(t.Context(), h(2), 0, 0); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := f.Load(t.Context(), h(1), 0, 200); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("past end: %v", err)
	}
}

func TestNoSpaceAfter(t *testing.T) {
	inner := mem.New()
	f := faulty.Wrap(inner)
	f.NoSpaceAfter(100)
	steps := []struct {
		size int
		ok   bool
	}{{60, true}, {50, false}, {40, true}, {1, false}, {0, true}}
	for i, s := range steps {
		err := f.Save(t.Context(), h(i), make([]byte, s.size))
		if s.ok && err != nil {
			t.Fatalf("Save %d of %d bytes: %v", i, s.size, err)
		}
		if !s.ok {
			if !errors.Is(err, backend.ErrNoSpace) || !errors.Is(err, faulty.ErrInjected) {
				t.Fatalf("Save %d of %d bytes: %v, want ErrNoSpace", i, s.size, err)
			}
			if stored(t, inner, h(i)) {
				t.Fatalf("Save %d stored despite no space", i)
			}
		}
	}
	// A Save the inner backend refuses uses no space.
	f.NoSpaceAfter(10)
	if err := f.Save(t.Context(), h(0), make([]byte, 10)); !errors.Is(err, backend.ErrExists) {
		t.Fatalf("duplicate Save: %v", err)
	}
	if err := f.Save(t.Context(), h(100), make([]byte, 10)); err != nil {
		t.Fatalf("space was not given back: %v", err)
	}
}

func TestDelay(t *testing.T) {
	f := faulty.Wrap(mem.New())
	f.Delay(30 * time.Millisecond)
	start := time.Now()
	if err := f.Save(t.Context(), h(1), nil); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("Save returned after %v, want at least 30ms", d)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Millisecond)
	defer cancel()
	f.Delay(time.Hour)
	if _, err := f.Stat(ctx, h(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stat with a short deadline: %v", err)
	}
}

func TestHang(t *testing.T) {
	f := faulty.Wrap(mem.New())
	if err := f.Save(t.Context(), h(1), []byte("x")); err != nil {
		t.Fatal(err)
	}
	f.Hang(true)
	calls := map[string]func(context.Context) error{
		"Save":   func(ctx context.Context) error { return f.Save(ctx, h(2), nil) },
		"Load":   func(ctx context.Context) error { _, err := f.Load(ctx, h(1), 0, 0); return err },
		"Stat":   func(ctx context.Context) error { _, err := f.Stat(ctx, h(1)); return err },
		"Remove": func(ctx context.Context) error { return f.Remove(ctx, h(1)) },
		"List": func(ctx context.Context) error {
			return f.List(ctx, backend.PackFile, func(backend.FileInfo) error { return nil })
		},
	}
	for name, call := range calls {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- call(ctx) }()
		select {
		case err := <-done:
			t.Fatalf("%s returned %v before its context ended", name, err)
		case <-time.After(20 * time.Millisecond):
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: %v, want context.Canceled", name, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not return after cancel", name)
		}
	}
	f.Hang(false)
	if !stored(t, f, h(1)) || stored(t, f, h(2)) {
		t.Error("hung calls changed the stored files")
	}
}

// Package backendtest is the conformance suite every backend must pass: it
// checks, through the backend.Backend interface only, the guarantees written
// on that interface (atomic no-overwrite Save, read after write, sentinel
// errors, validation of handles, context cancellation, concurrency).
//
// It must only ever run against scratch storage: it saves and removes files
// freely and expects each backend it is given to start empty.
package backendtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/lumbung-id/lumbung/internal/backend"
)

// RunTests runs the suite as parallel subtests of t. newBackend must return
// a new, empty backend each time it is called (possibly from several
// goroutines at once); the suite closes it when the subtest ends.
//
// Besides the interface's guarantees the suite pins down these conventions:
// the FileInfo of the config (from Stat and List) has Name "config"; loading
// at offset == size with length 0 returns no data and no error; any other
// read past the end fails with an error matching io.ErrUnexpectedEOF; a
// cancelled context fails every method with an error matching
// context.Canceled; invalid handles are refused with an error that does not
// match backend.ErrNotExist.
func RunTests(t *testing.T, newBackend func(t *testing.T) backend.Backend) {
	open := func(t *testing.T) backend.Backend {
		t.Helper()
		b := newBackend(t)
		t.Cleanup(func() {
			if err := b.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return b
	}
	tests := []struct {
		name string
		fn   func(*testing.T, func(*testing.T) backend.Backend)
	}{
		{"RoundTrip", testRoundTrip},
		{"PartialLoad", testPartialLoad},
		{"LoadPastEnd", testLoadPastEnd},
		{"LoadInto", testLoadInto},
		{"NoOverwrite", testNoOverwrite},
		{"Missing", testMissing},
		{"InvalidHandles", testInvalidHandles},
		{"List", testList},
		{"ListStops", testListStops},
		{"ConcurrentDistinct", testConcurrentDistinct},
		{"ConcurrentSameName", testConcurrentSameName},
		{"Cancelled", testCancelled},
		{"Empty", testEmpty},
		{"Large", testLarge},
		{"NoAliasing", testNoAliasing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open)
		})
	}
}

// Name returns a deterministic valid name (64 lowercase hex digits) for
// label, spread over all pack prefixes.
func Name(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])
}

// Data returns n deterministic pseudo-random bytes for seed.
func Data(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	key[2], key[3] = byte(seed>>16), byte(seed>>24)
	buf := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(buf)
	return buf
}

func handle(t backend.FileType, label string) backend.Handle {
	if t == backend.ConfigFile {
		return backend.Handle{Type: t}
	}
	return backend.Handle{Type: t, Name: Name(label)}
}

func infoName(h backend.Handle) string {
	if h.Type == backend.ConfigFile {
		return "config"
	}
	return h.Name
}

func save(t *testing.T, b backend.Backend, h backend.Handle, data []byte) {
	t.Helper()
	if err := b.Save(t.Context(), h, data); err != nil {
		t.Fatalf("Save(%v): %v", h, err)
	}
}

func load(t *testing.T, b backend.Backend, h backend.Handle, offset, length int64) []byte {
	t.Helper()
	data, err := b.Load(t.Context(), h, offset, length)
	if err != nil {
		t.Fatalf("Load(%v, %d, %d): %v", h, offset, length, err)
	}
	return data
}

func checkLoad(t *testing.T, b backend.Backend, h backend.Handle, want []byte) {
	t.Helper()
	got := load(t, b, h, 0, 0)
	if !bytes.Equal(got, want) {
		t.Fatalf("Load(%v) = %d bytes, want the %d saved (contents differ: %v)", h, len(got), len(want), len(got) == len(want))
	}
}

// list returns name -> size for every file of type ft.
func list(t *testing.T, b backend.Backend, ft backend.FileType) map[string]int64 {
	t.Helper()
	m := make(map[string]int64)
	err := b.List(t.Context(), ft, func(fi backend.FileInfo) error {
		if _, dup := m[fi.Name]; dup {
			t.Errorf("List(%v) reported %q twice", ft, fi.Name)
		}
		m[fi.Name] = fi.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List(%v): %v", ft, err)
	}
	return m
}

func checkList(t *testing.T, b backend.Backend, ft backend.FileType, want map[string]int64) {
	t.Helper()
	got := list(t, b, ft)
	for name, size := range want {
		gs, ok := got[name]
		switch {
		case !ok:
			t.Errorf("List(%v) misses %q", ft, name)
		case gs != size:
			t.Errorf("List(%v): %q has size %d, want %d", ft, name, gs, size)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("List(%v) reports %q, which is not stored", ft, name)
		}
	}
}

func testRoundTrip(t *testing.T, open func(*testing.T) backend.Backend) {
	for i, ft := range backend.AllTypes {
		t.Run(ft.String(), func(t *testing.T) {
			b := open(t)
			h := handle(ft, "roundtrip")
			data := Data(uint64(i), 1000+i)
			save(t, b, h, data)
			checkLoad(t, b, h, data)
			fi, err := b.Stat(t.Context(), h)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if fi.Name != infoName(h) || fi.Size != int64(len(data)) {
				t.Errorf("Stat = %+v, want {Name:%s Size:%d}", fi, infoName(h), len(data))
			}
			checkList(t, b, ft, map[string]int64{infoName(h): int64(len(data))})
			for _, other := range backend.AllTypes {
				if other != ft {
					checkList(t, b, other, nil)
				}
			}
			if err := b.Remove(t.Context(), h); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if _, err := b.Load(t.Context(), h, 0, 0); !errors.Is(err, backend.ErrNotExist) {
				t.Errorf("Load after Remove: %v, want ErrNotExist", err)
			}
			if _, err := b.Stat(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
				t.Errorf("Stat after Remove: %v, want ErrNotExist", err)
			}
			checkList(t, b, ft, nil)
			// The name is free again.
			save(t, b, h, data[:10])
			checkLoad(t, b, h, data[:10])
		})
	}
}

func testPartialLoad(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	h := handle(backend.PackFile, "partial")
	data := Data(7, 1000)
	save(t, b, h, data)
	for _, c := range []struct{ off, n int64 }{
		{0, 1}, {0, 999}, {0, 1000}, {1, 0}, {1, 999}, {500, 0}, {500, 10},
		{999, 1}, {999, 0}, {1000, 0}, {123, 456},
	} {
		got := load(t, b, h, c.off, c.n)
		want := data[c.off:]
		if c.n != 0 {
			want = data[c.off : c.off+c.n]
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Load(offset %d, length %d) = %d bytes, want %d (contents differ: %v)", c.off, c.n, len(got), len(want), len(got) == len(want))
		}
	}
}

// testLoadInto checks backends that read into the caller's buffer (see
// backend.LoaderInto) against what Load returns, and for the same errors:
// small and large ranges (a backend may read large ones around the page
// cache, in aligned blocks), buffers with the promised room (the bytes must
// be read into them) and without it.
func testLoadInto(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	li, ok := b.(backend.LoaderInto)
	if !ok {
		return // optional
	}
	small, large := handle(backend.PackFile, "into"), handle(backend.PackFile, "into-large")
	smallData, largeData := Data(9, 1000), Data(10, 3<<20+777)
	save(t, b, small, smallData)
	save(t, b, large, largeData)
	size := int64(len(largeData))
	for _, c := range []struct {
		h      backend.Handle
		data   []byte
		off, n int64
	}{
		{small, smallData, 0, 1}, {small, smallData, 0, 1000}, {small, smallData, 1, 999},
		{small, smallData, 123, 456}, {small, smallData, 999, 1},
		{large, largeData, 0, 1 << 20}, {large, largeData, 4095, 300 << 10}, {large, largeData, 4097, 1<<20 + 1},
		{large, largeData, 5, size - 5}, {large, largeData, size - 200<<10, 200 << 10}, {large, largeData, 0, size},
	} {
		for _, roomy := range []bool{true, false} {
			var buf []byte
			if roomy {
				buf = bytes.Repeat([]byte{0xee}, int(c.n)+backend.LoadIntoSlack)
			}
			got, err := li.LoadInto(t.Context(), c.h, c.off, c.n, buf)
			switch {
			case err != nil:
				t.Errorf("LoadInto(offset %d, length %d, buffer %v): %v", c.off, c.n, roomy, err)
			case !bytes.Equal(got, c.data[c.off:c.off+c.n]):
				t.Errorf("LoadInto(offset %d, length %d, buffer %v) read other bytes", c.off, c.n, roomy)
			case roomy && !within(got, buf):
				t.Errorf("LoadInto(offset %d, length %d) did not read into a buffer with room for it", c.off, c.n)
			}
		}
	}
	for _, c := range []struct {
		h      backend.Handle
		off, n int64
	}{
		{small, 0, 1001}, {small, 999, 2}, {small, 1000, 1}, {small, -1, 10}, {small, 0, 0},
		{large, 0, size + 1}, {large, size - 1<<20, 1<<20 + 1}, {large, -4096, 1 << 20},
	} {
		if _, err := li.LoadInto(t.Context(), c.h, c.off, c.n, make([]byte, c.n+backend.LoadIntoSlack)); err == nil {
			t.Errorf("LoadInto(offset %d, length %d) of %v succeeded", c.off, c.n, c.h)
		}
	}
	if _, err := li.LoadInto(t.Context(), handle(backend.PackFile, "into-missing"), 0, 10, nil); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("LoadInto of a missing file: %v, want an error matching ErrNotExist", err)
	}
	if _, err := li.LoadInto(t.Context(), handle(backend.PackFile, "into-missing"), 0, 1<<20, nil); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("LoadInto of 1 MiB of a missing file: %v, want an error matching ErrNotExist", err)
	}
}

// within reports whether sub lies in buf's memory.
func within(sub, buf []byte) bool {
	if len(sub) == 0 || cap(buf) == 0 {
		return false
	}
	b := uintptr(unsafe.Pointer(unsafe.SliceData(buf[:cap(buf)])))
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return s >= b && s+uintptr(len(sub)) <= b+uintptr(cap(buf))
}

func testLoadPastEnd(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	h := handle(backend.PackFile, "pastend")
	save(t, b, h, Data(8, 100))
	for _, c := range []struct{ off, n int64 }{
		{0, 101}, {1, 100}, {99, 2}, {100, 1}, {101, 0}, {200, 1}, {50, 1 << 40},
		{1 << 62, 1 << 62}, // offset+length overflows int64
	} {
		data, err := b.Load(t.Context(), h, c.off, c.n)
		if err == nil {
			t.Errorf("Load(offset %d, length %d) of a 100-byte file returned %d bytes and no error", c.off, c.n, len(data))
		} else if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Load(offset %d, length %d) of a 100-byte file: %v, want an error matching io.ErrUnexpectedEOF", c.off, c.n, err)
		}
	}
	for _, c := range []struct{ off, n int64 }{{-1, 0}, {0, -1}, {-5, 10}} {
		if _, err := b.Load(t.Context(), h, c.off, c.n); err == nil {
			t.Errorf("Load(offset %d, length %d) succeeded", c.off, c.n)
		}
	}
}

func testNoOverwrite(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	for i, ft := range backend.AllTypes {
		h := handle(ft, "overwrite")
		first := Data(uint64(100+i), 300)
		save(t, b, h, first)
		for _, second := range [][]byte{Data(uint64(200+i), 300), Data(uint64(300+i), 10), nil} {
			err := b.Save(t.Context(), h, second)
			if !errors.Is(err, backend.ErrExists) {
				t.Errorf("second Save(%v) of %d bytes: %v, want ErrExists", h, len(second), err)
			}
			checkLoad(t, b, h, first)
		}
	}
}

func testMissing(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	// Something else is stored, so missing is not just "empty backend".
	for _, ft := range backend.AllTypes {
		if ft != backend.ConfigFile {
			save(t, b, handle(ft, "present"), []byte("x"))
		}
	}
	for _, ft := range backend.AllTypes {
		h := handle(ft, "missing")
		if _, err := b.Load(t.Context(), h, 0, 0); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Load(%v): %v, want ErrNotExist", h, err)
		}
		if _, err := b.Load(t.Context(), h, 10, 5); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Load(%v, 10, 5): %v, want ErrNotExist", h, err)
		}
		if _, err := b.Stat(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Stat(%v): %v, want ErrNotExist", h, err)
		}
		if err := b.Remove(t.Context(), h); !errors.Is(err, backend.ErrNotExist) {
			t.Errorf("Remove(%v): %v, want ErrNotExist", h, err)
		}
	}
}

// invalidHandles are handles every method must refuse.
func invalidHandles() []backend.Handle {
	var hs []backend.Handle
	for _, ft := range backend.AllTypes {
		if ft == backend.ConfigFile {
			continue
		}
		for _, name := range []string{
			"", ".", "..", "../x", "../../config", "..\\config", "/", "/etc/passwd",
			"ab/cd", "ab\\cd", "ABCD", "abcD", "a b", "g0", "00\x00", "0x12",
			"é", "abc\n", strings.Repeat("a", 129),
		} {
			hs = append(hs, backend.Handle{Type: ft, Name: name})
		}
	}
	for _, ft := range []backend.FileType{0, backend.LockFile + 1, 255} {
		hs = append(hs, backend.Handle{Type: ft, Name: Name("x")})
	}
	return hs
}

func testInvalidHandles(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	ctx := t.Context()
	// Files an escaping name might reach; they must survive.
	keep := map[backend.Handle][]byte{
		{Type: backend.ConfigFile}:                     []byte("config"),
		{Type: backend.KeyFile, Name: "abcd"}:          []byte("key"),
		{Type: backend.PackFile, Name: Name("pack")}:   []byte("pack"),
		{Type: backend.IndexFile, Name: Name("index")}: []byte("index"),
	}
	for h, data := range keep {
		save(t, b, h, data)
	}
	refused := func(op string, h backend.Handle, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s(%#v) succeeded, want it refused", op, h)
		} else if errors.Is(err, backend.ErrNotExist) {
			t.Errorf("%s(%#v): %v: looked the name up instead of refusing it", op, h, err)
		}
	}
	for _, h := range invalidHandles() {
		refused("Save", h, b.Save(ctx, h, []byte("evil")))
		_, err := b.Load(ctx, h, 0, 0)
		refused("Load", h, err)
		_, err = b.Stat(ctx, h)
		refused("Stat", h, err)
		refused("Remove", h, b.Remove(ctx, h))
	}
	for _, ft := range []backend.FileType{0, backend.LockFile + 1, 255} {
		err := b.List(ctx, ft, func(backend.FileInfo) error { return nil })
		if err == nil {
			t.Errorf("List(%v) succeeded, want it refused", ft)
		}
	}
	for h, data := range keep {
		checkLoad(t, b, h, data)
	}
	for _, ft := range backend.AllTypes {
		want := map[string]int64{}
		for h, data := range keep {
			if h.Type == ft {
				want[infoName(h)] = int64(len(data))
			}
		}
		checkList(t, b, ft, want)
	}
}

func testList(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	want := make(map[backend.FileType]map[string]int64)
	for i, ft := range backend.AllTypes {
		want[ft] = make(map[string]int64)
		n := 40
		if ft == backend.PackFile {
			n = 300 // spread over many prefixes
		}
		if ft == backend.ConfigFile {
			n = 1
		}
		for j := range n {
			h := handle(ft, fmt.Sprintf("list-%d-%d", i, j))
			size := (i*7 + j*13) % 97
			save(t, b, h, Data(uint64(i*1000+j), size))
			want[ft][infoName(h)] = int64(size)
		}
	}
	for _, ft := range backend.AllTypes {
		checkList(t, b, ft, want[ft])
	}
	// Remove every third file.
	for i, ft := range backend.AllTypes {
		for j := 0; j < len(want[ft]); j += 3 {
			h := handle(ft, fmt.Sprintf("list-%d-%d", i, j))
			if err := b.Remove(t.Context(), h); err != nil {
				t.Fatalf("Remove(%v): %v", h, err)
			}
			delete(want[ft], infoName(h))
		}
	}
	for _, ft := range backend.AllTypes {
		checkList(t, b, ft, want[ft])
	}
}

func testListStops(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	for i := range 5 {
		save(t, b, handle(backend.SnapshotFile, fmt.Sprint("stop", i)), []byte("s"))
		save(t, b, handle(backend.PackFile, fmt.Sprint("stop", i)), []byte("p"))
	}
	for _, ft := range []backend.FileType{backend.SnapshotFile, backend.PackFile} {
		stop := errors.New("stop here")
		calls := 0
		err := b.List(t.Context(), ft, func(backend.FileInfo) error {
			calls++
			return stop
		})
		if !errors.Is(err, stop) {
			t.Errorf("List(%v) = %v, want the error returned by fn", ft, err)
		}
		if calls != 1 {
			t.Errorf("List(%v) called fn %d times after it failed, want 1", ft, calls)
		}
	}
}

func testConcurrentDistinct(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	const workers, each = 16, 8
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				for _, ft := range []backend.FileType{backend.PackFile, backend.IndexFile} {
					h := handle(ft, fmt.Sprintf("conc-%d-%d", w, i))
					if err := b.Save(t.Context(), h, Data(uint64(w*each+i), 1000+w)); err != nil {
						t.Errorf("Save(%v): %v", h, err)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, ft := range []backend.FileType{backend.PackFile, backend.IndexFile} {
		want := make(map[string]int64)
		for w := range workers {
			for i := range each {
				h := handle(ft, fmt.Sprintf("conc-%d-%d", w, i))
				want[h.Name] = int64(1000 + w)
				checkLoad(t, b, h, Data(uint64(w*each+i), 1000+w))
			}
		}
		checkList(t, b, ft, want)
	}
}

func testConcurrentSameName(t *testing.T, open func(*testing.T) backend.Backend) {
	for _, ft := range []backend.FileType{backend.PackFile, backend.ConfigFile, backend.LockFile} {
		t.Run(ft.String(), func(t *testing.T) {
			b := open(t)
			h := handle(ft, "same")
			const workers = 16
			errs := make([]error, workers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					<-start
					errs[w] = b.Save(t.Context(), h, Data(uint64(w), 64<<10+w))
				})
			}
			close(start)
			wg.Wait()
			winner := -1
			for w, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Errorf("Save by workers %d and %d both succeeded", winner, w)
				case err == nil:
					winner = w
				case !errors.Is(err, backend.ErrExists):
					t.Errorf("losing Save by worker %d: %v, want ErrExists", w, err)
				}
			}
			if winner < 0 {
				t.Fatal("no Save succeeded")
			}
			checkLoad(t, b, h, Data(uint64(winner), 64<<10+winner))
			checkList(t, b, ft, map[string]int64{infoName(h): int64(64<<10 + winner)})
		})
	}
}

func testCancelled(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	existing := handle(backend.PackFile, "cancel-existing")
	data := Data(9, 100)
	save(t, b, existing, data)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: %v, want an error matching context.Canceled", op, err)
		}
	}
	fresh := handle(backend.PackFile, "cancel-new")
	check("Save", b.Save(ctx, fresh, data))
	_, err := b.Load(ctx, existing, 0, 0)
	check("Load", err)
	_, err = b.Stat(ctx, existing)
	check("Stat", err)
	check("List", b.List(ctx, backend.PackFile, func(backend.FileInfo) error { return nil }))
	check("Remove", b.Remove(ctx, existing))

	if _, err := b.Stat(t.Context(), fresh); !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Stat of a file whose Save was cancelled: %v, want ErrNotExist", err)
	}
	checkLoad(t, b, existing, data)
	checkList(t, b, backend.PackFile, map[string]int64{existing.Name: int64(len(data))})
}

func testEmpty(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	for _, ft := range []backend.FileType{backend.PackFile, backend.LockFile} {
		h := handle(ft, "empty")
		save(t, b, h, nil)
		if got := load(t, b, h, 0, 0); len(got) != 0 {
			t.Errorf("Load(%v) of an empty file = %d bytes", h, len(got))
		}
		fi, err := b.Stat(t.Context(), h)
		if err != nil || fi.Size != 0 {
			t.Errorf("Stat(%v) of an empty file = %+v, %v", h, fi, err)
		}
		if _, err := b.Load(t.Context(), h, 0, 1); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Load(%v, 0, 1) of an empty file: %v, want io.ErrUnexpectedEOF", h, err)
		}
		checkList(t, b, ft, map[string]int64{h.Name: 0})
		if err := b.Save(t.Context(), h, []byte("x")); !errors.Is(err, backend.ErrExists) {
			t.Errorf("Save over an empty file: %v, want ErrExists", err)
		}
	}
}

func testLarge(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	h := handle(backend.PackFile, "large")
	data := Data(10, 20<<20+17)
	save(t, b, h, data)
	checkLoad(t, b, h, data)
	off, n := int64(9<<20+3), int64(5<<20+11)
	if got := load(t, b, h, off, n); !bytes.Equal(got, data[off:off+n]) {
		t.Errorf("partial Load of the large file differs")
	}
	fi, err := b.Stat(t.Context(), h)
	if err != nil || fi.Size != int64(len(data)) {
		t.Errorf("Stat = %+v, %v; want size %d", fi, err, len(data))
	}
}

func testNoAliasing(t *testing.T, open func(*testing.T) backend.Backend) {
	b := open(t)
	h := handle(backend.PackFile, "alias")
	data := Data(11, 64)
	orig := bytes.Clone(data)
	save(t, b, h, data)
	data[0] ^= 0xff // the caller reuses its buffer
	got := load(t, b, h, 0, 0)
	got[1] ^= 0xff // and scribbles on what it loaded
	checkLoad(t, b, h, orig)
}

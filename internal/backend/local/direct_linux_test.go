package local

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Large saves take the O_DIRECT path for their aligned prefix; whatever the
// size and alignment of the data, what is loaded back must be identical.
func TestSaveLargeDirectAndBuffered(t *testing.T) {
	l := newLocal(t)
	big := make([]byte, 9<<20+4096) // a large allocation: page aligned
	for i := range big {
		big[i] = byte(rand.Uint32())
	}
	if uintptr(unsafe.Pointer(&big[0]))%directAlign != 0 {
		t.Log("large allocation not page aligned on this platform: direct path not exercised")
	}
	for i, data := range [][]byte{
		big[:directMin],   // exactly aligned, direct only
		big[:3<<20+123],   // aligned prefix plus a tail
		big[:9<<20+4096],  // more than one write chunk
		big[1 : 2<<20+1],  // unaligned start: buffered
		big[:directMin-1], // below the threshold: buffered
	} {
		h := pack(fmt.Sprintf("direct-%d", i))
		if err := l.Save(t.Context(), h, data); err != nil {
			t.Fatalf("case %d: save %d bytes: %v", i, len(data), err)
		}
		got, err := l.Load(t.Context(), h, 0, 0)
		if err != nil {
			t.Fatalf("case %d: load: %v", i, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("case %d: %d bytes loaded differ from the %d saved", i, len(got), len(data))
		}
	}
	if left := tmpEntries(t, l); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// Large ranges are read with O_DIRECT where the file system allows it, and
// a range ending at an unaligned end of file reads to that end.
func TestLoadIntoDirect(t *testing.T) {
	l := newLocal(t)
	data := make([]byte, 2<<20+333)
	for i := range data {
		data[i] = byte(rand.Uint32())
	}
	h := pack("direct-read")
	if err := l.Save(t.Context(), h, data); err != nil {
		t.Fatal(err)
	}
	name, err := l.filename(h)
	if err != nil {
		t.Fatal(err)
	}
	if fd, err := unix.Open(name, unix.O_RDONLY|unix.O_DIRECT, 0); err == unix.EINVAL {
		t.Skipf("the file system of %s refuses O_DIRECT: the buffered path is what runs here (TestConformanceBufferedReads)", l.dir)
	} else if err == nil {
		unix.Close(fd)
	}
	for _, c := range []struct{ off, n int64 }{
		{0, directReadMin}, {1, directReadMin}, {4095, 1 << 20}, {int64(len(data)) - directReadMin, directReadMin}, {7, int64(len(data)) - 7},
	} {
		got, ok, err := l.loadDirect(t.Context(), h, c.off, c.n, make([]byte, c.n+3*directAlign))
		if !ok || err != nil {
			t.Fatalf("loadDirect(%d, %d): ok %v, %v", c.off, c.n, ok, err)
		}
		if !bytes.Equal(got, data[c.off:c.off+c.n]) {
			t.Fatalf("loadDirect(%d, %d) read other bytes", c.off, c.n)
		}
	}
	if _, ok, _ := l.loadDirect(t.Context(), h, 0, directReadMin-1, nil); ok {
		t.Error("a range below directReadMin was read with O_DIRECT")
	}
	if l.noDirectRead.Load() {
		t.Error("direct reads were turned off on a file system that takes them")
	}
}

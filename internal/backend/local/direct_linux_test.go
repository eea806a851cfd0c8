package local

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"
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

package zstdenc

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func sample(n int, compressible bool) []byte {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	b := make([]byte, n)
	for i := range b {
		const row = "INSERT INTO penduduk VALUES ('3201', 'SITI AMINAH', 'RT 003/RW 007');\n"
		if compressible {
			b[i] = row[i%len(row)]
			if i%32 == 0 {
				b[i] = byte('0' + r.IntN(10)) // some entropy
			}
		} else {
			b[i] = byte(r.Uint32())
		}
	}
	return b
}

// Every level's frames decode (with the decoder restore uses) to the input,
// appended after what dst held, compressible data shrinks, and room in dst
// is used in place.
func TestEncodeAllRoundTrip(t *testing.T) {
	dec, err := zstd.NewReader(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	t.Logf("implementation: %s", Implementation)
	for level := MinLevel; level <= MaxLevel; level++ {
		enc, err := New(level)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{0, 1, 100, 32 << 10, 128<<10 + 1, 3 << 20} {
			for _, compressible := range []bool{true, false} {
				src := sample(n, compressible)
				prefix := []byte{0xAB, 0xCD}
				roomy := append(make([]byte, 0, 2+n+n/8+1<<12), prefix...)
				for _, dst := range [][]byte{append([]byte(nil), prefix...), roomy} {
					out, ok := enc.EncodeAll(src, dst)
					if !ok {
						t.Fatalf("level %d, %d bytes: encoder failed", level, n)
					}
					if !bytes.Equal(out[:2], prefix) {
						t.Fatalf("level %d, %d bytes: dst's bytes were overwritten", level, n)
					}
					got, err := dec.DecodeAll(out[2:], nil)
					if err != nil || !bytes.Equal(got, src) {
						t.Fatalf("level %d, %d bytes (compressible %v): decoded %d bytes, %v", level, n, compressible, len(got), err)
					}
					if compressible && n >= 32<<10 && len(out)-2 > n/3 {
						t.Errorf("level %d: %d compressible bytes took %d", level, n, len(out)-2)
					}
					if cap(dst) == cap(roomy) && &out[0] != &roomy[0] {
						t.Errorf("level %d, %d bytes: a dst with room was not written in place", level, n)
					}
				}
			}
		}
	}
}

func TestNewRefusesLevels(t *testing.T) {
	for _, level := range []int{MinLevel - 1, MaxLevel + 1, -3} {
		if _, err := New(level); err == nil {
			t.Errorf("New(%d) succeeded", level)
		}
	}
}

// One encoder serves every blob worker at once.
func TestEncodeAllConcurrent(t *testing.T) {
	enc, err := New(1)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := zstd.NewReader(nil)
	defer dec.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 20 {
				src := sample(1000*(g+1)+i*4096, true)
				out, ok := enc.EncodeAll(src, nil)
				got, err := dec.DecodeAll(out, nil)
				if !ok || err != nil || !bytes.Equal(got, src) {
					t.Errorf("goroutine %d, blob %d: round trip failed: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

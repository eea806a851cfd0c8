package restorer

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// openPfile creates a file and wraps it as a restore writes it: with a
// direct descriptor when the file system takes O_DIRECT.
func openPfile(t *testing.T, dio *directIO, size int64) (pfile, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "f")
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p := pfile{fd: fd}
	if dfd := dio.open(fd, size); dfd >= 0 {
		p.dfd, p.dio = dfd, dio
	}
	t.Cleanup(func() { p.close() })
	return p, path
}

// TestDirectWrites writes pieces of a large file at unaligned offsets, from
// memory aligned and not, as the restore's workers do, and requires the
// file to read back exactly. Where the file system takes O_DIRECT, the
// middles must have gone around the page cache; where it does not, direct
// I/O must have turned itself off and everything still be written.
func TestDirectWrites(t *testing.T) {
	const size = 6<<20 + 123
	want := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(want)

	dio := newDirectIO(2)
	p, path := openPfile(t, dio, size)
	direct := p.dio != nil
	t.Logf("O_DIRECT on %s: %v", filepath.Dir(path), direct)

	// Pieces: unaligned starts and ends, one aligned both in the file and
	// in memory (written without staging), one shorter than directMinWrite,
	// one larger than the staging buffer.
	aligned := dio.getBuf()
	cuts := []int{0, 5000, 5000 + 4096*100, 2<<20 + 77, 2<<20 + 77 + 40<<10, 3 << 20, 3<<20 + directBufSize, size}
	for i := len(cuts) - 2; i >= 0; i-- { // back to front: offsets past the end first
		lo, hi := cuts[i], cuts[i+1]
		data := want[lo:hi]
		if lo == 3<<20 { // aligned in the file: make it aligned in memory too
			data = aligned[:copy(aligned, data)]
		}
		if err := p.writeAt(data, int64(lo)); err != nil {
			t.Fatalf("write [%d, %d): %v", lo, hi, err)
		}
	}
	assertFileHolds(t, path, want)
	if direct && dio.off.Load() {
		t.Errorf("direct I/O turned itself off on a file system that took O_DIRECT")
	}
	if !direct && !dio.off.Load() {
		t.Errorf("direct open failed but direct I/O stayed on")
	}
}

// TestDirectWriteFailureFallsBack: a direct write that fails (here: the
// descriptor cannot write) leaves the whole piece to the page cache.
func TestDirectWriteFailureFallsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := pfile{fd: fd, dfd: bad, dio: newDirectIO(1)}
	defer p.close()
	want := bytes.Repeat([]byte("lumbung "), 300<<10/8)
	if err := p.writeAt(want, 1000); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[1000:], want) || !bytes.Equal(got[:1000], make([]byte, 1000)) {
		t.Fatalf("file differs after a failed direct write")
	}
}

// TestDirectOpenSmallFile: small files never get a direct descriptor.
func TestDirectOpenSmallFile(t *testing.T) {
	p, _ := openPfile(t, newDirectIO(1), directMinFile-1)
	if p.dio != nil {
		t.Fatalf("a file below %d bytes got a direct descriptor", directMinFile)
	}
}

// TestPreallocatedWrites writes a preallocated file in pieces with
// unaligned ends, from memory aligned and not, as the restore's workers do:
// in an order where blocks are completed from either side, from several
// goroutines at once, and with no block buffer to be had (every end then
// goes through the page cache). The file must read back exactly, with no
// block left waiting.
func TestPreallocatedWrites(t *testing.T) {
	const size = 9<<20 + 123
	want := make([]byte, size)
	rand.New(rand.NewSource(2)).Read(want)
	for _, tc := range []struct {
		name      string
		writers   int
		noBuffers bool
	}{
		{"one writer", 1, false},
		{"four writers", 4, false},
		{"no block buffers", 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dio := newDirectIO(tc.writers)
			p, path := openPfile(t, dio, size)
			if p.dio == nil {
				t.Fatalf("the test directory's file system takes no O_DIRECT (run the tests on ext4, xfs or btrfs)")
			}
			if p.edges = dio.prealloc(p.fd, size); p.edges == nil {
				t.Fatalf("fallocate failed")
			}
			if tc.noBuffers {
				dio.edgeBufs.Store(maxEdgeBufs)
			}
			r := rand.New(rand.NewSource(3))
			cuts := []int{0, 5000, 5001, 9000, 4096 * 10}
			for cuts[len(cuts)-1] < size {
				cuts = append(cuts, min(size, cuts[len(cuts)-1]+300<<10+r.Intn(1<<20)))
			}
			order := r.Perm(len(cuts) - 1)
			pieces := make(chan int)
			var wg sync.WaitGroup
			for range tc.writers {
				wg.Go(func() {
					for i := range pieces {
						lo, hi := cuts[i], cuts[i+1]
						data := append([]byte(nil), want[lo:hi]...) // as a decoded blob: a buffer of its own
						if err := p.writeAt(data, int64(lo)); err != nil {
							t.Errorf("write [%d, %d): %v", lo, hi, err)
						}
					}
				})
			}
			for _, i := range order {
				pieces <- i
			}
			close(pieces)
			wg.Wait()
			if tc.noBuffers {
				dio.edgeBufs.Store(0)
			}
			if len(p.edges.blocks) != 0 || dio.edgeBufs.Load() != 0 {
				t.Errorf("%d blocks, %d buffers left after every byte was written", len(p.edges.blocks), dio.edgeBufs.Load())
			}
			if err := p.flush(); err != nil {
				t.Fatal(err)
			}
			if err := p.truncate(size); err != nil {
				t.Fatal(err)
			}
			assertFileHolds(t, path, want)
		})
	}
}

// assertFileHolds fails unless the file at path holds exactly want.
func assertFileHolds(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("file differs from what was written from byte %d (%d bytes read, %d written)", i, len(got), len(want))
	}
}

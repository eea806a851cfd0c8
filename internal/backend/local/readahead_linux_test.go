package local

import (
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// resident counts the pages of the file at path that are in the page cache.
func resident(t *testing.T, path string) (in, total int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	vec := make([]byte, (len(m)+os.Getpagesize()-1)/os.Getpagesize())
	// x/sys has no wrapper for mincore on Linux.
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			in++
		}
	}
	return in, len(vec)
}

// ReadAhead brings a pack into the page cache without the caller reading
// it, and changes nothing when the pack is missing.
func TestReadAheadFillsPageCache(t *testing.T) {
	l := newLocal(t)
	h := pack("trees")
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i * 31)
	}
	if err := l.Save(t.Context(), h, data); err != nil {
		t.Fatal(err)
	}
	name, err := l.filename(h)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	f.Sync()
	unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	f.Close()
	if in, total := resident(t, name); in == total {
		// tmpfs keeps every page: nothing to observe here.
		t.Logf("the test directory's file system keeps files in memory (%s); ReadAhead only checked not to fail", filepath.Dir(name))
	} else {
		l.ReadAhead(t.Context(), h)
		deadline := time.Now().Add(5 * time.Second)
		for in < total && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
			in, total = resident(t, name)
		}
		if in < total {
			t.Errorf("after ReadAhead %d of %d pages are in the page cache, want all", in, total)
		}
	}
	l.ReadAhead(t.Context(), pack("missing")) // no file: nothing happens
	got, err := l.Load(t.Context(), h, 0, 0)
	if err != nil || len(got) != len(data) || got[12345] != data[12345] {
		t.Fatalf("load after ReadAhead: %d bytes, %v", len(got), err)
	}
}

package restorer

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/ui"
)

// A restore that failed because the target's disk filled up says so, and
// what to do; other failures do not.
func TestFailureNamesAFullDisk(t *testing.T) {
	full := &fs.PathError{Op: "write", Path: "/t/a.lumbung-partial", Err: syscall.ENOSPC}
	if runtime.GOOS == "windows" {
		full.Err = syscall.Errno(112) // ERROR_DISK_FULL
	}
	for _, tc := range []struct {
		err  error
		hint bool
	}{
		{fmt.Errorf("not restored: %w", full), true},
		{fmt.Errorf("not restored: %w", fs.ErrPermission), false},
	} {
		r := &restorer{target: "/srv/pulih", prog: ui.NoProgress}
		r.report("/data/a", tc.err)
		err := r.failure(r.result())
		if !errors.Is(err, ErrSomeFailed) {
			t.Fatalf("%v: want ErrSomeFailed", err)
		}
		if got := strings.Contains(err.Error(), "the disk holding /srv/pulih is full"); got != tc.hint {
			t.Errorf("%v: names a full disk: %v, want %v", err, got, tc.hint)
		}
	}
}

func TestCheckName(t *testing.T) {
	bad := []string{"", ".", "..", "/", "/etc/passwd", "a/b", "a/../../x", "../x", "a\x00b", strings.Repeat("x", 70<<10)}
	good := []string{"a", "...", "caf\xe9.txt", "new\nline", " ", "-rf", "日本語"}
	if runtime.GOOS == "windows" {
		bad = append(bad, `a\b`, `..\x`, "C:", "a:stream", ".. ", "x.", "NUL")
	} else {
		good = append(good, `a\b`, "a:b", "x.")
	}
	for _, n := range bad {
		if checkName(n) == nil {
			t.Errorf("checkName(%q) accepted", n)
		}
	}
	for _, n := range good {
		if err := checkName(n); err != nil {
			t.Errorf("checkName(%q): %v", n, err)
		}
	}
}

func TestPartialName(t *testing.T) {
	tree := &repository.Tree{Nodes: []*repository.Node{{Name: "a"}, {Name: "a" + PartialSuffix}}}
	if got := partialName(tree, "a"); got != "a"+PartialSuffix+".1" {
		t.Errorf("collision: %q", got)
	}
	long := strings.Repeat("n", 255)
	if got := partialName(tree, long); len(got) > maxNameBytes || !strings.HasSuffix(got, PartialSuffix) {
		t.Errorf("long name: %d bytes %q", len(got), got)
	}
	if partialName(tree, long) == partialName(tree, long[:254]+"m") {
		t.Errorf("long names collide")
	}
}

func TestPlanRanges(t *testing.T) {
	p1, p2 := crypto.Hash([]byte("p1")), crypto.Hash([]byte("p2"))
	blob := func(pack crypto.ID, off, n uint32) *blobJob {
		return &blobJob{id: crypto.Hash([]byte{byte(off >> 16), byte(off >> 8), byte(off), pack[0]}), loc: repository.Location{Pack: pack, Offset: off, Length: n}}
	}
	blobs := map[crypto.ID]*blobJob{}
	for _, b := range []*blobJob{
		blob(p1, 0, 100), blob(p1, 100, 100), blob(p1, 200+maxGap, 50), // contiguous, then a gap at the limit
		blob(p1, 300+2*maxGap, 10),                          // past the gap: new range
		blob(p2, 0, maxRange-10), blob(p2, maxRange-10, 20), // would exceed maxRange
	} {
		blobs[b.id] = b
	}
	rs := planRanges(blobs)
	var got []string
	for _, r := range rs {
		got = append(got, strings.Repeat("b", len(r.blobs)))
	}
	if len(rs) != 4 || strings.Join(got, ",") != "bbb,b,b,b" && strings.Join(got, ",") != "b,b,bbb,b" {
		t.Fatalf("ranges: %v", got)
	}
	for _, r := range rs {
		for _, b := range r.blobs {
			if int64(b.loc.Offset) < r.off || int64(b.loc.Offset)+int64(b.loc.Length) > r.off+r.length || r.length > maxRange {
				t.Errorf("blob at %d+%d outside range %d+%d", b.loc.Offset, b.loc.Length, r.off, r.length)
			}
		}
	}
}

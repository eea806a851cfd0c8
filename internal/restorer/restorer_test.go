package restorer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/faulty"
	"github.com/lumbung-id/lumbung/internal/chunker"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
)

// makeSource builds a directory with every kind of entry the restorer must
// reproduce, and returns its path.
func makeSource(t testing.TB) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	p := chunker.DefaultParams
	sizes := map[string]int{
		"empty": 0, "one": 1, "min-1": p.Min - 1, "min": p.Min, "min+1": p.Min + 1,
		"avg": p.Avg, "max": p.Max, "max+1": p.Max + 1, "big": 10 << 20,
	}
	seed := uint64(1)
	for name, n := range sizes {
		writeFile(t, filepath.Join(src, name), randBytes(seed, n), 0o644)
		seed++
	}
	// Runs of zeroes (restored as holes) around data.
	sparse := make([]byte, 3<<20)
	copy(sparse[1<<20:], randBytes(99, 100<<10))
	writeFile(t, filepath.Join(src, "sparse"), sparse, 0o640)
	// Deduplicated content.
	dup := randBytes(100, 2<<20)
	writeFile(t, filepath.Join(src, "dup1"), dup, 0o644)
	writeFile(t, filepath.Join(src, "dup/dup2"), dup, 0o644)
	// Many small files, some identical.
	for i := range 300 {
		data := randBytes(uint64(1000+i%50), i*37%5000)
		writeFile(t, filepath.Join(src, "small", fmt.Sprintf("f%03d.txt", i)), data, 0o644)
	}
	// Nested empty directories.
	if err := os.MkdirAll(filepath.Join(src, "empty-dirs/a/b/c/d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(src, "empty-dirs/e"), 0o700); err != nil {
		t.Fatal(err)
	}
	// Names.
	for _, name := range []string{"caf\xe9.txt", "with space", "new\nline", "日本語 ñ ü 🎉", " -dash", "a", "a" + restorer.PartialSuffix, "tab\there"} {
		writeFile(t, filepath.Join(src, "names", name), []byte("name: "+name), 0o644)
	}
	// Symlinks.
	if err := os.MkdirAll(filepath.Join(src, "links"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"rel": "../one", "abs": "/etc/hostname", "dangling": "does/not/exist", "dir": "../small", "caf\xe9": "caf\xe9-target"} {
		if err := os.Symlink(target, filepath.Join(src, "links", name)); err != nil {
			t.Fatal(err)
		}
	}
	// Hard links: three names for one file, in two directories.
	writeFile(t, filepath.Join(src, "hard/a"), []byte("linked content"), 0o600)
	for _, l := range []string{"hard/b", "small/hard-c"} {
		if err := os.Link(filepath.Join(src, "hard/a"), filepath.Join(src, l)); err != nil {
			t.Fatal(err)
		}
	}
	// Another pair, empty.
	writeFile(t, filepath.Join(src, "hard/e1"), nil, 0o644)
	if err := os.Link(filepath.Join(src, "hard/e1"), filepath.Join(src, "hard/e2")); err != nil {
		t.Fatal(err)
	}
	// Mode bits.
	modes := map[string]uint32{"suid": 0o4755, "sgid": 0o2750, "ro": 0o400, "exec": 0o711}
	if fsmeta.IsRoot() {
		modes["none"] = 0o000 // unreadable for anyone else: the backup would fail
	}
	for name, m := range modes {
		path := filepath.Join(src, "modes", name)
		writeFile(t, path, []byte(name), 0o600)
		if err := fsmeta.Chmod(path, m); err != nil {
			t.Fatal(err)
		}
	}
	for name, m := range map[string]uint32{"sticky": 0o1777, "sgid-dir": 0o2775, "ro-dir": 0o555} {
		path := filepath.Join(src, "modes", name)
		writeFile(t, filepath.Join(path, "inside"), []byte("inside "+name), 0o644)
		if err := fsmeta.Chmod(path, m); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { makeWritable(src) })
	// Owners (root only).
	if fsmeta.IsRoot() {
		writeFile(t, filepath.Join(src, "owned/file"), []byte("owned"), 0o644)
		if err := os.Symlink("file", filepath.Join(src, "owned/link")); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"owned/file", "owned/link", "owned"} {
			if err := fsmeta.Chown(filepath.Join(src, p), 1234, 5678, "", "", false); err != nil {
				t.Fatal(err)
			}
		}
		// Chown clears setuid: set the modes again.
		if err := fsmeta.Chmod(filepath.Join(src, "modes/suid"), 0o4755); err != nil {
			t.Fatal(err)
		}
	}
	// Distinct nanosecond mtimes, children before parents.
	var paths []string
	if err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2023, 8, 17, 9, 0, 0, 0, time.UTC)
	for i := len(paths) - 1; i >= 0; i-- {
		setTime(t, paths[i], base.Add(time.Duration(i)*(time.Second+7*time.Nanosecond)+time.Duration(i%1000)*time.Microsecond+123))
	}
	return src
}

func TestRoundTrip(t *testing.T) {
	src := makeSource(t)
	root, repo, _ := backup(t, src)
	for _, workers := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			target := newTarget(t)
			prog := &recorder{}
			res := restore(t, repo, root, restorer.Options{Target: target, Workers: workers, Progress: prog})
			compareTrees(t, src, filepath.Join(target, src))
			if len(res.Errors) != 0 || res.Failed != 0 {
				t.Errorf("errors: %v", res.Errors)
			}
			if res.Symlinks != 5+btoi(fsmeta.IsRoot()) {
				t.Errorf("restored %d symlinks", res.Symlinks)
			}
			if prog.op != "restore" || prog.total != prog.done {
				t.Errorf("progress: %q total %+v, done %+v", prog.op, prog.total, prog.done)
			}
			if prog.done.Files != res.Files+res.Symlinks || prog.done.Dirs != res.Dirs {
				t.Errorf("progress done %+v, result %+v", prog.done, res)
			}
			// Restoring again over the restored tree gives the same tree.
			restore(t, repo, root, restorer.Options{Target: target, Workers: workers})
			compareTrees(t, src, filepath.Join(target, src))
		})
	}
}

// TestOwnersInSetgidTarget restores into a setgid directory of another
// group, where the kernel gives new files that group: files recorded with
// the restoring user's own ids must still get them (as root; the owner is
// never changed otherwise).
func TestOwnersInSetgidTarget(t *testing.T) {
	if !fsmeta.IsRoot() {
		t.Skip("needs root: only root restores owners")
	}
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "top.txt"), []byte("top"), 0o644)
	writeFile(t, filepath.Join(src, "sub/inner.txt"), []byte("inner"), 0o640)
	writeFile(t, filepath.Join(src, "sub/other.txt"), []byte("other"), 0o644)
	if err := fsmeta.Chown(filepath.Join(src, "sub/other.txt"), 1234, 4321, "", "", false); err != nil {
		t.Fatal(err)
	}
	root, repo, _ := backup(t, src)

	target := newTarget(t)
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := fsmeta.Chown(target, 0, 4321, "", "", false); err != nil {
		t.Fatal(err)
	}
	if err := fsmeta.Chmod(target, 0o2775); err != nil {
		t.Fatal(err)
	}
	restore(t, repo, root, restorer.Options{Target: target})
	for _, rel := range []string{"top.txt", "sub/inner.txt", "sub/other.txt", "sub"} {
		want, _ := fsmeta.Lstat(filepath.Join(src, rel))
		got, err := fsmeta.Lstat(filepath.Join(target, src, rel))
		if err != nil {
			t.Fatal(err)
		}
		if got.UID != want.UID || got.GID != want.GID {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, got.UID, got.GID, want.UID, want.GID)
		}
	}
}

func btoi(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestPartialRestore(t *testing.T) {
	src := makeSource(t)
	root, repo, _ := backup(t, src)
	target := newTarget(t)
	includes := []string{src + "/small", src + "/names/caf\xe9.txt", src + "/hard/b", src + "/links/abs"}
	res := restore(t, repo, root, restorer.Options{Target: target, Include: includes})
	out := filepath.Join(target, src)

	// small/hard-c has 3 links in the source, 2 restored (hard/a is left out).
	compareTrees(t, filepath.Join(src, "small"), filepath.Join(out, "small"), "hard-c")
	for _, f := range []string{"names/caf\xe9.txt", "hard/b", "links/abs"} {
		a, _ := fsmeta.Lstat(filepath.Join(src, f))
		b, err := fsmeta.Lstat(filepath.Join(out, f))
		if err != nil {
			t.Fatalf("%s not restored: %v", f, err)
		}
		if !a.ModTime.Equal(b.ModTime) || (a.Kind != fsmeta.KindSymlink && a.Mode != b.Mode) {
			t.Errorf("%s: metadata differs", f)
		}
	}
	// hard/b's other links: small/hard-c is restored too (linked to it);
	// hard/a is not.
	if _, err := os.Lstat(filepath.Join(out, "hard/a")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("hard/a restored though not included: %v", err)
	}
	b, _ := fsmeta.Lstat(filepath.Join(out, "hard/b"))
	c, _ := fsmeta.Lstat(filepath.Join(out, "small/hard-c"))
	if !fsmeta.SameFile(b, c) || b.Links != 2 {
		t.Errorf("hard/b and small/hard-c: same file %v, links %d", fsmeta.SameFile(b, c), b.Links)
	}
	// Only what was asked for, plus parents with their metadata.
	ents, _ := os.ReadDir(out)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "hard,links,names,small" {
		t.Errorf("restored %v", names)
	}
	if ents, _ := os.ReadDir(filepath.Join(out, "names")); len(ents) != 1 {
		t.Errorf("names/ has %d entries", len(ents))
	}
	for _, d := range []string{"", "names", "hard", "links"} {
		a, _ := fsmeta.Lstat(filepath.Join(src, d))
		b, _ := fsmeta.Lstat(filepath.Join(out, d))
		if !a.ModTime.Equal(b.ModTime) || a.Mode != b.Mode {
			t.Errorf("parent %q: mtime %v/%v mode %o/%o", d, a.ModTime, b.ModTime, a.Mode, b.Mode)
		}
	}
	if res.Failed != 0 {
		t.Errorf("errors: %v", res.Errors)
	}

	// A path that is not in the snapshot fails before anything is written.
	empty := filepath.Join(t.TempDir(), "t")
	_, err := restorer.Restore(context.Background(), repo, root, restorer.Options{Target: empty, Include: []string{src + "/nope"}})
	if err == nil || !strings.Contains(err.Error(), "not in the snapshot") {
		t.Errorf("missing include: %v", err)
	}
	if _, err := os.Stat(empty); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target created for a failed include: %v", err)
	}
}

// findNode returns the node at the snapshot path p.
func findNode(t testing.TB, repo *repository.Repository, root crypto.ID, p string) *repository.Node {
	t.Helper()
	id := root
	var n *repository.Node
	for _, c := range strings.Split(strings.Trim(p, "/"), "/") {
		tree, err := repo.LoadTree(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if n = tree.Find(c); n == nil {
			t.Fatalf("%s: no %q", p, c)
		}
		id = n.Subtree
	}
	return n
}

// damage flips one byte in the middle of the stored blob id.
func damage(t testing.TB, repo *repository.Repository, be backend.Backend, id crypto.ID) {
	t.Helper()
	ctx := context.Background()
	loc, ok := repo.Index().Lookup(id)
	if !ok {
		t.Fatal("blob not indexed")
	}
	h := backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}
	data, err := be.Load(ctx, h, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	data[int(loc.Offset)+int(loc.Length)/2] ^= 0x40
	if err := be.Remove(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := be.Save(ctx, h, data); err != nil {
		t.Fatal(err)
	}
}

func TestDamagedBlob(t *testing.T) {
	src := makeSource(t)
	// "big" (10 MiB, several blobs) and "dup1"/"dup/dup2" (one blob shared).
	root, repo, be := backup(t, src)
	big := findNode(t, repo, root, src+"/big")
	dup := findNode(t, repo, root, src+"/dup1")
	damage(t, repo, be, big.Content[len(big.Content)/2])
	damage(t, repo, be, dup.Content[0])

	target := newTarget(t)
	res, err := restorer.Restore(context.Background(), repo, root, restorer.Options{Target: target})
	if !errors.Is(err, restorer.ErrSomeFailed) {
		t.Fatalf("err = %v, want ErrSomeFailed", err)
	}
	out := filepath.Join(target, src)
	failed := map[string]bool{}
	for _, fe := range res.Errors {
		failed[strings.TrimPrefix(fe.Path, src+"/")] = true
		if !strings.Contains(fe.Err, "damaged blob") || !strings.Contains(fe.Err, restorer.PartialSuffix) {
			t.Errorf("error for %s does not say what happened: %s", fe.Path, fe.Err)
		}
	}
	// dup1's blob is also the first blob of dup/dup2 — and maybe of no other.
	for _, f := range []string{"big", "dup1", "dup/dup2"} {
		if !failed[f] {
			t.Errorf("%s not reported; errors: %v", f, res.Errors)
		}
		if _, err := os.Lstat(filepath.Join(out, f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: damaged file left under its real name (%v)", f, err)
		}
		partial, err := os.ReadFile(filepath.Join(out, f+restorer.PartialSuffix))
		if err != nil {
			t.Errorf("%s: no partial file: %v", f, err)
			continue
		}
		// The good parts are there; the bad blob is a hole of zeroes.
		whole, _ := os.ReadFile(filepath.Join(src, f))
		if len(partial) != len(whole) || bytes.Equal(partial, whole) {
			t.Errorf("%s: partial file has %d bytes (want %d, with a hole)", f, len(partial), len(whole))
			continue
		}
		if f == "big" { // only the damaged blob's bytes differ, and they are zeroes
			first, last := 0, len(whole)-1
			for partial[first] == whole[first] {
				first++
			}
			for partial[last] == whole[last] {
				last--
			}
			if !bytes.Equal(partial[first:last+1], make([]byte, last+1-first)) || last-first > 16<<20 {
				t.Errorf("big: bytes %d-%d differ and are not the damaged blob's hole", first, last)
			}
		}
	}
	if len(failed) != 3 {
		t.Errorf("reported %d files: %v", len(failed), res.Errors)
	}
	compareTrees(t, src, out, "big", "dup1", "dup", "big"+restorer.PartialSuffix, "dup1"+restorer.PartialSuffix)
}

// faultyRepo reads blobs through a faulty backend while trees come from the
// intact repository.
type faultyRepo struct {
	*repository.Repository
	f *faulty.Faulty
}

func (r faultyRepo) Backend() backend.Backend { return r.f }

func TestFaultyBackend(t *testing.T) {
	src := makeSource(t)
	root, repo, be := backup(t, src)
	cases := []struct {
		name  string
		setup func(f *faulty.Faulty)
		all   bool // every file with content fails
	}{
		{"corrupt", func(f *faulty.Faulty) { f.CorruptLoads(true) }, false},
		{"truncate", func(f *faulty.Faulty) { f.TruncateLoads(true) }, true},
		{"fail-all", func(f *faulty.Faulty) { f.FailLoads(1) }, true},
		{"fail-some", func(f *faulty.Faulty) { f.Seed(7); f.FailLoads(0.3) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := faulty.Wrap(be)
			tc.setup(f)
			target := newTarget(t)
			res, err := restorer.Restore(context.Background(), faultyRepo{repo, f}, root, restorer.Options{Target: target})
			if !errors.Is(err, restorer.ErrSomeFailed) {
				t.Fatalf("err = %v", err)
			}
			checkAllOrReported(t, src, filepath.Join(target, src), res, tc.all)
		})
	}
	t.Run("missing-pack", func(t *testing.T) {
		root, repo, be := backup(t, src)
		loc, _ := repo.Index().Lookup(findNode(t, repo, root, src+"/big").Content[0])
		if err := be.Remove(context.Background(), backend.Handle{Type: backend.PackFile, Name: loc.Pack.String()}); err != nil {
			t.Fatal(err)
		}
		target := newTarget(t)
		res, err := restorer.Restore(context.Background(), repo, root, restorer.Options{Target: target})
		if !errors.Is(err, restorer.ErrSomeFailed) {
			t.Fatalf("err = %v", err)
		}
		checkAllOrReported(t, src, filepath.Join(target, src), res, false)
	})
}

// checkAllOrReported checks the restore's promise under faults: every file
// of src is either restored whole under its real name or reported (and then
// absent under its real name). With all, every non-empty file must fail.
func checkAllOrReported(t *testing.T, src, out string, res *restorer.Result, all bool) {
	t.Helper()
	reported := map[string]bool{}
	for _, fe := range res.Errors {
		reported[fe.Path] = true
	}
	restored, failed := 0, 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(out, rel))
		switch {
		case err == nil:
			restored++
			if !bytes.Equal(got, want) {
				t.Errorf("%s: restored under its real name with wrong content", rel)
			}
			if reported[p] {
				t.Errorf("%s: restored but reported", rel)
			}
			if all && len(want) > 0 {
				t.Errorf("%s: restored though every load fails", rel)
			}
		case errors.Is(err, fs.ErrNotExist):
			failed++
			if !reported[p] {
				t.Errorf("%s: missing but not reported", rel)
			}
		default:
			t.Errorf("%s: %v", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if failed == 0 {
		t.Errorf("no file failed")
	}
	t.Logf("%d files restored, %d failed and reported", restored, failed)
}

func TestUnreadableFileAtBackup(t *testing.T) {
	b := newBuilder(t)
	id := b.data("good")
	mt := time.Date(2022, 1, 2, 3, 4, 5, 6, time.UTC)
	bad := &repository.Node{Name: "locked.db", Type: repository.NodeFile, Mode: 0o640, ModTime: mt, Size: 0, Error: "permission denied"}
	good := fileNode("ok.txt", "good", id)
	root := b.tree(bad, good)
	repo := b.done()
	target := newTarget(t)
	res, err := restorer.Restore(context.Background(), repo, root, restorer.Options{Target: target})
	if !errors.Is(err, restorer.ErrSomeFailed) || len(res.Errors) != 1 {
		t.Fatalf("err = %v, errors %v", err, res.Errors)
	}
	if fe := res.Errors[0]; fe.Path != "/locked.db" || !strings.Contains(fe.Err, "content was not backed up") || !strings.Contains(fe.Err, "permission denied") {
		t.Errorf("error: %+v", fe)
	}
	if _, err := os.Lstat(filepath.Join(target, "locked.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unreadable file restored under its real name: %v", err)
	}
	m, err := fsmeta.Lstat(filepath.Join(target, "locked.db"+restorer.PartialSuffix))
	if err != nil || m.Mode != 0o640 || !m.ModTime.Equal(mt) || m.Size != 0 {
		t.Errorf("metadata placeholder: %+v, %v", m, err)
	}
	if got, _ := os.ReadFile(filepath.Join(target, "ok.txt")); string(got) != "good" {
		t.Errorf("ok.txt = %q", got)
	}
}

func TestOverwrite(t *testing.T) {
	b := newBuilder(t)
	id := b.data("from the snapshot")
	root := b.tree(fileNode("f", "from the snapshot", id), fileNode("g", "from the snapshot", id), linkNode("s", "target"))
	repo := b.done()

	target := newTarget(t)
	writeFile(t, filepath.Join(target, "f"), []byte("old content, longer than the new one"), 0o666)
	writeFile(t, filepath.Join(target, "g/inside"), []byte("a directory where a file goes"), 0o644)
	writeFile(t, filepath.Join(target, "s/inside"), []byte("a directory where a symlink goes"), 0o644)

	res, err := restorer.Restore(context.Background(), repo, root, restorer.Options{Target: target})
	if !errors.Is(err, restorer.ErrSomeFailed) || res.Failed != 2 {
		t.Fatalf("without Overwrite: err %v, errors %v", err, res.Errors)
	}
	if got, _ := os.ReadFile(filepath.Join(target, "f")); string(got) != "from the snapshot" {
		t.Errorf("existing file not replaced: %q", got)
	}
	if _, err := os.Stat(filepath.Join(target, "g/inside")); err != nil {
		t.Errorf("directory removed without Overwrite: %v", err)
	}
	for _, fe := range res.Errors {
		if !strings.Contains(fe.Err, "overwrite") {
			t.Errorf("error does not say how to proceed: %v", fe)
		}
	}

	res = restore(t, repo, root, restorer.Options{Target: target, Overwrite: true})
	if got, _ := os.ReadFile(filepath.Join(target, "g")); string(got) != "from the snapshot" {
		t.Errorf("directory not replaced with Overwrite: %q", got)
	}
	if l, _ := os.Readlink(filepath.Join(target, "s")); l != "target" {
		t.Errorf("symlink = %q", l)
	}
	if ents, _ := os.ReadDir(target); len(ents) != 3 {
		t.Errorf("target holds %d entries (partial files left?)", len(ents))
	}
}

func TestCancel(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for i := range 20 {
		writeFile(t, filepath.Join(src, fmt.Sprintf("f%d", i)), randBytes(uint64(i), 1<<20), 0o644)
	}
	root, repo, be := backup(t, src)
	f := faulty.Wrap(be)
	f.Delay(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	target := newTarget(t)
	_, err := restorer.Restore(ctx, faultyRepo{repo, f}, root, restorer.Options{Target: target})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// Whatever was written, nothing incomplete has a real name.
	filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasSuffix(p, restorer.PartialSuffix) {
			rel, _ := filepath.Rel(filepath.Join(target, src), p)
			want, _ := os.ReadFile(filepath.Join(src, rel))
			if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
				t.Errorf("%s: incomplete file under its real name", rel)
			}
		}
		return nil
	})
}

// A snapshot of thousands of files is restored in several batches (the
// first ones small, so writing starts early, then larger ones): every file
// comes back, and hard links whose first file is in an earlier batch, or in
// their own, are links to it.
func TestManyBatches(t *testing.T) {
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "a/big"), randBytes(1, 6<<20), 0o644)
	const dirs, perDir = 30, 100
	for d := range dirs {
		for f := range perDir {
			writeFile(t, filepath.Join(src, fmt.Sprintf("d%02d/f%03d", d, f)), randBytes(uint64(10+d*perDir+f), 100+f*7), 0o640)
		}
	}
	links := [][2]string{
		{"a/big", "d04/link-to-big"},          // first file in the first batch, link in the second
		{"a/big", "d29/link-to-big"},          // and in the last
		{"d00/f000", "d29/link-to-first"},     // in an early batch
		{"d14/f050", "d15/link-to-middle"},    // maybe in the batch before
		{"d28/f099", "d29/link-to-neighbour"}, // likely in the same batch
	}
	for _, l := range links {
		if err := os.Link(filepath.Join(src, l[0]), filepath.Join(src, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	root, repo, _ := backup(t, src)
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			target := newTarget(t)
			res := restore(t, repo, root, restorer.Options{Target: target, Workers: workers})
			out := filepath.Join(target, src)
			compareTrees(t, src, out)
			if want := int64(1 + dirs*perDir + len(links)); res.Files != want || res.Failed != 0 {
				t.Errorf("restored %d files (%d failed), want %d", res.Files, res.Failed, want)
			}
			for _, l := range links {
				a, errA := fsmeta.Lstat(filepath.Join(out, l[0]))
				b, errB := fsmeta.Lstat(filepath.Join(out, l[1]))
				if errA != nil || errB != nil || !fsmeta.SameFile(a, b) {
					t.Errorf("%s and %s: not the same file (%v, %v)", l[0], l[1], errA, errB)
				}
			}
		})
	}
}

package restorer_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
)

// arena is a base directory holding the restore target and, beside it, an
// "outside" directory that a hostile snapshot tries to write into.
type arena struct {
	target, outside string
}

func newArena(t *testing.T) arena {
	t.Helper()
	base := t.TempDir()
	a := arena{target: filepath.Join(base, "target"), outside: filepath.Join(base, "outside")}
	if err := os.Mkdir(a.outside, 0o755); err != nil {
		t.Fatal(err)
	}
	return a
}

// run restores root and checks the outside directory stays empty. It
// returns the result and error for further checks.
func (a arena) run(t *testing.T, repo restorer.Repo, root crypto.ID, opts restorer.Options) (*restorer.Result, error) {
	t.Helper()
	opts.Target = a.target
	done := make(chan struct{})
	var res *restorer.Result
	var err error
	go func() {
		defer close(done)
		res, err = restorer.Restore(context.Background(), repo, root, opts)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("restore did not finish")
	}
	assertEmptyDir(t, a.outside)
	return res, err
}

func TestCheckNameRefusesEscapes(t *testing.T) {
	// Names that can only reach the restorer through a hand-made tree:
	// DecodeTree refuses the whole tree, the directory is reported, and
	// nothing is written for it, anywhere.
	names := []string{"..", ".", "", "/etc/passwd", "a/../../x", "../outside/pwned", "a\x00b", "x/"}
	for _, name := range names {
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			b := newBuilder(t)
			a := newArena(t)
			pwned := b.data("pwned")
			// Every way the name could be used: file, directory, symlink.
			inner := b.tree(fileNode("f", "pwned", pwned))
			hostile := b.raw(rawNode{name: name, typ: repository.NodeFile, mode: 0o644, size: 5, content: []crypto.ID{pwned}})
			hostileDir := b.raw(rawNode{name: name, typ: repository.NodeDir, mode: 0o755, subtree: inner})
			hostileLink := b.raw(rawNode{name: name, typ: repository.NodeSymlink, target: a.outside})
			ok := b.data("fine")
			root := b.tree(dirNode("h1", hostile), dirNode("h2", hostileDir), dirNode("h3", hostileLink), fileNode("ok", "fine", ok))
			repo := b.done()
			res, err := a.run(t, repo, root, restorer.Options{})
			if !errors.Is(err, restorer.ErrSomeFailed) {
				t.Fatalf("err = %v", err)
			}
			if res.Failed != 3 {
				t.Errorf("errors: %v", res.Errors)
			}
			for _, fe := range res.Errors {
				if !strings.Contains(fe.Err, "invalid entry name") {
					t.Errorf("%s: %s", fe.Path, fe.Err)
				}
			}
			if got, _ := os.ReadFile(filepath.Join(a.target, "ok")); string(got) != "fine" {
				t.Errorf("the good file was not restored")
			}
			for _, d := range []string{"h1", "h2", "h3"} {
				if ents, err := os.ReadDir(filepath.Join(a.target, d)); err != nil || len(ents) != 0 {
					t.Errorf("%s: %d entries, %v", d, len(ents), err)
				}
			}
		})
	}
	t.Run("root", func(t *testing.T) {
		b := newBuilder(t)
		a := newArena(t)
		root := b.raw(rawNode{name: "..", typ: repository.NodeFile, content: []crypto.ID{b.data("x")}, size: 1})
		repo := b.done()
		_, err := a.run(t, repo, root, restorer.Options{})
		if err == nil || !strings.Contains(err.Error(), "invalid entry name") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStructuralAttacks(t *testing.T) {
	type setup func(t *testing.T, b *builder, a arena) crypto.ID
	cases := []struct {
		name    string
		build   setup
		wantErr bool // ErrSomeFailed expected
		check   func(t *testing.T, a arena, res *restorer.Result)
	}{
		{
			name: "duplicate names",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				id := b.data("x")
				sub := b.raw(rawNode{name: "a", typ: repository.NodeFile, content: []crypto.ID{id}, size: 1},
					rawNode{name: "a", typ: repository.NodeFile, content: []crypto.ID{id}, size: 1})
				return b.tree(dirNode("d", sub))
			},
			wantErr: true,
		},
		{
			name: "symlink and directory of the same name",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				inner := b.tree(fileNode("pwned", "x", b.data("x")))
				sub := b.raw(rawNode{name: "x", typ: repository.NodeSymlink, target: a.outside},
					rawNode{name: "x", typ: repository.NodeDir, subtree: inner})
				return b.tree(dirNode("d", sub))
			},
			wantErr: true,
		},
		{
			name: "directory that is also a file",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				inner := b.tree(fileNode("pwned", "x", b.data("x")))
				sub := b.raw(rawNode{name: "x", typ: repository.NodeDir, subtree: inner},
					rawNode{name: "x", typ: repository.NodeFile, content: []crypto.ID{b.data("y")}, size: 1})
				return b.tree(dirNode("d", sub))
			},
			wantErr: true,
		},
		{
			name: "file node carrying a subtree",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				inner := b.tree(fileNode("pwned", "x", b.data("x")))
				return b.raw(rawNode{name: "f", typ: repository.NodeFile, mode: 0o644, size: 4, content: []crypto.ID{b.data("file")}, subtree: inner})
			},
			check: func(t *testing.T, a arena, res *restorer.Result) {
				if got, err := os.ReadFile(filepath.Join(a.target, "f")); err != nil || string(got) != "file" {
					t.Errorf("f = %q, %v", got, err)
				}
			},
		},
		{
			name: "absolute symlink beside a directory",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				sub := b.tree(fileNode("f", "x", b.data("x")))
				return b.tree(linkNode("esc", a.outside), linkNode("esc2", "../../outside"), dirNode("sub", sub))
			},
			check: func(t *testing.T, a arena, res *restorer.Result) {
				if l, _ := os.Readlink(filepath.Join(a.target, "esc")); l != a.outside {
					t.Errorf("symlink target not written verbatim: %q", l)
				}
			},
		},
		{
			name: "pre-existing symlink where a directory goes",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				mustSymlink(t, a.outside, filepath.Join(a.target, "x"))
				mustSymlink(t, a.outside, filepath.Join(a.target, "y"))
				inner := b.tree(fileNode("pwned", "x", b.data("x")))
				deeper := b.tree(dirNode("z", inner))
				return b.tree(dirNode("x", inner), dirNode("y", deeper))
			},
			check: func(t *testing.T, a arena, res *restorer.Result) {
				if fi, err := os.Lstat(filepath.Join(a.target, "x")); err != nil || !fi.IsDir() {
					t.Errorf("x: %v, %v", fi, err)
				}
				if _, err := os.Stat(filepath.Join(a.target, "y/z/pwned")); err != nil {
					t.Errorf("y/z/pwned: %v", err)
				}
			},
		},
		{
			name: "pre-existing symlinks where a file and its partial file go",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				writeFile(t, filepath.Join(a.outside, "..", "victim"), []byte("original"), 0o644)
				mustSymlink(t, filepath.Join(a.outside, "..", "victim"), filepath.Join(a.target, "f"))
				mustSymlink(t, filepath.Join(a.outside, "..", "victim"), filepath.Join(a.target, "g"+restorer.PartialSuffix))
				mustSymlink(t, filepath.Join(a.outside, "new"), filepath.Join(a.target, "h"+restorer.PartialSuffix))
				id := b.data("new")
				return b.tree(fileNode("f", "new", id), fileNode("g", "new", id), fileNode("h", "new", id))
			},
			check: func(t *testing.T, a arena, res *restorer.Result) {
				if got, _ := os.ReadFile(filepath.Join(a.outside, "..", "victim")); string(got) != "original" {
					t.Errorf("victim outside the target changed: %q", got)
				}
				for _, f := range []string{"f", "g", "h"} {
					fi, err := os.Lstat(filepath.Join(a.target, f))
					if err != nil || !fi.Mode().IsRegular() {
						t.Errorf("%s: %v %v", f, fi, err)
					}
				}
			},
		},
		{
			name: "hard links with the same inode but different content",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				one, two := b.data("one"), b.data("two")
				return b.raw(
					rawNode{name: "a", typ: repository.NodeFile, mode: 0o644, size: 3, content: []crypto.ID{one}, inode: 7, links: 2},
					rawNode{name: "b", typ: repository.NodeFile, mode: 0o644, size: 3, content: []crypto.ID{two}, inode: 7, links: 2})
			},
			check: func(t *testing.T, a arena, res *restorer.Result) {
				x, _ := os.ReadFile(filepath.Join(a.target, "a"))
				y, _ := os.ReadFile(filepath.Join(a.target, "b"))
				if string(x) != "one" || string(y) != "two" {
					t.Errorf("a = %q, b = %q", x, y)
				}
			},
		},
		{
			name: "partial-name collision",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				return b.tree(fileNode("a", "A", b.data("A")), fileNode("a"+restorer.PartialSuffix, "B", b.data("B")),
					fileNode("a"+restorer.PartialSuffix+".1", "C", b.data("C")))
			},
			check: func(t *testing.T, a arena, res *restorer.Result) {
				for name, want := range map[string]string{"a": "A", "a" + restorer.PartialSuffix: "B", "a" + restorer.PartialSuffix + ".1": "C"} {
					if got, _ := os.ReadFile(filepath.Join(a.target, name)); string(got) != want {
						t.Errorf("%s = %q, want %q", name, got, want)
					}
				}
				if ents, _ := os.ReadDir(a.target); len(ents) != 3 {
					t.Errorf("%d entries", len(ents))
				}
			},
		},
		{
			name: "enormous recorded size",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				return b.raw(rawNode{name: "huge", typ: repository.NodeFile, mode: 0o644, size: 1 << 62, content: []crypto.ID{b.data("abc")}})
			},
			wantErr: true,
			check: func(t *testing.T, a arena, res *restorer.Result) {
				if _, err := os.Lstat(filepath.Join(a.target, "huge")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("huge restored under its name: %v", err)
				}
				if fi, err := os.Stat(filepath.Join(a.target, "huge"+restorer.PartialSuffix)); err != nil || fi.Size() != 3 {
					t.Errorf("partial: %v %v", fi, err)
				}
			},
		},
		{
			name: "tree blob listed as file content",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				tr := b.tree(fileNode("x", "x", b.data("x")))
				return b.raw(rawNode{name: "f", typ: repository.NodeFile, mode: 0o644, size: 10, content: []crypto.ID{tr}})
			},
			wantErr: true,
		},
		{
			name: "dedup bomb restores sparse",
			build: func(t *testing.T, b *builder, a arena) crypto.ID {
				zero := b.blob(repository.DataBlob, make([]byte, 64<<10))
				content := make([]crypto.ID, 4096) // 256 MiB from one 64 KiB blob
				for i := range content {
					content[i] = zero
				}
				return b.raw(rawNode{name: "zeros", typ: repository.NodeFile, mode: 0o644, size: 256 << 20, content: content})
			},
			check: func(t *testing.T, a arena, res *restorer.Result) {
				if fi, err := os.Stat(filepath.Join(a.target, "zeros")); err != nil || fi.Size() != 256<<20 {
					t.Errorf("zeros: %v %v", fi, err)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBuilder(t)
			a := newArena(t)
			if err := os.MkdirAll(a.target, 0o755); err != nil {
				t.Fatal(err)
			}
			root := tc.build(t, b, a)
			repo := b.done()
			res, err := a.run(t, repo, root, restorer.Options{})
			if tc.wantErr != errors.Is(err, restorer.ErrSomeFailed) {
				t.Errorf("err = %v", err)
			} else if !tc.wantErr && err != nil {
				t.Errorf("err = %v", err)
			}
			if tc.check != nil && res != nil {
				tc.check(t, a, res)
			}
			if res != nil {
				t.Logf("errors: %v", res.Errors)
			}
		})
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestSymlinkThenDirectoryAcrossRestores restores a snapshot where x is a
// symlink pointing outside, then one where x is a directory with a file,
// into the same target, in both orders.
func TestSymlinkThenDirectoryAcrossRestores(t *testing.T) {
	for _, overwrite := range []bool{false, true} {
		b := newBuilder(t)
		a := newArena(t)
		linkRoot := b.tree(linkNode("x", a.outside))
		inner := b.tree(fileNode("pwned", "x", b.data("x")))
		dirRoot := b.tree(dirNode("x", inner))
		repo := b.done()
		opts := restorer.Options{Overwrite: overwrite}
		for _, root := range []crypto.ID{linkRoot, dirRoot, linkRoot, dirRoot} {
			a.run(t, repo, root, opts)
		}
		if _, err := os.Stat(filepath.Join(a.target, "x", "pwned")); err != nil {
			t.Errorf("overwrite=%v: x/pwned: %v", overwrite, err)
		}
	}
}

// fakeRepo serves some trees from memory: trees no real repository can
// hold, such as one containing itself.
type fakeRepo struct {
	*repository.Repository
	trees map[crypto.ID]*repository.Tree
}

func (f fakeRepo) LoadTree(ctx context.Context, id crypto.ID) (*repository.Tree, error) {
	if t, ok := f.trees[id]; ok {
		return t, nil
	}
	return f.Repository.LoadTree(ctx, id)
}

func fakeID(s string) crypto.ID { return crypto.Hash([]byte(s)) }

func TestCycles(t *testing.T) {
	b := newBuilder(t)
	fileID := b.data("x")
	repo := b.done()
	x, y := fakeID("x"), fakeID("y")
	cases := map[string]map[crypto.ID]*repository.Tree{
		"self": {
			x: {Nodes: []*repository.Node{fileNode("f", "x", fileID), dirNode("loop", x)}},
		},
		"mutual": {
			x: {Nodes: []*repository.Node{dirNode("a", y)}},
			y: {Nodes: []*repository.Node{dirNode("b", x), fileNode("f", "x", fileID)}},
		},
	}
	for name, trees := range cases {
		t.Run(name, func(t *testing.T) {
			a := newArena(t)
			res, err := a.run(t, fakeRepo{repo, trees}, x, restorer.Options{})
			if !errors.Is(err, restorer.ErrSomeFailed) || !errors.Is(err, restorer.ErrUnsafePath) {
				t.Fatalf("err = %v", err)
			}
			if res.Failed != 1 || !strings.Contains(res.Errors[0].Err, "contains itself") {
				t.Errorf("errors: %v", res.Errors)
			}
		})
	}
}

func TestDeepNesting(t *testing.T) {
	b := newBuilder(t)
	fileID := b.data("x")
	repo := b.done()
	const depth = 1100
	trees := map[crypto.ID]*repository.Tree{}
	id := func(i int) crypto.ID { return fakeID(strings.Repeat("d", i)) }
	for i := range depth {
		trees[id(i)] = &repository.Tree{Nodes: []*repository.Node{dirNode("d", id(i+1))}}
	}
	trees[id(depth)] = &repository.Tree{Nodes: []*repository.Node{fileNode("f", "x", fileID)}}
	a := newArena(t)
	res, err := a.run(t, fakeRepo{repo, trees}, id(0), restorer.Options{})
	if !errors.Is(err, restorer.ErrUnsafePath) {
		t.Fatalf("err = %v", err)
	}
	if res.Failed != 1 || !strings.Contains(res.Errors[0].Err, "nested more than") {
		t.Errorf("errors: %v", res.Errors)
	}
	if res.Dirs != 1024 {
		t.Errorf("%d directories restored", res.Dirs)
	}
}

func TestExpansionBomb(t *testing.T) {
	// 40 trees, each holding the previous one twice: 2^41 entries.
	b := newBuilder(t)
	cur := b.tree(fileNode("f", "x", b.data("x")))
	for range 40 {
		cur = b.tree(dirNode("a", cur), dirNode("b", cur))
	}
	repo := b.done()
	a := newArena(t)
	start := time.Now()
	_, err := a.run(t, repo, cur, restorer.Options{})
	if !errors.Is(err, restorer.ErrUnsafePath) || !strings.Contains(err.Error(), "expands to more than") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(a.target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("target created: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %v", d)
	}
}

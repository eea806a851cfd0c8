package restorer_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lumbung-id/lumbung/internal/archiver"
	"github.com/lumbung-id/lumbung/internal/backend"
	"github.com/lumbung-id/lumbung/internal/backend/mem"
	"github.com/lumbung-id/lumbung/internal/crypto"
	"github.com/lumbung-id/lumbung/internal/fsmeta"
	"github.com/lumbung-id/lumbung/internal/repository"
	"github.com/lumbung-id/lumbung/internal/restorer"
	"github.com/lumbung-id/lumbung/internal/ui"
)

var (
	password = []byte("rahasia-pemda")
	repoOpts = repository.Options{KDF: crypto.TestKDF}
)

// newRepo makes an empty repository on a fresh in-memory backend.
func newRepo(t testing.TB) (*repository.Repository, *mem.Mem) {
	t.Helper()
	be := mem.New()
	repo, err := repository.Init(context.Background(), be, password, repoOpts)
	if err != nil {
		t.Fatal(err)
	}
	return repo, be
}

// reopen opens the repository on be afresh and loads its index, as a
// restore run would.
func reopen(t testing.TB, be backend.Backend) *repository.Repository {
	t.Helper()
	ctx := context.Background()
	repo, err := repository.Open(ctx, be, password, repoOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.LoadIndex(ctx, nil); err != nil {
		t.Fatal(err)
	}
	return repo
}

// backup saves paths into a new repository and returns the snapshot's root
// tree and the reopened repository.
func backup(t testing.TB, paths ...string) (crypto.ID, *repository.Repository, *mem.Mem) {
	t.Helper()
	repo, be := newRepo(t)
	res, err := archiver.Backup(context.Background(), repo, paths, archiver.Options{})
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	return res.Snapshot.Tree, reopen(t, be), be
}

// restore runs Restore and fails the test on an error.
func restore(t testing.TB, repo restorer.Repo, root crypto.ID, opts restorer.Options) *restorer.Result {
	t.Helper()
	res, err := restorer.Restore(context.Background(), repo, root, opts)
	if err != nil {
		t.Fatalf("restore: %v (result %+v)", err, res)
	}
	return res
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// setTime sets path's mtime (and atime) without following a symlink.
func setTime(t testing.TB, path string, mtime time.Time) {
	t.Helper()
	if err := fsmeta.SetTimes(path, mtime, mtime, true); err != nil {
		t.Fatal(err)
	}
}

// compareTrees checks that dst holds exactly what src holds: the same
// entries, kinds, contents, mode bits, mtimes (to the nanosecond), owners,
// symlink targets and hard link counts. skip lists paths relative to src
// that are not compared (nor required in dst).
func compareTrees(t testing.TB, src, dst string, skip ...string) {
	t.Helper()
	skipped := func(rel string) bool {
		for _, s := range skip {
			if rel == s || strings.HasPrefix(rel, s+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if skipped(rel) {
			return nil
		}
		seen[rel] = true
		q := filepath.Join(dst, rel)
		a, err := fsmeta.Lstat(p)
		if err != nil {
			return err
		}
		b, err := fsmeta.Lstat(q)
		if err != nil {
			t.Errorf("%s: missing from the restore: %v", rel, err)
			return nil
		}
		if a.Kind != b.Kind {
			t.Errorf("%s: kind %v restored as %v", rel, a.Kind, b.Kind)
			return nil
		}
		want := a.Mode
		if !fsmeta.IsRoot() && a.Kind == fsmeta.KindFile {
			want &^= fsmeta.ModeSetuid | fsmeta.ModeSetgid // dropped without root
		}
		if a.Kind != fsmeta.KindSymlink && want != b.Mode {
			t.Errorf("%s: mode %o restored as %o", rel, a.Mode, b.Mode)
		}
		if !a.ModTime.Equal(b.ModTime) && rel != "." {
			t.Errorf("%s: mtime %v restored as %v", rel, a.ModTime, b.ModTime)
		}
		if fsmeta.IsRoot() && (a.UID != b.UID || a.GID != b.GID) && rel != "." {
			t.Errorf("%s: owner %d:%d restored as %d:%d", rel, a.UID, a.GID, b.UID, b.GID)
		}
		switch a.Kind {
		case fsmeta.KindFile:
			x, err1 := os.ReadFile(p)
			y, err2 := os.ReadFile(q)
			if err1 != nil || err2 != nil {
				t.Errorf("%s: read: %v / %v", rel, err1, err2)
			} else if !bytes.Equal(x, y) {
				t.Errorf("%s: content differs (%d vs %d bytes)", rel, len(x), len(y))
			}
			if a.Links != b.Links {
				t.Errorf("%s: %d links restored as %d", rel, a.Links, b.Links)
			}
		case fsmeta.KindSymlink:
			x, _ := os.Readlink(p)
			y, _ := os.Readlink(q)
			if x != y {
				t.Errorf("%s: symlink to %q restored as to %q", rel, x, y)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		if !seen[rel] && !skipped(rel) {
			t.Errorf("%s: restored but not in the source", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// makeWritable gives the owner rwx on every directory below dir, so that
// test cleanup can remove read-only directories when not running as root.
func makeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}

// newTarget returns a restore target in a temporary directory that is
// cleaned up even if the restore made read-only directories.
func newTarget(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restore")
	t.Cleanup(func() { makeWritable(dir) })
	return dir
}

// assertEmptyDir fails unless dir exists and is empty: the place a hostile
// snapshot tries to write to.
func assertEmptyDir(t testing.TB, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("outside directory: %v", err)
	}
	for _, e := range ents {
		t.Errorf("something was written outside the target: %s", filepath.Join(dir, e.Name()))
	}
}

// recorder is a ui.Progress that keeps totals and counters.
type recorder struct {
	mu           sync.Mutex
	op           string
	total, done  ui.Counts
	warnings     int
	finishCalled bool
}

func (r *recorder) Start(op string, total ui.Counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.op, r.total = op, total
}

func (r *recorder) Add(c ui.Counts) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done.Files += c.Files
	r.done.Dirs += c.Dirs
	r.done.Bytes += c.Bytes
}
func (r *recorder) Item(string) {}
func (r *recorder) Warn(string, error) {
	r.mu.Lock()
	r.warnings++
	r.mu.Unlock()
}
func (r *recorder) Finish() {}

// --- hand-built trees, for what EncodeTree refuses to write ---

// rawNode is a tree entry encoded by hand (see encodeNode in
// internal/repository/tree.go); any name can be given.
type rawNode struct {
	name    string
	typ     repository.NodeType
	mode    uint32
	mtime   time.Time
	size    uint64
	content []crypto.ID
	subtree crypto.ID
	target  string
	errText string
	links   uint64
	inode   uint64
}

func field(b []byte, tag uint64, val []byte) []byte {
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(len(val)))
	return append(b, val...)
}

func uintField(b []byte, tag, v uint64) []byte {
	return field(b, tag, binary.AppendUvarint(nil, v))
}

// rawTree encodes nodes in the given order, without any check.
func rawTree(nodes ...rawNode) []byte {
	buf := []byte{1}
	buf = binary.AppendUvarint(buf, uint64(len(nodes)))
	for _, n := range nodes {
		var b []byte
		b = field(b, 1, []byte(n.name))
		b = uintField(b, 2, uint64(n.typ))
		b = uintField(b, 3, uint64(n.mode))
		if !n.mtime.IsZero() {
			b = field(b, 8, binary.AppendVarint(nil, n.mtime.UnixNano()))
		}
		if n.inode != 0 {
			b = uintField(b, 11, n.inode)
		}
		if n.links != 0 {
			b = uintField(b, 13, n.links)
		}
		b = uintField(b, 14, n.size)
		if len(n.content) > 0 {
			var ids []byte
			for _, id := range n.content {
				ids = append(ids, id[:]...)
			}
			b = field(b, 15, ids)
		}
		if !n.subtree.IsZero() {
			b = field(b, 16, n.subtree[:])
		}
		if n.target != "" {
			b = field(b, 17, []byte(n.target))
		}
		if n.errText != "" {
			b = field(b, 18, []byte(n.errText))
		}
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		buf = append(buf, b...)
	}
	return buf
}

// builder stores blobs into a repository for hand-built snapshots.
type builder struct {
	t    testing.TB
	repo *repository.Repository
	be   *mem.Mem
	w    *repository.Writer
}

func newBuilder(t testing.TB) *builder {
	t.Helper()
	repo, be := newRepo(t)
	return &builder{t: t, repo: repo, be: be, w: repo.NewWriter(context.Background())}
}

func (b *builder) blob(typ repository.BlobType, data []byte) crypto.ID {
	b.t.Helper()
	id, _, err := b.w.SaveBlob(context.Background(), typ, data)
	if err != nil {
		b.t.Fatal(err)
	}
	return id
}

// data stores file content and returns its blob id.
func (b *builder) data(s string) crypto.ID { return b.blob(repository.DataBlob, []byte(s)) }

// raw stores a hand-encoded tree.
func (b *builder) raw(nodes ...rawNode) crypto.ID {
	return b.blob(repository.TreeBlob, rawTree(nodes...))
}

// tree stores a valid tree (nodes sorted by the caller).
func (b *builder) tree(nodes ...*repository.Node) crypto.ID {
	b.t.Helper()
	data, err := repository.EncodeTree(&repository.Tree{Nodes: nodes})
	if err != nil {
		b.t.Fatal(err)
	}
	return b.blob(repository.TreeBlob, data)
}

// done commits and returns the reopened repository.
func (b *builder) done() *repository.Repository {
	b.t.Helper()
	if err := b.w.Commit(context.Background()); err != nil {
		b.t.Fatal(err)
	}
	return reopen(b.t, b.be)
}

var mtime0 = time.Date(2024, 3, 1, 10, 20, 30, 123456789, time.UTC)

func fileNode(name, content string, id crypto.ID) *repository.Node {
	return &repository.Node{Name: name, Type: repository.NodeFile, Mode: 0o644, ModTime: mtime0, Size: uint64(len(content)), Content: []crypto.ID{id}}
}

func dirNode(name string, sub crypto.ID) *repository.Node {
	return &repository.Node{Name: name, Type: repository.NodeDir, Mode: 0o755, ModTime: mtime0, Subtree: sub}
}

func linkNode(name, target string) *repository.Node {
	return &repository.Node{Name: name, Type: repository.NodeSymlink, Mode: 0o777, ModTime: mtime0, LinkTarget: target}
}
